"""Alembic environment of the runtime (run through ``runtime.db.migrate``)."""

from skill_adapter.runtime.db import run_migrations
from skill_adapter.runtime.models import RuntimeBase

run_migrations(RuntimeBase.metadata)
