"""The journal document: a plain data tree with one canonical JSON form."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, cast, get_args

JOURNAL_FORMAT = "fieldbook.journal/1"
JournalKind = Literal["visit", "journey", "study"]
_NO_OFFSET = timedelta(0)


def canonical_json(value: Any) -> bytes:
    """Serialise to the one byte form that is hashed and signed: sorted keys, no spaces."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def iso_time(moment: datetime) -> str:
    """Return a UTC timestamp in ISO 8601 with a Z suffix."""
    if moment.utcoffset() != _NO_OFFSET:
        moment = moment.astimezone(UTC)
    return moment.isoformat().replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class Journal:
    """A compiled journal for a visit, a journey or a study."""

    kind: JournalKind
    subject_id: str
    title: str
    body: Mapping[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """Return the journal as plain data."""
        return {
            "format": JOURNAL_FORMAT,
            "kind": self.kind,
            "subject_id": self.subject_id,
            "title": self.title,
            "body": self.body,
        }

    def canonical_bytes(self) -> bytes:
        """Return the canonical JSON of the journal."""
        return canonical_json(self.to_dict())

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Journal:
        """Rebuild a journal from its plain data, refusing anything that is not one."""
        if data.get("format") != JOURNAL_FORMAT:
            raise ValueError(f"not a {JOURNAL_FORMAT} document")
        kind = data.get("kind")
        if kind not in get_args(JournalKind):
            raise ValueError(f"unknown journal kind {kind!r}")
        subject_id, title, body = data.get("subject_id"), data.get("title"), data.get("body")
        if not isinstance(subject_id, str) or not isinstance(title, str):
            raise ValueError("journal subject_id and title must be strings")
        if not isinstance(body, dict):
            raise ValueError("journal body must be an object")
        return cls(cast(JournalKind, kind), subject_id, title, body)


def render_json(journal: Journal) -> bytes:
    """Render a journal as canonical JSON bytes."""
    return journal.canonical_bytes()


def iter_citations(tree: Any) -> Iterator[Mapping[str, Any]]:
    """Yield every citation in a journal tree, wherever it sits."""
    # Journal trees are plain dicts and lists; exact type checks keep this walk cheap.
    stack = [tree]
    while stack:
        node = stack.pop()
        if type(node) is dict:
            for key, value in node.items():
                if key == "citations" and type(value) is list:
                    yield from (c for c in value if type(c) is dict)
                elif type(value) is dict or type(value) is list:
                    stack.append(value)
        elif type(node) is list:
            stack.extend(v for v in node if type(v) is dict or type(v) is list)


def cited_evidence_ids(journal: Journal) -> list[str]:
    """Return the sorted ids of all evidence a journal cites."""
    return sorted({str(c.get("evidence_id")) for c in iter_citations(journal.body)})
