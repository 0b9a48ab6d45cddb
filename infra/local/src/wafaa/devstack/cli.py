"""`wafaa-dev up`: the whole product on one machine, no Docker (what `make up` runs).

Unless DATABASE_URL / REDIS_URL point elsewhere it starts Postgres 16 + pgvector and Redis (AOF on)
with their data under DATA_DIR (kept across restarts), runs the migrate step once, starts the
gateway and the four workers under honcho (several replicas of any worker with SCALE, e.g.
`rag=3,channels=2`) and prints the URLs. Ctrl-C stops the services gracefully, then the servers.
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from dotenv import dotenv_values
from honcho import manager as honcho_manager
from honcho.manager import Manager
from honcho.printer import Printer

from wafaa.devstack import demo as demo_tenant
from wafaa.devstack.servers import EmbeddedPostgres, EmbeddedRedis

WORKERS = ("ingestion", "rag", "channels", "analytics")


def parse_scale(spec: str) -> dict[str, int]:
    """`rag=3,channels=2` → {"rag": 3, "channels": 2}; unknown services are an error."""
    scale = {name: 1 for name in WORKERS}
    for part in filter(None, (p.strip() for p in spec.replace(" ", ",").split(","))):
        name, _, count = part.partition("=")
        if name not in WORKERS or not count.isdigit() or not 0 < int(count) <= 32:
            raise SystemExit(f"SCALE: '{part}' is not <worker>=<1..32> with a worker among {', '.join(WORKERS)}")
        scale[name] = int(count)
    return scale


@dataclass
class Stack:
    """What `up` started, so it can be stopped in reverse order."""

    data_dir: Path
    env: dict[str, str] = field(default_factory=dict)
    postgres: EmbeddedPostgres | None = None
    redis: EmbeddedRedis | None = None
    cleanups: list[Callable[[], None]] = field(default_factory=list)

    def stop(self) -> None:
        for cleanup in reversed(self.cleanups):
            cleanup()


def start_servers(stack: Stack, pg_port: int, redis_port: int) -> None:
    """Start the embedded servers the environment does not already point at."""
    env = stack.env
    if not env.get("DATABASE_URL"):
        pg = EmbeddedPostgres(stack.data_dir / "postgres", pg_port)
        print(f"postgres: starting on 127.0.0.1:{pg_port} (data in {pg.data_dir})", flush=True)
        pg.start()
        stack.postgres = pg
        stack.cleanups.append(pg.stop)
        env["DATABASE_URL"] = pg.app_url()
        env.setdefault("DATABASE_ADMIN_URL", pg.admin_url)
    if not env.get("REDIS_URL"):
        redis = EmbeddedRedis(stack.data_dir / "redis", redis_port)
        print(f"redis: starting on 127.0.0.1:{redis_port} (AOF in {redis.data_dir})", flush=True)
        redis.start()
        stack.redis = redis
        stack.cleanups.append(redis.stop)
        env["REDIS_URL"] = redis.url


def migrate(env: dict[str, str]) -> None:
    """The one-shot migrate step."""
    if not env.get("DATABASE_ADMIN_URL"):
        print("migrate: skipped (DATABASE_ADMIN_URL is not set; run wafaa-migrate where it is)", flush=True)
        return
    subprocess.run([sys.executable, "-m", "wafaa.common.db.migrate"], env=env, check=True)


def add_services(
    mgr: Manager, env: dict[str, str], gateway_port: int, scale: dict[str, int], worker_port_base: int
) -> list[str]:
    """Register the gateway and every worker replica with the process manager.

    Worker probe ports: base + 100 × worker index + replica (8100 ingestion, 8200 rag, ...).
    """
    python = shlex.quote(sys.executable)
    mgr.add_process("gateway", f"{python} -m wafaa.gateway", env={**env, "PORT": str(gateway_port)})
    urls = [f"gateway    http://127.0.0.1:{gateway_port}  (API docs /docs, events /asyncapi)"]
    for index, name in enumerate(WORKERS):
        for i in range(scale[name]):
            port = worker_port_base + 100 * index + i
            label = name if scale[name] == 1 else f"{name}.{i + 1}"
            mgr.add_process(label, f"{python} -m wafaa.{name}", env={**env, "PORT": str(port)})
            urls.append(f"{label:<10} http://127.0.0.1:{port}/ready")
    if env.get("DATABASE_ADMIN_URL"):
        # A large tenant's own search indexes (index DDL needs the tables' owner: the admin URL).
        mgr.add_process("indexes", f"{python} -m wafaa.ingestion.search_indexes", env=env)
    return urls


def environment() -> dict[str, str]:
    """The process environment over the settings of a `.env` file, if there is one."""
    from_file = {k: v for k, v in dotenv_values(".env").items() if v is not None}
    return {**from_file, **os.environ}


def up(args: argparse.Namespace) -> int:
    """Start everything and block until Ctrl-C."""
    data_dir = Path(args.data_dir).resolve()
    stack = Stack(data_dir=data_dir, env=environment())
    scale = parse_scale(args.scale)
    try:
        start_servers(stack, args.pg_port, args.redis_port)
        migrate(stack.env)
        demo = demo_tenant.Demo(
            stack.env.get("DEMO_TENANT_NAME", "Dar Al Yasmin Café"), args.demo_email, args.demo_password
        )
        if args.demo:
            print(f"demo tenant: {demo_tenant.create_tenant(demo, stack.env)}", flush=True)
        mgr = Manager(Printer(sys.stdout))
        honcho_manager.KILL_WAIT = int(float(stack.env.get("GRACEFUL_TIMEOUT", "20"))) + 5
        urls = add_services(mgr, stack.env, args.gateway_port, scale, args.worker_port_base)
        print("\nWafaa AI Concierge is starting:\n  " + "\n  ".join(urls), flush=True)
        if args.demo:
            print(f"\n  log in at http://127.0.0.1:{args.gateway_port} as {demo.email} / {demo.password}\n", flush=True)
            base = f"http://127.0.0.1:{args.gateway_port}"
            seeding = threading.Thread(
                target=lambda: print(f"demo knowledge: {demo_tenant.upload_documents(base, demo)}", flush=True),
                daemon=True,
            )
            seeding.start()
        mgr.loop()
        return 0 if mgr.returncode in (None, 0, -2, -15, 130, 143) else int(mgr.returncode)
    finally:
        stack.stop()
        print("stopped.", flush=True)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; every option also reads its environment name (or `.env`)."""
    env = environment()
    parser = argparse.ArgumentParser(prog="wafaa-dev", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_up = sub.add_parser("up", help="run the whole product locally")
    p_up.add_argument("--data-dir", default=env.get("DATA_DIR", ".data"))
    p_up.add_argument("--gateway-port", type=int, default=int(env.get("GATEWAY_PORT", "8000")))
    p_up.add_argument("--pg-port", type=int, default=int(env.get("LOCAL_POSTGRES_PORT", "54329")))
    p_up.add_argument("--redis-port", type=int, default=int(env.get("LOCAL_REDIS_PORT", "63799")))
    p_up.add_argument("--worker-port-base", type=int, default=int(env.get("LOCAL_WORKER_PORT_BASE", "8100")))
    p_up.add_argument("--scale", default=env.get("SCALE", ""))
    p_up.add_argument("--no-demo", dest="demo", action="store_false", default=env.get("DEMO_TENANT", "true") != "false")
    p_up.add_argument("--demo-email", default=env.get("DEMO_OWNER_EMAIL", "owner@demo.wafaa.local"))
    p_up.add_argument("--demo-password", default=env.get("DEMO_OWNER_PASSWORD", "demo-owner-password"))
    args = parser.parse_args(argv)
    if args.command == "up":
        return up(args)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
