"""When to try a request again, and how long to wait first.

Only failures that another attempt can cure are retried: the connection failed, the
server erred (5xx) or asked us to slow down (429). Every create the field kit sends
carries a client UUID, so a retried request never makes a second record.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


def retryable_status(status: int | None) -> bool:
    """Tell whether a status (``None``: no answer at all) is worth another attempt."""
    return status is None or status in RETRY_STATUSES or status >= 500


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff: ``backoff * 2**attempt`` seconds, at most ``max_delay``."""

    retries: int = 4
    backoff: float = 0.5
    max_delay: float = 30.0
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False, compare=False)

    def delay(self, attempt: int, retry_after: str | None = None) -> float:
        """Return the wait before retry number ``attempt`` (0-based), honouring Retry-After."""
        if retry_after:
            try:
                return min(max(float(retry_after), 0.0), self.max_delay)
            except ValueError:
                pass  # an HTTP date: fall back to our own backoff
        return float(min(self.backoff * (2**attempt), self.max_delay))

    def wait(self, attempt: int, retry_after: str | None = None) -> None:
        """Sleep before retry number ``attempt``."""
        self.sleep(self.delay(attempt, retry_after))
