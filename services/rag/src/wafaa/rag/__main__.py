"""`wafaa-rag` / `python -m wafaa.rag`: run the rag service."""

from wafaa.common.runtime import serve
from wafaa.rag.config import RagSettings


def main() -> None:
    """Serve the rag worker."""
    serve("wafaa.rag.main:app", RagSettings(), default_port=8002)


if __name__ == "__main__":
    main()
