"""Writing bench/RESULTS.md: a header with the machine's description and one section per benchmark."""

from __future__ import annotations

import argparse
import platform
import re
import subprocess
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

RESULTS = Path(__file__).with_name("RESULTS.md")

INTRO = """# Benchmarks

Measured by hand with the commands below; each run rewrites only its own section and the machine
description. Numbers are from one machine and one run, so compare rows of the same section only.

| Benchmark | What it measures | Command |
|---|---|---|
| Event bus | events/s and publish-to-handled latency (p50/p99/max) of a no-op handler through \
`EventPublisher` + `EventConsumer` (FastStream on Redis Streams), next to raw redis-py \
XADD + XREADGROUP + XACK on the same Redis (the floor) | `.venv/bin/python -m bench.bus` |
| Knowledge | ingestion chunks/s end to end (a 200-page PDF, 1,000 small documents) next to the raw \
embedder on the same chunks, peak memory of the ingestion service; hybrid search p50/p95 at 1,000 small \
tenants + one 100,000-chunk tenant | `.venv/bin/python -m bench.ingestion` |
| Rag responder | `MessageReceived` → `ReplyReady` p50/p95/p99 through the rag service as a process \
(`TURN_WINDOW_SECONDS=0`, turn poll 50 ms and 5 ms) for one customer alone and 50 WhatsApp customers in \
parallel on the restaurant eval set, with the local answerer and with an instantly answering fake OpenAI \
server, next to embed + search + answer in-process (the floor); time per stage, CPU per reply of rag / \
Postgres / Redis, memory of each rag process | `.venv/bin/python -m bench.rag` |
| Pipeline | sustained replies/s, webhook-to-delivered latency (p50/p95/p99/max), lost and duplicated replies of \
signed WhatsApp webhooks (10,000 in 60 s, 100 tenants, 1% repeated) through all five services (local embedder and \
answerer) to a fake Graph API, CPU and peak memory per process; next to the webhook ingress alone and the rag work \
in-process (the floors) | `.venv/bin/python -m bench.pipeline` |
"""


def _run(args: list[str]) -> str:
    """A command's output, or a note that it failed."""
    try:
        return subprocess.run(args, capture_output=True, text=True, check=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError) as exc:
        return f"unavailable ({type(exc).__name__})"


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine(extra: dict[str, str] | None = None) -> str:
    """A markdown list describing the machine and the software versions."""
    memory = next((line for line in _run(["free", "-h"]).splitlines() if line.startswith("Mem:")), "unknown")
    items = {
        "Date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "CPU": cpu_model(),
        "nproc": _run(["nproc"]),
        "Memory (`free -h`)": " ".join(memory.split()),
        "OS": platform.platform(),
        "Python": platform.python_version(),
        **(extra or {}),
    }
    return "\n".join(f"- {key}: {value}" for key, value in items.items())


def _block(name: str, body: str) -> str:
    return f"<!-- bench:{name}:start -->\n{body.strip()}\n<!-- bench:{name}:end -->"


def command(module: str, parser: argparse.ArgumentParser, args: argparse.Namespace) -> str:
    """The command line that reproduces a run: the module plus the options that differ from their defaults."""
    defaults = parser.parse_args([])
    extra = " ".join(
        f"--{k.replace('_', '-')} {v}" for k, v in vars(args).items() if k != "no_write" and v != getattr(defaults, k)
    )
    return f"`.venv/bin/python -m {module}" + (f" {extra}" if extra else "") + "`"


def publish(
    name: str,
    title: str,
    command_line: str,
    module_doc: str | None,
    table: str,
    packages: tuple[str, ...],
    *,
    write: bool = True,
) -> None:
    """Print a benchmark's section (title, command, the module docstring after its first line, the
    table) and, unless `write` is off, store it with the machine and the versions of `packages`."""
    about = (module_doc or "").split("\n\n", 1)[1].strip()
    print(table)
    if write:
        label = " / ".join("redis-py" if p == "redis" else p for p in packages)
        versions = " / ".join(version(p) for p in packages)
        body = f"## {title}\n\nCommand: {command_line}\n\n{about}\n\n{table}\n"
        print(f"wrote {update(name, body, machine({label: versions}))}")


def update(name: str, body: str, machine_info: str) -> Path:
    """Replace (or append) the section `name` and the machine description in RESULTS.md."""
    text = RESULTS.read_text() if RESULTS.exists() else INTRO
    for key, value in (("machine", "## Machine\n\n" + machine_info), (name, body)):
        pattern = re.compile(rf"<!-- bench:{key}:start -->.*?<!-- bench:{key}:end -->", re.DOTALL)
        if pattern.search(text):
            text = pattern.sub(lambda _m, k=key, v=value: _block(k, v), text)
        else:
            text = text.rstrip() + "\n\n" + _block(key, value) + "\n"
    RESULTS.write_text(text)
    return RESULTS
