"""The event runtime every service shares: reliable consuming and publishing on JetStream,
the embedded NATS, provisioning, persistence and logging."""

from .delivery import Handler, HandlerContext, Reject
from .inbox import stage
from .nats_server import EmbeddedNats, nats_endpoint
from .publisher import Publisher
from .runner import run_service
from .service import Migrations, Service, ServiceRuntime
from .settings import RuntimeSettings

__all__ = [
    "EmbeddedNats",
    "Handler",
    "HandlerContext",
    "Migrations",
    "Publisher",
    "Reject",
    "RuntimeSettings",
    "Service",
    "ServiceRuntime",
    "nats_endpoint",
    "run_service",
    "stage",
]
