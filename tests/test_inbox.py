"""The inbox lists (engine/runtime/inbox.py): who sees which rows, in which order, page by page.

A database of this module's own (the lists and counts are exact, no other test's rows in them):
rows are written directly where the test needs exact times, through the engine where the point
is that the engine's own rows (claim, unclaim) land in the right lists.
"""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from engine.runtime import actions, inbox, instances
from engine.runtime import tasks as task_service
from engine.store.models import CaseCopy, Department, Instance, ProcessVersion, Task, TaskCandidate, User, UserRole

T0 = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
PERMUTED = [17, 42, 58, 3, 91, 26, 70, 8, 64, 35, 12, 80, 47, 99, 21, 5, 88, 53, 30, 76]


@pytest.fixture(scope="module")
def idb(own_database):
    return own_database("inbox")


class World:
    """Fresh people and a case per test; rows with chosen times, states and candidates."""

    def __init__(self, session):
        self.s = session
        self.version = session.scalar(select(ProcessVersion).order_by(ProcessVersion.id))
        self.tag = uuid.uuid4().hex[:6]
        self.case = self.instance(self.version, initiator=None)

    def user(self, name: str, *roles: str) -> User:
        user = User(
            username=f"{name}_{self.tag}",
            display_name=name,
            password_hash="!",
            department_id=self.s.scalar(select(Department.id).order_by(Department.id)),
        )
        user.roles = [UserRole(role_code=r) for r in roles]
        self.s.add(user)
        self.s.flush()
        return user

    def instance(self, version, initiator: User | None, *, at: datetime = T0, status: str = "running") -> Instance:
        if initiator is None:
            initiator = self.s.scalar(select(User).where(User.username == "emp"))
        case = Instance(
            process_key=version.process_key,
            version_id=version.id,
            status=status,
            initiator_id=initiator.id,
            title=f"case {uuid.uuid4().hex[:6]}",
            data={},
            created_at=at,
            updated_at=at,
        )
        self.s.add(case)
        self.s.flush()
        return case

    def task(
        self,
        minutes: float,
        *,
        assignee: User | None = None,
        candidates=(),
        state: str = "open",
        kind: str = "task",
        completed_by: User | None = None,
        completed_minutes: float | None = None,
        task_id: str | None = None,
    ) -> Task:
        row = Task(
            id=task_id or str(uuid.uuid4()),
            kind=kind,
            instance_id=self.case.id,
            element_id="step",
            name=f"step {minutes}",
            state=state,
            assignee_id=assignee.id if assignee else None,
            completed_by=completed_by.id if completed_by else None,
            created_at=T0 + timedelta(minutes=minutes),
            completed_at=T0 + timedelta(minutes=completed_minutes) if completed_minutes is not None else None,
        )
        row.spiff_task_id = row.id
        self.s.add(row)
        self.s.flush()
        self.s.add_all(TaskCandidate(task_id=row.id, user_id=u.id) for u in candidates)
        self.s.flush()
        return row


@pytest.fixture
def world(idb):
    with idb.session(write=True) as session:
        yield World(session)
        session.rollback()  # nothing written here outlives the test


def ids(rows) -> list[str]:
    return [t.id for t in rows]


def newest_first(rows) -> list[str]:
    return [t.id for t in sorted(rows, key=lambda t: (-t.created_at.timestamp(), t.id))]


