"""Document and record numbers: unique under concurrency, never handed out twice, even when a
step that took one is rolled back."""

import threading

import pytest

from engine import numbering
from engine.store.db import Database


def _draw_concurrently(database: Database, name: str, threads: int = 6, each: int = 15) -> list[int]:
    drawn: list[int] = []
    lock = threading.Lock()
    barrier = threading.Barrier(threads)

    def worker():
        barrier.wait()
        for _ in range(each):
            with database.session(write=True) as session:
                value = numbering.next_number(session, name)
            with lock:
                drawn.append(value)

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return drawn


def _check_unique_and_dense(drawn, total):
    assert len(drawn) == total
    assert sorted(drawn) == list(range(1, total + 1))  # no duplicates, no gaps


def test_concurrent_draws_on_this_database(db):
    _check_unique_and_dense(_draw_concurrently(db, "test:concurrent"), 6 * 15)


@pytest.mark.postgres
def test_concurrent_draws_on_postgresql(pg_url):
    database = Database(pg_url)
    try:
        _check_unique_and_dense(_draw_concurrently(database, "test:pg"), 6 * 15)
    finally:
        database.dispose()


def test_a_rolled_back_draw_is_not_skipped_and_a_committed_one_is_never_reused(db):
    with db.session(write=True) as session:
        first = numbering.next_number(session, "test:rollback")
    with pytest.raises(RuntimeError), db.session(write=True) as session:
        numbering.next_number(session, "test:rollback")
        raise RuntimeError("the step failed")
    with db.session(write=True) as session:
        assert numbering.next_number(session, "test:rollback") == first + 1


def test_counter_names_are_checked(db):
    with db.session(write=True) as session, pytest.raises(ValueError, match="编号序列名称不合法"):
        numbering.next_number(session, "bad name; drop table")
