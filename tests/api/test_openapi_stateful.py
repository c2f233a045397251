"""Chains of API calls, each using ids the earlier calls returned, stay true to the document.

The per-operation contract test sends every operation on its own. Here schemathesis turns
the committed document into a state machine and follows the OpenAPI links of its
responses (``server/api/links.py``): a new study leads to its targets, journeys,
assignments and visits; a visit to its notes, evidence and moves through review; a note
to the finding or moment that cites it; a finding to its actions and citations; a
journal to its publication and share links, and a share link to its revocation. It runs
against the app in-process (WSGI), on both database backends. Every call carries a real
token: the admin's, or the researcher's for what only a researcher may do. A path id
that no earlier response supplied is a real row made by ``World``, as in the contract
test. Each scenario is rolled back at its end, so that all start from the same database.

No response may be a 5xx, or disagree with the document in status code or body; a
resource must be readable right after the POST that created it, and no longer readable
once deleted. The run is derandomized and bounded (40 scenarios of up to 30 calls);
afterwards the test asserts that it really followed links, through chains three and
four calls long, so that it cannot pass with the links gone.
"""

from __future__ import annotations

import functools
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, ClassVar, cast

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, Phase, settings
from schemathesis.config import SchemathesisConfig
from schemathesis.core.parameters import ParameterLocation
from schemathesis.core.result import Ok
from schemathesis.core.transport import Response
from schemathesis.generation.stateful.state_machine import (
    APIStateMachine,
    RecordingStateMachine,
    StepInput,
    StepOutput,
)
from schemathesis.specs.openapi.checks import ensure_resource_availability, use_after_free
from schemathesis.specs.openapi.schemas import OpenApiSchema
from sqlalchemy import Connection

from server.api import links
from server.extensions import db
from tests.api.study_world import World
from tests.api.test_openapi_contract import (
    AS_RESEARCHER,
    CHECKS,
    COMMITTED,
    committed_document,
    operations,
    path_parameters,
)
from tests.conftest import Actor, Factory, StudyTeam

STATEFUL_CHECKS = [*CHECKS, use_after_free, ensure_resource_availability]
STATEFUL_SETTINGS = settings(
    max_examples=40,
    stateful_step_count=30,
    deadline=None,
    derandomize=True,
    database=None,
    phases=[Phase.generate, Phase.shrink],
    suppress_health_check=list(HealthCheck),
)
# only the links written in the document: schemathesis' own guesses are left out
DOCUMENTED_LINKS_ONLY: dict[str, Any] = {"phases": {"stateful": {"inference": {"algorithms": []}}}}
NEW_STUDY = "POST /api/v1/studies"
TRANSITIONS = "POST /api/v1/visits/{visit_id}/transitions"
REVIEWER_MOVES = frozenset({"in_review", "approved", "returned"})
# the chains the state machine must be able to start: create -> links it must offer
MAIN_CREATES: dict[str, set[str]] = {
    NEW_STUDY: {"GetStudy", "StartVisit", "AddTarget", "AddJourney", "AddFinding", "AddMember"},
    "POST /api/v1/studies/{study_id}/targets": {"GetTarget", "StartVisit"},
    "POST /api/v1/studies/{study_id}/journeys": {"GetJourney", "StartVisit", "AddFinding"},
    "POST /api/v1/studies/{study_id}/assignments": {"GetAssignment", "StartVisit"},
    "POST /api/v1/studies/{study_id}/members": {"RemoveMember"},
    "POST /api/v1/studies/{study_id}/visits": {"GetVisit", "AddNote", "AddEvidence", "MoveVisit"},
    TRANSITIONS: {"MoveVisit", "CompileJournal"},
    "POST /api/v1/visits/{visit_id}/notes": {"GetEvidence", "CiteInFinding", "CiteInMoment"},
    "POST /api/v1/visits/{visit_id}/evidence": {"GetEvidence", "GetOriginal", "CiteInFinding"},
    "POST /api/v1/studies/{study_id}/findings": {"GetFinding", "AddAction", "RemoveCitation"},
    "POST /api/v1/findings/{finding_id}/actions": {"UpdateAction"},
    "POST /api/v1/journals": {"GetJournal", "PublishJournal", "ShareJournal"},
    "POST /api/v1/journals/{journal_id}/share-links": {"RevokeShareLink"},
    "POST /api/v1/users": {"GetUser", "UpdateUser"},
}


@functools.cache
def stateful_schema() -> OpenApiSchema:
    """Load the committed document for the state machine."""
    config = SchemathesisConfig.from_dict(DOCUMENTED_LINKS_ONLY)
    return schemathesis.openapi.from_dict(committed_document(), config=config)


def real_ids(world: World) -> dict[str, dict[str, str]]:
    """Make real path ids for every operation that takes some, by operation.

    They are made once, before the run, so that every scenario starts from them.
    """
    made: dict[str, dict[str, str]] = {}
    for result in stateful_schema().get_all_operations():
        assert isinstance(result, Ok), result
        operation = result.ok()
        names = {parameter.name for parameter in operation.path_parameters}
        if names:
            made[operation.label] = path_parameters(world, operation.label, names)
    return made