def test_mine_group_all_and_the_count(world):
    me, b, c = world.user("me"), world.user("b"), world.user("c")
    mine = world.task(1, assignee=me, candidates=[me])  # a step only I do
    shared = world.task(2, candidates=[me, b])  # unclaimed, me or b
    others = world.task(3, candidates=[b, c])  # unclaimed, not mine
    claimed_by_b = world.task(4, assignee=b, candidates=[me, b])  # b claimed it: gone from my list
    vote = world.task(5, assignee=me, candidates=[me], kind="vote")  # my vote on a 会签 step
    world.task(6, assignee=me, candidates=[me], kind="vote", state="pending")  # not my turn yet
    world.task(7, assignee=me, candidates=[me], state="waiting")  # waiting for a signer before me
    world.task(8, candidates=[me, b], state="cancelled")
    world.task(9, assignee=me, candidates=[me], state="completed", completed_by=me, completed_minutes=10)
    assigned_elsewhere = world.task(10, assignee=c)  # c's, I am no candidate

    s = world.s
    assert ids(inbox.todo(s, user=me, scope="mine")) == [vote.id, mine.id]
    assert ids(inbox.todo(s, user=me, scope="group")) == [shared.id]
    assert ids(inbox.todo(s, user=me, scope="all")) == [vote.id, shared.id, mine.id]
    assert inbox.todo_count(s, user=me) == 3

    assert ids(inbox.todo(s, user=b, scope="mine")) == [claimed_by_b.id]
    assert ids(inbox.todo(s, user=b, scope="group")) == [others.id, shared.id]
    assert ids(inbox.todo(s, user=b)) == [claimed_by_b.id, others.id, shared.id]
    assert inbox.todo_count(s, user=b) == 3

    assert ids(inbox.todo(s, user=c)) == [assigned_elsewhere.id, others.id]
    assert inbox.todo_count(s, user=c) == 2
    # `every` is for those who see every case; anybody else gets their own `all`
    assert ids(inbox.todo(s, user=c, scope="every")) == ids(inbox.todo(s, user=c, scope="all"))


def test_every_open_task_for_qg_and_admin_newest_first(world):
    admin, qg, plain = world.user("adm", "admin"), world.user("qg", "qg"), world.user("plain")
    later = 10**7  # minutes: newer than any row the engine wrote in this module
    rows = [world.task(later + i, assignee=plain if i % 2 else None, candidates=[plain]) for i in range(5)]
    world.task(later + 9, assignee=plain, state="completed", completed_by=plain, completed_minutes=later + 10)
    open_rows = list(world.s.scalars(select(Task).where(Task.state == "open")))
    for who in (admin, qg):
        every = inbox.todo(world.s, user=who, scope="every", limit=500)
        assert ids(every) == newest_first(open_rows)
        assert ids(every[:5]) == newest_first(rows)  # the newest rows of the database are this test's
    assert ids(inbox.todo(world.s, user=plain, scope="every")) == newest_first(rows)


@pytest.mark.parametrize("scope", ["all", "mine", "group"])
def test_pages_follow_one_order_with_ties_broken_by_id(world, scope):
    me, other = world.user("me"), world.user("other")
    minutes = [0, 1, 1, 1, 1, 1, 1, 2, 3, 5, 5, 5, 5, 8, 13, 21, 21, 21, 21, 34]  # equal times: the id decides
    rows = []
    for i, m in enumerate(minutes):
        # interleave mine, group, mine, ...; ids neither ascend nor descend within equal times (1, 1, 1 of
        # each kind), so neither the order rows were written in nor its reverse passes for the id order
        task_id = f"{PERMUTED[i]:02d}-{uuid.uuid4().hex[:8]}"
        if i % 2:
            rows.append(("group", world.task(m, candidates=[me, other], task_id=task_id)))
        else:
            rows.append(("mine", world.task(m, assignee=me, candidates=[me], task_id=task_id)))
        world.task(m, assignee=other, candidates=[me, other])  # claimed by the other: never in my pages
    expected = newest_first([t for kind, t in rows if scope == "all" or kind == scope])
    assert expected
    for limit in (1, 2, 3, 4, 7, 50):
        paged = []
        for offset in itertools.count(0, limit):
            page = ids(inbox.todo(world.s, user=me, scope=scope, limit=limit, offset=offset))
            assert page == expected[offset : offset + limit], (limit, offset)
            if not page:
                break
            paged += page
        assert paged == expected
    # a page may start anywhere, not only at multiples of the limit
    for offset in range(len(expected) + 1):
        assert ids(inbox.todo(world.s, user=me, scope=scope, limit=3, offset=offset)) == expected[offset : offset + 3]


