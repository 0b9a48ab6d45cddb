"""Auth benchmark: authenticated `GET /api/v1/auth/me` on one gateway process next to a bare uvicorn floor.


The gateway runs as in production (`python -m wafaa.gateway`, one uvicorn process, LOG_LEVEL=WARNING) on
an embedded Postgres and Redis, migrated; a tenant and its owner are created through
`POST /api/v1/platform/tenants` and logged in (`POST /api/v1/auth/login`), and every request carries
that access token. Each request therefore verifies the JWT, reads the logout blocklist in Redis, opens
the tenant transaction in Postgres, loads the user and serialises it. The floor is a bare ASGI app on
uvicorn (`python -m bench.floor`, one process, no framework) answering the same JSON body the gateway
returned for that user, with no checks.
Client (both sides): `bench.http_load`, a small asyncio HTTP/1.1 client on uvloop in the benchmark
process (httpx was the bottleneck, see that module), keep-alive over loopback, a fixed number of
connections with one request in flight each, a fixed
number of requests per round after a warm-up; the sides alternate round by round and the median round
(by requests/s) is shown with all rounds in brackets. Latency is send to full response, nearest-rank
percentiles. Server CPU µs/request = user + system CPU of the server process during the round / requests.
The client, the servers and Postgres/Redis share the machine's CPUs.
"""

from __future__ import annotations

import argparse
import statistics
from typing import Any

import httpx

from bench import http_load, results
from bench.http_stack import floor, gateway

PATH = "/api/v1/auth/me"


def _side_row(label: str, runs: list[http_load.Run], floor_rps: float) -> str:
    median = sorted(runs, key=lambda r: r.rps)[len(runs) // 2]
    all_rps = ", ".join(f"{r.rps:,.0f}" for r in runs)
    errors = sum(sum(r.errors.values()) for r in runs)
    cpu = median.cpu_server / max(median.ok, 1) * 1e6
    return (
        f"| {label} | {median.rps:,.0f} ({all_rps}) | {median.rps / floor_rps:.0%} | {median.pct(0.5):.1f} | "
        f"{median.pct(0.99):.1f} | {cpu:,.0f} | {sum(r.ok for r in runs):,} | {errors} |"
    )


async def _measure(port: int, pid: int, headers: dict[str, str], args: argparse.Namespace) -> http_load.Run:
    raw = http_load.request_bytes("GET", PATH, port, headers)
    await http_load.closed_loop(port, lambda _n: raw, args.concurrency, args.warmup, pid)
    return await http_load.closed_loop(port, lambda _n: raw, args.concurrency, args.requests, pid)


def run(args: argparse.Namespace) -> dict[str, Any]:
    load_before = http_load.load_average()
    with gateway() as gw:
        body = httpx.get(f"{gw.process.url}{PATH}", headers=gw.auth_headers, timeout=10)
        body.raise_for_status()
        with floor("auth", body.content) as bare, floor("auth-fastapi", body.content) as framework:
            same = all(httpx.get(f"{proc.url}{PATH}", timeout=10).content == body.content for proc in (bare, framework))
            sides: dict[str, list[http_load.Run]] = {"gateway": [], "framework": [], "floor": []}
            for n in range(args.rounds):
                for side, proc, headers in (
                    ("gateway", gw.process, gw.auth_headers),
                    ("framework", framework, gw.auth_headers),
                    ("floor", bare, gw.auth_headers),
                ):
                    measured = http_load.run_async(_measure(proc.port, proc.pid, headers, args))
                    assert isinstance(measured, http_load.Run)
                    sides[side].append(measured)
                    print(
                        f"round {n + 1} {side}: {measured.rps:,.0f} req/s p50 {measured.pct(0.5):.1f} ms "
                        f"p99 {measured.pct(0.99):.1f} ms errors {measured.error_text()}",
                        flush=True,
                    )
    return {
        "sides": sides,
        "same_body": same,
        "load": (load_before, http_load.load_average()),
        "bytes": len(body.content),
    }


def render(args: argparse.Namespace, measured: dict[str, Any]) -> str:
    sides = measured["sides"]
    floor_rps = statistics.median(r.rps for r in sides["floor"])
    gateway_rps = statistics.median(r.rps for r in sides["gateway"])
    ratio = gateway_rps / floor_rps
    lines = [
        f"Load: {args.requests:,} requests per round after {args.warmup:,} warm-up requests, "
        f"{args.concurrency} concurrent tasks, {args.rounds} rounds per side. Response body: "
        f"{measured['bytes']} bytes, byte-identical on every side: {'yes' if measured['same_body'] else 'no'}.",
        "",
        "| Side | Requests/s (median round; all rounds) | Ratio to floor | p50 ms | p99 ms "
        "| Server CPU µs/request | 2xx | Errors |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
        _side_row(
            "gateway `GET /api/v1/auth/me` (JWT + Redis blocklist + tenant transaction + user)",
            sides["gateway"],
            floor_rps,
        ),
        _side_row(
            "reference: FastAPI alone, one route answering the same bytes (`bench.floor`, auth-fastapi)",
            sides["framework"],
            floor_rps,
        ),
        _side_row("bare uvicorn floor (same JSON body)", sides["floor"], floor_rps),
        "",
        f"- Target: at least 60% of the floor's requests/s: **{'met' if ratio >= 0.6 else 'not met'}** ({ratio:.0%}).",
        f"- FastAPI with no dependency, middleware or I/O reaches "
        f"{statistics.median(r.rps for r in sides['framework']) / floor_rps:.0%} of the floor on this machine.",
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
    parser.add_argument("--no-write", action="store_true", help="print only; leave RESULTS.md alone")
    args = parser.parse_args(argv)
    table = render(args, run(args))
    command = results.command("bench.auth", parser, args)
    packages = ("fastapi", "uvicorn", "httpx", "sqlalchemy", "asyncpg")
    results.publish("auth", "Auth", command, __doc__, table, packages, write=not args.no_write)


if __name__ == "__main__":
    main()
