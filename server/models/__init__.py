"""Fieldbook's models, by aggregate. Models only persist; services hold the logic."""

from server.models.accounts import ApiToken, User, WebSession
from server.models.audit import AuditEvent
from server.models.base import Base, utcnow
from server.models.evidence import (
    Blob,
    Evidence,
    EvidenceKind,
    EvidenceStatus,
    Transcript,
    Upload,
)
from server.models.jobs import Job, JobStatus
from server.models.journals import (
    Action,
    Citation,
    Finding,
    FindingKind,
    Journal,
    Moment,
    ShareLink,
    SpanKind,
)
from server.models.search import SearchEntry
from server.models.studies import (
    Assignment,
    Channel,
    Journey,
    Membership,
    Role,
    Study,
    Target,
    TargetKind,
)
from server.models.visits import ReviewComment, Visit, VisitStatus

__all__ = [
    "Action",
    "ApiToken",
    "Assignment",
    "AuditEvent",
    "Base",
    "Blob",
    "Channel",
    "Citation",
    "Evidence",
    "EvidenceKind",
    "EvidenceStatus",
    "Finding",
    "FindingKind",
    "Job",
    "JobStatus",
    "Journal",
    "Journey",
    "Membership",
    "Moment",
    "ReviewComment",
    "Role",
    "SearchEntry",
    "ShareLink",
    "SpanKind",
    "Study",
    "Target",
    "TargetKind",
    "Transcript",
    "Upload",
    "User",
    "Visit",
    "VisitStatus",
    "WebSession",
    "utcnow",
]
