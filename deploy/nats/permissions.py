"""Least-privilege NATS users, derived from the code: ``python deploy/nats/permissions.py``.

Writes ``deploy/nats/auth.conf`` (compose) and ``deploy/k8s/base/nats/auth.conf`` (Kubernetes):
one user per service whose publish/subscribe permissions allow exactly what that service does,
plus the ``provisioner`` identity that administers streams and buckets. ``--check`` only
compares and exits 1 when a file is out of date (tests/deploy/test_nats_permissions.py does).

What a service does is read from its source, not from a hand-kept list:

- the messages it **consumes** and the durable consumers it owns: every
  ``service.handles(Message, purpose=...)`` call in its package (durable ``<service>_<purpose>``);
- the messages it **publishes**: every contract class (``skill_adapter.contracts.MESSAGES``)
  its package constructs (``Message(...)`` or a class-method factory such as
  ``IngestSkill.for_object``), including types it also consumes (the skill-parser's bucket
  watcher sends itself ingest commands); a message built but never sent is granted anyway;
- the Object Store buckets it reads and writes: ``FOOTPRINTS`` below, which the tests compare
  with the ``*_BUCKET`` constants each package uses (and ``put``/``delete`` on them) and
  exercise on a real server.

Passwords are not in the file: each user's password is the variable ``$NATS_PASSWORD_<SERVICE>``,
which nats-server resolves from its environment (a Kubernetes Secret, a compose secret file).
"""

from __future__ import annotations

import argparse
import ast
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

# Needs the project installed (``pip install -e .``): ``services/`` is the ``skill_adapter`` package.
from skill_adapter.contracts import (
    ADVISORIES,
    BUCKETS,
    MESSAGES,
    STREAMS,
    Subject,
    deadletter_subject,
    durable_name,
)

ROOT = Path(__file__).resolve().parents[2]
OUTPUTS = (ROOT / "deploy" / "nats" / "auth.conf", ROOT / "deploy" / "k8s" / "base" / "nats" / "auth.conf")


API = "$JS.API"
PROVISIONER = "provisioner"


@dataclass(frozen=True)
class Footprint:
    """What the source alone cannot say: the package and the buckets it reads and writes."""

    package: str
    reads: tuple[str, ...] = ()
    writes: tuple[str, ...] = ()


FOOTPRINTS: dict[str, Footprint] = {
    "skill-parser": Footprint("skill_parser", writes=("skills", "skill-versions")),
    "data-generator": Footprint("data_generator", reads=("skill-versions",), writes=("datasets",)),
    "trainer": Footprint(
        "trainer",
        reads=("skill-versions", "datasets"),
        writes=("training-checkpoints", "adapters"),
    ),
    "evaluator": Footprint("evaluator", reads=("datasets", "skill-versions"), writes=("evaluations",)),
    "gateway": Footprint("gateway", reads=("adapters",), writes=("skills",)),
}
"""Every deployed service (the ``python -m skill_adapter.<package>`` processes)."""


@dataclass
class Usage:
    """What a service's source does on NATS."""

    service: str
    handlers: list[tuple[str, str]] = field(default_factory=list)  # (subject, durable)
    publishes: set[str] = field(default_factory=set)  # subjects
    buckets_used: set[str] = field(default_factory=set)  # bucket names the package refers to
    buckets_written: set[str] = field(default_factory=set)  # put/put_file/delete(<BUCKET>.name, ...)

    @property
    def consumes(self) -> list[str]:
        return sorted({subject for subject, _ in self.handlers})


def _python_files(package_dir: Path) -> Iterable[Path]:
    for path in sorted(package_dir.rglob("*.py")):
        if "migrations" not in path.relative_to(package_dir).parts:
            yield path


