"""`wafaa-search-indexes` / `python -m wafaa.ingestion.search_indexes`: keep large tenants' search indexes."""

from __future__ import annotations

import argparse
import asyncio

from wafaa.common.observability.logging import configure_logging
from wafaa.ingestion.config import SearchIndexSettings
from wafaa.ingestion.search_indexes.service import run


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(prog="wafaa-search-indexes", description=__doc__)
    parser.add_argument("--once", action="store_true", help="one pass, then exit (default: every interval)")
    args = parser.parse_args(argv)
    settings = SearchIndexSettings()
    configure_logging(settings.service_name, settings.log_level, settings.log_format)
    try:
        return asyncio.run(run(settings, once=args.once))
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    raise SystemExit(main())
