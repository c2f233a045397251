"""Who may call which API route: every route under /api/v1 as every kind of caller.

RELIABILITY 24: a member of another study gets 404 for anything of this study, and a
researcher cannot see or touch another researcher's draft visit. The rows are checked
against the app's URL map, so a route added without a row here fails the suite.
"""

from __future__ import annotations

import io
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from flask import Flask

from server.models import VisitStatus
from server.services.visits import TRANSITIONS
from tests.api.study_world import TUS, Call, World, png_photo, tus_metadata
from tests.conftest import PASSWORD, Actor, Factory, StudyTeam

ROLES = ("anonymous", "researcher", "reviewer", "manager", "admin", "outsider")
PUBLIC_ENDPOINTS = frozenset({"api-docs.openapi_json"})
ERROR_KEYS = {"code", "status", "message", "errors"}


def statuses(
    *, anonymous: int = 401, researcher: int, reviewer: int, manager: int, admin: int, outsider: int
) -> dict[str, int]:
    """Name the status each caller must get."""
    return {
        "anonymous": anonymous,
        "researcher": researcher,
        "reviewer": reviewer,
        "manager": manager,
        "admin": admin,
        "outsider": outsider,
    }


def any_user(ok: int) -> dict[str, int]:
    """Every signed-in user may; nobody else."""
    return statuses(researcher=ok, reviewer=ok, manager=ok, admin=ok, outsider=ok)


def admins(ok: int) -> dict[str, int]:
    """Only global admins may."""
    return statuses(researcher=403, reviewer=403, manager=403, admin=ok, outsider=403)


def study_members(ok: int) -> dict[str, int]:
    """Every member of the study may; others do not learn it exists."""
    return statuses(researcher=ok, reviewer=ok, manager=ok, admin=ok, outsider=404)


def study_managers(ok: int) -> dict[str, int]:
    """Managers (and admins) of the study may; other members are refused."""
    return statuses(researcher=403, reviewer=403, manager=ok, admin=ok, outsider=404)


def study_reviewers(ok: int) -> dict[str, int]:
    """Reviewers and managers (and admins) of the study may; researchers are refused."""
    return statuses(researcher=403, reviewer=ok, manager=ok, admin=ok, outsider=404)


def capture(ok: int) -> dict[str, int]:
    """Adding evidence to the researcher's draft: only they may, and only they see it."""
    return statuses(researcher=ok, reviewer=404, manager=404, admin=403, outsider=404)


def uploader_only(ok: int) -> dict[str, int]:
    """A resumable upload exists for the user who started it and for nobody else."""
    return statuses(researcher=ok, reviewer=404, manager=404, admin=404, outsider=404)


# anything of researcher2's draft visit: hidden from everyone in the study but admins
OTHERS_DRAFT = statuses(researcher=404, reviewer=404, manager=404, admin=200, outsider=404)


@dataclass(frozen=True)
class Row:
    """One row of the matrix: a request about one subject and what each caller gets."""

    method: str
    rule: str
    subject: str
    prepare: Callable[[World], Call]
    expected: Mapping[str, int]
    transition: tuple[VisitStatus, VisitStatus] | None = None


def in_study(world: World, body: dict[str, Any] | None = None) -> Call:
    return Call({"study_id": world.study_id}, body)


def visit_row(
    method: str,
    rule: str,
    subject: str,
    owner: str,
    status: VisitStatus,
    expected: Mapping[str, int],
    body: dict[str, Any] | None = None,
) -> Row:
    """A row about one visit of ``owner`` in ``status``."""

    def prepare(world: World) -> Call:
        return Call({"visit_id": world.visit(getattr(world.team, owner), status)}, body)

    return Row(method, rule, subject, prepare, expected)


def transition_row(
    owner: str, start: VisitStatus, to: VisitStatus, expected: Mapping[str, int]
) -> Row:
    """A row moving a visit of ``owner`` from ``start`` to ``to``."""
    body = {"to": to.value, "comment": "Please add the receipt photo."}
    row = visit_row(
        "POST",
        "/api/v1/visits/<uuid:visit_id>/transitions",
        f"{owner}'s {start.value} visit to {to.value}",
        owner,
        start,
        expected,
        body,
    )
    return Row(row.method, row.rule, row.subject, row.prepare, row.expected, (start, to))


