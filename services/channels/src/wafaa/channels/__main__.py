"""`wafaa-channels` / `python -m wafaa.channels`: run the channels service."""

from wafaa.channels.config import ChannelsSettings
from wafaa.common.runtime import serve


def main() -> None:
    """Serve the channels worker."""
    serve("wafaa.channels.main:app", ChannelsSettings(), default_port=8003)


if __name__ == "__main__":
    main()
