"""Load benchmark: the webhook ingress knee, the end-to-end capacity and a soak with memory per service.

What runs, in three phases, each on its own fresh infrastructure (an embedded Postgres and Redis, migrated,
gone after the phase), its own fake Graph API and its own service processes, set up exactly as
`bench.pipeline` does (whose functions this module reuses): the five services as processes
(`python -m wafaa.gateway`, `wafaa.ingestion`, `wafaa.rag`, `wafaa.channels`, `wafaa.analytics`, one
process each, every setting at its default except `LOG_LEVEL`, `UPLOADS_DIR`, `WHATSAPP_API_BASE_URL`
pointed at the fake Graph API, `BCRYPT_ROUNDS=4`, `LLM_PROVIDER=local` (the grounded extractive answerer)
and `TURN_WINDOW_SECONDS`, 0 by default here as in `bench.rag`: the debounce window is a deliberate wait for
a customer's next quick message, not work, and with a window of w every latency below grows by about w).
Set-up per phase (not timed): N tenants, each with a WhatsApp channel and a 1 KB FAQ indexed by the
ingestion service, then one warm-up message per tenant answered (the first loads rag's embedding model).
Load: signed WhatsApp text webhooks from this process (`bench.pipeline.send_paced`: open loop on a fixed
schedule, at most 512 in flight, latency measured from each webhook's scheduled send time, so a client
that falls behind shows as latency rather than as a lower rate); every message has its own id and its
own customer (one reply expected per message), round robin over the tenants.

1. Ingress knee: webhooks at rates doubling from `--start-rate` up to `--max-rate` (the last step capped at
it), `--step-seconds` each. Gateway latency = the 2xx answer minus the scheduled send time; a webhook
answered non-2xx or not at all counts as infinitely late, so more than 1% of them put p99 over the limit.
The phase stops after the first step whose p99 passes 1 s; the knee is the highest rate before it. The
downstream services keep consuming all the while (they compete for the CPUs, as in production); their
backlog is thrown away with the infrastructure. Achieved rate = webhooks / (first scheduled send to the
last answer). CPU % per step: user + system CPU of the gateway's process tree and of this process over
the step ÷ its wall time; machine busy = every process's CPU over the step ÷ (wall time × cores).
2. End-to-end capacity: steps of `--e2e-step-seconds` at each of `--e2e-rates` messages/s. After the
last send of a step, replies are awaited until every message has one or `--keep-up-seconds` past the last
scheduled send. Latency = the fake's arrival time of the reply quoting the message's id (its first part)
minus the message's scheduled send time. A step keeps up when at least 99% of its messages (non-2xx count
as not answered) got their reply within `--keep-up-seconds`; the sustained end-to-end rate is the highest
step that kept up, and the phase stops at the first that does not. Replies/s = the step's replies /
(its first scheduled send to its last reply). Stragglers of one step (at most 1%) run into the next.
3. Soak: `--soak-seconds` at `--soak-fraction` × the sustained end-to-end rate of phase 2 (or
`--soak-rate`). Why not 70% of the ingress knee: the gateway alone accepts many times what one rag
process answers, so 70% of the knee would build an ever-growing backlog and the soak would measure the
queue, not the steady state; 70% of the end-to-end capacity is the rate the system as a whole sustains
with headroom (0.7 × the knee is printed next to it). Then the drain as in `bench.pipeline`: until every
2xx message has its reply, or no reply came for `--idle-timeout` s. Lost = 2xx messages without a reply
after the drain; a duplicate reply is a second send quoting the same inbound id. Sustained replies/s =
replies / (first scheduled send to the last reply). Per process tree (the service and its children;
Postgres = the postmaster and its backends, CPU including backends it reaped; Redis): CPU seconds (user
+ system) from the first to the last send and that ÷ the sending time (% of one core), and the resident
set sampled every `--sample-seconds` s from the first send to the last: at the first sample, the peak,
at the last, and its slope in MB per minute by least squares over the samples from `--soak-warmup` s
(one minute: caches and pools fill) to the last send. Memory is called flat when |slope| × the soak's
minutes stays below 5% of the starting resident set or 10 MB, whichever is larger. Resident sets count
shared pages in every process that touched them (Postgres's shared buffers in each backend), so
Postgres's rises as backends touch more of the buffer pool, which is not a leak; hence the private memory
(USS: pages mapped by that process alone, summed over the tree) is sampled and judged the same way next
to it. `--quick` is a smoke run of a few minutes (see `--help`), with a 15 s memory warm-up.

Left out: TLS, Meta's network, a real LLM (the local answerer is the product's own work), more than one
process per service. Everything, this load generator included, shares the machine's CPUs.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Generator, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

import psutil
import uvloop
from redis.asyncio import Redis

from bench import results
from bench.measure import percentile, process_tree, tree_cpu
from bench.pipeline import (
    MB,
    Deliveries,
    Sent,
    Tenant,
    Usage,
    Webhooks,
    delivery_statuses,
    drain,
    graph_process,
    send_paced,
    service_env,
    services,
    set_up_tenants,
    stored_counts,
    wait_replies,
)
from tests.fixtures.infrastructure import Infrastructure, provide_infrastructure
from tests.fixtures.processes import ServiceProcess
from wafaa.common.db.migrate import migrate

LIMIT_S = 1.0  # the gateway's p99 that ends the ingress ramp
ON_TIME_SHARE = 0.99  # share of a step's messages answered within --keep-up-seconds
FLAT_SHARE = 0.05  # memory drift allowed over the soak: 5% of the starting resident set ...
FLAT_FLOOR_MB = 10.0  # ... or 10 MB, whichever is larger
QUICK = {
    "start_rate": 50.0,
    "max_rate": 200.0,
    "step_seconds": 5.0,
    "e2e_rates": "2,4",
    "e2e_step_seconds": 10.0,
    "soak_seconds": 60.0,
    "soak_warmup": 15.0,
    "tenants": 3,
    "idle_timeout": 30.0,
}


# --- Math ---------------------------------------------------------------------------------------


def p50_95_99(values: Sequence[float]) -> tuple[float, float, float]:
    """Nearest-rank p50, p95 and p99 (NaN when empty)."""
    data = list(values)
    return percentile(data, 0.5), percentile(data, 0.95), percentile(data, 0.99)


def doubling_rates(start: float, maximum: float) -> list[float]:
    """start, 2 × start, 4 × start … while below `maximum`, then `maximum` itself."""
    if start <= 0 or maximum < start:
        raise ValueError(f"rates must satisfy 0 < start <= maximum, got {start} and {maximum}")
    rates = []
    rate = start
    while rate < maximum:
        rates.append(rate)
        rate *= 2
    return [*rates, maximum]


def ingress_latencies(records: Iterable[tuple[float, float, int | None]]) -> list[float]:
    """Seconds from the scheduled send to the answer per (due, answered, status); inf unless 2xx."""
    return [
        answered - due if status is not None and 200 <= status < 300 else math.inf for due, answered, status in records
    ]


def last_passing(steps: Iterable[tuple[float, bool]]) -> float | None:
    """The highest rate among the steps before the first that failed (None when the first failed)."""
    best: float | None = None
    for rate, passed in steps:
        if not passed:
            break
        best = rate if best is None else max(best, rate)
    return best


def under_limit(p99: float, limit: float = LIMIT_S) -> bool:
    """Whether a step's p99 is within the limit (NaN, nothing answered, is not)."""
    return p99 <= limit


