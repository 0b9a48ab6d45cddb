"""Webhook ingress benchmark: signed WhatsApp text webhooks at one gateway process next to a bare HMAC floor.


The gateway runs as in production (`python -m wafaa.gateway`, one uvicorn process, LOG_LEVEL=WARNING) on
an embedded Postgres and Redis, migrated; a tenant and owner are created through the platform API and a
WhatsApp channel through `POST /api/v1/channels` (`access_token` "EAAG-bench-token"). Every request is
`POST /api/v1/webhooks/whatsapp` with the body of `../shared/reference/meta-payloads/wa_text.json`
(compact JSON), `metadata.phone_number_id` set to that channel and a unique `messages[0].id`, signed
with `X-Hub-Signature-256` = `sign(raw, DEV_META_APP_SECRET)`. So each request parses the body, looks up
the channel route in Postgres, checks the HMAC, claims the message id in Redis (`SET NX EX`) and appends
a `MessageReceived` to `wafaa.message.received` before answering 200. The floor is a bare ASGI app on
uvicorn (`python -m bench.floor`, one process, no framework) that reads the raw body, verifies its HMAC
with the same function and answers 200 with the gateway's JSON shape. A third side, the store floor
(`FLOOR_KIND=webhook-store`), does what the floor does plus `json.loads` of the body and an `XADD` of the
raw bytes with a plain redis-py client before its 200, the appends of one event-loop turn in one pipeline:
the least any endpoint that stores a webhook before answering (as Meta's retries require) can do with
these parts. All sides get the very same signed bodies (fresh ids per round), serialised before the
clock starts.
Client (both sides): `bench.http_load`, a small asyncio HTTP/1.1 client on uvloop in the benchmark
process (httpx was the bottleneck, see that module), keep-alive over loopback.
Full speed: a fixed number of connections with one request in flight each, a fixed number of requests per
round after a warm-up, sides alternating round by round; the median round (by webhooks/s) is shown with
all rounds in brackets. Paced: 500 webhooks/s on a fixed schedule for 10 s (open loop, latency from each
request's due time, at most 256 in flight). Latency is send to full response, nearest-rank percentiles.
Server CPU µs/webhook = user + system CPU of the server process during the run / requests.
The client, the servers and Postgres/Redis share the machine's CPUs.
"""

from __future__ import annotations

import argparse
import json
import statistics
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from redis import Redis

from bench import http_load, results
from bench.http_stack import floor, gateway
from wafaa.common.events import MessageReceived
from wafaa.gateway.config import DEV_META_APP_SECRET
from wafaa.gateway.webhooks.signature import sign

PATH = "/api/v1/webhooks/whatsapp"
PAYLOAD = Path(__file__).resolve().parents[2] / "shared" / "reference" / "meta-payloads" / "wa_text.json"
MARKER = "wamid.BENCH-MESSAGE-ID"
STORE_STREAM = "bench.floor.webhooks"  # where the store floor appends


def _template(phone_number_id: str) -> str:
    body = json.loads(PAYLOAD.read_text())
    value = body["entry"][0]["changes"][0]["value"]
    value["metadata"]["phone_number_id"] = phone_number_id
    value["messages"][0]["id"] = MARKER
    return json.dumps(body, separators=(",", ":"))


def _requests(template: str, port: int, count: int) -> list[bytes]:
    """`count` signed requests, each with a message id never used before."""
    out = []
    for _ in range(count):
        raw = template.replace(MARKER, f"wamid.bench-{uuid.uuid4().hex}").encode()
        headers = {"content-type": "application/json", "x-hub-signature-256": sign(raw, DEV_META_APP_SECRET)}
        out.append(http_load.request_bytes("POST", PATH, port, headers, raw))
    return out


def _builder(requests: list[bytes]) -> Callable[[int], bytes]:
    return requests.__getitem__


async def _full_speed(port: int, pid: int, template: str, args: argparse.Namespace) -> http_load.Run:
    warm = _requests(template, port, args.warmup)
    timed = _requests(template, port, args.requests)
    await http_load.closed_loop(port, _builder(warm), args.concurrency, len(warm), pid)
    return await http_load.closed_loop(port, _builder(timed), args.concurrency, len(timed), pid)


