"""Fieldbook reports: plain research data in, cited, signed experience journals out.

Knows nothing of Flask, the database or transcription; the server adapts its rows into the
types in `reports.data` and `reports.evidence`. PDF rendering lives in `reports.pdf` so
that importing the package does not load WeasyPrint.
"""

from reports.catalog import StudyIndex
from reports.citations import IntegrityProblem, check_citations, check_study_citations
from reports.compiler import compile_journey_journal, compile_visit_journal
from reports.data import (
    Action,
    ChecklistAnswer,
    Finding,
    Journey,
    Moment,
    Study,
    StudyRecord,
    Visit,
)
from reports.evidence import (
    CallMetrics,
    Citation,
    EvidenceItem,
    HoldPeriod,
    RegionSpan,
    Repeat,
    TextSpan,
    TimeSpan,
    Transcript,
    TranscriptSegment,
    Transfer,
    WebStep,
)
from reports.html import render_html
from reports.journal import Journal, canonical_json, render_json
from reports.keys import (
    generate_signing_key,
    load_public_key,
    load_signing_key,
    public_key_to_pem,
    read_public_key,
    read_signing_key,
    save_public_key,
    save_signing_key,
    signing_key_to_pem,
)
from reports.markdown import render_markdown
from reports.metrics import Metric
from reports.publishing import PublishedJournal, PublishError, VerifyResult, publish, verify
from reports.study_journal import compile_study_journal

__all__ = [
    "Action",
    "CallMetrics",
    "ChecklistAnswer",
    "Citation",
    "EvidenceItem",
    "Finding",
    "HoldPeriod",
    "IntegrityProblem",
    "Journal",
    "Journey",
    "Metric",
    "Moment",
    "PublishError",
    "PublishedJournal",
    "RegionSpan",
    "Repeat",
    "Study",
    "StudyIndex",
    "StudyRecord",
    "TextSpan",
    "TimeSpan",
    "Transcript",
    "TranscriptSegment",
    "Transfer",
    "VerifyResult",
    "Visit",
    "WebStep",
    "canonical_json",
    "check_citations",
    "check_study_citations",
    "compile_journey_journal",
    "compile_study_journal",
    "compile_visit_journal",
    "generate_signing_key",
    "load_public_key",
    "load_signing_key",
    "public_key_to_pem",
    "publish",
    "read_public_key",
    "read_signing_key",
    "render_html",
    "render_json",
    "render_markdown",
    "save_public_key",
    "save_signing_key",
    "signing_key_to_pem",
    "verify",
]
