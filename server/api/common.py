"""Schemas and helpers shared by the API blueprints."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
import sqlalchemy as sa
from flask_smorest import Page

from server.extensions import db


class ErrorSchema(ma.Schema):
    """The one error shape: a stable machine code, the HTTP status, a message, the fields."""

    code = ma.fields.String(required=True, metadata={"example": "validation.failed"})
    status = ma.fields.Integer(required=True, metadata={"example": 422})
    message = ma.fields.String(required=True)
    errors = ma.fields.Dict(
        required=True, metadata={"description": "Offending fields and what is wrong with them"}
    )


class InSchema(ma.Schema):
    """Base for request bodies and query strings: unknown fields are an error."""

    class Meta:
        unknown = ma.RAISE


class OutSchema(ma.Schema):
    """Base for responses."""

    class Meta:
        ordered = True


def text(max_length: int, *, min_length: int = 0, **kwargs: Any) -> ma.fields.String:
    """A string field with length limits (the limits are documented in the schema)."""
    return ma.fields.String(
        validate=ma.validate.Length(min=min_length or None, max=max_length), **kwargs
    )


class SelectPage(Page):
    """A flask-smorest page over an SQLAlchemy select, counted and sliced in the database."""

    @property
    def items(self) -> list[Any]:
        # a page past the end is empty; answering that here keeps any page number (the
        # query string allows huge ones) out of the database's OFFSET
        if self.page_params.first_item >= (self.page_params.item_count or 0):
            return []
        query = self.collection.offset(self.page_params.first_item).limit(
            self.page_params.page_size
        )
        return list(db.session.scalars(query))

    @property
    def item_count(self) -> int:
        subquery = self.collection.order_by(None).subquery()
        return int(db.session.scalar(sa.select(sa.func.count()).select_from(subquery)) or 0)


def created_or_existing(record: Any, created: bool) -> tuple[Any, int]:
    """Answer 201 for a new record and 200 for a repeat of the same create."""
    return record, 201 if created else 200