def transcript_call(
    world: World, owner: str, status: VisitStatus = VisitStatus.submitted, **query: str
) -> Call:
    """A request about the transcript of a call recording of ``owner``."""
    item, transcript_id = world.call_recording(getattr(world.team, owner), status)
    return Call({"evidence_id": item, "transcript_id": transcript_id}, query=query)


STUDY = "/api/v1/studies/<uuid:study_id>"
VISIT = "/api/v1/visits/<uuid:visit_id>"
EVIDENCE = "/api/v1/evidence/<uuid:evidence_id>"
JOURNAL = "/api/v1/journals/<uuid:journal_id>"

ROWS: tuple[Row, ...] = (
    # device tokens and the signed-in user
    Row(
        "POST",
        "/api/v1/tokens",
        "a bystander's credentials",
        lambda w: Call(
            body={"email": w.bystander().email, "password": PASSWORD, "device_name": "Pixel"}
        ),
        statuses(anonymous=201, researcher=201, reviewer=201, manager=201, admin=201, outsider=201),
    ),
    Row("GET", "/api/v1/tokens", "your own tokens", lambda w: Call(), any_user(200)),
    Row(
        "DELETE",
        "/api/v1/tokens/<uuid:token_id>",
        "the researcher's spare token",
        lambda w: Call({"token_id": w.spare_token(w.team.researcher)}),
        statuses(researcher=204, reviewer=404, manager=404, admin=204, outsider=404),
    ),
    Row("GET", "/api/v1/me", "yourself", lambda w: Call(), any_user(200)),
    # user administration
    Row("GET", "/api/v1/users", "all users", lambda w: Call(), admins(200)),
    Row(
        "POST",
        "/api/v1/users",
        "a new user",
        lambda w: Call(
            body={"email": f"new-{uuid.uuid4().hex[:10]}@example.test", "password": PASSWORD}
        ),
        admins(201),
    ),
    Row(
        "GET",
        "/api/v1/users/<uuid:user_id>",
        "a bystander",
        lambda w: Call({"user_id": str(w.bystander().id)}),
        admins(200),
    ),
    Row(
        "PATCH",
        "/api/v1/users/<uuid:user_id>",
        "a bystander",
        lambda w: Call({"user_id": str(w.bystander().id)}, {"name": "Renamed"}),
        admins(200),
    ),
    # the audit log
    Row("GET", "/api/v1/audit", "the whole audit log", lambda w: Call(), admins(200)),
    Row("GET", f"{STUDY}/audit", "the study's audit log", in_study, study_managers(200)),
    # studies and members
    Row("GET", "/api/v1/studies", "your studies", lambda w: Call(), any_user(200)),
    Row(
        "POST",
        "/api/v1/studies",
        "a new study",
        lambda w: Call(body={"name": "Pilot"}),
        admins(201),
    ),
    Row("GET", STUDY, "the study", in_study, study_members(200)),
    Row(
        "PATCH",
        STUDY,
        "the study",
        lambda w: in_study(w, {"description": "Second wave"}),
        study_managers(200),
    ),
    Row("GET", f"{STUDY}/members", "the study's members", in_study, study_members(200)),
    Row(
        "POST",
        f"{STUDY}/members",
        "a bystander as reviewer",
        lambda w: in_study(w, {"user_id": str(w.bystander().id), "role": "reviewer"}),
        study_managers(201),
    ),
    Row(
        "DELETE",
        f"{STUDY}/members/<uuid:user_id>",
        "a member",
        lambda w: Call({"study_id": w.study_id, "user_id": w.member()}),
        study_managers(204),
    ),
    # planning: targets, journeys, assignments
    Row("GET", f"{STUDY}/targets", "the study's targets", in_study, study_members(200)),
    Row(
        "POST",
        f"{STUDY}/targets",
        "a new store",
        lambda w: in_study(w, {"kind": "store", "name": "Station kiosk"}),
        study_managers(201),
    ),
    Row(
        "GET",
        "/api/v1/targets/<uuid:target_id>",
        "a target",
        lambda w: Call({"target_id": w.target()}),
        study_members(200),
    ),
    Row(
        "PATCH",
        "/api/v1/targets/<uuid:target_id>",
        "a target",
        lambda w: Call({"target_id": w.target()}, {"name": "High Street (new)"}),
        study_managers(200),
    ),
    Row("GET", f"{STUDY}/journeys", "the study's journeys", in_study, study_members(200)),
    Row(
        "POST",
        f"{STUDY}/journeys",
        "a new journey",
        lambda w: in_study(w, {"title": "Cancel a contract"}),
        study_managers(201),
    ),
    Row(
        "GET",
        "/api/v1/journeys/<uuid:journey_id>",
        "a journey",
        lambda w: Call({"journey_id": w.journey()}),
        study_members(200),
    ),
    Row(
        "PATCH",
        "/api/v1/journeys/<uuid:journey_id>",
        "a journey",
        lambda w: Call({"journey_id": w.journey()}, {"scenario": "Ask for a refund."}),
        study_managers(200),
    ),
    Row("GET", f"{STUDY}/assignments", "the study's assignments", in_study, study_members(200)),
    Row(
        "POST",
        f"{STUDY}/assignments",
        "an assignment for the researcher",
        lambda w: in_study(w, {"researcher_id": str(w.team.researcher.user.id), "channel": "web"}),
        study_managers(201),
    ),
    Row(
        "GET",
        "/api/v1/assignments/<uuid:assignment_id>",
        "the researcher's own assignment",
        lambda w: Call({"assignment_id": w.assignment(w.team.researcher)}),
        study_members(200),
    ),
    Row(
        "GET",
        "/api/v1/assignments/<uuid:assignment_id>",
        "researcher2's assignment",
        lambda w: Call({"assignment_id": w.assignment(w.team.researcher2)}),
        statuses(researcher=404, reviewer=200, manager=200, admin=200, outsider=404),
    ),
    # visits
    Row("GET", f"{STUDY}/visits", "the study's visits", in_study, study_members(200)),
    Row(
        "POST",
        f"{STUDY}/visits",
        "a new phone visit",
        lambda w: in_study(w, {"channel": "phone", "client_uuid": str(uuid.uuid4())}),
        # only researchers visit; admins count as managers
        statuses(researcher=201, reviewer=403, manager=403, admin=403, outsider=404),
    ),
    visit_row(
        "GET",
        VISIT,
        "the researcher's draft",
        "researcher",
        VisitStatus.draft,
        statuses(researcher=200, reviewer=404, manager=404, admin=200, outsider=404),
    ),
    visit_row(
        "GET",
        VISIT,
        "researcher2's draft",
        "researcher2",
        VisitStatus.draft,
        statuses(researcher=404, reviewer=404, manager=404, admin=200, outsider=404),
    ),
    visit_row(
        "GET",
        VISIT,
        "researcher2's submitted visit",
        "researcher2",
        VisitStatus.submitted,
        statuses(researcher=404, reviewer=200, manager=200, admin=200, outsider=404),
    ),
    visit_row(
        "PATCH",
        VISIT,
        "the researcher's draft",
        "researcher",
        VisitStatus.draft,
        statuses(researcher=200, reviewer=404, manager=404, admin=403, outsider=404),
        {"summary": "Waited nine minutes on hold."},
    ),
    visit_row(
        "PATCH",
        VISIT,
        "researcher2's draft",
        "researcher2",
        VisitStatus.draft,
        statuses(researcher=404, reviewer=404, manager=404, admin=403, outsider=404),
        {"summary": "Not mine to change."},
    ),
    visit_row(
        "PATCH",
        VISIT,
        "researcher2's returned visit",
        "researcher2",
        VisitStatus.returned,
        statuses(researcher=404, reviewer=403, manager=403, admin=403, outsider=404),
        {"summary": "Not mine to change."},
    ),
    # every move of the review workflow, by every caller
    transition_row(
        "researcher",
        VisitStatus.draft,
        VisitStatus.submitted,
        statuses(researcher=200, reviewer=404, manager=404, admin=403, outsider=404),
    ),
    transition_row(
        "researcher2",
        VisitStatus.draft,
        VisitStatus.submitted,
        statuses(researcher=404, reviewer=404, manager=404, admin=403, outsider=404),
    ),
    transition_row(
        "researcher",
        VisitStatus.returned,
        VisitStatus.submitted,
        statuses(researcher=200, reviewer=403, manager=403, admin=403, outsider=404),
    ),
    transition_row(
        "researcher",
        VisitStatus.submitted,
        VisitStatus.in_review,
        statuses(researcher=403, reviewer=200, manager=200, admin=200, outsider=404),
    ),
    transition_row(
        "researcher2",
        VisitStatus.submitted,
        VisitStatus.returned,
        statuses(researcher=404, reviewer=200, manager=200, admin=200, outsider=404),
    ),
    transition_row(
        "researcher",
        VisitStatus.in_review,
        VisitStatus.approved,
        statuses(researcher=403, reviewer=200, manager=200, admin=200, outsider=404),
    ),
    transition_row(
        "researcher",
        VisitStatus.in_review,
        VisitStatus.returned,
        statuses(researcher=403, reviewer=200, manager=200, admin=200, outsider=404),
    ),
    # evidence: visible exactly when its visit is; only the visit's researcher adds to it
    visit_row(
        "GET",
        f"{VISIT}/evidence",
        "the researcher's submitted visit",
        "researcher",
        VisitStatus.submitted,
        study_members(200),
    ),
    visit_row(
        "GET",
        f"{VISIT}/evidence",
        "researcher2's draft",
        "researcher2",
        VisitStatus.draft,
        OTHERS_DRAFT,
    ),
    Row(
        "POST",
        f"{VISIT}/evidence",
        "a photo for the researcher's draft",
        lambda w: Call(
            {"visit_id": w.start_visit(w.team.researcher)},
            form={"kind": "photo", "file": (io.BytesIO(png_photo()), "shelf.png")},
        ),
        capture(201),
    ),
    Row(
        "POST",
        f"{VISIT}/notes",
        "a note for the researcher's draft",
        lambda w: Call(
            {"visit_id": w.start_visit(w.team.researcher)},
            {"text": "Greeted at the door.", "client_uuid": str(uuid.uuid4())},
        ),
        capture(201),
    ),
    Row(
        "POST",
        f"{VISIT}/notes",
        "a note for researcher2's draft",
        lambda w: Call(
            {"visit_id": w.start_visit(w.team.researcher2)},
            {"text": "Not my visit.", "client_uuid": str(uuid.uuid4())},
        ),
        statuses(researcher=404, reviewer=404, manager=404, admin=403, outsider=404),
    ),
    Row(
        "GET",
        EVIDENCE,
        "a note of the researcher's submitted visit",
        lambda w: Call({"evidence_id": w.note(w.team.researcher)}),
        study_members(200),
    ),
    Row(
        "GET",
        EVIDENCE,
        "a note of researcher2's draft",
        lambda w: Call({"evidence_id": w.note(w.team.researcher2, VisitStatus.draft)}),
        OTHERS_DRAFT,
    ),
    Row(
        "GET",
        f"{EVIDENCE}/original",
        "a note of the researcher's submitted visit",
        lambda w: Call({"evidence_id": w.note(w.team.researcher)}),
        study_members(200),
    ),
    Row(
        "GET",
        f"{EVIDENCE}/original",
        "a note of researcher2's draft",
        lambda w: Call({"evidence_id": w.note(w.team.researcher2, VisitStatus.draft)}),
        OTHERS_DRAFT,
    ),
    Row(
        "GET",
        f"{EVIDENCE}/display",
        "a photo of the researcher's submitted visit",
        lambda w: Call({"evidence_id": w.photo(w.team.researcher)}),
        study_members(200),
    ),
    Row(
        "GET",
        f"{EVIDENCE}/thumbnail",
        "a photo of researcher2's draft",
        lambda w: Call({"evidence_id": w.photo(w.team.researcher2, VisitStatus.draft)}),
        OTHERS_DRAFT,
    ),
    # transcripts and jobs
    Row(
        "GET",
        f"{EVIDENCE}/transcripts",
        "a call of the researcher's submitted visit",
        lambda w: Call({"evidence_id": w.call_recording(w.team.researcher)[0]}),
        study_members(200),
    ),
    Row(
        "POST",
        f"{EVIDENCE}/transcripts",
        "a call of the researcher's submitted visit",
        lambda w: Call({"evidence_id": w.call_recording(w.team.researcher)[0]}, {}),
        study_reviewers(202),
    ),
    Row(
        "GET",
        f"{EVIDENCE}/transcripts/<uuid:transcript_id>",
        "the redacted transcript of a call",
        lambda w: transcript_call(w, "researcher"),
        study_members(200),
    ),
    Row(
        "GET",
        f"{EVIDENCE}/transcripts/<uuid:transcript_id>",
        "the original transcript of a call",
        lambda w: transcript_call(w, "researcher", view="original"),
        study_managers(200),
    ),
    Row(
        "GET",
        f"{EVIDENCE}/transcripts/<uuid:transcript_id>",
        "a transcript of researcher2's draft",
        lambda w: transcript_call(w, "researcher2", VisitStatus.draft),
        OTHERS_DRAFT,
    ),
    Row(
        "GET",
        f"{EVIDENCE}/jobs",
        "a call of the researcher's submitted visit",
        lambda w: Call({"evidence_id": w.call_recording(w.team.researcher)[0]}),
        study_members(200),
    ),
    Row(
        "GET",
        "/api/v1/jobs/<uuid:job_id>",
        "a job on a call of the researcher's submitted visit",
        lambda w: Call({"job_id": w.job(w.team.researcher)}),
        study_members(200),
    ),
    Row(
        "GET",
        "/api/v1/jobs/<uuid:job_id>",
        "a job on a call of researcher2's draft",
        lambda w: Call({"job_id": w.job(w.team.researcher2, VisitStatus.draft)}),
        OTHERS_DRAFT,
    ),
    Row(
        "GET",
        f"{STUDY}/search",
        "the study's transcripts and notes",
        lambda w: Call({"study_id": w.study_id}, query={"q": "kettle"}),
        study_members(200),
    ),
    # moments, findings, citations, actions
    visit_row(
        "GET",
        f"{VISIT}/moments",
        "the researcher's submitted visit",
        "researcher",
        VisitStatus.submitted,
        study_members(200),
    ),
    visit_row(
        "POST",
        f"{VISIT}/moments",
        "the researcher's draft",
        "researcher",
        VisitStatus.draft,
        # reviewers cannot see a draft; admins count as managers, who may mark moments
        statuses(researcher=201, reviewer=404, manager=404, admin=201, outsider=404),
        {"what_happened": "Put on hold without a word."},
    ),
    visit_row(
        "POST",
        f"{VISIT}/moments",
        "researcher2's draft",
        "researcher2",
        VisitStatus.draft,
        statuses(researcher=404, reviewer=404, manager=404, admin=201, outsider=404),
        {"what_happened": "Not my visit."},
    ),
    visit_row(
        "POST",
        f"{VISIT}/moments",
        "the researcher's submitted visit",
        "researcher",
        VisitStatus.submitted,
        # a submitted visit is no longer the researcher's to mark
        study_reviewers(201),
        {"what_happened": "Put on hold without a word."},
    ),
    Row("GET", f"{STUDY}/findings", "the study's findings", in_study, study_members(200)),
    Row(
        "POST",
        f"{STUDY}/findings",
        "a finding citing a note",
        lambda w: in_study(
            w,
            {
                "kind": "pain_point",
                "title": "Long wait on the help desk",
                "citations": [{"evidence_id": w.note(w.team.researcher)}],
            },
        ),
        study_reviewers(201),
    ),
    Row(
        "GET",
        "/api/v1/findings/<uuid:finding_id>",
        "a finding",
        lambda w: Call({"finding_id": w.finding()["id"]}),
        study_members(200),
    ),
    Row(
        "PATCH",
        "/api/v1/findings/<uuid:finding_id>",
        "a finding",
        lambda w: Call({"finding_id": w.finding()["id"]}, {"severity": 3}),
        study_reviewers(200),
    ),
    Row(
        "POST",
        "/api/v1/findings/<uuid:finding_id>/citations",
        "another note for a finding",
        lambda w: Call(
            {"finding_id": w.finding()["id"]},
            {"citations": [{"evidence_id": w.note(w.team.researcher)}]},
        ),
        study_reviewers(201),
    ),
    Row(
        "DELETE",
        "/api/v1/citations/<uuid:citation_id>",
        "a finding's citation",
        lambda w: Call({"citation_id": w.finding()["citations"][0]["id"]}),
        study_reviewers(204),
    ),
    Row(
        "GET",
        "/api/v1/findings/<uuid:finding_id>/actions",
        "a finding's actions",
        lambda w: Call({"finding_id": w.finding()["id"]}),
        study_members(200),
    ),
    Row(
        "POST",
        "/api/v1/findings/<uuid:finding_id>/actions",
        "an action on a finding",
        lambda w: Call({"finding_id": w.finding()["id"]}, {"title": "Add a call-back option"}),
        study_managers(201),
    ),
    Row(
        "PATCH",
        "/api/v1/actions/<uuid:action_id>",
        "an action",
        lambda w: Call({"action_id": w.action()}, {"status": "in_progress"}),
        study_managers(200),
    ),
    # journals: compiled and published by reviewers, read by every member
    Row(
        "POST",
        "/api/v1/journals",
        "the journal of the researcher's submitted visit",
        lambda w: Call(
            body={
                "scope": "visit",
                "subject_id": w.visit(w.team.researcher, VisitStatus.submitted),
            }
        ),
        study_reviewers(201),
    ),
    Row(
        "POST",
        "/api/v1/journals",
        "the journal of researcher2's draft",
        lambda w: Call(body={"scope": "visit", "subject_id": w.visit(w.team.researcher2)}),
        statuses(researcher=404, reviewer=404, manager=404, admin=201, outsider=404),
    ),
    Row("GET", f"{STUDY}/journals", "the study's journals", in_study, study_members(200)),
    Row(
        "GET",
        JOURNAL,
        "a journal",
        lambda w: Call({"journal_id": w.journal()}),
        study_members(200),
    ),
    Row(
        "POST",
        f"{JOURNAL}/publish",
        "a compiled journal",
        lambda w: Call({"journal_id": w.journal()}),
        study_reviewers(200),
    ),
    Row(
        "GET",
        f"{JOURNAL}/<any(html,pdf,markdown,json):fmt>",
        "a journal as Markdown",
        lambda w: Call({"journal_id": w.journal(), "fmt": "markdown"}),
        study_members(200),
    ),
    Row(
        "GET",
        f"{JOURNAL}/share-links",
        "a published journal's links",
        lambda w: Call({"journal_id": w.journal(published=True)}),
        study_reviewers(200),
    ),
    Row(
        "POST",
        f"{JOURNAL}/share-links",
        "a link to a published journal",
        lambda w: Call({"journal_id": w.journal(published=True)}, {"expires_in_hours": 24}),
        study_reviewers(201),
    ),
    Row(
        "DELETE",
        "/api/v1/share-links/<uuid:link_id>",
        "a share link",
        lambda w: Call({"link_id": w.share_link()}),
        study_reviewers(204),
    ),
    # resumable uploads (tus): an upload is its uploader's alone
    Row(
        "POST",
        "/api/v1/uploads",
        "a photo upload for the researcher's draft",
        lambda w: Call(
            headers={
                **TUS,
                "Upload-Length": "4096",
                "Upload-Metadata": tus_metadata(
                    visit_id=w.start_visit(w.team.researcher), kind="photo"
                ),
            }
        ),
        capture(201),
    ),
    Row(
        "POST",
        "/api/v1/uploads",
        "a photo upload for researcher2's draft",
        lambda w: Call(
            headers={
                **TUS,
                "Upload-Length": "4096",
                "Upload-Metadata": tus_metadata(
                    visit_id=w.start_visit(w.team.researcher2), kind="photo"
                ),
            }
        ),
        statuses(researcher=404, reviewer=404, manager=404, admin=403, outsider=404),
    ),
    Row(
        "HEAD",
        "/api/v1/uploads/<uuid:upload_id>",
        "the researcher's upload",
        lambda w: Call({"upload_id": w.upload(w.team.researcher)}, headers=TUS),
        uploader_only(200),
    ),
    Row(
        "PATCH",
        "/api/v1/uploads/<uuid:upload_id>",
        "the researcher's upload",
        lambda w: Call(
            {"upload_id": w.upload(w.team.researcher)},
            data=png_photo()[:16],
            headers={
                **TUS,
                "Upload-Offset": "0",
                "Content-Type": "application/offset+octet-stream",
            },
        ),
        uploader_only(204),
    ),
    Row(
        "DELETE",
        "/api/v1/uploads/<uuid:upload_id>",
        "the researcher's upload",
        lambda w: Call({"upload_id": w.upload(w.team.researcher)}, headers=TUS),
        uploader_only(204),
    ),
)


