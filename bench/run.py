"""Every benchmark, one after the other (`make bench`); each rewrites its own section of RESULTS.md.

`python -m bench.run` runs them all (about an hour and a half on 2 cores, the soak included);
`--only rag pipeline` picks some.
Each runs as its own process with its default options, so a failure in one is reported and the
others still run. Run on a quiet machine: the numbers are only comparable within one section.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

# In order of the sections of RESULTS.md; the dashboard's numbers come from tests/e2e/test_dashboard.py.
BENCHMARKS = ("bus", "ingestion", "auth", "webhooks", "rag", "pipeline", "soak", "analytics")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=BENCHMARKS, help="run only these benchmarks")
    args = parser.parse_args(argv)
    failed = []
    for name in args.only or BENCHMARKS:
        print(f"== bench.{name}", flush=True)
        started = time.monotonic()
        code = subprocess.run([sys.executable, "-m", f"bench.{name}"], check=False).returncode
        print(f"== bench.{name}: {'ok' if code == 0 else f'exit {code}'} in {time.monotonic() - started:,.0f} s")
        if code != 0:
            failed.append(name)
    if failed:
        sys.exit(f"failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
