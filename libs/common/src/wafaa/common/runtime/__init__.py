"""Process runtime shared by the worker services: health, readiness, metrics, serving."""

from wafaa.common.runtime.worker import WorkerRuntime, serve

__all__ = ["WorkerRuntime", "serve"]