def _class_name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def scan(service: str, footprint: Footprint, services_dir: Path = ROOT / "services") -> Usage:
    """Read ``services/<package>`` for handlers, constructed messages and bucket constants."""
    by_class = {cls.__name__: subject for subject, cls in MESSAGES.items()}
    bucket_constants = _bucket_constants()
    usage = Usage(service)
    package_dir = services_dir / footprint.package
    if package_dir.is_dir():
        for path in _python_files(package_dir):
            tree = ast.parse(path.read_text(), filename=str(path))
            for node in ast.walk(tree):
                if isinstance(node, ast.Call):
                    name = _class_name(node.func)
                    if name == "handles" and node.args:
                        message = _class_name(node.args[0])
                        purpose = next(
                            (
                                kw.value.value
                                for kw in node.keywords
                                if kw.arg == "purpose" and isinstance(kw.value, ast.Constant)
                            ),
                            None,
                        )
                        if message in by_class and isinstance(purpose, str):
                            usage.handlers.append((by_class[message], durable_name(service, purpose)))
                    elif name in by_class:
                        usage.publishes.add(by_class[name])
                    elif (factory := _factory_of(node.func, by_class)) is not None:
                        usage.publishes.add(by_class[factory])
                    if name in _WRITES and node.args:
                        target = node.args[0]
                        if (
                            isinstance(target, ast.Attribute)
                            and _class_name(target.value) in bucket_constants
                        ):
                            usage.buckets_written.add(bucket_constants[_class_name(target.value)])
                elif isinstance(node, ast.Name | ast.Attribute):
                    name = _class_name(node)
                    if name in bucket_constants:
                        usage.buckets_used.add(bucket_constants[name])
    usage.handlers.sort()
    return usage


_WRITES = {"put", "put_file", "delete"}
_PARSERS = {"model_validate", "model_validate_json", "model_validate_strings", "model_json_schema"}


def _factory_of(func: ast.expr, by_class: dict[str, str]) -> str | None:
    """``IngestSkill.for_object(...)``: a message built by a class method (parsers excluded)."""
    if isinstance(func, ast.Attribute) and func.attr not in _PARSERS:
        owner = _class_name(func.value)
        if owner in by_class:
            return owner
    return None


def _bucket_constants() -> dict[str, str]:
    import skill_adapter.contracts as contracts

    return {
        name: value.name
        for name, value in vars(contracts).items()
        if name.endswith("_BUCKET") and hasattr(value, "max_bytes")
    }


def object_stream(bucket: str) -> str:
    return f"OBJ_{bucket}"


def service_permissions(usage: Usage, footprint: Footprint) -> tuple[list[str], list[str]]:
    """(publish allow, subscribe allow) for one service."""
    publish: set[str] = {f"{API}.INFO"}
    # Start-up provisioning checks (read-only) every stream and bucket exists as specified.
    publish |= {f"{API}.STREAM.INFO.{spec.name}" for spec in STREAMS}
    publish |= {f"{API}.STREAM.INFO.{object_stream(spec.name)}" for spec in BUCKETS}
    publish |= {f"{API}.STREAM.INFO.{object_stream(name)}" for name in (*footprint.reads, *footprint.writes)}
    # Its own messages, and dead letters of what it consumes.
    publish |= usage.publishes
    publish |= {deadletter_subject(subject) for subject in usage.consumes}
    consumers = [(Subject.parse(subject).stream, durable) for subject, durable in usage.handlers]
    if consumers:
        consumers.append((ADVISORIES.name, durable_name(usage.service, "exhausted")))
    for stream, durable in consumers:
        publish |= {
            f"{API}.CONSUMER.INFO.{stream}.{durable}",
            f"{API}.CONSUMER.CREATE.{stream}.{durable}",
            f"{API}.CONSUMER.CREATE.{stream}.{durable}.>",
            f"{API}.CONSUMER.DURABLE.CREATE.{stream}.{durable}",
            f"{API}.CONSUMER.MSG.NEXT.{stream}.{durable}",
            f"$JS.ACK.{stream}.{durable}.>",
        }
    # The max-deliveries handler reads the exhausted message back from its stream.
    publish |= {f"{API}.STREAM.MSG.GET.{stream}" for stream, _ in consumers if stream != ADVISORIES.name}
    if footprint.reads or footprint.writes:
        publish.add(f"{API}.STREAM.NAMES")  # the client looks up a bucket's stream by subject
    for bucket in sorted({*footprint.reads, *footprint.writes}):
        stream = object_stream(bucket)
        publish |= {
            f"{API}.STREAM.MSG.GET.{stream}",  # object info (last meta message)
            f"{API}.DIRECT.GET.{stream}",
            f"{API}.DIRECT.GET.{stream}.>",
            f"{API}.CONSUMER.CREATE.{stream}",  # ordered consumers: get, list, watch
            f"{API}.CONSUMER.CREATE.{stream}.>",
            f"{API}.CONSUMER.DELETE.{stream}.>",
            f"$JS.FC.{stream}.>",  # flow-control replies of those consumers
        }
    for bucket in footprint.writes:
        publish |= {f"$O.{bucket}.>", f"{API}.STREAM.PURGE.{object_stream(bucket)}"}
    # Replies (JetStream API answers, pulled messages, object chunks) come to its own inboxes
    # only: services connect with inbox prefix ``_INBOX_<user>`` (RuntimeSettings).
    subscribe = {f"{inbox_prefix(usage.service)}.>"}
    return sorted(publish), sorted(subscribe)