def fill(rule: str, values: Mapping[str, str]) -> str:
    """Turn a URL rule into a URL with the given path parameters."""
    return re.sub(r"<(?:[^:>]+:)?(\w+)>", lambda match: values[match.group(1)], rule)


def api_routes(app: Flask) -> set[tuple[str, str]]:
    """Return every (rule, method) of the API that needs an authorisation decision.

    OPTIONS is left out, and so is the HEAD that Flask adds to every GET; a route
    that answers HEAD only (tus asks an upload's offset that way) is in.
    """
    routes = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/") or rule.endpoint in PUBLIC_ENDPOINTS:
            continue
        methods = set(rule.methods or ()) - {"OPTIONS"}
        if "GET" in methods:
            methods.discard("HEAD")
        routes.update((rule.rule, method) for method in methods)
    return routes


def error_shape_problem(response: Any) -> str | None:
    """Say what is wrong with a 4xx body, if anything."""
    body = response.get_json(silent=True)
    if not isinstance(body, dict) or set(body) != ERROR_KEYS:
        return f"error body is not {{code, status, message, errors}}: {body!r}"
    if not isinstance(body["code"], str) or not body["code"]:
        return f"error code is not a string: {body['code']!r}"
    if body["status"] != response.status_code or not isinstance(body["errors"], dict):
        return f"error body disagrees with the response: {body!r}"
    return None


