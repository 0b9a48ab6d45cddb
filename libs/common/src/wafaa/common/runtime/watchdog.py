"""A deadline on a worker's graceful shutdown.

Each step of the shutdown has its own bound (turns in flight, the broker's handlers, the consumer's
drain), but a step that awaits something without one (a connection that never closes, a task that
ignores its cancellation) would keep the process alive after SIGTERM until the orchestrator kills it,
with nothing in the logs to say why. The watchdog, armed when shutdown begins, logs every asyncio
task still pending with its stack when the deadline passes, then ends the process with
`EXIT_SHUTDOWN_OVERRUN`: what was not acknowledged stays pending in its stream for another
consumer, exactly as after a crash.
"""

from __future__ import annotations

import asyncio
import faulthandler
import io
import logging
import os
import sys
import threading

logger = logging.getLogger(__name__)

EXIT_SHUTDOWN_OVERRUN = 70  # EX_SOFTWARE


def shutdown_deadline(graceful_timeout: float) -> float:
    """Seconds a worker's shutdown may take: each step waits at most `graceful_timeout`, and the turns'
    and the handlers' waits overlap (both run from SIGTERM on)."""
    return 2 * graceful_timeout + 5


def pending_tasks_report(loop: asyncio.AbstractEventLoop) -> str:
    """Every unfinished task of `loop` with the stack it is suspended in (call on the loop's thread)."""
    out = io.StringIO()
    tasks = [t for t in asyncio.all_tasks(loop) if not t.done()]
    for task in tasks:
        out.write(f"--- {task.get_name()}: {task.get_coro()!r}\n")
        task.print_stack(limit=30, file=out)
    return f"{len(tasks)} tasks pending\n{out.getvalue()}"


class ShutdownWatchdog:
    """Logs what a shutdown still waits for once it runs past `seconds`, then ends the process."""

    def __init__(self, seconds: float, *, grace_to_report: float = 2.0) -> None:
        self.seconds = seconds
        self.grace_to_report = grace_to_report
        self._timer: threading.Timer | None = None

    def arm(self) -> None:
        """Start the clock (from the event loop's thread, when shutdown begins)."""
        if self._timer is not None:
            return
        loop = asyncio.get_running_loop()
        self._timer = threading.Timer(self.seconds, self._overrun, args=(loop,))
        self._timer.daemon = True  # never keeps a process alive that ended by itself
        self._timer.start()

    def disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _overrun(self, loop: asyncio.AbstractEventLoop) -> None:
        reported = threading.Event()

        def report() -> None:
            try:
                logger.error(
                    "shutdown still running %g s after it began; ending the process: %s",
                    self.seconds,
                    pending_tasks_report(loop),
                )
            finally:
                reported.set()

        try:
            loop.call_soon_threadsafe(report)
        except RuntimeError:  # the loop closed meanwhile
            reported.set()
        if not reported.wait(self.grace_to_report):
            # the loop itself is blocked: the threads' stacks say where
            faulthandler.dump_traceback(file=sys.stderr, all_threads=True)
        sys.stderr.flush()
        os._exit(EXIT_SHUTDOWN_OVERRUN)
