"""Descriptions of code changes, the way developers type them before a commit or a PR.

Every kind of change a Conventional-Commits type names is here (feature, fix, docs, refactor,
performance, tests, dependencies, CI, formatting, chores, breaking changes), in the registers
people use: full sentences, terse lowercase notes, "we" and "I". Renames, version bumps, new
flags and breaking API moves carry the identifier a faithful summary must keep.
"""

from __future__ import annotations

import random

from .taskbank import Task

COMPONENTS = (
    "login page", "settings page", "checkout flow", "search endpoint", "user API", "billing service", "CSV exporter",
    "image uploader", "notification service", "admin dashboard", "payment webhook handler", "date parser", "cache layer",
    "CLI", "report generator", "email templates", "onboarding wizard", "profile page", "REST client", "job scheduler",
    "config loader", "auth middleware", "logging setup", "rate limiter", "file watcher", "PDF renderer", "sync worker",
    "GraphQL resolvers", "mobile home screen", "invoice module", "shopping cart", "password reset flow", "chat widget",
    "analytics pipeline", "feature flag service", "audit log", "search indexer", "sidebar navigation", "map view", "comment editor",
)  # fmt: skip
_FEATURES = (
    "a dark mode toggle", "CSV import", "pagination", "a retry button", "keyboard shortcuts", "two-factor authentication",
    "a search box", "an export to PDF option", "email notifications", "a progress bar", "drag-and-drop reordering",
    "a 'remember me' checkbox", "bulk delete", "filtering by date", "an undo action", "a health check endpoint",
    "rate limiting", "webhook signatures", "an audit trail", "tags", "a copy-to-clipboard button", "infinite scroll",
    "single sign-on", "a favourites list", "sorting by price", "a password strength meter", "Slack notifications",
    "an autosave draft feature", "a language switcher", "image thumbnails", "a read-only mode", "usage quotas",
)  # fmt: skip
_DETAILS = (
    "", "", "", " behind a feature flag", " with tests", " as discussed in planning", " (off by default)",
    " for admins only", " because support kept asking for it", " on mobile and desktop", " including docs",
)  # fmt: skip
_SYMPTOMS = (
    "crashed", "showed the wrong total", "returned a 500 error", "hung forever", "leaked memory", "charged customers twice",
    "logged users out", "dropped the last row", "ignored the user's time zone", "sent duplicate emails", "showed a blank page",
    "rounded prices incorrectly", "lost unsaved changes", "showed dates in the wrong format", "timed out", "double-counted orders",
    "rejected valid email addresses", "showed stale data", "failed silently", "froze the UI", "skipped the first item",
    "used the wrong currency symbol", "overwrote the previous upload", "sent notifications at 3 am",
)  # fmt: skip
_CONDITIONS = (
    "when the list was empty", "if the user's name had an apostrophe", "on leap days", "after a password reset",
    "for files over 2 GB", "when two requests arrived at once", "on Safari", "in time zones west of UTC",
    "when the cart had more than 100 items", "after the session expired", "on the last day of the month",
    "for users without a profile photo", "when the network dropped", "with non-ASCII file names",
    "on the second page of results", "when the config file was missing", "for accounts created before 2020",
    "under heavy load", "on Windows", "when the input had trailing spaces", "during daylight saving changes",
    "on slow connections", "for orders with a discount code", "when the cache was cold",
)  # fmt: skip
_REMEDIES = (
    "adding a null check", "escaping the input", "using UTC internally", "adding a lock around the update",
    "streaming the file instead of loading it all", "retrying with backoff", "quoting the values", "clearing the cache on logout",
    "validating the input first", "fixing an off-by-one in the loop", "awaiting the promise", "closing the connection in a finally block",
    "using Decimal for money", "paginating the query", "debouncing the handler",
)  # fmt: skip
_DOC_TOPICS = (
    "how to run the tests locally", "the environment variables", "the release process", "the API rate limits",
    "how to set up the dev environment", "the database schema", "the deployment steps", "the error codes",
    "the config options", "the upgrade path from v1", "the contributing guidelines", "the architecture",
    "the webhook payloads", "troubleshooting common errors", "the CLI commands", "the authentication flow",
)  # fmt: skip
_DOC_FILES = ("README.md", "docs/configuration.md", "CONTRIBUTING.md", "docs/api.md", "the wiki", "docs/deploy.md", "docs/architecture.md", "docs/faq.md")  # fmt: skip
_VERBS = ("parse", "load", "fetch", "build", "format", "validate", "compute", "send", "render", "sync", "resolve", "normalize", "export", "serialize", "check", "merge")  # fmt: skip
_NOUNS = ("date", "user", "order", "invoice", "config", "token", "report", "session", "payload", "price", "address", "email", "timestamp", "header", "record", "event", "path", "query", "account", "message")  # fmt: skip
_QUALIFIERS = ("iso", "raw", "utc", "cached", "async", "safe", "full", "local", "remote", "pending", "default", "batch")  # fmt: skip
_SUFFIXES = (
    "Service",
    "Manager",
    "Helper",
    "Client",
    "Handler",
    "Repository",
    "Controller",
    "Builder",
    "Store",
)
_PACKAGES = {
    "requirements.txt": ("requests", "django", "flask", "numpy", "pandas", "pydantic", "sqlalchemy", "pytest", "fastapi", "celery", "boto3", "httpx"),
    "package.json": ("react", "lodash", "express", "typescript", "webpack", "eslint", "axios", "next", "vite", "jest", "zod"),
    "Cargo.toml": ("serde", "tokio", "clap", "reqwest", "anyhow"),
    "go.mod": ("gin", "cobra", "testify", "zap"),
    "Gemfile": ("rails", "rspec", "sidekiq", "devise"),
}  # fmt: skip
_FLAGS = {
    "dry-run": "prints what would change without changing anything", "verbose": "prints every step", "force": "skips the confirmation prompt",
    "since": "only handles records newer than a date", "limit": "caps how many items it processes", "json": "prints machine-readable output",
    "no-cache": "bypasses the local cache", "parallel": "runs the jobs concurrently", "timeout": "aborts after N seconds", "watch": "reruns on file changes",
}  # fmt: skip
_COMMANDS = (
    "deploy",
    "export",
    "import",
    "sync",
    "backup",
    "migrate",
    "build",
    "release",
    "cleanup",
    "report",
)


