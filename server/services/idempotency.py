"""Create-once semantics for records that phones send with a client UUID.

The same UUID with the same content returns the record made the first time; the same
UUID with other content is a 409 and leaves the original unchanged. A unique constraint
on ``client_uuid`` makes this hold when two processes race: the loser's insert does
nothing (``ON CONFLICT DO NOTHING``) and it answers with the winner's record.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable, Mapping
from typing import Any, TypeVar, cast

import sqlalchemy as sa

from server.errors import Conflict
from server.extensions import db

M = TypeVar("M")


def content_hash(payload: Mapping[str, Any]) -> str:
    """Hash a request body canonically (key order and spacing do not matter)."""
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _existing(model: type[M], client_uuid: uuid.UUID) -> M | None:
    query: sa.Select[Any] = sa.select(model).where(model.client_uuid == client_uuid)  # type: ignore[attr-defined]
    return cast(M | None, db.session.scalar(query))


def _same_or_conflict(existing: Any, digest: str) -> None:
    if existing.client_hash != digest:
        raise Conflict(
            "This client UUID was already used with different content.",
            code="idempotency.conflict",
            errors={"client_uuid": ["Already used with different content."]},
        )


def create_once(
    model: type[M],
    client_uuid: uuid.UUID | None,
    payload: Mapping[str, Any],
    build: Callable[[], M],
    *,
    visible: Callable[[M], bool],
) -> tuple[M, bool]:
    """Return ``(record, created)``; build and insert only if the UUID is new.

    ``visible`` says whether the caller may see an existing record with this UUID; one
    it may not see is answered as a conflict without revealing anything about it.
    """
    digest = content_hash(payload)
    # insert first: a repeat is the rare case, found by the unique constraint
    record = build()
    record.client_uuid = client_uuid  # type: ignore[attr-defined]
    record.client_hash = digest if client_uuid is not None else None  # type: ignore[attr-defined]
    if client_uuid is None:
        db.insert(record)
        return record, True
    if db.insert(record, unless_taken="client_uuid"):
        return record, True
    existing = _existing(model, client_uuid)
    if existing is None:  # pragma: no cover - the row that was in the way is gone
        raise Conflict("This client UUID is taken.", code="idempotency.conflict")
    if not visible(existing):
        raise Conflict("This client UUID is taken.", code="idempotency.conflict")
    _same_or_conflict(existing, digest)
    return existing, False
