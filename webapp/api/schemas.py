"""Request and response bodies of the API."""

from flask_smorest.fields import Upload
from marshmallow import Schema, fields, validate

from engine.store.db import MAX_INTEGER, MAX_INTEGER_32
from engine.store.models import InstanceStatus, TaskRowState


def whole_number(minimum: int = 0, maximum: int = MAX_INTEGER, **kwargs) -> fields.Integer:
    """An integer in a request, within what the database holds; refused in Chinese otherwise."""
    return fields.Integer(
        validate=validate.Range(min=minimum, max=maximum, error="应在 {min}–{max} 之间"),
        error_messages={"invalid": "应为整数"},
        **kwargs,
    )


class TokenRequest(Schema):
    username = fields.String(required=True, validate=validate.Length(min=1, max=64))
    password = fields.String(required=True, validate=validate.Length(min=1, max=256))


class TokenResponse(Schema):
    token = fields.String()
    expires_in = fields.Integer(metadata={"description": "seconds"})
    id = fields.Integer(metadata={"description": "the token's id in GET /auth/tokens"})
    expires_at = fields.DateTime()


class CredentialOut(Schema):
    id = fields.Integer()
    kind = fields.String(metadata={"description": "api (a bearer token) | page (a browser's login session)"})
    created_at = fields.DateTime()
    expires_at = fields.DateTime()
    client_address = fields.String(allow_none=True)
    user_agent = fields.String(allow_none=True)
    current = fields.Boolean(metadata={"description": "the credential of this request"})


class ProcessSummary(Schema):
    key = fields.String()
    name = fields.String()
    version = fields.Integer()
    owner_role = fields.String(allow_none=True)
    category = fields.String(allow_none=True)
    deployed_at = fields.DateTime()


class ProcessDetail(ProcessSummary):
    versions = fields.List(fields.Dict())
    forms = fields.List(fields.String())


class DeployRequest(Schema):
    bpmn_xml = fields.String(required=True, validate=validate.Length(min=1))
    forms = fields.Dict(
        keys=fields.String(),
        values=fields.Dict(),
        load_default=None,
        metadata={"description": "form-js schemas by form key; others come from forms/"},
    )
    note = fields.String(load_default=None)


class DeployResponse(Schema):
    key = fields.String()
    version = fields.Integer()
    created = fields.Boolean()


class VersionQuery(Schema):
    version = whole_number(1, MAX_INTEGER_32, load_default=None)


class StartRequest(Schema):
    data = fields.Dict(load_default=dict)


class TaskOut(Schema):
    id = fields.String()
    kind = fields.String(metadata={"description": "task | vote (one approver of 会签/或签/依次) | signer (加签)"})
    instance_id = fields.Integer()
    name = fields.String()
    element_id = fields.String()
    role = fields.String(allow_none=True)
    assignee = fields.String(allow_none=True)
    candidate_users = fields.List(fields.String())
    state = fields.String()
    form_key = fields.String(allow_none=True)
    decision = fields.String(allow_none=True)
    delegated_by = fields.String(allow_none=True, metadata={"description": "委派: the delegator"})
    urged_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()
    completed_at = fields.DateTime(allow_none=True)
    due_at = fields.DateTime(allow_none=True)
    overdue = fields.Boolean(metadata={"description": "still open after its due time (the step's dueIn)"})


class TaskDetail(TaskOut):
    form = fields.Dict(allow_none=True)
    data = fields.Dict()
    prefill = fields.Dict(
        metadata={"description": "what the form opens with: the case data, or a delegate's submission"}
    )
    actions = fields.List(
        fields.String(),
        metadata={
            "description": "what I may do now: complete, claim, unclaim, transfer, delegate, add_signer, return, attach"
        },
    )
    approval = fields.Dict(allow_none=True, metadata={"description": "{mode, votes} of a multi-person step"})
    origin = fields.Dict(allow_none=True, metadata={"description": "加签: who added me, before or after them"})
    process_key = fields.String()
    instance_title = fields.String()