def inbox_prefix(user: str) -> str:
    return f"_INBOX_{user}"


def provisioner_permissions() -> tuple[list[str], list[str]]:
    """Stream, consumer and bucket administration; no application messages. The operator's
    CLI uses this identity with the default inbox prefix."""
    return [f"{API}.>"], ["_INBOX.>"]


def new_password() -> str:
    """A random password that nats-server reads back as the same string.

    The server parses a ``$NATS_PASSWORD_<USER>`` value as a configuration token, so a value
    that starts with a digit or ``-`` is read as a number and refused ("Expected a digit"):
    ``secrets.token_urlsafe`` does that about one time in six. A letter, then hex, is always a
    string (and safe in a URL too).
    """
    return "pw" + secrets.token_hex(24)


def password_variable(user: str) -> str:
    return "NATS_PASSWORD_" + user.upper().replace("-", "_")


def users() -> dict[str, tuple[list[str], list[str]]]:
    found = {PROVISIONER: provisioner_permissions()}
    for service, footprint in FOOTPRINTS.items():
        found[service] = service_permissions(scan(service, footprint), footprint)
    return found


def _quoted(items: list[str], indent: str) -> str:
    return "[\n" + "".join(f'{indent}  "{item}"\n' for item in items) + f"{indent}]"


def render() -> str:
    lines = [
        "# GENERATED by deploy/nats/permissions.py from the services' code and contracts: do not edit.",
        "# One user per service, allowed exactly the subjects it uses; passwords come from the",
        "# environment variables named below (Kubernetes Secret / compose secret files), never this file.",
        "authorization {",
        "  users: [",
    ]
    for user, (publish, subscribe) in users().items():
        lines += [
            "    {",
            f'      user: "{user}"',
            f"      password: ${password_variable(user)}",
            "      permissions: {",
            f"        publish: {{ allow: {_quoted(publish, ' ' * 8)} }}",
            f"        subscribe: {{ allow: {_quoted(subscribe, ' ' * 8)} }}",
            "      }",
            "    }",
        ]
    lines += ["  ]", "}", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if a generated file is out of date")
    args = parser.parse_args(argv)
    text = render()
    stale = [path for path in OUTPUTS if not path.exists() or path.read_text() != text]
    if args.check:
        for path in stale:
            print(f"{path.relative_to(ROOT)} is out of date: run python deploy/nats/permissions.py")
        return 1 if stale else 0
    for path in stale:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
