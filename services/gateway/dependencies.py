"""Dependencies of the route handlers, one ``provide_*`` function each.

Everything comes from the ``GatewayState`` in the app state; a database session lives for one
request and is closed after the response.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from litestar import Request
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from sqlalchemy.ext.asyncio import AsyncSession

from skill_adapter.runtime import ServiceRuntime

from .catalog import SkillCatalog
from .graders import GraderRunner
from .ingest import SkillIngest
from .repository import SkillRepository
from .serving import InferencePlane
from .settings import GatewaySettings
from .state import GatewayState
from .visibility import Audience


def provide_gateway(state: State) -> GatewayState:
    gateway: GatewayState = state.gateway
    return gateway


def provide_settings(gateway: NamedDependency[GatewayState]) -> GatewaySettings:
    return gateway.settings


def provide_inference(gateway: NamedDependency[GatewayState]) -> InferencePlane:
    return gateway.inference


def provide_audience(request: Request[Any, Any, Any]) -> Audience:
    """Which adapters the request's API key may see (candidates: ``models:evaluate`` only)."""
    return Audience.of(request.user)


def provide_runtime(gateway: NamedDependency[GatewayState]) -> ServiceRuntime:
    return gateway.runtime


async def provide_db_session(runtime: NamedDependency[ServiceRuntime]) -> AsyncIterator[AsyncSession]:
    async with runtime.sessions() as session:
        yield session


def provide_skills(db_session: NamedDependency[AsyncSession]) -> SkillRepository:
    return SkillRepository(db_session)


def provide_catalog(skills: NamedDependency[SkillRepository]) -> SkillCatalog:
    return SkillCatalog(skills)


def provide_skill_ingest(
    runtime: NamedDependency[ServiceRuntime], skills: NamedDependency[SkillRepository]
) -> SkillIngest:
    return SkillIngest(runtime.objects, runtime.publisher, skills)


def provide_grader_runner(catalog: NamedDependency[SkillCatalog]) -> GraderRunner:
    return GraderRunner(catalog)


DEPENDENCIES = {
    "gateway": Provide(provide_gateway, sync_to_thread=False),
    "settings": Provide(provide_settings, sync_to_thread=False),
    "runtime": Provide(provide_runtime, sync_to_thread=False),
    "inference": Provide(provide_inference, sync_to_thread=False),
    "audience": Provide(provide_audience, sync_to_thread=False),
    "db_session": Provide(provide_db_session),
    "skills": Provide(provide_skills, sync_to_thread=False),
    "catalog": Provide(provide_catalog, sync_to_thread=False),
    "skill_ingest": Provide(provide_skill_ingest, sync_to_thread=False),
    "grader_runner": Provide(provide_grader_runner, sync_to_thread=False),
}
"""App-level dependencies, by the parameter name handlers ask for."""