class HistoryEntry(Schema):
    id = fields.Integer()
    type = fields.String()
    at = fields.DateTime()
    task_id = fields.String(allow_none=True)
    element_id = fields.String(allow_none=True)
    actor = fields.String(allow_none=True)
    actor_name = fields.String(allow_none=True)
    decision = fields.String(allow_none=True)
    comment = fields.String(allow_none=True)
    data = fields.Dict(allow_none=True)


class InstanceOut(Schema):
    id = fields.Integer()
    process_key = fields.String()
    version = fields.Integer()
    title = fields.String()
    status = fields.String()
    initiator = fields.String()
    data = fields.Dict()
    error = fields.String(allow_none=True)
    parent_instance_id = fields.Integer(allow_none=True)
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
    completed_at = fields.DateTime(allow_none=True)
    tasks = fields.List(fields.Nested(TaskOut))


class LinkedInstance(Schema):
    id = fields.Int()
    process_key = fields.Str()
    title = fields.Str()
    status = fields.Str()


class InstanceDetail(InstanceOut):
    actions = fields.List(fields.String(), metadata={"description": "what I may do on the case: withdraw, cc, urge"})
    history = fields.List(fields.Nested(HistoryEntry))
    children = fields.List(fields.Nested(LinkedInstance), metadata={"description": "本案件发起的案件"})


class InstanceQuery(Schema):
    status = fields.String(load_default=None, validate=validate.OneOf(list(InstanceStatus)))
    mine = fields.Boolean(load_default=False)
    limit = whole_number(1, 500, load_default=50)
    offset = whole_number(load_default=0)


class TaskQuery(Schema):
    scope = fields.String(load_default="mine", validate=validate.OneOf(["mine", "group", "all"]))
    state = fields.String(
        load_default=TaskRowState.OPEN,
        validate=validate.OneOf([TaskRowState.OPEN, TaskRowState.COMPLETED]),
        metadata={"description": "open: 待办; completed: 已办 (the tasks I completed)"},
    )
    limit = whole_number(1, 500, load_default=50)
    offset = whole_number(load_default=0)


class CompleteRequest(Schema):
    data = fields.Dict(load_default=dict)


class RetryRequest(Schema):
    data = fields.Dict(
        load_default=dict,
        metadata={
            "description": "admin only: corrections merged into the failed step's data; never what an approval "
            "step decided. Each corrected field is recorded with its old and new value"
        },
    )
    reason = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.Length(max=2000),
        metadata={"description": "why the data is corrected (required with data)"},
    )


class UserQuery(Schema):
    q = fields.String(
        load_default="",
        validate=validate.Length(max=64),
        metadata={"description": "part of the username, name or department"},
    )
    limit = whole_number(1, 200, load_default=20)


class HandoverPeopleQuery(UserQuery):
    action = fields.String(
        required=True,
        validate=validate.OneOf(["transfer", "delegate", "add_signer"]),
        metadata={"description": "the hand-over the picker is for: transfer, delegate, add_signer"},
    )


class UserOut(Schema):
    username = fields.String()
    display_name = fields.String()
    department = fields.String(allow_none=True)


class DiagramOut(Schema):
    bpmn_xml = fields.String()
    completed = fields.List(fields.String(), metadata={"description": "elements the case has passed"})
    current = fields.List(fields.String(), metadata={"description": "elements it waits on now"})


class AttachmentUpload(Schema):
    file = Upload(
        required=True,
        error_messages={"required": "请选择要上传的文件"},
        metadata={"description": "the file (multipart/form-data field `file`)"},
    )


class AttachmentOut(Schema):
    id = fields.Integer()
    instance_id = fields.Integer()
    task_id = fields.String(allow_none=True)
    task_name = fields.String(allow_none=True, metadata={"description": "the step it was uploaded on"})
    filename = fields.String()
    content_type = fields.String(metadata={"description": "determined from the content, not the browser's"})
    size = fields.Integer()
    sha256 = fields.String()
    uploaded_by = fields.String()
    uploaded_by_name = fields.String()
    uploaded_at = fields.DateTime()
    url = fields.String(metadata={"description": "download address"})


# --- approval actions (engine/runtime/actions.py) ---


class PersonRequest(Schema):
    user = fields.String(required=True, validate=validate.Length(min=1, max=64), metadata={"description": "username"})
    comment = fields.String(load_default=None, validate=validate.Length(max=2000))