def identifier_pair(rng: random.Random, style: str) -> tuple[str, str]:
    """An identifier and a renamed one (``parse_date`` -> ``parse_iso_date``) in a naming
    style: ``snake``, ``camel``, ``class`` or ``env``."""
    verb, noun, qual = rng.choice(_VERBS), rng.choice(_NOUNS), rng.choice(_QUALIFIERS)
    old, new = [verb, noun], rng.choice(([verb, qual, noun], [rng.choice(_VERBS), noun], [verb, noun, qual]))
    if new == old:
        new = [verb, qual, noun]
    if style == "class":
        suffix = rng.choice(_SUFFIXES)
        return noun.capitalize() + suffix, qual.capitalize() + noun.capitalize() + suffix
    if style == "camel":
        return old[0] + "".join(w.capitalize() for w in old[1:]), new[0] + "".join(
            w.capitalize() for w in new[1:]
        )
    if style == "env":
        return "_".join(["APP", *old]).upper(), "_".join(["APP", *new]).upper()
    return "_".join(old), "_".join(new)


def version_pair(rng: random.Random) -> tuple[str, str]:
    """A version and a later one (a patch, minor or major bump)."""
    major, minor, patch = rng.randint(0, 9), rng.randint(0, 30), rng.randint(0, 12)
    bumped = rng.choice(
        ((major, minor, patch + rng.randint(1, 4)), (major, minor + rng.randint(1, 3), 0), (major + 1, 0, 0))
    )
    old = f"{major}.{minor}.{patch}" if rng.random() < 0.6 else f"{major}.{minor}"
    return old, ".".join(map(str, bumped))


def _rename(rng: random.Random, component: str) -> Task:
    what, style = rng.choice(
        (
            ("function", "snake"),
            ("method", "camel"),
            ("class", "class"),
            ("module", "snake"),
            ("env var", "env"),
            ("helper", "snake"),
        )
    )
    old, new = identifier_pair(rng, style)
    text = rng.choice((
        f"I renamed the {old} {what} to {new}.", f"Renamed {old} -> {new} everywhere, no logic changes",
        f"rename {old} to {new} in the {component}", f"{old} is now called {new}; I updated all the call sites.",
        f"Changed the name of the {what} {old} to {new} so it says what it does.",
    ))  # fmt: skip
    return Task(text, f"rename:{old}:{new}", (new,))


def _bump(rng: random.Random) -> Task:
    manifest = rng.choice(list(_PACKAGES))
    package, (old, new) = rng.choice(_PACKAGES[manifest]), version_pair(rng)
    text = rng.choice((
        f"Bumped {package} from {old} to {new} in {manifest}.", f"Upgraded {package} to {new}.", f"updated {package} {old} -> {new}",
        f"I upgraded {package} from {old} to {new}; the changelog says it fixes a security issue.", f"dependency update: {package} {new} (was {old})",
    ))  # fmt: skip
    return Task(text, f"bump:{package}:{new}", (new,))


def _feature(rng: random.Random, component: str) -> Task:
    if rng.random() < 0.25:
        (flag, does), command = rng.choice(list(_FLAGS.items())), rng.choice(_COMMANDS)
        text = rng.choice(
            (
                f"I added a --{flag} flag to the {command} command that {does}.",
                f"new --{flag} option for `{command}`: it {does}",
            )
        )
        return Task(text, f"flag:{command}:{flag}", (f"--{flag}", flag, flag.replace("-", " ")))
    feature, detail = rng.choice(_FEATURES), rng.choice(_DETAILS)
    text = rng.choice((
        f"I added {feature} to the {component}{detail}.", f"Added {feature} to the {component}{detail}",
        f"added {feature} in the {component}", f"The {component} now has {feature}{detail}.",
        f"Implemented {feature} for the {component}{detail}.", f"we shipped {feature} on the {component}{detail}",
    ))  # fmt: skip
    return Task(text, f"feat:{feature}:{component}")