@dataclass
class Tally:
    """What a run did: calls, calls that used a linked value, and how deep chains went."""

    steps: int = 0
    linked: int = 0
    # calls by how many links led to them: 0 for a chain's first call
    depths: Counter[int] = field(default_factory=Counter)
    links: Counter[str] = field(default_factory=Counter)
    operations: Counter[str] = field(default_factory=Counter)
    statuses: Counter[int] = field(default_factory=Counter)

    def summary(self) -> str:
        return (
            f"{self.steps} calls to {len(self.operations)} operations, {self.linked} through "
            f"{len(self.links)} different links; calls by position in their chain "
            f"{ {depth + 1: n for depth, n in sorted(self.depths.items())} }; "
            f"statuses {dict(sorted(self.statuses.items()))}"
        )

    def deeper_than(self, links: int) -> int:
        """Count the calls that more than ``links`` links led to."""
        return sum(n for depth, n in self.depths.items() if depth > links)


class RealCalls(RecordingStateMachine):
    """Send each step as a real user, with real ids, and check it with the checks above.

    Mixed into the state machine that schemathesis builds from the document.
    """

    app: ClassVar[Flask]
    team: ClassVar[StudyTeam]
    ids: ClassVar[dict[str, dict[str, str]]]
    tally: ClassVar[Tally]

    def setup(self) -> None:
        super().setup()
        # Each scenario starts from the same database and is rolled back at its end, so
        # that the same generated steps meet the same answers: Hypothesis replays and
        # shrinks scenarios, and refuses ones whose draws depend on what came before.
        db.session.remove()
        connection = db.session.get_bind()
        assert isinstance(connection, Connection), "the app fixture binds a connection"
        self.savepoint = connection.begin_nested()
        # how many links lead to each call of this scenario, by case id
        self.depth: dict[str, int] = {}

    def teardown(self) -> None:
        db.session.remove()
        if self.savepoint.is_active:
            self.savepoint.rollback()
        super().teardown()

    def caller(self, input: StepInput) -> Actor:
        """The researcher starts and changes visits; everything else is the admin's."""
        label = input.case.operation.label
        if label == TRANSITIONS:
            body = input.case.body
            move = body.get("to") if isinstance(body, dict) else None
            return self.team.admin if move in REVIEWER_MOVES else self.team.researcher
        return self.team.researcher if label in AS_RESEARCHER else self.team.admin

    def step(self, input: StepInput) -> StepOutput:
        case = input.case
        operation = case.operation
        path = ParameterLocation.PATH
        linked = {name for location, name in input.applied_parameters if location is path}
        # what World cannot make (a journal's format) stays as generated from its enum
        real = {k: v for k, v in self.ids.get(operation.label, {}).items() if k not in linked}
        if real:
            case.path_parameters = {**case.path_parameters, **real}
        headers = case.headers.copy()
        headers.update(self.caller(input).headers)
        case.headers = headers
        depth = 0
        if input.transition is not None and input.is_applied:
            depth = self.depth.get(input.transition.parent_id, 0) + 1
            self.tally.linked += 1
            self.tally.links[input.transition.id] += 1
        self.depth[case.id] = depth
        self.tally.depths[depth] += 1
        self.tally.steps += 1
        self.tally.operations[operation.label] += 1
        return super().step(input)

    def get_call_kwargs(self, case: schemathesis.Case) -> dict[str, Any]:
        return {"app": self.app}

    def after_call(self, response: Response, case: schemathesis.Case) -> None:
        super().after_call(response, case)
        self.tally.statuses[response.status_code] += 1
        if case.operation.label == NEW_STUDY and response.status_code == 201:
            # the researcher joins each new study, so that chains go on to its visits
            researcher = self.team.researcher
            body = {"user_id": str(researcher.user.id), "role": "researcher"}
            url = f"/api/v1/studies/{response.json()['id']}/members"
            added = self.team.admin.post(url, json=body)
            assert added.status_code == 201, added.get_json()

    def validate_response(
        self,
        response: Response,
        case: schemathesis.Case,
        additional_checks: list[Any] | None = None,
        **kwargs: Any,
    ) -> None:
        __tracebackhide__ = True
        case.validate_response(
            response,
            checks=STATEFUL_CHECKS,
            transport_kwargs=kwargs or None,
            recorder=self.recorder,
        )


def real_calls(app: Flask, team: StudyTeam, world: World) -> tuple[type[APIStateMachine], Tally]:
    """Build the document's state machine, sending real calls to ``app``."""
    tally = Tally()
    workflow = stateful_schema().as_state_machine()
    attributes = {"app": app, "team": team, "ids": real_ids(world), "tally": tally}
    machine = type("RealWorkflow", (RealCalls, workflow), attributes)
    return cast(type[APIStateMachine], machine), tally


