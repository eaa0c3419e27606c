"""Alembic environment of the data-generator (run through ``runtime.db.migrate``)."""

from skill_adapter.data_generator.models import DataGeneratorBase
from skill_adapter.runtime.db import run_migrations

run_migrations(DataGeneratorBase.metadata)
