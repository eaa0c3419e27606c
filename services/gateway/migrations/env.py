"""Alembic environment of the gateway (run through ``runtime.db.migrate``)."""

from skill_adapter.gateway.models import GatewayBase
from skill_adapter.runtime.db import run_migrations

run_migrations(GatewayBase.metadata)
