"""``skill-adapter keys``: API keys of the gateway (create, list, revoke).

They work on the gateway's database directly (migrating it first), so a key can be made
before the gateway ever ran. ``create`` prints the key alone on stdout (``KEY=$(skill-adapter
keys create ...)`` works) and everything else on stderr.
"""

from __future__ import annotations

import json
import os
from datetime import datetime
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from skill_adapter.contracts.api import SCOPES
from skill_adapter.gateway.keys import ApiKey, InvalidKeyRequest, create_key, list_keys, revoke_key
from skill_adapter.gateway.settings import GatewaySettings
from skill_adapter.runtime.log import configure_logging

keys_app = typer.Typer(
    name="keys",
    help="API keys of the gateway: create (shown once), list, revoke.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console(stderr=False)
errors = Console(stderr=True)


def _settings() -> GatewaySettings:
    settings = GatewaySettings()
    level = settings.log_level if "SKILL_ADAPTER_LOG_LEVEL" in os.environ else "WARNING"
    configure_logging(level, settings.log_format, service="cli")
    return settings


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC") if moment else "never"


def _as_dict(key: ApiKey) -> dict[str, object]:
    return {
        "id": key.id,
        "name": key.name,
        "scopes": list(key.scopes),
        "hint": key.hint,
        "created_at": key.created_at.isoformat(),
        "last_used_at": key.last_used_at.isoformat() if key.last_used_at else None,
        "revoked_at": key.revoked_at.isoformat() if key.revoked_at else None,
        "webhook_url": key.webhook_url,
    }


@keys_app.command("create")
def create(
    name: Annotated[str, typer.Option("--name", help="What the key is for, e.g. the person or tool.")],
    scope: Annotated[
        list[str],
        typer.Option(
            "--scope",
            help=(
                f"A scope to grant (repeatable): {', '.join(SCOPES)}; models:evaluate (candidate "
                "adapters too) implies models:use, admin implies all."
            ),
        ),
    ],
    webhook_url: Annotated[
        str | None,
        typer.Option(
            "--webhook-url",
            help="POST this key's finished fine-tuning jobs here (signed; the secret is printed once).",
        ),
    ] = None,
) -> None:
    """Create an API key and print it once."""
    try:
        issued = create_key(_settings(), name, scope, webhook_url)
    except InvalidKeyRequest as exc:
        errors.print(f"[bold red]error:[/] {escape(str(exc))}")
        raise typer.Exit(2) from exc
    errors.print(
        f"Created [bold]{issued.key.id}[/] ({escape(issued.key.name)}) with scopes "
        f"{', '.join(issued.key.scopes)}."
    )
    errors.print(
        "[bold yellow]warning:[/] this is the only time the key is shown; it cannot be shown again. "
        "Store it now (e.g. in a secret manager)."
    )
    if issued.webhook_secret:
        errors.print(
            f"Webhooks go to {escape(issued.key.webhook_url or '')}, signed (Standard Webhooks) with this "
            f"secret, shown once too:\n{issued.webhook_secret}"
        )
    print(issued.token)  # plain stdout, no wrapping: scripts capture it


@keys_app.command("list")
def list_cmd(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """List API keys (never their secrets)."""
    keys = list_keys(_settings())
    if as_json:
        console.print_json(json.dumps([_as_dict(key) for key in keys]))
        return
    table = Table(title="API keys")
    for column in ("id", "name", "scopes", "key ends", "created", "last used", "status"):
        table.add_column(column, no_wrap=column in ("id", "key ends", "status"))
    for key in keys:
        status = "[green]active[/]" if key.active else f"[red]revoked {_when(key.revoked_at)}[/]"
        table.add_row(
            key.id,
            escape(key.name),
            ", ".join(key.scopes),
            f"…{key.hint}",
            _when(key.created_at),
            _when(key.last_used_at),
            status,
        )
    console.print(table)


@keys_app.command("revoke")
def revoke(key_id: Annotated[str, typer.Argument(help="The key's id, as `keys list` shows it.")]) -> None:
    """Revoke an API key; requests with it are refused from now on."""
    key = revoke_key(_settings(), key_id)
    if key is None:
        errors.print(f"[bold red]error:[/] no API key {escape(key_id)!r}")
        raise typer.Exit(1)
    console.print(f"Revoked {key.id} ({escape(key.name)}) at {_when(key.revoked_at)}.")
