"""`wafaa-ingestion` / `python -m wafaa.ingestion`: run the ingestion service."""

from wafaa.common.runtime import serve
from wafaa.ingestion.config import IngestionSettings


def main() -> None:
    """Serve the ingestion worker."""
    serve("wafaa.ingestion.main:app", IngestionSettings(), default_port=8001)


if __name__ == "__main__":
    main()
