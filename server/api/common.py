"""Schemas and helpers shared by the API blueprints."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import marshmallow as ma
import sqlalchemy as sa
from flask import Request
from flask_smorest import Blueprint, Page
from flask_smorest.fields import Upload
from webargs.flaskparser import FlaskParser
from werkzeug.datastructures import CombinedMultiDict, FileStorage

from server.extensions import db


class ErrorSchema(ma.Schema):
    """The one error shape: a stable machine code, the HTTP status, a message, the fields."""

    code = ma.fields.String(required=True, metadata={"example": "validation.failed"})
    status = ma.fields.Integer(required=True, metadata={"example": 422})
    message = ma.fields.String(required=True)
    errors = ma.fields.Dict(
        required=True, metadata={"description": "Offending fields and what is wrong with them"}
    )


UNSTORABLE_TEXT = "Must not contain NUL characters or unpaired surrogates."


def storable(value: Any) -> bool:
    """Tell whether decoded input holds only text that every database column can keep.

    PostgreSQL text refuses NUL, and no database encodes an unpaired UTF-16 surrogate
    (JSON's ``"\\ud800"``); either would fail in the database instead of as a 422.
    """
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return False
        return "\x00" not in value
    if isinstance(value, Mapping):
        return all(storable(key) and storable(item) for key, item in value.items())
    if isinstance(value, list | tuple):
        return all(storable(item) for item in value)
    return True


class InSchema(ma.Schema):
    """Base for request bodies and query strings: unknown fields are an error."""

    class Meta:
        unknown = ma.RAISE

    @ma.pre_load
    def refuse_unstorable_text(self, data: Any, **kwargs: Any) -> Any:
        """Name every field whose text no database could keep, before anything else."""
        if isinstance(data, Mapping):
            bad = {
                str(name): [UNSTORABLE_TEXT]
                for name, value in data.items()
                if not (storable(name) and storable(value))
            }
            if bad:
                raise ma.ValidationError(bad)
        return data


def for_changes(schema_class: type[ma.Schema]) -> ma.Schema:
    """Return ``schema_class`` with each of its own fields optional, for PATCH bodies.

    ``partial=True`` would reach into nested schemas as well and let a change store,
    say, a checklist item without its question.
    """
    return schema_class(partial=tuple(schema_class().fields))


class MultipartParser(FlaskParser):
    """webargs' Flask parser, plus one location: a multipart body's fields and files together."""

    __location_map__ = {
        **FlaskParser.__location_map__,
        "form_and_files": "load_form_and_files",
    }

    def load_form_and_files(self, req: Request, schema: ma.Schema) -> Any:
        """Read the form fields and the files of a multipart body as one mapping."""
        return self._makeproxy(CombinedMultiDict([req.files, req.form]), schema)


class FilePart(Upload):
    """A file of a multipart body, documented as binary; a plain text field is refused."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if not isinstance(value, FileStorage):
            raise ma.ValidationError("Send a file.")
        return value


class ApiBlueprint(Blueprint):
    """The API's blueprint: each argument schema is built once, not on every request.

    Given a schema class, webargs makes an instance of it for each request it parses;
    a shared instance is safe because marshmallow keeps no state between loads.
    """

    def arguments(self, schema: type[ma.Schema] | ma.Schema, **kwargs: Any) -> Any:
        instance = schema() if isinstance(schema, type) else schema
        return super().arguments(instance, **kwargs)


class MultipartBlueprint(ApiBlueprint):
    """A blueprint whose views may take a file and its form fields as one argument.

    An OpenAPI 3 operation has one request body; reading the fields and the files as
    separate arguments would document the fields as (invalid) ``formData`` parameters.
    """

    ARGUMENTS_PARSER = MultipartParser()
    DEFAULT_LOCATION_CONTENT_TYPE_MAPPING = {
        **ApiBlueprint.DEFAULT_LOCATION_CONTENT_TYPE_MAPPING,
        "form_and_files": "multipart/form-data",
    }


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
