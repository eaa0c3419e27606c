"""The gateway's Litestar app: ``create_app(settings)``; nothing connects before it starts.

The lifespan starts the gateway's event service (FastStream on JetStream): it migrates the
database, provisions streams and buckets, consumes the events that feed the read model and
the adapter registry, and hands its ``ServiceRuntime`` to the routes through ``GatewayState``.
Then it starts the inference plane (backends; local models load in the background). Shutdown
stops both again, letting in-flight messages finish.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar
from litestar.datastructures import State
from litestar.middleware import DefineMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme

from skill_adapter import __version__

from .auth import ApiKeyMiddleware
from .controllers import (
    ChatCompletionController,
    CompletionController,
    FineTuningJobController,
    GraderController,
    HealthController,
    ModelController,
    SkillController,
    SkillRejectionController,
    TokenizeController,
)
from .dependencies import DEPENDENCIES
from .errors import exception_handlers
from .ratelimit import RateLimitMiddleware
from .readmodel import build_service
from .settings import GatewaySettings
from .state import GatewayState

OPENAPI_PATH = "/schema"
MULTIPART_OVERHEAD = 64 * 1024
"""Room for the multipart envelope (boundaries, headers, the mode field) around an upload."""


def openapi_config() -> OpenAPIConfig:
    return OpenAPIConfig(
        title="Agent Skill Adapter",
        version=__version__,
        description=(
            "OpenAI-compatible inference (models, chat completions, completions), skills, graders "
            "and health of Agent Skill Adapter. Errors use OpenAI's envelope."
        ),
        path=OPENAPI_PATH,
        components=Components(
            security_schemes={
                "BearerAuth": SecurityScheme(
                    type="http",
                    scheme="bearer",
                    description="An API key from `skill-adapter keys create`.",
                )
            }
        ),
        security=[{"BearerAuth": []}],
        use_handler_docstrings=True,
    )


def create_app(settings: GatewaySettings) -> Litestar:
    gateway = GatewayState(settings)

    @asynccontextmanager
    async def event_runtime(_: Litestar) -> AsyncIterator[None]:
        events = build_service(setup=gateway.attach).create_app(settings)
        try:
            await events.start()
        except BaseException:
            with contextlib.suppress(Exception):
                await events.stop()
            raise
        try:
            yield
        finally:
            await events.stop()

    @asynccontextmanager
    async def inference_plane(_: Litestar) -> AsyncIterator[None]:
        async with gateway.serve_models():
            yield

    return Litestar(
        route_handlers=[
            ModelController,
            ChatCompletionController,
            CompletionController,
            TokenizeController,
            SkillController,
            SkillRejectionController,
            GraderController,
            FineTuningJobController,
            HealthController,
        ],
        dependencies=DEPENDENCIES,
        exception_handlers=exception_handlers(),
        middleware=[
            DefineMiddleware(ApiKeyMiddleware, exclude=[f"^{OPENAPI_PATH}"]),
            RateLimitMiddleware(),
        ],
        lifespan=[event_runtime, inference_plane],
        state=State({"gateway": gateway}),
        openapi_config=openapi_config(),
        request_max_body_size=max(settings.max_request_bytes, settings.max_upload_bytes + MULTIPART_OVERHEAD),
        logging_config=None,
        debug=False,
    )
