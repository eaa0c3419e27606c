"""Alembic environment of the gateway: run with a connection handed over by ``db.migrate``."""

from alembic import context

from skill_adapter.gateway.models import GatewayBase

config = context.config
connection = config.attributes.get("connection")
if connection is None:
    raise RuntimeError(
        "run migrations through skill_adapter.runtime.db.migrate (the gateway does at start-up)"
    )

context.configure(
    connection=connection,
    target_metadata=GatewayBase.metadata,
    version_table=config.attributes.get("version_table", "alembic_version"),
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
