"""`wafaa-analytics` / `python -m wafaa.analytics`: run the analytics service."""

from wafaa.analytics.config import AnalyticsSettings
from wafaa.common.runtime import serve


def main() -> None:
    """Serve the analytics worker."""
    serve("wafaa.analytics.main:app", AnalyticsSettings(), default_port=8004)


if __name__ == "__main__":
    main()
