"""Graph API errors, classified by what the caller should do about them."""

from __future__ import annotations

from typing import Any, Literal

Action = Literal["retry", "retry_later_for_recipient", "outside_window", "token_expired", "permanent"]

# Retry with backoff: throughput, pair and app rate limits, transient platform errors.
RETRY_CODES = {130429, 131048, 80007, 4, 17, 32, 613, 131000, 131016, 131057, 1, 2}
OUTSIDE_WINDOW_CODES = {131047}
OUTSIDE_WINDOW_SUBCODES = {2018278, 2534022}
TOKEN_CODES = {190, 0}


class GraphError(Exception):
    """A failed Graph API call, with Meta's code and the action it calls for."""

    def __init__(self, status: int, code: int | None, message: str, subcode: int | None = None) -> None:
        super().__init__(f"graph api {status} (code {code}): {message}")
        self.status = status
        self.code = code
        self.subcode = subcode
        self.message = message

    @property
    def action(self) -> Action:
        """What to do: retry, retry this recipient later, give up (window, token), or permanent."""
        if self.code in OUTSIDE_WINDOW_CODES or self.subcode in OUTSIDE_WINDOW_SUBCODES:
            return "outside_window"
        if self.code in TOKEN_CODES and self.status in (400, 401, 403):
            return "token_expired"
        if self.code == 131056:
            return "retry_later_for_recipient"
        if self.status >= 500 or self.status == 429 or self.code in RETRY_CODES:
            return "retry"
        return "permanent"

    @property
    def retryable(self) -> bool:
        """Whether trying the same call again later can succeed."""
        return self.action in ("retry", "retry_later_for_recipient")

    @classmethod
    def from_response(cls, status: int, body: Any) -> GraphError:
        """Build from Meta's standard `{"error": {...}}` envelope (or anything else)."""
        error = body.get("error") if isinstance(body, dict) else None
        if not isinstance(error, dict):
            return cls(status, None, str(body)[:300])
        code = error.get("code")
        subcode = error.get("error_subcode")
        return cls(
            status,
            int(code) if isinstance(code, int | str) and str(code).isdigit() else None,
            str(error.get("message", ""))[:500],
            int(subcode) if isinstance(subcode, int | str) and str(subcode).isdigit() else None,
        )


class GraphTimeoutError(GraphError):
    """No answer in time: the message may or may not have been accepted."""

    def __init__(self, message: str = "timed out") -> None:
        super().__init__(504, None, message)
