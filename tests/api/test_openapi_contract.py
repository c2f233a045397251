"""The OpenAPI document is a contract: committed, current, complete, and true to the API.

RELIABILITY 31: schemathesis generates requests from the committed document and sends
them to the app in-process (WSGI), with real ids in the paths, on both database
backends; no response may be a 5xx or disagree with the document. It stays bounded and
reproducible: 15 derandomized examples per operation, valid and (where an operation
takes input) invalid. What it found once is pinned down in the tests at the end.
"""

from __future__ import annotations

import functools
import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.specs.openapi.schemas import OpenApiSchema

from server.cli import spec
from tests.api.study_world import World
from tests.conftest import Factory, StudyTeam

COMMITTED = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"
ERROR_REF = "#/components/schemas/Error"
HTTP_METHODS = ("get", "put", "post", "patch", "delete")
PARAMETER_LOCATIONS = frozenset({"path", "query", "header", "cookie"})
CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance]
FUZZ_SETTINGS = settings(
    max_examples=15,
    deadline=None,
    derandomize=True,
    database=None,
    phases=[Phase.explicit, Phase.generate, Phase.shrink],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
# visits and their evidence are started and changed by their researcher only; an admin
# is refused before the body matters, so these are fuzzed as the researcher
AS_RESEARCHER = frozenset(
    {
        "POST /api/v1/studies/{study_id}/visits",
        "PATCH /api/v1/visits/{visit_id}",
        "POST /api/v1/visits/{visit_id}/transitions",
        "POST /api/v1/visits/{visit_id}/evidence",
        "POST /api/v1/visits/{visit_id}/notes",
    }
)


def committed_document() -> dict[str, Any]:
    """Read the committed OpenAPI document (none yet: no operations to fuzz)."""
    if not COMMITTED.exists():
        return {"paths": {}}
    document: dict[str, Any] = json.loads(COMMITTED.read_text(encoding="utf-8"))
    return document


def operations(document: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """List ``("METHOD /path", operation)`` for every operation of a document."""
    return [
        (f"{method.upper()} {path}", item[method])
        for path, item in sorted(document["paths"].items())
        for method in HTTP_METHODS
        if method in item
    ]


def negatable(operation: dict[str, Any]) -> bool:
    """Tell whether an operation takes input that can be made invalid (path ids are fixed)."""
    query = [p for p in operation.get("parameters", []) if p.get("in") == "query"]
    return bool(query) or "requestBody" in operation


FUZZ_CASES = [
    pytest.param(label, mode, id=f"{mode.value} {label}")
    for label, operation in operations(committed_document())
    for mode in schemathesis.GenerationMode
    if mode is schemathesis.GenerationMode.POSITIVE or negatable(operation)
]


@functools.cache
def committed_schema() -> OpenApiSchema:
    """Load the committed document for schemathesis."""
    return schemathesis.openapi.from_path(COMMITTED)


def resolve(document: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    """Follow a local ``$ref`` in a document."""
    while "$ref" in node:
        target: Any = document
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def test_served_document_is_the_committed_one(client: FlaskClient) -> None:
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    committed = COMMITTED.read_text(encoding="utf-8") if COMMITTED.exists() else ""
    served = spec.render_document(response.get_json())
    assert served == committed, (
        f"{COMMITTED.name} does not match the API; regenerate it with `{spec.REGENERATE}`"
    )


def test_openapi_commands_write_and_check_the_document(app: Flask, tmp_path: Path) -> None:
    runner = app.test_cli_runner()
    written = tmp_path / "openapi.json"
    result = runner.invoke(spec.openapi_group, ["write", str(written)])
    assert result.exit_code == 0, result.output
    document = app.extensions["fieldbook.api"].spec.to_dict()
    assert written.read_text(encoding="utf-8") == spec.render_document(document)
    assert written.read_text(encoding="utf-8").endswith("}\n")

    assert runner.invoke(spec.openapi_group, ["check", str(written)]).exit_code == 0
    stale = dict(document, info={**document["info"], "version": "v0"})
    written.write_text(spec.render_document(stale), encoding="utf-8")
    result = runner.invoke(spec.openapi_group, ["check", str(written)])
    assert result.exit_code == 1
    assert spec.REGENERATE in result.output


def test_every_operation_has_a_summary_and_documents_its_errors(app: Flask) -> None:
    document = app.extensions["fieldbook.api"].spec.to_dict()
    error = document["components"]["schemas"]["Error"]
    assert set(error["required"]) == {"code", "status", "message", "errors"}
    assert error["properties"]["code"]["type"] == "string"
    problems: list[str] = []
    for label, operation in operations(document):
        if not operation.get("summary", "").strip():
            problems.append(f"{label}: no docstring summary")
        for parameter in operation.get("parameters", []):
            if parameter["in"] not in PARAMETER_LOCATIONS:
                # OpenAPI 3 has one request body; form fields belong in it
                problems.append(f"{label}: parameter {parameter['name']} is in {parameter['in']}")
        responses = operation["responses"]
        if "default" not in responses:
            problems.append(f"{label}: no default error response")
        if negatable(operation) and "422" not in responses:
            problems.append(f"{label}: takes input but does not document 422")
        for status, response in responses.items():
            if status != "default" and int(status) < 400:
                continue
            schema = resolve(document, response).get("content", {}).get("application/json", {})
            if schema.get("schema", {}).get("$ref") != ERROR_REF:
                problems.append(f"{label}: response {status} is not the error schema")
    assert not problems, "\n".join(problems)


# real rows for path parameters, made only when an operation names them
PATH_VALUES: dict[str, Callable[[World], str]] = {
    "study_id": lambda w: w.study_id,
    "user_id": lambda w: str(w.bystander().id),
    "token_id": lambda w: w.spare_token(w.team.admin),
    "target_id": lambda w: w.target(),
    "journey_id": lambda w: w.journey(),
    "assignment_id": lambda w: w.assignment(w.team.researcher),
    "visit_id": lambda w: w.visit(w.team.researcher),
    "evidence_id": lambda w: w.call_recording(w.team.researcher)[0],
    "job_id": lambda w: w.job(w.team.researcher),
    "finding_id": lambda w: w.finding()["id"],
    "citation_id": lambda w: w.finding()["citations"][0]["id"],
    "action_id": lambda w: w.action(),
    "journal_id": lambda w: w.journal(),
    "link_id": lambda w: w.share_link(),
}


def path_parameters(world: World, label: str, names: set[str]) -> dict[str, str]:
    """Return real ids for an operation's path parameters.

    Under ``/members/`` the user is a member; a transcript comes with its recording.
    """
    values = {name: PATH_VALUES[name](world) for name in names & set(PATH_VALUES)}
    if "/members/" in label:
        values["user_id"] = world.member()
    if "transcript_id" in names:
        values["evidence_id"], values["transcript_id"] = world.call_recording(world.team.researcher)
    return values


@pytest.mark.parametrize(("label", "mode"), FUZZ_CASES)
def test_responses_conform_to_the_committed_document(
    app: Flask,
    factory: Factory,
    team: StudyTeam,
    label: str,
    mode: schemathesis.GenerationMode,
) -> None:
    world = World(app, factory, team)
    operation = committed_schema().find_operation_by_label(label)
    assert operation is not None, f"{label} is not in {COMMITTED.name}"
    names = {parameter.name for parameter in operation.path_parameters}
    caller = team.researcher if label in AS_RESEARCHER else team.admin
    strategy = operation.as_strategy(
        mode, path_parameters=path_parameters(world, label, names), headers=caller.headers
    )

    @given(case=strategy)
    @FUZZ_SETTINGS
    def conforms(case: schemathesis.Case) -> None:
        response = case.call(app=app)
        case.validate_response(response, checks=CHECKS)

    conforms()


# What fuzzing found once, pinned down so that it is checked on every run.


def test_a_page_past_the_end_of_a_list_is_empty(team: StudyTeam) -> None:
    response = team.admin.get("/api/v1/studies", query_string={"page": 2**70})
    assert response.status_code == 200
    assert response.get_json() == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ('{"name": "Pilot\\u0000"}', "name"),
        ('{"name": "Pilot", "goals": ["\\ud800"]}', "goals"),
        ('{"name": "Pilot", "checklist": [{"key": "k", "question": "\\u0000"}]}', "checklist"),
    ],
    ids=["nul", "unpaired surrogate", "nul in a nested item"],
)
def test_text_no_database_can_keep_is_refused(team: StudyTeam, body: str, field: str) -> None:
    response = team.admin.post(
        "/api/v1/studies", data=body.encode(), content_type="application/json"
    )
    assert response.status_code == 422, response.get_json()
    assert list(response.get_json()["errors"]) == [field]


def test_a_nul_in_the_query_string_is_refused(team: StudyTeam) -> None:
    response = team.admin.get("/api/v1/audit", query_string={"action": "login\x00"})
    assert response.status_code == 422
    assert list(response.get_json()["errors"]) == ["action"]


def test_a_study_change_cannot_store_half_a_checklist_item(team: StudyTeam) -> None:
    url = f"/api/v1/studies/{team.study.id}"
    response = team.manager.patch(url, json={"checklist": [{"key": "greeted"}]})
    assert response.status_code == 422
    assert "checklist" in response.get_json()["errors"]
    assert team.manager.patch(url, json={"name": "Kettle returns, wave 2"}).status_code == 200


def test_a_finding_names_only_a_journey_of_its_study(team: StudyTeam) -> None:
    body = {"kind": "pain_point", "title": "Long wait", "journey_id": str(uuid.uuid4())}
    response = team.reviewer.post(f"/api/v1/studies/{team.study.id}/findings", json=body)
    assert response.status_code == 422
    assert response.get_json()["code"] == "reference.not_in_study"


def test_a_nameless_form_part_is_named_in_a_422(
    app: Flask, factory: Factory, team: StudyTeam
) -> None:
    visit_id = World(app, factory, team).start_visit(team.researcher)
    body = (
        b"--b\r\nContent-Disposition: form-data\r\n\r\nstray\r\n"
        b'--b\r\nContent-Disposition: form-data; name="kind"\r\n\r\nphoto\r\n--b--\r\n'
    )
    response = team.researcher.post(
        f"/api/v1/visits/{visit_id}/evidence",
        data=body,
        content_type="multipart/form-data; boundary=b",
    )
    assert response.status_code == 422
    errors = response.get_json()["errors"]
    assert "file" in errors and all(isinstance(name, str) for name in errors)


def test_a_visit_change_cannot_store_half_a_manifest_entry(
    app: Flask, factory: Factory, team: StudyTeam
) -> None:
    url = f"/api/v1/visits/{World(app, factory, team).start_visit(team.researcher)}"
    response = team.researcher.patch(url, json={"evidence_manifest": [{"kind": "photo"}]})
    assert response.status_code == 422
    assert "evidence_manifest" in response.get_json()["errors"]
    assert team.researcher.patch(url, json={"summary": "Nine minutes on hold."}).status_code == 200