def knee(steps: Iterable[tuple[float, float]], limit: float = LIMIT_S) -> float | None:
    """The ingress knee from (offered rate, p99 s) steps in ramp order: the highest rate before the first
    step whose p99 passes `limit`."""
    return last_passing((rate, under_limit(p99, limit)) for rate, p99 in steps)


def on_time_share(delays: Sequence[float | None], within: float) -> float:
    """Share of messages whose reply came within `within` s (None: no reply); NaN when there are none."""
    if not delays:
        return math.nan
    return sum(1 for d in delays if d is not None and d <= within) / len(delays)


def kept_up(delays: Sequence[float | None], within: float, share: float = ON_TIME_SHARE) -> bool:
    """A step keeps up when at least `share` of its messages were answered within `within` s."""
    return on_time_share(delays, within) >= share


def slope(points: Sequence[tuple[float, float]]) -> float:
    """Least-squares slope of y on x (NaN with fewer than two distinct x)."""
    n = len(points)
    if n < 2:
        return math.nan
    mean_x = sum(x for x, _ in points) / n
    mean_y = sum(y for _, y in points) / n
    sxx = sum((x - mean_x) ** 2 for x, _ in points)
    if sxx == 0:
        return math.nan
    return sum((x - mean_x) * (y - mean_y) for x, y in points) / sxx


def rss_slope_mb_per_min(samples: Sequence[tuple[float, int]], start: float, warmup: float, end: float) -> float:
    """MB per minute by least squares over the (time s, bytes) samples from `start + warmup` to `end`."""
    window = [((t - start) / 60, rss / MB) for t, rss in samples if start + warmup <= t <= end]
    return slope(window)


def drift_allowance_mb(start_mb: float) -> float:
    """The drift over the soak still called flat: 5% of the starting resident set or 10 MB, the larger."""
    return max(FLAT_SHARE * start_mb, FLAT_FLOOR_MB)


def memory_flat(slope_mb_per_min: float, minutes: float, start_mb: float) -> bool | None:
    """Whether |slope| × minutes stays below the allowance (None when the slope is unknown)."""
    if math.isnan(slope_mb_per_min):
        return None
    return abs(slope_mb_per_min) * minutes < drift_allowance_mb(start_mb)


# --- Infrastructure and services per phase ------------------------------------------------------