def test_claiming_takes_a_group_task_out_of_the_other_candidates_lists(idb):
    """Through the engine: t_group's step goes to the role qg (qg_head and qg_staff)."""
    with idb.session(write=True) as s:
        head, staff = (s.scalar(select(User).where(User.username == u)) for u in ("qg_head", "qg_staff"))
        before = {u.username: inbox.todo_count(s, user=u) for u in (head, staff)}
        case = instances.start(s, process_key="t_group", user=s.scalar(select(User).where(User.username == "emp")))
        task_id = s.scalar(select(Task.id).where(Task.instance_id == case.id, Task.state == "open"))
    with idb.session() as s:
        head, staff = (s.scalar(select(User).where(User.username == u)) for u in ("qg_head", "qg_staff"))
        for user in (head, staff):
            assert task_id in ids(inbox.todo(s, user=user, scope="group", limit=500))
            assert task_id in ids(inbox.todo(s, user=user, limit=500))
            assert task_id not in ids(inbox.todo(s, user=user, scope="mine", limit=500))
            assert inbox.todo_count(s, user=user) == before[user.username] + 1

    with idb.session(write=True) as s:
        task_service.claim(s, task_id, user=s.scalar(select(User).where(User.username == "qg_head")))
    with idb.session() as s:
        head, staff = (s.scalar(select(User).where(User.username == u)) for u in ("qg_head", "qg_staff"))
        assert task_id in ids(inbox.todo(s, user=head, scope="mine", limit=500))
        assert task_id not in ids(inbox.todo(s, user=head, scope="group", limit=500))
        assert task_id not in ids(inbox.todo(s, user=staff, limit=500))
        assert inbox.todo_count(s, user=head) == before["qg_head"] + 1
        assert inbox.todo_count(s, user=staff) == before["qg_staff"]

    with idb.session(write=True) as s:  # 取消认领: back to the group
        actions.unclaim(s, task_id, user=s.scalar(select(User).where(User.username == "qg_head")))
    with idb.session() as s:
        staff = s.scalar(select(User).where(User.username == "qg_staff"))
        assert task_id in ids(inbox.todo(s, user=staff, scope="group", limit=500))
        assert inbox.todo_count(s, user=staff) == before["qg_staff"] + 1


def test_done_lists_what_i_completed_latest_first(world):
    me, b = world.user("me"), world.user("b")
    first = world.task(0, assignee=me, state="completed", completed_by=me, completed_minutes=30)
    second = world.task(1, assignee=me, state="completed", completed_by=me, completed_minutes=10)
    third = world.task(2, candidates=[me, b], assignee=me, state="completed", completed_by=me, completed_minutes=20)
    by_b = world.task(3, assignee=b, candidates=[me, b], state="completed", completed_by=b, completed_minutes=40)
    world.task(4, assignee=me, state="cancelled", completed_minutes=50)
    world.task(5, assignee=me, candidates=[me])  # still open
    assert ids(inbox.done(world.s, user=me)) == [first.id, third.id, second.id]
    assert ids(inbox.done(world.s, user=me, limit=2, offset=1)) == [third.id, second.id]
    assert ids(inbox.done(world.s, user=b)) == [by_b.id]


def test_started_lists_my_cases_newest_first_by_status(world):
    me = world.user("me")
    cases = [
        world.instance(world.version, me, at=T0 + timedelta(days=i), status=status)
        for i, status in enumerate(["running", "completed", "running", "withdrawn"])
    ]
    world.instance(world.version, world.user("other"), at=T0 + timedelta(days=9))
    got = inbox.started(world.s, user=me)
    assert [c.id for c in got] == [c.id for c in reversed(cases)]
    assert [c.id for c in inbox.started(world.s, user=me, status="running")] == [cases[2].id, cases[0].id]
    assert [c.id for c in inbox.started(world.s, user=me, limit=2, offset=1)] == [cases[2].id, cases[1].id]


def test_copied_and_the_unread_badge(world):
    me, by = world.user("me"), world.user("by")
    cases = [world.instance(world.version, by, at=T0 + timedelta(days=i)) for i in range(3)]
    for i, case in enumerate(cases):
        world.s.add(CaseCopy(instance_id=case.id, user_id=me.id, by_id=by.id, at=T0 + timedelta(days=i, hours=1)))
    world.s.add(CaseCopy(instance_id=cases[0].id, user_id=by.id, by_id=me.id, at=T0))
    world.s.flush()
    assert [(c.user_id, i.id) for c, i in inbox.copied(world.s, user=me)] == [(me.id, c.id) for c in reversed(cases)]
    assert [i.id for _, i in inbox.copied(world.s, user=me, limit=1, offset=1)] == [cases[1].id]
    assert inbox.copied_unread_count(world.s, user=me) == 3
    assert inbox.mark_copy_read(world.s, cases[1].id, me) is True
    assert inbox.mark_copy_read(world.s, cases[1].id, me) is False  # already read
    assert inbox.copied_unread_count(world.s, user=me) == 2
    assert inbox.copied_unread_count(world.s, user=by) == 1