async def _paced(port: int, pid: int, template: str, args: argparse.Namespace) -> http_load.Run:
    timed = _requests(template, port, int(args.rate * args.seconds))
    return await http_load.paced(port, _builder(timed), args.rate, args.seconds, pid)


def _print(label: str, run: http_load.Run) -> None:
    print(
        f"{label}: {run.rps:,.0f}/s p50 {run.pct(0.5):.1f} ms p99 {run.pct(0.99):.1f} ms errors {run.error_text()}",
        flush=True,
    )


def run(args: argparse.Namespace) -> dict[str, Any]:
    load_before = http_load.load_average()
    phone = f"bench{uuid.uuid4().int % 10**12}"
    with gateway() as gw:
        channel = httpx.post(
            f"{gw.process.url}/api/v1/channels",
            headers=gw.auth_headers,
            json={"platform": "whatsapp", "phone_number_id": phone, "access_token": "EAAG-bench-token"},
            timeout=30,
        )
        channel.raise_for_status()
        template = _template(phone)
        probe = template.replace(MARKER, f"wamid.probe-{uuid.uuid4().hex}").encode()
        first = httpx.post(
            f"{gw.process.url}{PATH}",
            content=probe,
            headers={"content-type": "application/json", "x-hub-signature-256": sign(probe, DEV_META_APP_SECRET)},
            timeout=30,
        )
        first.raise_for_status()
        assert first.json()["accepted"] == 1, first.text
        redis = Redis.from_url(gw.infra.redis_url)
        stream_before = redis.xlen(MessageReceived.stream)
        store_env = {"REDIS_URL": gw.infra.redis_url, "FLOOR_STREAM": STORE_STREAM}
        with floor("webhook") as bare, floor("webhook-store", env=store_env) as store:
            procs = (("gateway", gw.process), ("floor", bare), ("store", store))
            sides: dict[str, list[http_load.Run]] = {side: [] for side, _ in procs}
            for n in range(args.rounds):
                for side, proc in procs:
                    measured = http_load.run_async(_full_speed(proc.port, proc.pid, template, args))
                    assert isinstance(measured, http_load.Run)
                    sides[side].append(measured)
                    _print(f"round {n + 1} {side} full speed", measured)
            paced: dict[str, http_load.Run] = {}
            for side, proc in procs:
                measured = http_load.run_async(_paced(proc.port, proc.pid, template, args))
                assert isinstance(measured, http_load.Run)
                paced[side] = measured
                _print(f"{side} paced {args.rate:g}/s", measured)
        appended = redis.xlen(MessageReceived.stream) - stream_before
        stored = redis.xlen(STORE_STREAM)
        redis.close()

    def answered(side: str) -> int:
        return sum(r.ok for r in sides[side]) + paced[side].ok + args.warmup * args.rounds

    return {
        "sides": sides,
        "paced": paced,
        "appended": appended,
        "sent_ok": answered("gateway"),
        "stored": stored,
        "store_ok": answered("store"),
        "load": (load_before, http_load.load_average()),
        "bytes": len(probe),
    }


