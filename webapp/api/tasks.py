from engine.runtime import actions, views
from engine.runtime import tasks as runtime
from webapp.api import Blueprint
from webapp.api.schemas import (
    AddSignerRequest,
    BulkOut,
    BulkRequest,
    CompleteRequest,
    HandoverPeopleQuery,
    InstanceOut,
    PersonRequest,
    ReturnRequest,
    ReturnTarget,
    TaskDetail,
    TaskOut,
    TaskQuery,
    UserOut,
)
from webapp.auth import current_user
from webapp.request_session import db_session

blp = Blueprint("tasks", __name__, description="待办任务与审批操作")


@blp.route("/tasks", methods=["GET"])
@blp.arguments(TaskQuery, location="query")
@blp.response(200, TaskOut(many=True))
def list_tasks(args):
    """scope=mine: assigned to me; group: my groups' unclaimed tasks; all: both (企管部/admin: every open task).
    state=completed: the tasks I completed (已办)."""
    session = db_session()
    rows = runtime.list_for(
        session,
        user=current_user(),
        scope=args["scope"],
        state_=args["state"],
        limit=args["limit"],
        offset=args["offset"],
    )
    return views.task_bodies(session, rows)


@blp.route("/tasks/<task_id>", methods=["GET"])
@blp.response(200, TaskDetail)
def get_task(task_id):
    """The task with its form (options filled in), the case data, and what I may do with it now."""
    session = db_session()
    user = current_user()
    return views.task_detail(session, runtime.get(session, task_id, user=user), user)


def _task(task) -> dict:
    return views.task_bodies(db_session(), [task])[0]


def _case(instance) -> dict:
    return views.instance_bodies(db_session(), [instance])[0]


@blp.route("/tasks/<task_id>/claim", methods=["POST"])
@blp.response(200, TaskOut)
def claim_task(task_id):
    return _task(runtime.claim(db_session(), task_id, user=current_user()))


@blp.route("/tasks/<task_id>/unclaim", methods=["POST"])
@blp.response(200, TaskOut)
def unclaim_task(task_id):
    """Put a claimed group task back for the group."""
    return _task(actions.unclaim(db_session(), task_id, user=current_user()))


@blp.route("/tasks/<task_id>/complete", methods=["POST"])
@blp.arguments(CompleteRequest)
@blp.response(200, InstanceOut)
def complete_task(body, task_id):
    """Submit the task's form. Approval forms take decision (approve|reject) and comment.
    Answers with the case and its open tasks (the full history is at GET /instances/{id})."""
    return _case(runtime.complete(db_session(), task_id, user=current_user(), data=body["data"]))


@blp.route("/tasks/<task_id>/people", methods=["GET"])
@blp.arguments(HandoverPeopleQuery, location="query")
@blp.response(200, UserOut(many=True))
def handover_people(args, task_id):
    """Whom 转办 / 委派 / 加签 of this task would accept, for the picker: not me, not anyone the step's
    lane keeps off it for separation of duties (e.g. the applicant on `dept_head!initiator`)."""
    return actions.people_for(
        db_session(), task_id, user=current_user(), action=args["action"], text=args["q"], limit=args["limit"]
    )


@blp.route("/tasks/<task_id>/transfer", methods=["POST"])
@blp.arguments(PersonRequest)
@blp.response(200, TaskOut)
def transfer_task(body, task_id):
    """转办: the task becomes the other person's."""
    return _task(actions.transfer(db_session(), task_id, user=current_user(), to=body["user"], comment=body["comment"]))


@blp.route("/tasks/<task_id>/delegate", methods=["POST"])
@blp.arguments(PersonRequest)
@blp.response(200, TaskOut)
def delegate_task(body, task_id):
    """委派: the delegate works it; it then comes back to me to complete."""
    return _task(actions.delegate(db_session(), task_id, user=current_user(), to=body["user"], comment=body["comment"]))


@blp.route("/tasks/<task_id>/add-signer", methods=["POST"])
@blp.arguments(AddSignerRequest)
@blp.response(200, TaskOut)
def add_signer(body, task_id):
    """加签 before me (their opinion first, then I decide) or after me (my approval goes on to them)."""
    return _task(
        actions.add_signer(
            db_session(),
            task_id,
            user=current_user(),
            to=body["user"],
            position=body["position"],
            comment=body["comment"],
        )
    )


@blp.route("/tasks/<task_id>/return-targets", methods=["GET"])
@blp.response(200, ReturnTarget(many=True))
def return_targets(task_id):
    """The earlier completed steps this case can be returned to."""
    return actions.return_targets(db_session(), task_id, user=current_user())


@blp.route("/tasks/<task_id>/return", methods=["POST"])
@blp.arguments(ReturnRequest)
@blp.response(200, InstanceOut)
def return_task(body, task_id):
    """退回 the case to an earlier step, which is redone from there (also from a 会签 step)."""
    return _case(
        actions.return_to(
            db_session(), task_id, user=current_user(), element_id=body["element_id"], comment=body["comment"]
        )
    )


@blp.route("/tasks/bulk-complete", methods=["POST"])
@blp.arguments(BulkRequest)
@blp.response(200, BulkOut)
def bulk_complete(body):
    """批量同意: approve each selected task with one comment; each succeeds or fails on its own."""
    return {
        "results": actions.bulk_approve(db_session(), body["task_ids"], user=current_user(), comment=body["comment"])
    }