@dataclass
class Stack:
    """One phase's fresh infrastructure, services, tenants and fake Graph API."""

    infra: Infrastructure
    procs: dict[str, ServiceProcess]
    graph_pid: int
    tenants: list[Tenant]
    deliveries: Deliveries
    setup_seconds: float
    warmup: tuple[int, int, float]  # replies, messages, seconds
    prefix: str  # of this phase's message ids (`wamid.<prefix>-n`) and phone numbers

    @property
    def gateway(self) -> ServiceProcess:
        return self.procs["gateway"]

    def pids(self) -> dict[str, int]:
        """The services, Postgres (postmaster) and Redis, by name."""
        pids = {name: p.pid for name, p in self.procs.items()}
        if self.infra.postgres is not None:
            pids["Postgres"] = int((self.infra.postgres.pgdata / "postmaster.pid").read_text().split()[0])
        if self.infra.redis is not None and self.infra.redis.process is not None:
            pids["Redis"] = self.infra.redis.process.pid
        return pids


@contextlib.asynccontextmanager
async def stack(args: argparse.Namespace, phase: str) -> AsyncIterator[Stack]:
    """Fresh Postgres and Redis, the fake Graph API, the five services, tenants with an indexed FAQ, warmed up."""
    logs = Path(tempfile.mkdtemp(prefix=f"bench-soak-{phase}-logs-"))
    uploads = Path(tempfile.mkdtemp(prefix=f"bench-soak-{phase}-uploads-"))
    sends = logs / "graph-sends.jsonl"
    prefix = uuid.uuid4().hex[:8]  # its own per phase: the phases share one database when it is external
    print(f"[{phase}] service logs in {logs}", flush=True)
    try:
        # closing(): the servers go when the phase ends, also on an error (not whenever the generator is collected)
        infrastructure = cast("Generator[Infrastructure, None, None]", provide_infrastructure())
        with contextlib.closing(infrastructure) as provided:
            for infra in provided:
                await migrate(infra.admin_url, infra.app_url)
                with graph_process(sends) as (graph_url, graph_pid):
                    env = service_env(infra, graph_url, uploads, args.log_level, args.turn_window)
                    with services(env, logs, f"[{phase}] ") as procs:
                        started = time.monotonic()
                        tenants = await set_up_tenants(procs["gateway"].url, args.tenants, prefix, 600)
                        setup_seconds = time.monotonic() - started
                        deliveries = Deliveries(sends)
                        warmup = await warm_up(procs["gateway"], tenants, deliveries, prefix, args.warmup_timeout)
                        print(
                            f"[{phase}] {len(tenants)} tenants ready in {setup_seconds:.0f} s; warm-up "
                            f"{warmup[0]}/{warmup[1]} replies in {warmup[2]:.0f} s",
                            flush=True,
                        )
                        yield Stack(infra, procs, graph_pid, tenants, deliveries, setup_seconds, warmup, prefix)
    finally:
        shutil.rmtree(uploads, ignore_errors=True)


async def warm_up(
    gateway: ServiceProcess, tenants: list[Tenant], deliveries: Deliveries, prefix: str, timeout: float
) -> tuple[int, int, float]:
    """One message per tenant, each answered before the clock starts."""
    warm = Webhooks(tenants, gateway.port, prefix + "w").batch(len(tenants), "9400")
    started = time.monotonic()
    sent = await send_paced(gateway.port, [(m, False) for m in warm], 20.0)
    ok = await wait_replies(deliveries, {s.message.id for s in sent}, timeout)
    return ok, len(warm), time.monotonic() - started


def tree_uss(pid: int) -> int:
    """Private memory (unique set: pages no other process maps) of a process and its children, in bytes."""
    total = 0
    for p in process_tree(pid):
        with contextlib.suppress(psutil.Error):
            total += p.memory_full_info().uss
    return total


def machine_busy() -> float:
    """CPU seconds the whole machine has spent busy (every process)."""
    t = psutil.cpu_times()
    return float(t.user + t.nice + t.system + getattr(t, "irq", 0.0) + getattr(t, "softirq", 0.0))


def is_2xx(s: Sent) -> bool:
    return s.status is not None and 200 <= s.status < 300


def error_counts(sent: Iterable[Sent]) -> dict[str, int]:
    """Webhooks not answered 2xx, by status or exception name."""
    errors: dict[str, int] = {}
    for s in sent:
        if not is_2xx(s):
            key = s.error or str(s.status)
            errors[key] = errors.get(key, 0) + 1
    return errors


async def dead_letters(redis: Redis) -> dict[str, int]:
    """Entries per `*.dlq` stream."""
    out = {}
    for key in await redis.keys("*.dlq"):
        name = key.decode() if isinstance(key, bytes) else key
        out[name] = int(await redis.xlen(name))
    return out


# --- Phase 1: the ingress knee ------------------------------------------------------------------


@dataclass
class IngressStep:
    offered: float
    sent: list[Sent]
    seconds: float  # first scheduled send to the last answer
    gateway_cpu: float
    client_cpu: float
    machine_cpu: float
    wall: float

    @property
    def latencies(self) -> list[float]:
        return ingress_latencies((s.due, s.answered, s.status) for s in self.sent)

    @property
    def p99(self) -> float:
        return percentile(self.latencies, 0.99)


@dataclass
class IngressPhase:
    steps: list[IngressStep] = field(default_factory=list)
    setup_seconds: float = 0.0

    @property
    def knee(self) -> float | None:
        return knee((s.offered, s.p99) for s in self.steps)


