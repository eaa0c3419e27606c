"""The envelope every message on the wire carries.

A concrete message names its subject once, in the class statement::

    class JobSucceeded(Event, subject="training.evt.job.succeeded.v1"):
        job_id: str

and gets ``type`` and ``version`` as constants derived from it (they appear as ``const`` in its
JSON Schema). ``event_id`` is sent as ``Nats-Msg-Id`` so the stream drops duplicate publishes.
"""

from __future__ import annotations

import inspect
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from .naming import Subject

Sha256Hex = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$", description="sha256, lowercase hex")]


def new_event_id() -> str:
    return str(uuid.uuid4())


def utcnow() -> datetime:
    return datetime.now(UTC)


class Message(BaseModel):
    """Base of every event and command.

    Frozen, and a tolerant reader: fields it does not know are ignored, so a producer that
    adds an optional field (same major version) does not break consumers running older code.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    SUBJECT: ClassVar[str]
    KIND: ClassVar[Literal["cmd", "evt"]]

    event_id: str = Field(
        default_factory=new_event_id,
        min_length=1,
        max_length=128,
        description="Unique id of this message; sent as Nats-Msg-Id for stream de-duplication.",
    )
    type: str = Field(description="The subject without its version, e.g. training.evt.job.succeeded.")
    version: int = Field(description="Major version of the contract; the subject ends in .v<version>.")
    occurred_at: AwareDatetime = Field(default_factory=utcnow, description="When it happened (UTC).")
    correlation_id: str = Field(
        min_length=1,
        max_length=256,
        description="The job, skill version or run this message belongs to.",
    )
    causation_id: str | None = Field(
        default=None, max_length=128, description="event_id of the message that caused this one."
    )
    producer: str = Field(min_length=1, max_length=64, description="Service that produced it.")

    def __init_subclass__(cls, subject: str | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if subject is None:
            return
        parsed = Subject.parse(subject)
        expected_kind = getattr(cls, "KIND", None)
        if expected_kind is not None and parsed.kind != expected_kind:
            raise TypeError(f"{cls.__name__} is a {expected_kind!r} but its subject is {subject!r}")
        cls.SUBJECT = str(parsed)
        # Runs before pydantic collects fields, so these become Literal-typed constants.
        own = dict(inspect.get_annotations(cls))
        cls.__annotations__ = {
            "type": Literal[parsed.type],  # type: ignore[valid-type]
            "version": Literal[parsed.major],  # type: ignore[valid-type]
            **own,
        }
        cls.type = parsed.type  # type: ignore[assignment]
        cls.version = parsed.major  # type: ignore[assignment]

    def caused(self) -> dict[str, str]:
        """Envelope fields for a message caused by this one (same correlation)."""
        return {"correlation_id": self.correlation_id, "causation_id": self.event_id}


class Event(Message):
    """Something that happened (past tense)."""

    KIND: ClassVar[Literal["evt"]] = "evt"


class Command(Message):
    """Something a service is asked to do (imperative)."""

    KIND: ClassVar[Literal["cmd"]] = "cmd"


class Diagnostic(BaseModel):
    """One problem found in user input, pointing at where it came from."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    severity: Literal["error", "warning"]
    code: str = Field(min_length=1, max_length=64)
    message: str = Field(min_length=1, max_length=4096)
    file: str | None = None
    line: int | None = Field(default=None, ge=1)
