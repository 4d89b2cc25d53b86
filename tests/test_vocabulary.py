"""The vocabulary of diagrams (engine.definitions.vocabulary), as the modeler reads it."""

from __future__ import annotations

from engine.definitions import vocabulary
from engine.org import assignment


def test_the_modeler_reads_the_vocabulary_with_a_login(api, client):
    assert client.get("/api/v1/vocabulary").status_code == 401
    r = api.get("/vocabulary", "emp")
    assert r.status_code == 200
    assert r.json == vocabulary.vocabulary()
    assert r.json["properties"]["FORM_KEY"] == "formKey"
    assert [m["value"] for m in r.json["approval_modes"]] == ["all", "any", "sequential"]


def test_the_served_lane_grammar_is_the_engines():
    """The same regular expression, in JavaScript's spelling (tests/js run it on lane names)."""
    grammar = vocabulary.role_expression_grammar()
    assert grammar["pattern"].replace("(?<", "(?P<") == assignment.EXPRESSION.pattern
    assert grammar["pseudo_roles"] == sorted(assignment.PSEUDO_ROLES)
