"""Consumer errors that say what should happen to the message."""

from __future__ import annotations


class PermanentError(Exception):
    """Retrying cannot help (bad payload, missing tenant): dead-letter at once."""


class TransientError(Exception):
    """Retrying may help (a peer is down): leave pending so the reclaimer runs it again."""
