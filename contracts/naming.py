"""Names on the wire: subjects, streams, durable consumers, dead-letter subjects.

Subjects follow ``<context>.<cmd|evt>.<entity>.<action>.v<major>`` (all lowercase). One stream
per context captures ``<context>.>``; durable consumers are called ``<service>_<purpose>``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

CONTEXTS: tuple[str, ...] = ("skills", "datasets", "training", "evaluation", "serving")
"""Bounded contexts; each owns one JetStream stream named after it in upper case."""

DEADLETTER_STREAM = "DEADLETTER"
DEADLETTER_PREFIX = "deadletter"
ADVISORIES_STREAM = "ADVISORIES"
MAX_DELIVERIES_ADVISORY = "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES"

_SEGMENT = r"[a-z][a-z0-9_]*"
SUBJECT_PATTERN = re.compile(
    rf"^(?P<context>{_SEGMENT})\.(?P<kind>cmd|evt)\.(?P<entity>{_SEGMENT})"
    rf"\.(?P<action>{_SEGMENT})\.v(?P<major>[1-9][0-9]*)$"
)
_DURABLE_PART = re.compile(r"^[a-z][a-z0-9_-]*$")

Kind = Literal["cmd", "evt"]


class NamingError(ValueError):
    """A subject, stream or durable name breaks the naming convention."""


@dataclass(frozen=True, slots=True)
class Subject:
    """A parsed subject such as ``training.evt.job.succeeded.v1``."""

    context: str
    kind: Kind
    entity: str
    action: str
    major: int

    @classmethod
    def parse(cls, subject: str) -> Subject:
        match = SUBJECT_PATTERN.match(subject)
        if match is None:
            raise NamingError(
                f"subject {subject!r} does not match <context>.<cmd|evt>.<entity>.<action>.v<major>"
            )
        parts = match.groupdict()
        return cls(
            context=parts["context"],
            kind=parts["kind"],  # type: ignore[arg-type]
            entity=parts["entity"],
            action=parts["action"],
            major=int(parts["major"]),
        )

    @property
    def type(self) -> str:
        """The message type: the subject without its version suffix."""
        return f"{self.context}.{self.kind}.{self.entity}.{self.action}"

    @property
    def stream(self) -> str:
        return stream_name(self.context)

    def __str__(self) -> str:
        return f"{self.type}.v{self.major}"


def subject(context: str, kind: Kind, entity: str, action: str, major: int = 1) -> str:
    """Build a subject, validating every token."""
    return str(Subject.parse(f"{context}.{kind}.{entity}.{action}.v{major}"))


def stream_name(context: str) -> str:
    """The stream that captures ``<context>.>``."""
    if not re.fullmatch(_SEGMENT, context):
        raise NamingError(f"context {context!r} must match {_SEGMENT}")
    return context.upper()


def durable_name(service: str, purpose: str) -> str:
    """``<service>_<purpose>``; hyphens in the service name become underscores."""
    for part, label in ((service, "service"), (purpose, "purpose")):
        if not _DURABLE_PART.match(part):
            raise NamingError(f"{label} {part!r} must match {_DURABLE_PART.pattern}")
    return f"{service.replace('-', '_')}_{purpose.replace('-', '_')}"


def deadletter_subject(original_subject: str) -> str:
    """Where a message that could not be handled is kept: ``deadletter.<original subject>``."""
    return f"{DEADLETTER_PREFIX}.{original_subject}"


def max_deliveries_advisory(stream: str, durable: str) -> str:
    """The server's advisory subject for a message that exhausted ``durable``'s deliveries."""
    return f"{MAX_DELIVERIES_ADVISORY}.{stream}.{durable}"
