"""Benchmark of what the modeler waits on (`make bench`): validating a diagram while editing, saving a
draft, the diff reviewers see, and the 流程清单 with its Excel export.

On a fresh database (temp SQLite, or PostgreSQL `<db>_bpm_bench_modeler` beside DATABASE_URL when that is
postgres) with the demo organisation and the library, as the admin through Flask's test client:
  POST /api/v1/definitions/validate   the largest library diagram (what runs ~600 ms after each edit)
  PUT  /api/v1/drafts/{id}            saving that draft (validates again, then stores)
  GET  /api/v1/drafts/{id}/diff       a draft with one step added against the live version
  GET  /processes                     the 流程清单 page
  GET  /api/v1/processes/catalogue.xlsx
Prints the median and p95 of each (ms). Options: --requests N (default 50).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("BPM_SECRET_KEY", "bench-secret-key")

from inbox import prepare  # noqa: E402  (the inbox benchmark's fresh demo database)

from engine.store.db import Database, fresh_postgres_database  # noqa: E402


def database() -> Database:
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith("postgres"):
        url = fresh_postgres_database(url, "_bpm_bench_modeler")
    else:
        url = f"sqlite:///{Path(tempfile.mkdtemp()) / 'bench.db'}"
    return prepare(url)


def timed(call, n: int) -> tuple[float, float]:
    samples = []
    for _ in range(n):
        began = time.perf_counter()
        response = call()
        samples.append((time.perf_counter() - began) * 1000)
        assert response.status_code < 300, (response.status_code, response.get_data(as_text=True)[:300])
    samples.sort()
    return statistics.median(samples), samples[max(0, int(len(samples) * 0.95) - 1)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=50)
    args = parser.parse_args()

    from webapp import create_app

    db = database()
    app = create_app({"BPM_DATABASE": db, "SECRET_KEY": "bench"})
    client = app.test_client()
    token = client.post("/api/v1/auth/token", json={"username": "admin", "password": "demo"}).json["token"]
    auth = {"Authorization": f"Bearer {token}"}

    largest = max((ROOT / "bpmn").glob("*.bpmn"), key=lambda p: p.stat().st_size)
    key = largest.stem
    live = client.get(f"/api/v1/processes/{key}/content", headers=auth).json
    body = {"bpmn_xml": live["bpmn_xml"], "forms": live["forms"], "process_key": key}
    draft = client.post(
        f"/api/v1/processes/{key}/drafts", headers=auth, json={"bpmn_xml": live["bpmn_xml"], "forms": live["forms"]}
    ).json
    # A plain task in the first lane (deploy refuses one outside every lane).
    edited = live["bpmn_xml"].replace(
        "</bpmn:process>", '<bpmn:task id="bench_added" name="新增步骤"/></bpmn:process>', 1
    )
    edited = edited.replace("</bpmn:lane>", "<bpmn:flowNodeRef>bench_added</bpmn:flowNodeRef></bpmn:lane>", 1)
    state = {"lock": draft["lock_version"]}

    def save():
        response = client.put(
            f"/api/v1/drafts/{draft['id']}",
            headers=auth,
            json={"bpmn_xml": edited, "forms": live["forms"], "lock_version": state["lock"]},
        )
        state["lock"] = response.json["lock_version"]
        return response

    save()
    page = app.test_client()
    csrf = page.get("/login").get_data(as_text=True).split('name="csrf" value="', 1)[1].split('"', 1)[0]
    page.post("/login", data={"username": "admin", "password": "demo", "csrf": csrf})

    print(
        f"modeler benchmark on {db.url.split('@')[-1] if '@' in db.url else 'SQLite'}: {key}.bpmn "
        f"({largest.stat().st_size // 1024} KB), {args.requests} requests each"
    )
    rows = [
        ("POST /definitions/validate", lambda: client.post("/api/v1/definitions/validate", json=body, headers=auth)),
        ("PUT /drafts/{id} (save)", save),
        ("GET /drafts/{id}/diff", lambda: client.get(f"/api/v1/drafts/{draft['id']}/diff", headers=auth)),
        ("GET /processes (流程清单)", lambda: page.get("/processes")),
        ("GET catalogue.xlsx", lambda: client.get("/api/v1/processes/catalogue.xlsx", headers=auth)),
    ]
    for label, call in rows:
        median, p95 = timed(call, args.requests)
        print(f"  {label:32s} median {median:7.1f} ms   p95 {p95:7.1f} ms")
    db.dispose()


if __name__ == "__main__":
    main()