class AddSignerRequest(PersonRequest):
    position = fields.String(
        required=True,
        validate=validate.OneOf(["before", "after"]),
        metadata={"description": "before: 在我之前; after: 在我之后"},
    )


class CommentRequest(Schema):
    comment = fields.String(load_default=None, validate=validate.Length(max=2000))


class ReturnRequest(CommentRequest):
    element_id = fields.String(required=True, validate=validate.Length(min=1, max=255))


class ReturnTarget(Schema):
    element_id = fields.String()
    name = fields.String()
    completed_by = fields.String()
    completed_by_name = fields.String()
    completed_at = fields.DateTime()


class CopyRequest(CommentRequest):
    users = fields.List(
        fields.String(validate=validate.Length(min=1, max=64)), required=True, validate=validate.Length(min=1, max=100)
    )


class PeopleOut(Schema):
    users = fields.List(fields.String())


class BulkRequest(CommentRequest):
    task_ids = fields.List(
        fields.String(validate=validate.Length(min=1, max=36)), required=True, validate=validate.Length(min=1, max=100)
    )


class BulkResult(Schema):
    task_id = fields.String()
    ok = fields.Boolean()
    message = fields.String()


class BulkOut(Schema):
    results = fields.List(fields.Nested(BulkResult))


class RoleOut(Schema):
    code = fields.String()
    name = fields.String()
    scope = fields.String()


class ContentOut(Schema):
    key = fields.String()
    name = fields.String()
    version = fields.Integer()
    bpmn_xml = fields.String()
    forms = fields.Dict()


class DefinitionIn(Schema):
    bpmn_xml = fields.String(required=True, validate=validate.Length(min=1))
    forms = fields.Dict(
        keys=fields.String(),
        values=fields.Dict(),
        load_default=dict,
        metadata={"description": "form-js schemas by form key"},
    )


class ValidateIn(DefinitionIn):
    process_key = fields.String(load_default=None)


class DiagramError(Schema):
    element_id = fields.String(allow_none=True, metadata={"description": "the element it is about, if one"})
    message = fields.String()


class ValidationOut(Schema):
    valid = fields.Boolean()
    errors = fields.List(fields.Nested(DiagramError))


class DraftSaveIn(DefinitionIn):
    lock_version = whole_number(required=True)


class DraftSummary(Schema):
    id = fields.Integer()
    process_key = fields.String()
    name = fields.String()
    state = fields.String()
    editable = fields.Boolean()
    base_version = fields.Integer(allow_none=True)
    rollback_of = fields.Integer(allow_none=True)
    change_instance_id = fields.Integer(allow_none=True)
    activated_version = fields.Integer(allow_none=True)
    lock_version = fields.Integer()
    created_by = fields.String()
    updated_by = fields.String()
    updated_at = fields.DateTime()


class DraftOut(DraftSummary):
    bpmn_xml = fields.String()
    forms = fields.Dict()


class ProposeOut(Schema):
    instance_id = fields.Integer()
    task_id = fields.String(allow_none=True)


class DirectDeployIn(Schema):
    note = fields.String(load_default=None, validate=validate.Length(max=500))


class VersionOut(Schema):
    version = fields.Integer()
    name = fields.String()
    deployed_at = fields.DateTime()
    deployed_by = fields.String(allow_none=True)
    source = fields.String(allow_none=True)
    change_instance_id = fields.Integer(allow_none=True)
    note = fields.String(allow_none=True)
    live = fields.Boolean()
    running = fields.Integer(metadata={"description": "running cases on this version"})


class MigrationIn(Schema):
    instance_ids = fields.List(
        whole_number(), load_default=None, metadata={"description": "omit for every running case on an older version"}
    )
    to_version = whole_number(1, MAX_INTEGER_32, load_default=None)
    dry_run = fields.Boolean(load_default=True)


class MigrationOut(Schema):
    instance_id = fields.Integer()
    title = fields.String(allow_none=True)
    from_version = fields.Integer(allow_none=True)
    to_version = fields.Integer(allow_none=True)
    ok = fields.Boolean()
    reasons = fields.List(fields.String())
    current_steps = fields.List(fields.String())
