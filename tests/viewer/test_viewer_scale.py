"""A visit with hundreds of photos renders with lazy thumbnails and a fixed number of queries."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from flask import Flask

from server.extensions import db
from server.models import Evidence, EvidenceKind, EvidenceStatus, Visit, VisitStatus, utcnow
from tests.api.test_web_session import sign_in
from tests.conftest import StudyTeam


def photographed_visit(team: StudyTeam, photos: int) -> uuid.UUID:
    """A submitted visit with ``photos`` processed photos, written straight to the tables."""
    visit = Visit(
        study_id=team.study.id,
        researcher_id=team.researcher.user.id,
        channel="in_person",
        status=VisitStatus.submitted,
        title="Store with many shelves",
        started_at=utcnow(),
    )
    db.session.add(visit)
    db.session.flush()
    for n in range(photos):
        db.session.add(
            Evidence(
                study_id=team.study.id,
                visit_id=visit.id,
                uploader_id=team.researcher.user.id,
                kind=EvidenceKind.photo,
                status=EvidenceStatus.ready,
                mime="image/jpeg",
                size=1000,
                original_name=f"IMG_{n:04d}.jpg",
                captured_at=utcnow(),
                width=768,
                height=1024,
                derived={"display": f"display/{n}.jpg", "thumbnail": f"thumb/{n}.jpg"},
            )
        )
    db.session.commit()
    return visit.id


def count_queries(app: Flask, run: Any) -> tuple[Any, int]:
    statements: list[str] = []

    def note(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    engine = db.session.get_bind()
    sa.event.listen(engine, "before_cursor_execute", note)
    try:
        result = run()
    finally:
        sa.event.remove(engine, "before_cursor_execute", note)
    return result, len(statements)


def test_hundreds_of_photos_cost_no_query_each(app: Flask, team: StudyTeam) -> None:
    browser = app.test_client()
    assert sign_in(browser, team.reviewer.user.email).status_code == 302
    small, large = photographed_visit(team, 10), photographed_visit(team, 300)
    page_small, queries_small = count_queries(app, lambda: browser.get(f"/visits/{small}"))
    page_large, queries_large = count_queries(app, lambda: browser.get(f"/visits/{large}"))
    assert page_small.status_code == page_large.status_code == 200
    html = page_large.get_data(as_text=True)
    assert html.count('loading="lazy"') >= 300
    # the same queries for 300 photos as for 10: everything is read in batches
    assert queries_large == queries_small, (queries_small, queries_large)
