"""Publishing to JetStream with ``Nats-Msg-Id = event_id`` and an awaited stream ack."""

from __future__ import annotations

from nats.js import JetStreamContext, api

from skill_adapter.contracts import Message

MSG_ID = "Nats-Msg-Id"
TYPE_HEADER = "Skill-Adapter-Type"
CORRELATION_HEADER = "Skill-Adapter-Correlation-Id"


def encode(message: Message) -> bytes:
    return message.model_dump_json().encode()


def headers_for(message: Message) -> dict[str, str]:
    return {
        MSG_ID: message.event_id,
        TYPE_HEADER: message.type,
        CORRELATION_HEADER: message.correlation_id,
    }


class Publisher:
    """Sends contracts; a publish returns only once the stream has stored the message."""

    def __init__(self, js: JetStreamContext, timeout: float = 5.0) -> None:
        self._js = js
        self._timeout = timeout

    async def publish(self, message: Message) -> api.PubAck:
        return await self.publish_raw(message.SUBJECT, encode(message), headers_for(message))

    async def publish_raw(self, subject: str, payload: bytes, headers: dict[str, str]) -> api.PubAck:
        if MSG_ID not in headers:
            raise ValueError("every publish carries Nats-Msg-Id so the stream can de-duplicate it")
        return await self._js.publish(subject, payload, timeout=self._timeout, headers=headers)