async def ingress_phase(args: argparse.Namespace) -> IngressPhase:
    """Webhooks at doubling rates until the gateway's p99 passes 1 s."""
    phase = IngressPhase()
    async with stack(args, "ingress") as s:
        phase.setup_seconds = s.setup_seconds
        hooks = Webhooks(s.tenants, s.gateway.port, s.prefix)
        for k, rate in enumerate(doubling_rates(args.start_rate, args.max_rate)):
            messages = hooks.batch(max(1, round(rate * args.step_seconds)), f"95{k:02d}")
            gateway0, client0, machine0 = tree_cpu(s.gateway.pid), time.process_time(), machine_busy()
            started = time.perf_counter()
            sent = await send_paced(s.gateway.port, [(m, False) for m in messages], rate)
            wall = time.perf_counter() - started
            last = max((x.answered for x in sent if x.answered), default=sent[0].due)
            step = IngressStep(
                offered=rate,
                sent=sent,
                seconds=max(last - sent[0].due, 1e-9),
                gateway_cpu=tree_cpu(s.gateway.pid) - gateway0,
                client_cpu=time.process_time() - client0,
                machine_cpu=machine_busy() - machine0,
                wall=wall,
            )
            phase.steps.append(step)
            p50, _, p99 = p50_95_99(step.latencies)
            print(
                f"[ingress] {rate:,.0f}/s offered: {len(sent) / step.seconds:,.0f}/s achieved, "
                f"p50 {p50:.3f} s, p99 {p99:.3f} s, {len(error_counts(sent))} error kinds",
                flush=True,
            )
            if not under_limit(step.p99):
                break
    return phase


# --- Phase 2: end-to-end capacity ---------------------------------------------------------------


@dataclass
class E2EStep:
    rate: float
    sent: list[Sent]
    delays: list[float | None]  # per message: reply arrival - scheduled send, None without a reply by the verdict
    replies_per_s: float
    cpu: dict[str, float]  # CPU seconds over the step and its wait, per process tree
    machine_cpu: float
    wall: float
    within: float  # --keep-up-seconds

    @property
    def share(self) -> float:
        return on_time_share(self.delays, self.within)

    @property
    def kept(self) -> bool:
        return kept_up(self.delays, self.within)


@dataclass
class E2EPhase:
    steps: list[E2EStep] = field(default_factory=list)
    setup_seconds: float = 0.0

    @property
    def sustained(self) -> float | None:
        return last_passing((s.rate, s.kept) for s in self.steps)


def parse_rates(text: str) -> list[float]:
    """`2,4,8` → [2.0, 4.0, 8.0]."""
    rates = [float(part) for part in text.split(",") if part.strip()]
    if not rates or any(r <= 0 for r in rates):
        raise ValueError(f"rates must be positive numbers separated by commas, got {text!r}")
    return rates


async def e2e_phase(args: argparse.Namespace) -> E2EPhase:
    """Steps at the given message rates until one does not keep up."""
    phase = E2EPhase()
    async with stack(args, "e2e") as s:
        phase.setup_seconds = s.setup_seconds
        hooks = Webhooks(s.tenants, s.gateway.port, s.prefix)
        pids = {name: pid for name, pid in s.pids().items() if name in ("rag", "Postgres")}
        for k, rate in enumerate(parse_rates(args.e2e_rates)):
            messages = hooks.batch(max(1, round(rate * args.e2e_step_seconds)), f"96{k:02d}")
            cpu0 = {name: tree_cpu(pid, reaped=True) for name, pid in pids.items()}
            machine0, started = machine_busy(), time.perf_counter()
            sent = await send_paced(s.gateway.port, [(m, False) for m in messages], rate)
            ok_ids = {x.message.id for x in sent if is_2xx(x)}
            deadline = sent[-1].due + args.keep_up_seconds + 0.5
            d = s.deliveries
            while time.time() < deadline:
                d.poll()
                if d.answered(ok_ids) >= len(ok_ids):
                    break
                await asyncio.sleep(0.2)
            d.poll()
            delays: list[float | None] = [
                d.by_inbound[x.message.id][0] - x.due if is_2xx(x) and x.message.id in d.by_inbound else None
                for x in sent
            ]
            arrivals = [d.by_inbound[i][0] for i in ok_ids if i in d.by_inbound]
            span = max(arrivals, default=sent[0].due) - sent[0].due
            step = E2EStep(
                rate=rate,
                sent=sent,
                delays=delays,
                replies_per_s=len(arrivals) / span if span > 0 else math.nan,
                cpu={name: tree_cpu(pid, reaped=True) - cpu0[name] for name, pid in pids.items()},
                machine_cpu=machine_busy() - machine0,
                wall=time.perf_counter() - started,
                within=args.keep_up_seconds,
            )
            phase.steps.append(step)
            got = [x for x in delays if x is not None]
            print(
                f"[e2e] {rate:g}/s: {len(got)}/{len(sent)} replies, {step.share:.1%} within "
                f"{args.keep_up_seconds:g} s, p99 {percentile(got, 0.99):.2f} s, "
                f"{'kept up' if step.kept else 'did not keep up'}",
                flush=True,
            )
            if not step.kept:
                break
    return phase


