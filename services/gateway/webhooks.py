"""Webhooks: a finished job is POSTed to its API key's webhook URL, signed, retried with backoff.

The job's handler only adds a ``webhook_deliveries`` row in the transaction that finishes the
job (``enqueue``); the ``WebhookSender`` (a task of every gateway replica) sends due rows, so a
slow or dead endpoint never holds the pipeline. Each row is claimed first (a conditional update
of its ``next_attempt_at``), so two replicas never send it at once.

Signing follows Standard Webhooks, as OpenAI's own webhooks do: headers ``webhook-id`` (the
delivery id, the same on every retry: receivers dedupe by it), ``webhook-timestamp`` (Unix
seconds) and ``webhook-signature``: ``v1,`` + base64 HMAC-SHA256 of ``id.timestamp.body`` keyed
with the base64 part of the key's ``whsec_`` secret. The body is OpenAI's event shape::

    {"object": "event", "id": "evt_...", "type": "fine_tuning.job.succeeded",
     "created_at": 1764000000, "data": {"id": "ftjob-...", "status": "succeeded", ...}}

A 2xx answer delivers it; anything else (or no answer) is retried after ``webhook_backoff``
seconds, attempt after attempt, then given up (``done_at`` set, ``last_error`` says why).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import secrets
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from skill_adapter.runtime.log import get_logger

from .models import ApiKeyRow, JobRow, WebhookDeliveryRow

log = get_logger(__name__)

CLAIM_SECONDS = 120.0
"""How long a claimed delivery is left to the replica sending it (then it is due again)."""
BATCH = 20


def _now() -> datetime:
    return datetime.now(UTC)


def enqueue(session: AsyncSession, job: JobRow) -> None:
    """Queue the webhook of ``job``, which has just finished (a key without a webhook gets none:
    the sender drops it)."""
    if job.owner is None:
        return
    now = _now()
    delivery_id = f"msg_{secrets.token_hex(12)}"
    event = {
        "object": "event",
        "id": f"evt_{secrets.token_hex(12)}",
        "type": f"fine_tuning.job.{job.status}",
        "created_at": int(now.timestamp()),
        "data": {
            "id": job.id,
            "status": job.status,
            "model": job.model,
            "fine_tuned_model": job.fine_tuned_model,
            "skill_name": job.skill_name,
            "error": job.error,
            "metadata": job.user_metadata,
        },
    }
    session.add(
        WebhookDeliveryRow(
            id=delivery_id,
            key_id=job.owner,
            job_id=job.id,
            event_type=event["type"],
            payload=json.dumps(event, separators=(",", ":")),
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
    )


def sign(secret: str, delivery_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` header value (Standard Webhooks ``v1``)."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{delivery_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


class WebhookSender:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        backoff: Sequence[float],
        timeout: float,
        *,
        poll: float = 1.0,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        self._sessions = sessions
        self._backoff = list(backoff)
        self._timeout = timeout
        self._poll = poll
        self._clock = clock
        self._http: aiohttp.ClientSession | None = None

    async def run(self) -> None:
        """Send due deliveries until cancelled."""
        try:
            while True:
                try:
                    await self.send_due()
                except Exception:  # a database hiccup: try again at the next poll
                    log.exception("webhook sending failed; retrying")
                await asyncio.sleep(self._poll)
        finally:
            if self._http is not None:
                await self._http.close()

    async def send_due(self) -> int:
        """Send what is due now; how many were claimed."""
        now = self._clock()
        async with self._sessions() as session:
            due = list(
                (
                    await session.execute(
                        select(WebhookDeliveryRow.id, WebhookDeliveryRow.next_attempt_at)
                        .where(
                            WebhookDeliveryRow.done_at.is_(None), WebhookDeliveryRow.next_attempt_at <= now
                        )
                        .order_by(WebhookDeliveryRow.next_attempt_at)
                        .limit(BATCH)
                    )
                ).all()
            )
        claimed = 0
        for delivery_id, due_at in due:
            if await self._claim(delivery_id, due_at, now):
                claimed += 1
                await self._send(delivery_id)
        return claimed

    async def _claim(self, delivery_id: str, due_at: datetime, now: datetime) -> bool:
        async with self._sessions.begin() as session:
            result = await session.execute(
                update(WebhookDeliveryRow)
                .where(
                    WebhookDeliveryRow.id == delivery_id,
                    WebhookDeliveryRow.next_attempt_at == due_at,
                    WebhookDeliveryRow.done_at.is_(None),
                )
                .values(next_attempt_at=now + timedelta(seconds=CLAIM_SECONDS))
            )
            return bool(result.rowcount)  # type: ignore[attr-defined]

    async def _send(self, delivery_id: str) -> None:
        async with self._sessions.begin() as session:
            row = await session.get(WebhookDeliveryRow, delivery_id)
            assert row is not None
            key = await session.get(ApiKeyRow, row.key_id)
            if key is None or key.revoked_at is not None or not key.webhook_url or not key.webhook_secret:
                row.done_at, row.last_error = self._clock(), "the key has no webhook (or was revoked)"
                return
            url, secret, body = key.webhook_url, key.webhook_secret, row.payload.encode()
        error = await self._post(url, secret, delivery_id, body)
        async with self._sessions.begin() as session:
            row = await session.get(WebhookDeliveryRow, delivery_id)
            assert row is not None
            row.attempts += 1
            if error is None:
                row.done_at, row.last_error = self._clock(), None
                log.info("webhook delivered", delivery=delivery_id, job=row.job_id, type=row.event_type)
            elif row.attempts > len(self._backoff):
                row.done_at, row.last_error = self._clock(), f"gave up after {row.attempts} attempts: {error}"
                log.error("webhook given up", delivery=delivery_id, job=row.job_id, error=error)
            else:
                delay = self._backoff[row.attempts - 1]
                row.next_attempt_at, row.last_error = self._clock() + timedelta(seconds=delay), error
                log.warning("webhook failed; retrying", delivery=delivery_id, error=error, retry_in=delay)

    async def _post(self, url: str, secret: str, delivery_id: str, body: bytes) -> str | None:
        """``None`` when the endpoint took it (2xx), else why not."""
        if self._http is None or self._http.closed:
            self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self._timeout))
        timestamp = int(self._clock().timestamp())
        headers = {
            "Content-Type": "application/json",
            "webhook-id": delivery_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": sign(secret, delivery_id, timestamp, body),
            "User-Agent": "skill-adapter-webhooks",
        }
        try:
            async with self._http.post(url, data=body, headers=headers, allow_redirects=False) as response:
                if 200 <= response.status < 300:
                    return None
                text = (await response.text(errors="replace"))[:200]
                return f"HTTP {response.status}: {text}"
        except (TimeoutError, aiohttp.ClientError) as exc:
            return f"{type(exc).__name__}: {exc}"


@contextlib.asynccontextmanager
async def sending(sender: WebhookSender) -> Any:
    """Run ``sender`` in the background while the block runs."""
    task = asyncio.create_task(sender.run(), name="webhooks")
    try:
        yield sender
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