def _row(label: str, runs: list[http_load.Run], paced: http_load.Run, floor_rps: float) -> str:
    median = sorted(runs, key=lambda r: r.rps)[len(runs) // 2]
    all_rps = ", ".join(f"{r.rps:,.0f}" for r in runs)
    errors = sum(sum(r.errors.values()) for r in runs)
    cpu = median.cpu_server / max(median.ok, 1) * 1e6
    return (
        f"| {label} | {median.rps:,.0f} ({all_rps}) | {median.rps / floor_rps:.0%} | {median.pct(0.5):.1f} / "
        f"{median.pct(0.99):.1f} | {paced.rps:,.0f} | {paced.pct(0.5):.1f} / {paced.pct(0.99):.1f} / "
        f"{max(paced.latencies, default=float('nan')):.1f} | {cpu:,.0f} | {errors} full speed, "
        f"{sum(paced.errors.values())} paced |"
    )


def render(args: argparse.Namespace, measured: dict[str, Any]) -> str:
    sides, paced = measured["sides"], measured["paced"]
    floor_rps = statistics.median(r.rps for r in sides["floor"])
    ratio = statistics.median(r.rps for r in sides["gateway"]) / floor_rps
    store_ratio = statistics.median(r.rps for r in sides["gateway"]) / statistics.median(r.rps for r in sides["store"])
    p99 = paced["gateway"].pct(0.99)
    cpu = {side: sum(r.cpu_server for r in rs) / max(sum(r.ok for r in rs), 1) * 1e6 for side, rs in sides.items()}
    paced_ok = paced["gateway"].ok == int(args.rate * args.seconds)
    lines = [
        f"Load: full speed {args.requests:,} webhooks per round after {args.warmup:,} warm-up webhooks, "
        f"{args.concurrency} connections, {args.rounds} rounds per side; paced {args.rate:g}/s for "
        f"{args.seconds:g} s ({int(args.rate * args.seconds):,} webhooks). Body: {measured['bytes']} bytes.",
        "",
        f"| Side | Webhooks/s full speed (median round; all rounds) | Ratio to floor | p50 / p99 full speed (ms) "
        f"| Achieved/s paced | p50 / p99 / max at {args.rate:g}/s (ms) | Server CPU µs/webhook | Errors |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
        _row(
            "gateway (parse + route lookup + HMAC + Redis dedup + XADD)",
            sides["gateway"],
            paced["gateway"],
            floor_rps,
        ),
        _row("bare uvicorn floor (HMAC of the raw body, 200)", sides["floor"], paced["floor"], floor_rps),
        _row(
            "store floor (the floor + `json.loads` + a raw redis-py XADD, pipelined per loop turn)",
            sides["store"],
            paced["store"],
            floor_rps,
        ),
        "",
        f"- Events appended to `{MessageReceived.stream}` by the timed and warm-up requests: "
        f"{measured['appended']:,} for {measured['sent_ok']:,} webhooks answered 2xx; the store floor appended "
        f"{measured['stored']:,} entries for {measured['store_ok']:,}.",
        f"- Target: p99 under 50 ms at {args.rate:g} webhooks/s: "
        f"**{'met' if p99 < 50 and paced_ok else 'not met'}** (p99 {p99:.1f} ms, "
        f"{paced['gateway'].ok:,}/{int(args.rate * args.seconds):,} answered 2xx, "
        f"achieved {paced['gateway'].rps:,.0f}/s).",
        f"- Target: at least 50% of the floor's throughput: **{'met' if ratio >= 0.5 else 'not met'}** ({ratio:.0%}).",
        f"- CPU per webhook over every full-speed round: gateway {cpu['gateway']:,.0f} µs, floor {cpu['floor']:,.0f} µs"
        f" ({cpu['floor'] / cpu['gateway']:.0%} of the gateway's), store floor {cpu['store']:,.0f} µs"
        f" ({cpu['store'] / cpu['gateway']:.0%} of the gateway's). Each side is one process and the busier it is the"
        " closer its CPU bounds its rate, so these ratios are the throughput ratios without the floors'"
        " round-to-round swings (the client and the servers share 2 CPUs).",
        f"- Against the store floor the gateway reaches {store_ratio:.0%} of its throughput (median rounds): the store"
        " floor's own ratio to the floor is the most that storing a webhook before answering leaves, before any"
        " parsing, routing, deduplication or event building.",
        f"- Load average (1 min) before / after the run: {measured['load'][0]} / {measured['load'][1]} "
        "on 2 CPUs shared with other work.",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--warmup", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--rate", type=float, default=500)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--no-write", action="store_true", help="print only; leave RESULTS.md alone")
    args = parser.parse_args(argv)
    table = render(args, run(args))
    command = results.command("bench.webhooks", parser, args)
    packages = ("fastapi", "uvicorn", "sqlalchemy", "asyncpg", "redis")
    results.publish("webhooks", "Webhook ingress", command, __doc__, table, packages, write=not args.no_write)


if __name__ == "__main__":
    main()
