"""Alembic environment of the skill-parser (run through ``runtime.db.migrate``)."""

from alembic import context

from skill_adapter.skill_parser.models import ParserBase

config = context.config
connection = config.attributes.get("connection")
if connection is None:
    raise RuntimeError(
        "run migrations through skill_adapter.runtime.db.migrate (or `skill-adapter db upgrade`)"
    )

context.configure(
    connection=connection,
    target_metadata=ParserBase.metadata,
    version_table=config.attributes.get("version_table", "alembic_version"),
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
