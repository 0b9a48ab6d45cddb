"""Logs and metrics."""

from wafaa.common.observability.logging import configure_logging, log_context

__all__ = ["configure_logging", "log_context"]
