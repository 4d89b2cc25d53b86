from engine.runtime import tasks as runtime
from engine.store.models import Instance
from webapp.api import Blueprint
from webapp.api.present import instances as present_instances, tasks as present_tasks
from webapp.api.schemas import CompleteRequest, InstanceOut, TaskDetail, TaskOut, TaskQuery
from webapp.auth import current_user
from webapp.request_session import db_session

blp = Blueprint("tasks", __name__, description="待办任务")


@blp.route("/tasks", methods=["GET"])
@blp.arguments(TaskQuery, location="query")
@blp.response(200, TaskOut(many=True))
def list_tasks(args):
    """scope=mine: assigned to me; group: my groups' unclaimed tasks; all: both."""
    session = db_session()
    rows = runtime.list_for(session, user=current_user(), scope=args["scope"], state_=args["state"],
                            limit=args["limit"], offset=args["offset"])
    return present_tasks(session, rows)


@blp.route("/tasks/<task_id>", methods=["GET"])
@blp.response(200, TaskDetail)
def get_task(task_id):
    """The task with its form (options filled in) and the case's current data."""
    session = db_session()
    task = runtime.get(session, task_id, user=current_user())
    instance = session.get(Instance, task.instance_id)
    return {**present_tasks(session, [task])[0], "form": runtime.form_for(session, task),
            "data": instance.data or {}, "process_key": instance.process_key, "instance_title": instance.title}


@blp.route("/tasks/<task_id>/claim", methods=["POST"])
@blp.response(200, TaskOut)
def claim_task(task_id):
    session = db_session()
    return present_tasks(session, [runtime.claim(session, task_id, user=current_user())])[0]


@blp.route("/tasks/<task_id>/complete", methods=["POST"])
@blp.arguments(CompleteRequest)
@blp.response(200, InstanceOut)
def complete_task(body, task_id):
    """Submit the task's form. Approval forms take decision (approve|reject) and comment.
    Answers with the case and its open tasks (the full history is at GET /instances/{id})."""
    session = db_session()
    instance = runtime.complete(session, task_id, user=current_user(), data=body["data"])
    return present_instances(session, [instance])[0]