# --- Phase 3: the soak --------------------------------------------------------------------------


class RssSeries(Usage):
    """`bench.pipeline.Usage` (CPU between start and stop, peak RSS) keeping every sample of the resident
    set and of the private memory (USS), taken every `interval` s on a fixed schedule; CPU includes the
    children a process reaped (Postgres's backends that came and went)."""

    def __init__(self, pids: dict[str, int], interval: float) -> None:
        super().__init__(pids)
        self.interval = interval
        self.samples: dict[str, list[tuple[float, int]]] = {name: [] for name in pids}
        self.private: dict[str, list[tuple[float, int]]] = {name: [] for name in pids}

    def _cpu(self, pid: int) -> float:
        return tree_cpu(pid, reaped=True)

    def _sample(self) -> None:
        now = time.monotonic()
        for name, pid in self.pids.items():
            rss = self._rss(pid)
            self.peak[name] = max(self.peak[name], rss)
            self.samples[name].append((now, rss))
            self.private[name].append((now, tree_uss(pid)))

    async def _loop(self) -> None:
        start = time.monotonic()
        n = 0
        while True:
            await asyncio.to_thread(self._sample)
            n += 1
            await asyncio.sleep(max(0.0, start + n * self.interval - time.monotonic()))


@dataclass
class SoakRun:
    rate: float
    sent: list[Sent]
    deliveries: Deliveries
    send_seconds: float
    first_due: float
    last_sent: float
    drained: bool
    series: RssSeries
    window: tuple[float, float]  # monotonic first and last send
    stored: tuple[int, int, int]
    statuses: dict[str, int]
    dead_letters: dict[str, int]
    setup_seconds: float
    prefix: str


async def soak_phase(args: argparse.Namespace, rate: float) -> SoakRun:
    """`--soak-seconds` at `rate`, memory sampled, then the drain."""
    async with stack(args, "soak") as s:
        hooks = Webhooks(s.tenants, s.gateway.port, s.prefix)
        messages = hooks.batch(max(1, round(rate * args.soak_seconds)), "9700")
        series = RssSeries(s.pids(), args.sample_seconds)
        d = s.deliveries
        ids = {m.id for m in messages}

        async def progress() -> None:
            t0 = time.monotonic()
            while True:
                await asyncio.sleep(30)
                d.poll()
                rag = series.samples["rag"][-1][1] / MB if series.samples["rag"] else math.nan
                print(f"[soak] {time.monotonic() - t0:5.0f} s: {d.answered(ids):,} replied, rag {rag:,.0f} MB")

        series.start()
        window_start = time.monotonic()
        reporter = asyncio.create_task(progress())
        t0 = time.perf_counter()
        sent = await send_paced(s.gateway.port, [(m, False) for m in messages], rate)
        send_seconds = time.perf_counter() - t0
        last_sent = time.time()
        await series.stop()  # CPU and memory over the sending only
        window_end = time.monotonic()
        ok_ids = {x.message.id for x in sent if is_2xx(x)}
        drained = await drain(d, ok_ids, args.idle_timeout, args.drain_timeout)
        await asyncio.sleep(args.settle)  # late duplicates would show here
        d.poll()
        reporter.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reporter
        redis = Redis.from_url(s.infra.redis_url)
        try:
            dead = await dead_letters(redis)
        finally:
            await redis.aclose()
        return SoakRun(
            rate=rate,
            sent=sent,
            deliveries=d,
            send_seconds=send_seconds,
            first_due=sent[0].due,
            last_sent=last_sent,
            drained=drained,
            series=series,
            window=(window_start, window_end),
            stored=await stored_counts(s.infra, s.prefix),
            prefix=s.prefix,
            statuses=await delivery_statuses(s.infra, "9700"),
            dead_letters=dead,
            setup_seconds=s.setup_seconds,
        )


# --- Report -------------------------------------------------------------------------------------


def triple(values: Sequence[float], digits: int = 2) -> str:
    return " / ".join(f"{v:,.{digits}f}" for v in p50_95_99(values))


def rate_text(rate: float | None) -> str:
    return "undefined (no knee found)" if rate is None else f"{rate:,.4g}/s"


