"""What the server answers, as typed records.

Each record keeps the fields the field kit relies on and the whole answer in ``raw``, so
that fields the server adds later are not lost on the way through.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Required, TypedDict


def parse_time(value: Any) -> datetime | None:
    """Parse an ISO 8601 timestamp from the server; ``None`` stays ``None``."""
    if not value:
        return None
    return datetime.fromisoformat(str(value))


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _optional_text(value: Any) -> str | None:
    return None if value is None else str(value)


def _optional_float(value: Any) -> float | None:
    return None if value is None else float(value)


@dataclass(frozen=True)
class User:
    """The signed-in user."""

    id: str
    email: str
    name: str
    is_admin: bool
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> User:
        """Build from the server's JSON."""
        return cls(
            id=_text(data["id"]),
            email=_text(data.get("email")),
            name=_text(data.get("name")),
            is_admin=bool(data.get("is_admin")),
            raw=data,
        )


@dataclass(frozen=True)
class Study:
    """A research programme you are a member of."""

    id: str
    name: str
    company: str
    channels: list[str]
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Study:
        """Build from the server's JSON."""
        return cls(
            id=_text(data["id"]),
            name=_text(data.get("name")),
            company=_text(data.get("company")),
            channels=[str(c) for c in data.get("channels") or []],
            raw=data,
        )


@dataclass(frozen=True)
class Assignment:
    """A planned visit: who goes where, through which channel, and when."""

    id: str
    study_id: str
    researcher_id: str
    target_id: str | None
    journey_id: str | None
    channel: str
    scenario: str
    window_start: datetime | None
    window_end: datetime | None
    status: str
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Assignment:
        """Build from the server's JSON."""
        return cls(
            id=_text(data["id"]),
            study_id=_text(data.get("study_id")),
            researcher_id=_text(data.get("researcher_id")),
            target_id=_optional_text(data.get("target_id")),
            journey_id=_optional_text(data.get("journey_id")),
            channel=_text(data.get("channel")),
            scenario=_text(data.get("scenario")),
            window_start=parse_time(data.get("window_start")),
            window_end=parse_time(data.get("window_end")),
            status=_text(data.get("status")),
            raw=data,
        )


@dataclass(frozen=True)
class Target:
    """What is visited: a store, a phone line or a website."""

    id: str
    kind: str
    name: str
    address: str
    latitude: float | None
    longitude: float | None
    phone: str
    url: str
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Target:
        """Build from the server's JSON."""
        return cls(
            id=_text(data["id"]),
            kind=_text(data.get("kind")),
            name=_text(data.get("name")),
            address=_text(data.get("address")),
            latitude=_optional_float(data.get("latitude")),
            longitude=_optional_float(data.get("longitude")),
            phone=_text(data.get("phone")),
            url=_text(data.get("url")),
            raw=data,
        )


class VisitFields(TypedDict, total=False):
    """The body of a visit create; ``client_uuid`` makes repeats safe."""

    client_uuid: Required[str]
    channel: Required[str]
    assignment_id: str
    journey_id: str
    target_id: str
    title: str
    summary: str
    started_at: str
    ended_at: str
    latitude: float
    longitude: float
    device: str
    checklist_answers: dict[str, Any]


class VisitChanges(TypedDict, total=False):
    """The fields of a visit that may change while it is a draft or returned."""

    title: str
    summary: str
    started_at: str
    ended_at: str
    latitude: float
    longitude: float
    device: str
    checklist_answers: dict[str, Any]
    journey_id: str
    target_id: str


@dataclass(frozen=True)
class Visit:
    """What happened on one visit, as the server holds it."""

    id: str
    study_id: str
    client_uuid: str | None
    channel: str
    status: str
    title: str
    started_at: datetime | None
    ended_at: datetime | None
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Visit:
        """Build from the server's JSON."""
        return cls(
            id=_text(data["id"]),
            study_id=_text(data.get("study_id")),
            client_uuid=_optional_text(data.get("client_uuid")),
            channel=_text(data.get("channel")),
            status=_text(data.get("status")),
            title=_text(data.get("title")),
            started_at=parse_time(data.get("started_at")),
            ended_at=parse_time(data.get("ended_at")),
            raw=data,
        )


@dataclass(frozen=True)
class Evidence:
    """One captured item of a visit as the server stored it."""

    id: str
    visit_id: str
    kind: str
    status: str
    sha256: str | None
    size: int | None
    mime: str
    original_name: str
    captured_at: datetime | None
    received_at: datetime | None
    client_uuid: str | None
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Evidence:
        """Build from the server's JSON."""
        size = data.get("size")
        return cls(
            id=_text(data["id"]),
            visit_id=_text(data.get("visit_id")),
            kind=_text(data.get("kind")),
            status=_text(data.get("status")),
            sha256=_optional_text(data.get("sha256")),
            size=None if size is None else int(size),
            mime=_text(data.get("mime")),
            original_name=_text(data.get("original_name")),
            captured_at=parse_time(data.get("captured_at")),
            received_at=parse_time(data.get("received_at")),
            client_uuid=_optional_text(data.get("client_uuid")),
            raw=data,
        )


@dataclass(frozen=True)
class UploadResult:
    """How a file reached the server: the stored item and what it took to send it."""

    evidence: Evidence
    method: str  # "multipart" or "tus"
    bytes_sent: int
    resumed_from: int  # the offset a resumable upload continued from; 0 for a fresh one
