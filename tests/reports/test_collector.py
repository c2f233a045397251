"""Compiles pause the cycle collector and always give it back as they found it."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator

import pytest

from reports import (
    compile_journey_journal,
    compile_study_journal,
    compile_visit_journal,
    compiler,
    study_journal,
)
from reports.collector import collector_paused
from reports.compiler import index_of
from tests.reports.factories import record


@pytest.fixture(autouse=True)
def collector_on() -> Iterator[None]:
    was = gc.isenabled()
    gc.enable()
    yield
    if not was:
        gc.disable()


def test_a_compile_runs_without_the_collector_and_gives_it_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    study = record()
    collector_on_inside: list[bool] = []

    def watched_index_of(source: object) -> object:
        collector_on_inside.append(gc.isenabled())
        return index_of(source)  # type: ignore[arg-type]

    monkeypatch.setattr(study_journal, "index_of", watched_index_of)
    monkeypatch.setattr(compiler, "index_of", watched_index_of)
    journal = compile_study_journal(study)
    compile_visit_journal(study, study.visits[0].id)
    compile_journey_journal(study, study.journeys[0].id)
    assert journal.body["visits"]
    assert collector_on_inside == [False, False, False]
    assert gc.isenabled()


def test_nested_pauses_resume_once_at_the_end() -> None:
    with collector_paused():
        assert not gc.isenabled()
        with collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()


def test_a_collector_that_was_off_stays_off() -> None:
    gc.disable()
    with collector_paused():
        pass
    assert not gc.isenabled()


def test_an_error_in_a_compile_still_gives_the_collector_back() -> None:
    with pytest.raises(KeyError):
        compile_visit_journal(record(), "no-such-visit")
    assert gc.isenabled()


def test_threads_compiling_together_resume_after_the_last_one() -> None:
    inside, leave = threading.Barrier(3), threading.Event()
    order: list[str] = []

    def compile_slowly(name: str) -> None:
        with collector_paused():
            inside.wait(10)
            leave.wait(10)
            order.append(name)

    threads = [threading.Thread(target=compile_slowly, args=(n,)) for n in ("a", "b")]
    for thread in threads:
        thread.start()
    inside.wait(10)
    assert not gc.isenabled()
    leave.set()
    for thread in threads:
        thread.join(10)
    assert sorted(order) == ["a", "b"]
    assert gc.isenabled()