def test_matrix_has_a_row_for_every_route(app: Flask) -> None:
    routes = api_routes(app)
    covered = {(row.rule, row.method) for row in ROWS}
    assert routes - covered == set(), "add a row to ROWS for each new route"
    assert covered - routes == set(), "these rows name routes the app does not have"


def test_matrix_moves_visits_along_every_transition() -> None:
    moved = {row.transition for row in ROWS if row.transition is not None}
    assert moved == set(TRANSITIONS)


def test_every_caller_gets_the_status_of_the_matrix(
    app: Flask, factory: Factory, team: StudyTeam
) -> None:
    world = World(app, factory, team)
    problems: list[str] = []
    for row in ROWS:
        for role in ROLES:
            call = row.prepare(world)
            response = world.send(role, row.method, fill(row.rule, call.path), call)
            where = f"{row.method} {row.rule} ({row.subject}) as {role}"
            expected = row.expected[role]
            if response.status_code != expected:
                code = (response.get_json(silent=True) or {}).get("code")
                problems.append(f"{where}: expected {expected}, got {response.status_code} {code}")
            if 400 <= response.status_code < 500 and row.method != "HEAD":
                shape = error_shape_problem(response)
                if shape:
                    problems.append(f"{where}: {shape}")
    assert not problems, "\n".join(problems)


