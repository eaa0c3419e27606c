"""Alembic environment of the trainer (run through ``runtime.db.migrate``)."""

from skill_adapter.runtime.db import run_migrations
from skill_adapter.trainer.models import TrainerBase

run_migrations(TrainerBase.metadata)
