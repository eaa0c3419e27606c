"""``python -m skill_adapter.gateway``: serve the HTTP API with uvicorn until Ctrl-C.

Joins NATS at ``NATS_URL`` or starts (or joins) the embedded nats-server, like every service.
"""

from __future__ import annotations

import uvicorn

from skill_adapter.runtime.log import configure_logging
from skill_adapter.runtime.nats_server import nats_endpoint

from .app import create_app
from .readmodel import SERVICE_NAME
from .settings import GatewaySettings


def main(settings: GatewaySettings | None = None) -> None:
    settings = settings or GatewaySettings()
    configure_logging(settings.log_level, settings.log_format, service=SERVICE_NAME)
    with nats_endpoint(settings.state_dir, settings.nats_url, embedded=settings.embedded_nats) as url:
        app = create_app(settings.model_copy(update={"nats_url": url}))
        uvicorn.run(
            app,
            host=settings.host,
            port=settings.port,
            log_config=None,
            access_log=False,
            timeout_graceful_shutdown=int(settings.graceful_timeout),
        )


if __name__ == "__main__":
    main()
