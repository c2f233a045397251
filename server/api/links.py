"""OpenAPI links: which values of a response feed which later requests.

A link says, for instance, that the ``id`` in the 201 of ``POST /api/v1/studies`` is the
``study_id`` of ``GET /api/v1/studies/{study_id}``. Clients read them as documentation;
schemathesis follows them to chain calls (create a study, start a visit in it, write a
note, cite it in a finding...). They are kept in one table here and written into every
2xx response of their source operation by an apispec plugin, as flask-smorest documents
each path. ``check`` refuses a table that names an operation or parameter the API lacks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from apispec import APISpec, BasePlugin

ID = "$response.body#/id"


@dataclass(frozen=True)
class Link:
    """One OpenAPI link: its name, the operation it leads to, and how to fill it."""

    name: str
    target: str
    description: str
    parameters: dict[str, str] = field(default_factory=dict)
    request_body: dict[str, Any] | None = None

    def document(self) -> dict[str, Any]:
        """Return the link object of the OpenAPI document."""
        method, path = self.target.split(" ", 1)
        pointer = path.replace("~", "~0").replace("/", "~1")
        link: dict[str, Any] = {
            "operationRef": f"#/paths/{pointer}/{method.lower()}",
            "description": self.description,
        }
        if self.parameters:
            link["parameters"] = dict(self.parameters)
        if self.request_body is not None:
            link["requestBody"] = self.request_body
        return link


def _study(source: str = ID) -> list[Link]:
    """Links to everything done within a study, whose id is at ``source``."""
    s = {"study_id": source}
    base = "/api/v1/studies/{study_id}"
    return [
        Link("GetStudy", f"GET {base}", "Show the study.", s),
        Link("UpdateStudy", f"PATCH {base}", "Change the study.", s),
        Link("ListMembers", f"GET {base}/members", "List the study's members.", s),
        Link("AddMember", f"POST {base}/members", "Add a member to the study.", s),
        Link("AddTarget", f"POST {base}/targets", "Add a place or service to visit.", s),
        Link("ListTargets", f"GET {base}/targets", "List the study's targets.", s),
        Link("AddJourney", f"POST {base}/journeys", "Add a customer journey.", s),
        Link("ListJourneys", f"GET {base}/journeys", "List the study's journeys.", s),
        Link("AddAssignment", f"POST {base}/assignments", "Assign a visit to a researcher.", s),
        Link("ListAssignments", f"GET {base}/assignments", "List the study's assignments.", s),
        Link("StartVisit", f"POST {base}/visits", "Start a visit (researchers).", s),
        Link("ListVisits", f"GET {base}/visits", "List the study's visits.", s),
        Link("AddFinding", f"POST {base}/findings", "Write a finding.", s),
        Link("ListFindings", f"GET {base}/findings", "List the study's findings.", s),
        Link("ListJournals", f"GET {base}/journals", "List the study's journals.", s),
        Link("SearchStudy", f"GET {base}/search", "Search the study's evidence.", s),
        Link("StudyAudit", f"GET {base}/audit", "Read the study's audit log.", s),
    ]


def _visit(source: str = ID) -> list[Link]:
    """Links to what is done with a visit, whose id is at ``source``."""
    v = {"visit_id": source}
    base = "/api/v1/visits/{visit_id}"
    return [
        Link("GetVisit", f"GET {base}", "Show the visit.", v),
        Link("UpdateVisit", f"PATCH {base}", "Change the visit (its researcher).", v),
        Link("MoveVisit", f"POST {base}/transitions", "Submit, review, approve or return it.", v),
        Link("ListEvidence", f"GET {base}/evidence", "List the visit's evidence.", v),
        Link("AddEvidence", f"POST {base}/evidence", "Send a file for the visit.", v),
        Link("AddNote", f"POST {base}/notes", "Write a note for the visit.", v),
        Link("ListMoments", f"GET {base}/moments", "List the visit's moments.", v),
        Link("AddMoment", f"POST {base}/moments", "Record a moment of the visit.", v),
    ]


def _cite(with_files: bool) -> list[Link]:
    """Links from a new evidence item: read it, cite it, submit its visit."""
    e = {"evidence_id": ID}
    base = "/api/v1/evidence/{evidence_id}"
    citations = {"citations": [{"evidence_id": ID}]}
    links = [
        Link("GetEvidence", f"GET {base}", "Show the item.", e),
        Link(
            "CiteInFinding",
            "POST /api/v1/studies/{study_id}/findings",
            "Write a finding that cites the item.",
            {"study_id": "$response.body#/study_id"},
            citations,
        ),
        Link(
            "CiteInMoment",
            "POST /api/v1/visits/{visit_id}/moments",
            "Record a moment of the visit that cites the item.",
            {"visit_id": "$response.body#/visit_id"},
            citations,
        ),
        Link(
            "MoveVisit",
            "POST /api/v1/visits/{visit_id}/transitions",
            "Submit the item's visit.",
            {"visit_id": "$response.body#/visit_id"},
        ),
    ]
    if with_files:
        links += [
            Link("GetOriginal", f"GET {base}/original", "Download the original file.", e),
            Link("GetDisplay", f"GET {base}/display", "Download the display JPEG.", e),
            Link("GetThumbnail", f"GET {base}/thumbnail", "Download the thumbnail.", e),
            Link("ListJobs", f"GET {base}/jobs", "List the item's processing jobs.", e),
            Link("ListTranscripts", f"GET {base}/transcripts", "List its transcripts.", e),
            Link("Transcribe", f"POST {base}/transcripts", "Transcribe the recording.", e),
        ]
    return links


def _finding() -> list[Link]:
    f = {"finding_id": ID}
    base = "/api/v1/findings/{finding_id}"
    return [
        Link("GetFinding", f"GET {base}", "Show the finding.", f),
        Link("UpdateFinding", f"PATCH {base}", "Change the finding.", f),
        Link("AddCitations", f"POST {base}/citations", "Cite more evidence.", f),
        Link("ListActions", f"GET {base}/actions", "List the finding's actions.", f),
        Link("AddAction", f"POST {base}/actions", "Plan an action for the finding.", f),
        Link(
            "RemoveCitation",
            "DELETE /api/v1/citations/{citation_id}",
            "Remove the finding's first citation.",
            {"citation_id": "$response.body#/citations/0/id"},
        ),
    ]


def _journal(source: str = ID) -> list[Link]:
    j = {"journal_id": source}
    base = "/api/v1/journals/{journal_id}"
    return [
        Link("GetJournal", f"GET {base}", "Show the journal.", j),
        Link("PublishJournal", f"POST {base}/publish", "Publish (freeze and sign) it.", j),
        Link("ExportJournal", f"GET {base}/{{fmt}}", "Download it in a format.", j),
        Link("ListShareLinks", f"GET {base}/share-links", "List its share links.", j),
        Link("ShareJournal", f"POST {base}/share-links", "Share the published journal.", j),
    ]


def _compile(scope: str) -> Link:
    return Link(
        "CompileJournal",
        "POST /api/v1/journals",
        f"Compile the journal of the {scope}.",
        request_body={"scope": scope, "subject_id": ID},
    )


# source operation -> links added to each of its 2xx responses
LINKS: dict[str, list[Link]] = {
    "POST /api/v1/users": [
        Link("GetUser", "GET /api/v1/users/{user_id}", "Show the account.", {"user_id": ID}),
        Link("UpdateUser", "PATCH /api/v1/users/{user_id}", "Change it.", {"user_id": ID}),
    ],
    "POST /api/v1/tokens": [
        Link(
            "RevokeToken",
            "DELETE /api/v1/tokens/{token_id}",
            "Revoke the new token.",
            {"token_id": ID},
        ),
    ],
    "POST /api/v1/studies": [*_study(), _compile("study")],
    "POST /api/v1/studies/{study_id}/members": [
        Link(
            "RemoveMember",
            "DELETE /api/v1/studies/{study_id}/members/{user_id}",
            "Remove the new member.",
            {"study_id": "$request.path.study_id", "user_id": "$response.body#/user_id"},
        ),
        Link(
            "GetUser",
            "GET /api/v1/users/{user_id}",
            "Show the member's account (admins).",
            {"user_id": "$response.body#/user_id"},
        ),
    ],
    "POST /api/v1/studies/{study_id}/targets": [
        Link("GetTarget", "GET /api/v1/targets/{target_id}", "Show it.", {"target_id": ID}),
        Link("UpdateTarget", "PATCH /api/v1/targets/{target_id}", "Change it.", {"target_id": ID}),
        Link(
            "StartVisit",
            "POST /api/v1/studies/{study_id}/visits",
            "Start a visit to the target.",
            {"study_id": "$response.body#/study_id"},
            {"target_id": ID},
        ),
        Link(
            "ListVisits",
            "GET /api/v1/studies/{study_id}/visits",
            "List the visits to the target.",
            {"study_id": "$response.body#/study_id", "target_id": ID},
        ),
    ],
    "POST /api/v1/studies/{study_id}/journeys": [
        Link("GetJourney", "GET /api/v1/journeys/{journey_id}", "Show it.", {"journey_id": ID}),
        Link(
            "UpdateJourney",
            "PATCH /api/v1/journeys/{journey_id}",
            "Change it.",
            {"journey_id": ID},
        ),
        Link(
            "StartVisit",
            "POST /api/v1/studies/{study_id}/visits",
            "Start a visit along the journey.",
            {"study_id": "$response.body#/study_id"},
            {"journey_id": ID},
        ),
        Link(
            "AddFinding",
            "POST /api/v1/studies/{study_id}/findings",
            "Write a finding about the journey.",
            {"study_id": "$response.body#/study_id"},
            {"journey_id": ID},
        ),
        _compile("journey"),
    ],
    "POST /api/v1/studies/{study_id}/assignments": [
        Link(
            "GetAssignment",
            "GET /api/v1/assignments/{assignment_id}",
            "Show it.",
            {"assignment_id": ID},
        ),
        Link(
            "StartVisit",
            "POST /api/v1/studies/{study_id}/visits",
            "Start the assigned visit (its researcher).",
            {"study_id": "$response.body#/study_id"},
            {"assignment_id": ID},
        ),
    ],
    "POST /api/v1/studies/{study_id}/visits": _visit(),
    "PATCH /api/v1/visits/{visit_id}": [
        Link("GetVisit", "GET /api/v1/visits/{visit_id}", "Show it.", {"visit_id": ID}),
        Link(
            "MoveVisit",
            "POST /api/v1/visits/{visit_id}/transitions",
            "Submit it.",
            {"visit_id": ID},
        ),
    ],
    "POST /api/v1/visits/{visit_id}/transitions": [
        Link("GetVisit", "GET /api/v1/visits/{visit_id}", "Show it.", {"visit_id": ID}),
        Link(
            "MoveVisit",
            "POST /api/v1/visits/{visit_id}/transitions",
            "Move it on.",
            {"visit_id": ID},
        ),
        _compile("visit"),
    ],
    "POST /api/v1/visits/{visit_id}/notes": _cite(with_files=False),
    "POST /api/v1/visits/{visit_id}/evidence": _cite(with_files=True),
    "POST /api/v1/visits/{visit_id}/moments": [
        Link(
            "ListMoments",
            "GET /api/v1/visits/{visit_id}/moments",
            "List the visit's moments.",
            {"visit_id": "$response.body#/visit_id"},
        ),
    ],
    "GET /api/v1/evidence/{evidence_id}/transcripts": [
        Link(
            "GetTranscript",
            "GET /api/v1/evidence/{evidence_id}/transcripts/{transcript_id}",
            "Show the first transcript.",
            {"evidence_id": "$request.path.evidence_id", "transcript_id": "$response.body#/0/id"},
        ),
    ],
    "POST /api/v1/evidence/{evidence_id}/transcripts": [
        Link("GetJob", "GET /api/v1/jobs/{job_id}", "Follow the job.", {"job_id": ID}),
        Link(
            "ListTranscripts",
            "GET /api/v1/evidence/{evidence_id}/transcripts",
            "List the item's transcripts.",
            {"evidence_id": "$request.path.evidence_id"},
        ),
    ],
    "POST /api/v1/studies/{study_id}/findings": _finding(),
    "POST /api/v1/findings/{finding_id}/citations": [
        Link("GetFinding", "GET /api/v1/findings/{finding_id}", "Show it.", {"finding_id": ID}),
        Link(
            "RemoveCitation",
            "DELETE /api/v1/citations/{citation_id}",
            "Remove the finding's first citation.",
            {"citation_id": "$response.body#/citations/0/id"},
        ),
    ],
    "POST /api/v1/findings/{finding_id}/actions": [
        Link("UpdateAction", "PATCH /api/v1/actions/{action_id}", "Change it.", {"action_id": ID}),
        Link(
            "ListActions",
            "GET /api/v1/findings/{finding_id}/actions",
            "List the finding's actions.",
            {"finding_id": "$response.body#/finding_id"},
        ),
    ],
    "POST /api/v1/journals": _journal(),
    "POST /api/v1/journals/{journal_id}/publish": _journal(),
    "POST /api/v1/journals/{journal_id}/share-links": [
        Link(
            "RevokeShareLink",
            "DELETE /api/v1/share-links/{link_id}",
            "Revoke the link.",
            {"link_id": ID},
        ),
        Link(
            "ListShareLinks",
            "GET /api/v1/journals/{journal_id}/share-links",
            "List the journal's share links.",
            {"journal_id": "$response.body#/journal_id"},
        ),
    ],
}


class LinksPlugin(BasePlugin):
    """Write the table's links into every 2xx response (with a body) of their source."""

    def operation_helper(
        self, path: str | None = None, operations: dict[str, Any] | None = None, **kwargs: Any
    ) -> None:
        for method, operation in (operations or {}).items():
            links = LINKS.get(f"{method.upper()} {path}")
            if not links:
                continue
            for status, response in operation.get("responses", {}).items():
                has_body = isinstance(response, dict) and "content" in response
                if str(status).startswith("2") and has_body:
                    response["links"] = {link.name: link.document() for link in links}


def check(spec: APISpec) -> None:
    """Refuse links whose source, target or parameters the document does not have."""
    paths: dict[str, Any] = spec.to_dict()["paths"]
    problems: list[str] = []

    def operation(label: str) -> tuple[dict[str, Any], set[str]] | None:
        method, path = label.split(" ", 1)
        item = paths.get(path, {})
        found = item.get(method.lower())
        if found is None:
            return None
        declared = item.get("parameters", []) + found.get("parameters", [])
        names = {parameter["name"] for parameter in declared if "name" in parameter}
        return found, names

    for source, links in LINKS.items():
        if operation(source) is None:
            problems.append(f"{source}: no such operation")
        names = [link.name for link in links]
        if len(set(names)) != len(names):
            problems.append(f"{source}: two links have the same name")
        for link in links:
            target = operation(link.target)
            if target is None:
                problems.append(f"{source} -> {link.name}: no operation {link.target}")
                continue
            unknown = set(link.parameters) - target[1]
            if unknown:
                problems.append(f"{source} -> {link.name}: {link.target} has no {unknown}")
    if problems:
        raise ValueError("Bad OpenAPI links:\n" + "\n".join(problems))