def test_lists_show_only_what_the_caller_may_see(
    app: Flask, factory: Factory, team: StudyTeam
) -> None:
    world = World(app, factory, team)
    own_draft = world.visit(team.researcher)
    others_draft = world.visit(team.researcher2)
    others_submitted = world.visit(team.researcher2, VisitStatus.submitted)
    own_assignment = world.assignment(team.researcher)
    others_assignment = world.assignment(team.researcher2)

    def ids(actor: Actor, url: str, **query: str) -> set[str]:
        response = actor.get(url, query_string={"page_size": 100, **query})
        assert response.status_code == 200, response.get_json()
        return {item["id"] for item in response.get_json()}

    visits = f"/api/v1/studies/{world.study_id}/visits"
    assert ids(team.researcher, visits) == {own_draft}
    assert ids(team.researcher, visits, researcher_id=str(team.researcher2.user.id)) == set()
    assert ids(team.researcher2, visits) == {others_draft, others_submitted}
    assert ids(team.reviewer, visits) == {others_submitted}
    assert ids(team.manager, visits, status="draft") == set()
    assert ids(team.admin, visits) == {own_draft, others_draft, others_submitted}

    assignments = f"/api/v1/studies/{world.study_id}/assignments"
    assert ids(team.researcher, assignments) == {own_assignment}
    assert ids(team.reviewer, assignments) == {own_assignment, others_assignment}

    assert ids(team.outsider, "/api/v1/studies") == {str(team.other_study.id)}
    assert world.study_id in ids(team.researcher, "/api/v1/studies")
