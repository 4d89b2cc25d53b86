"""`bpm scheduler` as a real process: it fires a timer that fell due, once."""
import os
import subprocess
import sys
import time

from sqlalchemy import select

from engine import clock
from engine.store.models import Event


def test_scheduler_process_fires_due_boundary_timer(api, db, db_url):
    clock.set_time(None)  # the scheduler process runs on the real clock; so does this case
    case = api.start("t_quick", "emp")  # a reminder one second after the task opens
    env = {**os.environ, "DATABASE_URL": db_url}
    proc = subprocess.Popen([sys.executable, "-m", "bpmcli", "scheduler", "--interval", "0.5"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 20
        fired = []
        while time.monotonic() < deadline:
            with db.session() as session:
                fired = list(session.scalars(select(Event.element_id).where(
                    Event.instance_id == case["id"], Event.type == "timer_fired")))
            if fired:
                break
            time.sleep(0.3)
    finally:
        proc.terminate()
        proc.wait(10)
    assert fired == ["soon"], proc.stdout.read().decode()
    time.sleep(1)
    with db.session() as session:
        notes = list(session.scalars(select(Event).where(Event.instance_id == case["id"], Event.type == "notified")))
    assert [n.data["to"] for n in notes] == [["emp"]]  # once, to the person the task waits on
