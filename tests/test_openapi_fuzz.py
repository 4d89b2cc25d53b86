"""A bounded schemathesis run over the served OpenAPI (issue 13, "done means"): every operation, as an
administrator and as an ordinary employee, on a database of its own seeded with cases, open tasks,
drafts, an attachment and a failed mail, so that ids in paths name something real three times in four.

Each response must not be a server error and must be what the OpenAPI says: a documented status code
and content type, a body matching the response schema, and an operation that needs a token refuses the
same request without one (ignored_auth). Every path also answers an undocumented method with 405 and Allow.

The operations are read from /api/v1/openapi.json at collection time, so an operation added later is
fuzzed with no change here. Generation is derandomized (a fixed seed): CI sends the same requests every
run. BPM_FUZZ_EXAMPLES (default 6) examples per operation, positive and negative, keep the run within
about a minute on SQLite and a minute and a half on PostgreSQL; raise it for a deeper local run, with
BPM_FUZZ_SECONDS (the time box, default 150 s) to match.
"""

from __future__ import annotations

import io
import os
import re
import time

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    response_schema_conformance,
    status_code_conformance,
)

from engine.org import credentials
from engine.org import service as org
from engine.store.models import CredentialKind, MailOutbox

EXAMPLES = int(os.environ.get("BPM_FUZZ_EXAMPLES", "6"))
# The time box: once the run has taken this long, each remaining operation gets one example (the same
# first example as always), so a slow machine or many new operations never make CI wait much longer.
TIME_BOX_SECONDS = float(os.environ.get("BPM_FUZZ_SECONDS", "150"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    ignored_auth,
]
BOUNDED = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
HTTP_METHODS = ("GET", "PUT", "POST", "DELETE", "PATCH")
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def _served_spec() -> dict:
    """The OpenAPI the app serves (building the app opens no database connection)."""
    from webapp import create_app

    app = create_app({"TESTING": True, "DATABASE_URL": "sqlite://", "SECRET_KEY": "collect"})
    return app.test_client().get("/api/v1/openapi.json").json


SPEC = _served_spec()
OPERATIONS = [
    (method.upper(), path) for path, item in SPEC["paths"].items() for method in item if method.upper() in HTTP_METHODS
]


class Seeds:
    """Things for the fuzzed requests to act on, topped up before each operation: the one before may
    have completed the tasks or deleted the drafts."""

    def __init__(self, api, database):
        self.api, self.database = api, database
        self.ids: dict[str, list] = {"key": ["process_change", "t_quick", "incident"], "version": [1]}
        self.cases, self.tasks, self.drafts = [], [], []
        with database.session(write=True) as session:
            mail = MailOutbox(
                to_address="emp@example.com",
                subject="测试",
                body="测试",
                status="failed",
                attempts=3,
                last_error="550 mailbox unavailable",
            )
            session.add(mail)
            session.flush()
            self.ids["mail_id"] = [mail.id]

    def token(self, username: str) -> str:
        """A fresh token, issued by the engine: a fuzzed logout may have revoked the last one, and fuzzed
        wrong passwords may have the login throttled."""
        with self.database.session(write=True) as session:
            return credentials.issue(
                session,
                user=org.get_user(session, username),
                kind=CredentialKind.API,
                lifetime=credentials.token_lifetime(),
            ).secret

    def top_up(self) -> dict[str, list]:
        from test_process_change import APPLY

        api = self.api
        api.tokens.update({username: self.token(username) for username in ("admin", "emp", "mr")})
        with self.database.session(write=True) as session:  # one of admin's own to list and revoke
            spare = credentials.issue(
                session,
                user=org.get_user(session, "admin"),
                kind=CredentialKind.API,
                lifetime=credentials.token_lifetime(),
            )
        self.ids["token_id"] = [spare.id]
        self.tasks = [t for t in self.tasks if api.get(f"/tasks/{t}", "admin").json.get("state") == "open"]
        while len(self.tasks) < 4:
            case = api.start("process_change", "emp")
            task = api.open_task(case["id"], "emp", "apply")["id"]
            if len(self.tasks) % 2:  # every other case waits on 管理者代表 instead
                api.complete(task, "emp", APPLY)
                task = api.open_task(case["id"], "mr", "mr_review")["id"]
            self.cases.append(case["id"])
            self.tasks.append(task)
        if "attachment_id" not in self.ids:
            upload = api.call(
                "POST",
                f"/tasks/{self.tasks[0]}/attachments",
                "emp",
                data={"file": (io.BytesIO(PDF), "方案.pdf")},
                content_type="multipart/form-data",
            )
            assert upload.status_code == 201, upload.json
            self.ids["attachment_id"] = [upload.json["id"]]
        self.drafts = [d for d in self.drafts if api.get(f"/drafts/{d}", "admin").json.get("editable")]
        for key in ("t_quick", "t_vote")[len(self.drafts) :]:
            content = api.get(f"/processes/{key}/content", "admin").json
            draft = api.post(
                f"/processes/{key}/drafts", "admin", {"bpmn_xml": content["bpmn_xml"], "forms": content["forms"]}
            )
            assert draft.status_code == 201, draft.json
            self.drafts.append(draft.json["id"])
        return {**self.ids, "instance_id": self.cases[-6:], "task_id": self.tasks, "draft_id": self.drafts}


@pytest.fixture(scope="module")
def fuzzed(own_database, api_on):
    database = own_database("fuzz")
    api = api_on(database)
    return api, Seeds(api, database)


@pytest.fixture(scope="module")
def time_box() -> float:
    """When the fuzzing should be over (monotonic clock)."""
    return time.monotonic() + TIME_BOX_SECONDS


@pytest.fixture
def seeded(fuzzed) -> dict[str, list]:
    return fuzzed[1].top_up()


@pytest.fixture(scope="module")
def fuzz_schema(fuzzed):
    api, _ = fuzzed
    loaded = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", api.client.application)
    # The bearer token is the logged-in user's (ignored_auth also sends each request without it);
    # a generated one would only ever be refused.
    loaded.config.generation.update(with_security_parameters=False)
    return loaded


def _with_seeded_ids(strategy, seeded: dict[str, list]):
    """Path parameters that name a seeded object three times in four, else what was generated."""

    def real_ones(params):
        if not isinstance(params, dict):
            return st.just(params)
        return st.fixed_dictionaries(
            {
                name: (
                    st.integers(0, 3).flatmap(
                        lambda n, v=value, s=seeded[name]: st.just(v) if n == 0 else st.sampled_from(s)
                    )
                    if name in seeded
                    else st.just(value)
                )
                for name, value in params.items()
            }
        )

    return strategy.flatmap(real_ones)


@pytest.mark.parametrize("username", ["admin", "emp"])
@pytest.mark.parametrize("method,path", OPERATIONS)
def test_operation_answers_as_documented(fuzzed, fuzz_schema, seeded, time_box, method, path, username):
    _, seeds = fuzzed
    examples = EXAMPLES if time.monotonic() < time_box else 1
    operation = fuzz_schema[path][method]
    headers = {"Authorization": f"Bearer {seeds.token(username)}"}

    @fuzz_schema.hook
    def before_generate_path_parameters(context, strategy):
        return _with_seeded_ids(strategy, seeded)

    try:

        @settings(BOUNDED, max_examples=examples)
        @given(
            st.one_of(operation.as_strategy(GenerationMode.POSITIVE), operation.as_strategy(GenerationMode.NEGATIVE))
        )
        def answers_as_documented(case):
            case.call_and_validate(headers=headers, checks=CHECKS)

        answers_as_documented()
    finally:
        fuzz_schema.hooks.unregister(before_generate_path_parameters)


def _served_elsewhere(method: str, path: str) -> bool:
    def pattern(template):
        return re.compile("^" + re.sub(r"\\{[^/]+?\\}", "[^/]+", re.escape(template)) + "$")

    return any(
        method.lower() in item and pattern(other).match(path) for other, item in SPEC["paths"].items() if other != path
    )


@pytest.mark.parametrize("path", list(SPEC["paths"]))
def test_an_undocumented_method_is_405_with_allow(fuzzed, seeded, path):
    api, _ = fuzzed
    documented = {m.upper() for m in SPEC["paths"][path] if m.upper() in HTTP_METHODS}
    url = path.removeprefix("/api/v1")
    for name, values in seeded.items():
        url = url.replace(f"{{{name}}}", str(values[0]))
    # A method no operation has at this URL (GET /tasks/bulk-complete is GET /tasks/{task_id})
    method = next(m for m in HTTP_METHODS if m not in documented and not _served_elsewhere(m, path))
    r = api.call(method, url, "admin")
    assert r.status_code == 405, (method, url, r.status_code)
    allowed = {m.strip() for m in r.headers["Allow"].split(",")}
    assert documented <= allowed and method not in allowed
    assert r.json["code"] == 405
