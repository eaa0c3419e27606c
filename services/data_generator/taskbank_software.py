"""Software changes: described code changes and pasted diffs.

Diffs are real unified diffs (headers, hunk ranges, context lines) over config values,
renames, dependency and version lines and small fixes, because skills that read diffs must
see the shape ``git diff`` prints, not a paraphrase of it.
"""

from __future__ import annotations

import random

from .taskbank import Family, Task
from .taskbank_changes import code_change, identifier_pair, version_pair

CHANGE_WORDS = (
    "commit", "git", "change", "changelog", "release note", "pull request", "version control", "repository",
    "refactor", "bug fix", "feature", "developer", "code", "staged", "conventional commits",
)  # fmt: skip
_SETTINGS = ("timeout", "max_retries", "pool_size", "cache_ttl", "page_size", "workers", "max_upload_mb", "rate_limit", "batch_size", "retry_delay")  # fmt: skip
_CONFIG_FILES = {
    "config/settings.py": "{NAME} = {v}", "app/config.yaml": "{name}: {v}", "src/config.ts": "  {camel}: {v},",
    "docker-compose.yml": "      {NAME}: \"{v}\"", "internal/server/config.go": "\t{Camel}: {v},", ".env.example": "{NAME}={v}",
    "settings.toml": "{name} = {v}", "helm/values.yaml": "  {name}: {v}",
}  # fmt: skip
_CODE_FILES = ("src/dates.py", "app/billing/invoice.py", "lib/orders.py", "src/utils/format.py", "services/auth/session.py", "api/handlers.py", "core/report.py", "src/sync/worker.py")  # fmt: skip
_MANIFESTS = {
    "requirements.txt": ("{p}=={v}", ("httpx", "rich", "tenacity", "orjson", "structlog", "pydantic-settings", "alembic")),
    "package.json": ('    "{p}": "^{v}",', ("zod", "dayjs", "clsx", "swr", "pino", "nanoid", "date-fns")),
    "Cargo.toml": ('{p} = "{v}"', ("thiserror", "tracing", "rayon", "regex", "chrono")),
}  # fmt: skip
_FIXES = (
    ("    for i in range(1, len(items)):", "    for i in range(len(items)):"),
    ("    return price * quantity", "    return round(price * quantity, 2)"),
    ("    if user.email:", "    if user is not None and user.email:"),
    ("    timestamp = datetime.now()", "    timestamp = datetime.now(timezone.utc)"),
    ("    rows = cursor.fetchall()", "    rows = cursor.fetchmany(BATCH_SIZE)"),
    ("    name = name.strip", "    name = name.strip()"),
    ("    except Exception:", "    except (TimeoutError, ConnectionError):"),
    ("    total = sum(line.amount for line in lines)", "    total = sum((line.amount for line in lines), Decimal(0))"),
)  # fmt: skip


def _hunk(
    path: str, before: list[str], removed: list[str], added: list[str], after: list[str], rng: random.Random
) -> str:
    start = rng.randint(1, 240)
    old_len, new_len = len(before) + len(removed) + len(after), len(before) + len(added) + len(after)
    header = f"diff --git a/{path} b/{path}\n" if rng.random() < 0.4 else ""
    lines = [f"--- a/{path}", f"+++ b/{path}", f"@@ -{start},{old_len} +{start},{new_len} @@"]
    lines += (
        [f" {x}" for x in before]
        + [f"-{x}" for x in removed]
        + [f"+{x}" for x in added]
        + [f" {x}" for x in after]
    )
    return header + "\n".join(lines)


def _diff(rng: random.Random) -> Task:
    kind = rng.choice(("config", "config", "rename", "dependency", "version", "fix"))
    if kind == "config":
        path, pattern = rng.choice(list(_CONFIG_FILES.items()))
        names = [rng.choice(_SETTINGS) for _ in range(3)]
        if len(set(names)) < 3:
            names = list(dict.fromkeys([*names, *_SETTINGS]))[:3]
        old, new = rng.sample((2, 3, 5, 8, 10, 15, 20, 25, 30, 50, 60, 100, 120, 300, 500, 1000), 2)

        def line(name: str, v: int) -> str:
            camel = "".join(w.capitalize() for w in name.split("_"))
            return pattern.format(
                NAME=name.upper(), name=name, camel=camel[0].lower() + camel[1:], Camel=camel, v=v
            )

        values = rng.sample(range(1, 90), 2)
        text = _hunk(
            path,
            [line(names[0], values[0])],
            [line(names[1], old)],
            [line(names[1], new)],
            [line(names[2], values[1])],
            rng,
        )
        return Task(text, f"diff:{path}:{names[1]}:{old}:{new}")
    if kind == "rename":
        path, (old, new) = rng.choice(_CODE_FILES), identifier_pair(rng, "snake")
        arg = rng.choice(("value", "raw", "payload", "text", "record"))
        body = f"    return {rng.choice(('_impl', 'backend', 'codec'))}.{old.split('_')[0]}({arg})"
        text = _hunk(path, [], [f"def {old}({arg}):"], [f"def {new}({arg}):"], [body], rng)
        return Task(text, f"diff-rename:{old}:{new}", (new,))
    if kind == "dependency":
        manifest, (pattern, packages) = rng.choice(list(_MANIFESTS.items()))
        package, (_, version) = rng.choice(packages), version_pair(rng)
        neighbour = rng.choice([p for p in packages if p != package])
        text = _hunk(
            manifest,
            [pattern.format(p=neighbour, v=version_pair(rng)[1])],
            [],
            [pattern.format(p=package, v=version)],
            [],
            rng,
        )
        return Task(text, f"diff-dep:{manifest}:{package}", (package,))
    if kind == "version":
        manifest = rng.choice(("pyproject.toml", "package.json", "Cargo.toml"))
        old, new = version_pair(rng)
        line = '  "version": "{v}",' if manifest == "package.json" else 'version = "{v}"'
        text = _hunk(manifest, [], [line.format(v=old)], [line.format(v=new)], [], rng)
        return Task(text, f"diff-version:{manifest}:{new}", (new,))
    path, (old_line, new_line) = rng.choice(_CODE_FILES), rng.choice(_FIXES)
    _, function = identifier_pair(rng, "snake")
    text = _hunk(
        path, [f"def {function}(items, user=None):"], [old_line], [new_line], ["    log.debug('done')"], rng
    )
    return Task(text, f"diff-fix:{path}:{function}:{old_line}")


FAMILIES = (
    Family("code_change", (*CHANGE_WORDS, "describe", "summary of their work", "what changed"), code_change, ("{task}", "Here's what I changed: {task}", "Change: {task}"), weight=1.0, checkable=True),
    Family("diff", ("diff", "patch", "staged", "git", "pull request", "code review", "changes", "changeset", "hunk", "commit"), _diff, ("{task}", "Here's my diff:\n\n{task}", "Diff:\n{task}", "```diff\n{task}\n```", "git diff output:\n\n{task}"), weight=0.5, checkable=True),
)  # fmt: skip