def test_the_main_creates_link_to_what_follows_them() -> None:
    document = committed_document()
    labels = {label for label, _ in operations(document)}
    problems: list[str] = []
    for label, operation in operations(document):
        if label not in MAIN_CREATES:
            continue
        for status, response in operation["responses"].items():
            if not status.startswith("2"):
                continue
            links = response.get("links", {})
            missing = MAIN_CREATES[label] - set(links)
            if missing:
                problems.append(f"{label} {status}: no links {sorted(missing)}")
            for name, link in links.items():
                path, method = link["operationRef"].removeprefix("#/paths/").rsplit("/", 1)
                target = f"{method.upper()} {path.replace('~1', '/').replace('~0', '~')}"
                if target not in labels:
                    problems.append(f"{label} {status}: {name} leads to no operation")
    assert not problems, "\n".join(problems)
    assert set(MAIN_CREATES) <= labels, f"{COMMITTED.name} lacks some creates"


def test_chains_of_calls_conform_to_the_committed_document(
    app: Flask, factory: Factory, team: StudyTeam
) -> None:
    machine, tally = real_calls(app, team, World(app, factory, team))
    machine.run(settings=STATEFUL_SETTINGS)
    print(tally.summary())
    # it followed links, through several of them, into chains several calls deep
    assert tally.linked >= tally.steps // 4, tally.summary()
    assert len(tally.links) >= 20, tally.summary()
    assert tally.deeper_than(1) >= 20 and tally.deeper_than(2) >= 1, tally.summary()
    # and the chains did real work: created things, and read them back
    assert tally.statuses[201] >= 20 and tally.statuses[200] >= 20, tally.summary()


def test_a_link_to_no_operation_is_refused(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = app.extensions["fieldbook.api"].spec
    links.check(spec)
    wrong = links.Link("GetStudy", "GET /api/v1/study/{study_id}", "A typo.", {"study_id": "x"})
    monkeypatch.setitem(links.LINKS, NEW_STUDY, [wrong])
    with pytest.raises(ValueError, match="no operation GET /api/v1/study/"):
        links.check(spec)
    unknown = links.Link("GetStudy", "GET /api/v1/studies/{study_id}", "?", {"id": "x"})
    monkeypatch.setitem(links.LINKS, NEW_STUDY, [unknown])
    with pytest.raises(ValueError, match=r"has no \{'id'\}"):
        links.check(spec)


# What the stateful run found, pinned down so that it is checked on every run.


def test_a_visit_change_cannot_end_it_before_it_started(team: StudyTeam) -> None:
    url = f"/api/v1/studies/{team.study.id}/visits"
    body = {"channel": "phone", "started_at": "2026-03-02T10:00:00+00:00"}
    visit = World.created(team.researcher.post(url, json=body))
    changes = [
        {"ended_at": "2026-03-02T09:00:00+00:00"},
        {"started_at": "2026-03-02T12:00:00+00:00", "ended_at": "2026-03-02T11:00:00+00:00"},
    ]
    for change in changes:
        response = team.researcher.patch(f"/api/v1/visits/{visit['id']}", json=change)
        assert response.status_code == 422, response.get_json()
        assert list(response.get_json()["errors"]) == ["ended_at"]
    later = {"ended_at": "2026-03-02T10:30:00+00:00"}
    assert team.researcher.patch(f"/api/v1/visits/{visit['id']}", json=later).status_code == 200
    moved = {"started_at": "2026-03-02T10:40:00+00:00"}
    response = team.researcher.patch(f"/api/v1/visits/{visit['id']}", json=moved)
    assert response.status_code == 422, response.get_json()


def test_a_journal_includes_a_visit_sent_long_after_it_ended(team: StudyTeam) -> None:
    # a phone that was offline sends the end of a visit but not its start: the visit
    # began no later than it ended, even though the server heard of it later
    url = f"/api/v1/studies/{team.study.id}/visits"
    body = {"channel": "in_person", "ended_at": "2020-01-01T10:00:00+00:00"}
    World.created(team.researcher.post(url, json=body))
    compile_study = {"scope": "study", "subject_id": str(team.study.id)}
    response = team.reviewer.post("/api/v1/journals", json=compile_study)
    assert response.status_code == 201, response.get_json()


def test_a_moment_lies_within_the_longest_visit(
    app: Flask, factory: Factory, team: StudyTeam
) -> None:
    url = f"/api/v1/visits/{World(app, factory, team).start_visit(team.researcher)}/moments"
    far = {"what_happened": "Waited.", "offset_s": 1e300}
    response = team.researcher.post(url, json=far)
    assert response.status_code == 422, response.get_json()
    assert list(response.get_json()["errors"]) == ["offset_s"]
    latest = {"what_happened": "Was called back.", "offset_s": 1e7}
    assert team.researcher.post(url, json=latest).status_code == 201
    compile_study = {"scope": "study", "subject_id": str(team.study.id)}
    response = team.reviewer.post("/api/v1/journals", json=compile_study)
    assert response.status_code == 201, response.get_json()
