"""The vocabulary diagrams are written in (engine.definitions.vocabulary), for the modeler: extension
property names, approval modes, escalations, categories, element kind labels, the lane grammar."""

from __future__ import annotations

from marshmallow import Schema, fields

from engine.definitions import vocabulary
from webapp.api import Blueprint
from webapp.auth import current_user

blp = Blueprint("vocabulary", __name__, description="流程图的词汇：扩展属性、审批方式、类别、元素类型、泳道表达式")


class ApprovalModeOut(Schema):
    value = fields.String(required=True, metadata={"description": "the `approvalMode` value: all | any | sequential"})
    name = fields.String(required=True, metadata={"description": "short name: 会签, 或签, 依次审批"})
    label = fields.String(required=True, metadata={"description": "as a choice is shown, e.g. 会签（全部同意）"})


class EscalationOut(Schema):
    kind = fields.String(required=True, metadata={"description": "before the `:` of `escalation`: notify | move"})
    label = fields.String(required=True)


class RoleExpressionOut(Schema):
    pattern = fields.String(
        required=True,
        metadata={"description": "a lane name, as a JavaScript regular expression with the groups role, field, excl"},
    )
    role = fields.String(required=True, metadata={"description": "a role code (regular expression)"})
    field = fields.String(required=True, metadata={"description": "a form field after `@` (regular expression)"})
    pseudo_roles = fields.List(
        fields.String(),
        required=True,
        metadata={"description": "what a lane may name besides roles: initiator, user (with @field)"},
    )
    exclusion_kinds = fields.List(
        fields.String(),
        required=True,
        metadata={"description": "what may follow `!`: initiator, dept@field, user@field"},
    )


class VocabularyOut(Schema):
    properties = fields.Dict(
        keys=fields.String(),
        values=fields.String(),
        required=True,
        metadata={
            "description": "the spiffworkflow:property names the engine reads, by constant name (FORM_KEY: formKey)"
        },
    )
    property_labels = fields.Dict(
        keys=fields.String(),
        values=fields.String(),
        required=True,
        metadata={"description": "property name → Chinese label"},
    )
    approval_modes = fields.List(fields.Nested(ApprovalModeOut), required=True)
    escalations = fields.List(fields.Nested(EscalationOut), required=True)
    categories = fields.List(fields.String(), required=True, metadata={"description": "the library's categories"})
    kinds = fields.Dict(
        keys=fields.String(),
        values=fields.String(),
        required=True,
        metadata={"description": "BPMN element kind (local name, e.g. userTask) → Chinese label"},
    )
    role_expression = fields.Nested(
        RoleExpressionOut, required=True, metadata={"description": "the grammar of lane names (see the library guide)"}
    )


@blp.route("/vocabulary", methods=["GET"])
@blp.response(200, VocabularyOut)
def get_vocabulary():
    """The words of the diagrams: what the modeler offers and checks as one types."""
    current_user()
    return vocabulary.vocabulary()
