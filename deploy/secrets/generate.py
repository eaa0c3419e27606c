"""Generate this deployment's secrets: ``python deploy/secrets/generate.py``.

Writes random passwords into this folder (git ignores everything here but this script and the
``*.example`` files) and never overwrites one that exists:

- ``nats-users.env``: ``NATS_PASSWORD_<USER>=...`` for every user of deploy/nats/auth.conf
  (the nats-server reads them from its environment);
- ``nats_password_<user>``: the same password alone, the file a service's container reads;
- ``postgres_password`` and ``database_url``: the database's password and the URL the services use;
- ``postgres.env``: ``POSTGRES_PASSWORD`` and ``DATABASE_URL`` for Kubernetes.

Compose mounts the files as secrets; for Kubernetes create the Secrets from them (see README).
``--example`` rewrites the ``*.example`` files, with placeholders instead of passwords.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

HERE = Path(__file__).resolve().parent
DB_USER = DB_NAME = "skill_adapter"
DB_HOST = "postgres"


def _permissions() -> ModuleType:
    """``deploy/nats/permissions.py`` (a script, not a package): the users and their passwords."""
    spec = importlib.util.spec_from_file_location("nats_permissions", HERE.parent / "nats" / "permissions.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def _write(path: Path, text: str, *, overwrite: bool) -> None:
    if path.exists() and not overwrite:
        return
    path.write_text(text)
    path.chmod(0o600)
    print(f"wrote {path}")


def generate(folder: Path, *, example: bool = False) -> None:
    nats = _permissions()

    def password(name: str) -> str:
        if example:
            return "change-me"
        existing = folder / name
        return existing.read_text().strip() if existing.exists() else nats.new_password()

    suffix = ".example" if example else ""
    users = [nats.PROVISIONER, *nats.FOOTPRINTS]
    passwords = {user: password(f"nats_password_{user}") for user in users}
    db_password = password("postgres_password")
    database_url = f"postgresql://{DB_USER}:{db_password}@{DB_HOST}:5432/{DB_NAME}"
    for user, value in passwords.items():
        _write(folder / f"nats_password_{user}{suffix}", value + "\n", overwrite=example)
    _write(
        folder / f"nats-users.env{suffix}",
        "".join(f"{nats.password_variable(user)}={value}\n" for user, value in passwords.items()),
        overwrite=True,
    )
    _write(folder / f"postgres_password{suffix}", db_password + "\n", overwrite=example)
    _write(folder / f"database_url{suffix}", database_url + "\n", overwrite=True)
    _write(
        folder / f"postgres.env{suffix}",
        f"POSTGRES_PASSWORD={db_password}\nDATABASE_URL={database_url}\n",
        overwrite=True,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--example", action="store_true", help="rewrite the *.example files")
    parser.add_argument("--dir", type=Path, default=HERE, help="where to write (default: this folder)")
    args = parser.parse_args(argv)
    args.dir.mkdir(parents=True, exist_ok=True)
    generate(args.dir, example=args.example)
    return 0


if __name__ == "__main__":
    sys.exit(main())
