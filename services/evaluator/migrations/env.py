"""Alembic environment of the evaluator (run through ``runtime.db.migrate``)."""

from skill_adapter.evaluator.models import EvaluatorBase
from skill_adapter.runtime.db import run_migrations

run_migrations(EvaluatorBase.metadata)