def report(
    args: argparse.Namespace,
    ingress: IngressPhase,
    e2e: E2EPhase,
    soak: SoakRun,
    soak_note: str,
    load: tuple[float, float],
) -> str:
    """The markdown tables and the reading."""
    cores = os.cpu_count() or 1
    lines = [
        f"{args.tenants} tenants per phase, one customer per message, `TURN_WINDOW_SECONDS={args.turn_window:g}`, "
        f"`LOG_LEVEL={args.log_level}`; set-up (tenants, channels, FAQs indexed) took "
        f"{ingress.setup_seconds:.0f} / {e2e.setup_seconds:.0f} / {soak.setup_seconds:.0f} s in the three phases.",
        "",
        f"**1. Ingress knee** ({args.step_seconds:g} s per step, webhooks/s doubling from {args.start_rate:g} "
        f"up to {args.max_rate:g}, stop after p99 > {LIMIT_S:g} s; all five services running):",
        "",
        "| Offered webhooks/s | Webhooks | Achieved/s | Not 2xx | Gateway p50 / p95 / p99 (s) "
        "| CPU % of one core: gateway / bench client | Machine busy |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for st in ingress.steps:
        errors = error_counts(st.sent)
        error_text = ", ".join(f"{k}×{v}" for k, v in errors.items()) or "0"
        lines.append(
            f"| {st.offered:,.0f} | {len(st.sent):,} | {len(st.sent) / st.seconds:,.0f} | {error_text} "
            f"| {triple(st.latencies, 3)} | {st.gateway_cpu / st.wall:.0%} / {st.client_cpu / st.wall:.0%} "
            f"| {st.machine_cpu / st.wall / cores:.0%} of {cores} cores |"
        )
    lines += [
        "",
        f"**2. End-to-end capacity** ({args.e2e_step_seconds:g} s per step; kept up = at least "
        f"{ON_TIME_SHARE:.0%} of the messages answered at the fake Graph API within {args.keep_up_seconds:g} s):",
        "",
        "| Offered messages/s | Messages | Not 2xx | Answered in time | Replies/s delivered "
        "| Webhook → delivered p50 / p95 / p99 (s) | CPU % of one core: rag / Postgres | Machine busy | Kept up |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for es in e2e.steps:
        got = [x for x in es.delays if x is not None]
        not_ok = sum(1 for x in es.sent if not is_2xx(x))
        lines.append(
            f"| {es.rate:g} | {len(es.sent):,} | {not_ok} | {es.share:.1%} | {es.replies_per_s:,.1f} "
            f"| {triple(got)} | {es.cpu['rag'] / es.wall:.0%} / {es.cpu.get('Postgres', math.nan) / es.wall:.0%} "
            f"| {es.machine_cpu / es.wall / cores:.0%} | {'yes' if es.kept else '**no**'} |"
        )

    # The soak.
    d, sent = soak.deliveries, soak.sent
    ok = [x for x in sent if is_2xx(x)]
    ok_ids = {x.message.id for x in ok}
    all_ids = {x.message.id for x in sent}
    latencies = [d.by_inbound[x.message.id][0] - x.due for x in ok if x.message.id in d.by_inbound]
    delivered = len(latencies)
    lost = len(ok_ids) - delivered
    duplicates = sum(len(d.by_inbound[i]) - 1 for i in ok_ids if i in d.by_inbound)
    stray = sum(len(v) for k, v in d.by_inbound.items() if k.startswith(f"wamid.{soak.prefix}-") and k not in all_ids)
    last_delivery = max((d.by_inbound[i][0] for i in ok_ids if i in d.by_inbound), default=soak.first_due)
    span = last_delivery - soak.first_due
    sustained = delivered / span if span > 0 else math.nan
    errors = error_counts(sent)
    _, _, unanswered = soak.stored
    lines += [
        "",
        f"**3. Soak**: {soak_note}",
        "",
        "| Metric | Value |",
        "|---|---:|",
        f"| Messages sent | {len(sent):,} in {soak.send_seconds:,.1f} s = {len(sent) / soak.send_seconds:,.2f}/s |",
        f"| Answered 2xx by the gateway | {len(ok):,} "
        f"({', '.join(f'{k}×{v}' for k, v in errors.items()) or 'no errors'}) |",
        f"| Replies delivered | {delivered:,} of {len(ok_ids):,} |",
        f"| **Sustained replies/s** (first send → last delivery, {span:,.1f} s) | **{sustained:,.2f}** |",
        f"| Webhook → delivered p50 / p95 / p99 / max (s) | {triple(latencies)} / {max(latencies, default=0):,.2f} |",
        f"| Drain after the last send (s) | {last_delivery - soak.last_sent:,.1f}"
        f"{'' if soak.drained else ' (did not drain)'} |",
        f"| Lost (2xx, no reply after the drain) | {lost}{f' ({unanswered} stored unanswered)' if lost else ''} |",
        f"| Duplicate replies (second send quoting one id) | {duplicates} |",
        f"| Replies to ids never sent, sends without a quoted id | {stray}, {d.unquoted} |",
        f"| channels.deliveries by status | {', '.join(f'{k} {v:,}' for k, v in sorted(soak.statuses.items()))} |",
        f"| Dead letters (`*.dlq` entries) | {', '.join(f'{k} {v}' for k, v in soak.dead_letters.items()) or 'none'} |",
    ]
    start, end = soak.window
    minutes = (end - start) / 60
    warm = min(args.soak_warmup, end - start)
    lines += [
        "",
        f"Processes over the sending ({end - start:,.0f} s; memory every {args.sample_seconds:g} s, slopes by least "
        f"squares from {warm:g} s to the last send; flat: |slope| × {minutes:,.1f} min < max(5% of start, 10 MB); "
        "private = USS, the pages only that process tree maps, without shared libraries and Postgres's shared "
        "buffers):",
        "",
        "| Process (tree) | CPU s | CPU % of one core | RSS MB start / peak / end | RSS slope MB/min "
        "| Drift / allowed MB | Flat | Private MB start / end | Private slope MB/min | Private flat |",
        "|---|---:|---:|---:|---:|---:|---|---:|---:|---|",
    ]

    def verdict(flat: bool | None) -> str:
        return "yes" if flat else "too short" if flat is None else "**no**"

    verdicts: dict[str, tuple[bool | None, bool | None]] = {}
    for name in soak.series.pids:
        samples, private = soak.series.samples[name], soak.series.private[name]
        first_mb = samples[0][1] / MB if samples else math.nan
        last_mb = samples[-1][1] / MB if samples else math.nan
        mb_min = rss_slope_mb_per_min(samples, start, args.soak_warmup, end)
        flat = memory_flat(mb_min, minutes, first_mb)
        first_uss = private[0][1] / MB if private else math.nan
        last_uss = private[-1][1] / MB if private else math.nan
        uss_min = rss_slope_mb_per_min(private, start, args.soak_warmup, end)
        uss_flat = memory_flat(uss_min, minutes, first_uss)
        verdicts[name] = (flat, uss_flat)
        cpu = soak.series.cpu.get(name, math.nan)
        lines.append(
            f"| {name} | {cpu:,.1f} | {cpu / (end - start):.0%} | {first_mb:,.0f} / "
            f"{soak.series.peak[name] / MB:,.0f} / {last_mb:,.0f} | {mb_min:+,.2f} "
            f"| {abs(mb_min) * minutes:,.1f} / {drift_allowance_mb(first_mb):,.1f} | {verdict(flat)} "
            f"| {first_uss:,.0f} / {last_uss:,.0f} | {uss_min:+,.2f} | {verdict(uss_flat)} |"
        )
    busy = soak.series.machine_busy
    lines.append(
        f"| the whole machine (every process) | {busy:,.1f} | {busy / (end - start):.0%} of {cores} cores |" + " |" * 7
    )

    k, e = ingress.knee, e2e.sustained
    last_ingress = ingress.steps[-1] if ingress.steps else None
    if k is None:
        knee_text = f"not found: p99 passed {LIMIT_S:g} s at the first step ({args.start_rate:g}/s)"
    elif last_ingress is not None and under_limit(last_ingress.p99):
        knee_text = f"at least {k:,.0f} webhooks/s (p99 stayed under {LIMIT_S:g} s up to --max-rate)"
    else:
        assert last_ingress is not None
        knee_text = (
            f"**{k:,.0f} webhooks/s** (p99 {last_ingress.p99:,.2f} s at the next step, {last_ingress.offered:,.0f}/s)"
        )
    if e is None:
        e2e_text = f"none: the first step ({e2e.steps[0].rate:g}/s) did not keep up" if e2e.steps else "none"
    elif e2e.steps and e2e.steps[-1].kept:
        e2e_text = f"**at least {e:g} messages/s** (every step kept up)"
    else:
        e2e_text = f"**{e:g} messages/s** ({e2e.steps[-1].rate:g}/s did not keep up)"
    flat_yes = [n for n, (v, _) in verdicts.items() if v]
    private_text = {True: "its private memory is flat", False: "its private memory grows too", None: "too short"}
    flat_no = [f"{n} ({private_text[u]})" for n, (v, u) in verdicts.items() if v is False]
    flat_unknown = [n for n, (v, _) in verdicts.items() if v is None]
    clean = lost == 0 and duplicates == 0 and stray == 0
    lines += [
        "",
        f"- Ingress knee (highest doubling step with the gateway's p99 ≤ {LIMIT_S:g} s): {knee_text}.",
        f"- Sustained end to end with the local answerer (highest step with ≥ {ON_TIME_SHARE:.0%} answered within "
        f"{args.keep_up_seconds:g} s): {e2e_text}; soak rate {soak.rate:,.2f}/s; 0.7 × the ingress knee would be "
        f"{rate_text(None if k is None else 0.7 * k)}.",
        f"- Resident set flat over the soak (rule above): {', '.join(flat_yes) or 'none'}"
        + (f"; **not flat**: {', '.join(flat_no)}" if flat_no else "")
        + (f"; too short to tell: {', '.join(flat_unknown)}" if flat_unknown else "")
        + ".",
        f"- Nothing lost or duplicated in the soak: **{'met' if clean else 'not met'}** ({lost} lost, "
        f"{duplicates} duplicate replies, {stray} replies to unknown ids"
        f"{'' if soak.drained else '; the drain was cut off, so lost ones may only be late'}).",
        f"- CPU per message over the soak: {per_message_cpu(soak)}.",
        f"- Reading Redis's growth: {redis_growth(soak)}",
        f"- Load average (1 min) before / after: {load[0]:.2f} / {load[1]:.2f} on {cores} CPUs shared with other work.",
    ]
    return "\n".join(lines)


def per_message_cpu(soak: SoakRun) -> str:
    """Each process tree's CPU over the sending divided by the messages sent, the busiest first."""
    count = max(len(soak.sent), 1)
    costs = sorted(((cpu / count * 1000, name) for name, cpu in soak.series.cpu.items()), reverse=True)
    return ", ".join(f"{name} {ms:,.0f} ms" for ms, name in costs)


def redis_growth(soak: SoakRun) -> str:
    """How much Redis's private memory grew per message, and what bounds it."""
    private = soak.series.private.get("Redis") or []
    if len(private) < 2:
        return "not sampled."
    grown = (private[-1][1] - private[0][1]) / MB
    per_message = grown * 1024 / max(len(soak.sent), 1)
    return (
        f"{grown:,.1f} MB over {len(soak.sent):,} messages, about {per_message:,.1f} KB per message: the stream entries"
        " each message leaves (kept up to `STREAM_MAXLEN` per stream) and the webhook dedup keys (kept"
        " `WEBHOOK_DEDUP_TTL_SECONDS`, 7 days by default, as Meta re-delivers for 7 days). Both are bounded by those"
        " settings, not leaks, but at a steady rate the bound is gigabytes: size Redis's memory from them."
    )


# --- Main ---------------------------------------------------------------------------------------


async def run(args: argparse.Namespace) -> str:
    """The three phases and the report."""
    load_before = os.getloadavg()[0]
    ingress = await ingress_phase(args)
    e2e = await e2e_phase(args)
    sustained = e2e.sustained
    if args.soak_rate is not None:
        rate = args.soak_rate
        note = f"{rate:g} messages/s (`--soak-rate`)"
    elif sustained is not None:
        rate = args.soak_fraction * sustained
        note = f"{rate:,.2f} messages/s = {args.soak_fraction:g} × the sustained end-to-end rate ({sustained:g}/s)"
    else:
        lowest = parse_rates(args.e2e_rates)[0]
        rate = args.soak_fraction * lowest
        note = (
            f"{rate:,.2f} messages/s = {args.soak_fraction:g} × the lowest end-to-end step ({lowest:g}/s), "
            "since no step kept up"
        )
    k = ingress.knee
    note += (
        f" for {args.soak_seconds:g} s (0.7 × the ingress knee would be {rate_text(None if k is None else 0.7 * k)})."
    )
    print(f"[soak] {note}", flush=True)
    soak = await soak_phase(args, rate)
    return report(args, ingress, e2e, soak, note, (load_before, os.getloadavg()[0]))


def command_line(parser: argparse.ArgumentParser, given: argparse.Namespace) -> str:
    """`results.command` with `--quick` written as the flag it is."""
    options = argparse.Namespace(**{k: v for k, v in vars(given).items() if k != "quick"})
    text = results.command("bench.soak", parser, options)
    return text[:-1] + " --quick`" if given.quick else text


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=20)
    parser.add_argument("--start-rate", type=float, default=50.0, help="first ingress step, webhooks/s")
    parser.add_argument("--max-rate", type=float, default=3200.0, help="last ingress step, webhooks/s")
    parser.add_argument("--step-seconds", type=float, default=10.0, help="length of an ingress step")
    parser.add_argument("--e2e-rates", default="2,4,8,12,16,24,32", help="end-to-end steps, messages/s")
    parser.add_argument("--e2e-step-seconds", type=float, default=30.0, help="length of an end-to-end step")
    parser.add_argument("--keep-up-seconds", type=float, default=10.0, help="a reply in time arrives within this")
    parser.add_argument("--soak-seconds", type=float, default=600.0)
    parser.add_argument("--soak-fraction", type=float, default=0.7, help="of the sustained end-to-end rate")
    parser.add_argument("--soak-rate", type=float, default=None, help="messages/s, instead of the fraction")
    parser.add_argument("--soak-warmup", type=float, default=60.0, help="left out of the memory slope, s")
    parser.add_argument("--sample-seconds", type=float, default=5.0, help="resident set sampling interval")
    parser.add_argument("--turn-window", type=float, default=0.0, help="TURN_WINDOW_SECONDS of rag")
    parser.add_argument("--log-level", default="WARNING", help="LOG_LEVEL of every service")
    parser.add_argument("--idle-timeout", type=float, default=120.0, help="drain ends after so long without a reply")
    parser.add_argument("--drain-timeout", type=float, default=3600.0, help="longest drain after the last send")
    parser.add_argument("--settle", type=float, default=5.0, help="wait after the drain for late duplicates")
    parser.add_argument("--warmup-timeout", type=float, default=300.0)
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a smoke run of a few minutes: " + ", ".join(f"{k.replace('_', '-')} {v}" for k, v in QUICK.items()),
    )
    parser.add_argument("--no-write", action="store_true", help="print only; leave RESULTS.md alone")
    args = parser.parse_args(argv)
    given = argparse.Namespace(**vars(args))
    if args.quick:
        defaults = parser.parse_args([])
        for key, value in QUICK.items():
            if getattr(args, key) == getattr(defaults, key):  # an option given explicitly wins
                setattr(args, key, value)
    try:
        parse_rates(args.e2e_rates)
        doubling_rates(args.start_rate, args.max_rate)
    except ValueError as exc:
        parser.error(str(exc))
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        table = runner.run(run(args))
    packages = ("fastapi", "uvicorn", "faststream", "redis", "sqlalchemy", "asyncpg")
    title = "Load: knee, capacity and soak"
    results.publish("load", title, command_line(parser, given), __doc__, table, packages, write=not args.no_write)


if __name__ == "__main__":
    main()
