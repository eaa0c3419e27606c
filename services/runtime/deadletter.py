"""The dead-letter stream: messages no handler could process, kept with the reason.

A dead letter is the original payload, unchanged, published on ``deadletter.<subject>`` with
headers that say where it came from, how often it was delivered and why it failed. Its
``Nats-Msg-Id`` is derived from the original stream sequence, so dead-lettering the same
message twice (a retry, or the handler and the max-deliveries advisory both) stores it once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from nats.js import JetStreamContext, api
from nats.js.errors import NotFoundError

from skill_adapter.contracts import DEADLETTER_STREAM, deadletter_subject

from .publisher import MSG_ID

PREFIX = "Skill-Adapter-"
H_SUBJECT = PREFIX + "Original-Subject"
H_STREAM = PREFIX + "Original-Stream"
H_SEQUENCE = PREFIX + "Original-Sequence"
H_MSG_ID = PREFIX + "Original-Msg-Id"
H_CONSUMER = PREFIX + "Consumer"
H_DELIVERIES = PREFIX + "Deliveries"
H_ERROR = PREFIX + "Error"
H_ERROR_KIND = PREFIX + "Error-Kind"
H_FAILED_AT = PREFIX + "Failed-At"

MAX_ERROR_CHARS = 4000


@dataclass(frozen=True)
class DeadLetter:
    """One dead-lettered message, as read back from the DEADLETTER stream."""

    subject: str
    stream: str
    sequence: int
    consumer: str
    deliveries: int
    error: str
    error_kind: str
    failed_at: str
    payload: bytes
    original_msg_id: str | None = None
    deadletter_sequence: int | None = None


def _one_line(text: str) -> str:
    # Header values cannot hold line breaks; keep the text readable on one line.
    flat = " | ".join(line.strip() for line in text.splitlines() if line.strip())
    return flat[:MAX_ERROR_CHARS]


async def dead_letter(
    js: JetStreamContext,
    *,
    subject: str,
    stream: str,
    sequence: int,
    consumer: str,
    deliveries: int,
    error: str,
    error_kind: str,
    payload: bytes,
    original_msg_id: str | None = None,
    publish_timeout: float = 5.0,
) -> api.PubAck:
    headers = {
        MSG_ID: f"dlq:{stream}:{sequence}",
        H_SUBJECT: subject,
        H_STREAM: stream,
        H_SEQUENCE: str(sequence),
        H_CONSUMER: consumer,
        H_DELIVERIES: str(deliveries),
        H_ERROR: _one_line(error) or "unknown error",
        H_ERROR_KIND: error_kind,
        H_FAILED_AT: datetime.now(UTC).isoformat(),
    }
    if original_msg_id:
        headers[H_MSG_ID] = original_msg_id
    return await js.publish(deadletter_subject(subject), payload, timeout=publish_timeout, headers=headers)


def parse(raw: api.RawStreamMsg) -> DeadLetter:
    headers = raw.headers or {}
    return DeadLetter(
        subject=headers.get(H_SUBJECT, ""),
        stream=headers.get(H_STREAM, ""),
        sequence=int(headers.get(H_SEQUENCE, 0)),
        consumer=headers.get(H_CONSUMER, ""),
        deliveries=int(headers.get(H_DELIVERIES, 0)),
        error=headers.get(H_ERROR, ""),
        error_kind=headers.get(H_ERROR_KIND, ""),
        failed_at=headers.get(H_FAILED_AT, ""),
        payload=raw.data or b"",
        original_msg_id=headers.get(H_MSG_ID),
        deadletter_sequence=raw.seq,
    )


async def read_dead_letters(
    js: JetStreamContext, limit: int = 100, *, newest: bool = False
) -> list[DeadLetter]:
    """Up to ``limit`` dead letters in stream order: the oldest, or with ``newest`` the latest."""
    info = await js.stream_info(DEADLETTER_STREAM)
    first, last = info.state.first_seq, info.state.last_seq
    if not info.state.messages:
        return []
    sequences = range(last, first - 1, -1) if newest else range(first, last + 1)
    letters: list[DeadLetter] = []
    for seq in sequences:
        if len(letters) >= limit:
            break
        try:
            raw = await js.get_msg(DEADLETTER_STREAM, seq=seq)
        except NotFoundError:  # a deleted sequence is a gap
            continue
        letters.append(parse(raw))
    return letters[::-1] if newest else letters
