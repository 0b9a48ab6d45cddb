"""`wafaa-gateway` / `python -m wafaa.gateway`: run the gateway."""

import uvicorn

from wafaa.gateway.config import GatewaySettings


def main() -> None:
    """Serve the gateway."""
    settings = GatewaySettings()
    uvicorn.run(
        "wafaa.gateway.main:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=int(settings.graceful_timeout) + 5,
    )


if __name__ == "__main__":
    main()
