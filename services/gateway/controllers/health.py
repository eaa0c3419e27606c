"""``GET /health``: public, 503 when NATS or the database is unreachable."""

from __future__ import annotations

from litestar import Controller, Response, get
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec

from skill_adapter.contracts.api import Health

from ..probes import check_health
from ..state import GatewayState


class HealthController(Controller):
    path = "/health"
    tags = ["health"]

    @get(
        "/",
        operation_id="getHealth",
        summary="Whether the gateway reaches NATS and its database",
        opt={"exclude_from_auth": True},
        security=[{}],
        responses={
            503: ResponseSpec(
                data_container=Health,
                description="NATS or the database is unreachable.",
                generate_examples=False,
            )
        },
    )
    async def health(self, gateway: NamedDependency[GatewayState]) -> Response[Health]:
        report = await check_health(gateway)
        return Response(report, status_code=200 if report.status == "ok" else 503)