def _fix(rng: random.Random, component: str) -> Task:
    symptom, condition, remedy = rng.choice(_SYMPTOMS), rng.choice(_CONDITIONS), rng.choice(_REMEDIES)
    text = rng.choice((
        f"Fixed a bug where the {component} {symptom} {condition}.", f"The {component} {symptom} {condition}; I fixed it by {remedy}.",
        f"fixed {component} bug: it {symptom} {condition}", f"Bug fix: the {component} {symptom} {condition}. The fix was {remedy}.",
        f"{condition.capitalize()}, the {component} {symptom}. Fixed by {remedy}.",
    ))  # fmt: skip
    return Task(text, f"fix:{component}:{symptom}:{condition}")


def _other(rng: random.Random, component: str) -> Task:
    topic, doc = rng.choice(_DOC_TOPICS), rng.choice(_DOC_FILES)
    (old_class, _), n = identifier_pair(rng, "class"), rng.randint(3, 19) * 100
    other = rng.choice(COMPONENTS)
    texts = (
        f"Documented {topic} in {doc}.", f"Updated {doc} to explain {topic}.", f"Fixed typos in {doc}.",
        f"I split the {n}-line {old_class} class into two smaller classes. No behaviour change.",
        f"Extracted the validation logic from the {component} into its own module; behaviour is the same.",
        f"Replaced the nested ifs in the {component} with a lookup table, no functional change.",
        f"The {component} made one database query per item; I batched them and it went from {rng.randint(2, 30)}s to {rng.randint(50, 900)}ms.",
        f"Cached the {component} results for {rng.randint(2, 60)} minutes, it was recomputed on every request.",
        f"Added unit tests for the {component}.", f"Wrote integration tests for the {component} and the {other}.",
        f"Added a regression test for the {component} bug {rng.choice(_CONDITIONS)}.",
        f"I added a GitHub Actions job that runs {rng.choice(('the linter', 'the type checker', 'a security scan', 'the docs build', 'the end-to-end tests'))} on every {rng.choice(('pull request', 'push to main', 'release tag'))}.",
        f"Ran {rng.choice(('black', 'prettier', 'gofmt', 'rustfmt', 'ruff format', 'clang-format'))} over {rng.choice(('the whole repo', 'the src folder', 'the tests', 'the frontend', 'all config files'))}.",
        f"Updated .gitignore to ignore {rng.choice(('the .venv folder', '*.log files', 'node_modules', 'coverage reports', '.idea/', 'build artifacts', 'local .env files'))}",
        f"Removed the unused {other} code, nothing referenced it anymore.",
    )  # fmt: skip
    text = texts[rng.randrange(len(texts))]
    return Task(text, f"change:{text}")


def _breaking(rng: random.Random) -> Task:
    resource, version = (
        rng.choice(("users", "orders", "invoices", "reports", "projects", "teams", "files", "payments")),
        rng.randint(1, 3),
    )
    old, new = f"/v{version}/{resource}", f"/v{version + 1}/{resource}"
    if rng.random() < 0.5:
        text = rng.choice(
            (
                f"We removed the deprecated {old} endpoint; clients have to use {new} now.",
                f"Dropped {old}. Everyone must call {new} instead. This breaks old clients.",
            )
        )
        return Task(text, f"breaking:{old}", (new,))
    runtime, floor = rng.choice(
        (
            ("Python", (3, rng.randint(9, 12))),
            ("Node.js", (rng.randint(16, 22), 0)),
            ("Java", (rng.randint(11, 21), 0)),
        )
    )
    required = f"{floor[0]}.{floor[1]}" if runtime == "Python" else str(floor[0])
    text = f"We dropped support for older {runtime} versions; {runtime} {required} or newer is now required."
    return Task(text, f"runtime:{runtime}:{required}", (f"{runtime} {required}", required))


def code_change(rng: random.Random) -> Task:
    """One described change: a fixed mix of change kinds, like a real repository's history."""
    component = rng.choice(COMPONENTS)
    kind = rng.choices(
        ("feature", "fix", "other", "rename", "bump", "breaking"), weights=(24, 24, 30, 10, 9, 3)
    )[0]
    if kind == "feature":
        return _feature(rng, component)
    if kind == "fix":
        return _fix(rng, component)
    if kind == "rename":
        return _rename(rng, component)
    if kind == "bump":
        return _bump(rng)
    if kind == "breaking":
        return _breaking(rng)
    return _other(rng, component)
