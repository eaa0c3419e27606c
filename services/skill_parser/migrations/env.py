"""Alembic environment of the skill-parser (run through ``runtime.db.migrate``)."""

from skill_adapter.runtime.db import run_migrations
from skill_adapter.skill_parser.models import ParserBase

run_migrations(ParserBase.metadata)
