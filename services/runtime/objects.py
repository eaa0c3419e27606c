"""JetStream Object Store: large payloads (skills, datasets, adapters) by name and digest.

Digests are lowercase hex sha256 everywhere in this project; the Object Store's own
``SHA-256=<base64url>`` form is converted at this boundary.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from nats.js import JetStreamContext, api
from nats.js.errors import BucketNotFoundError, NotFoundError, ObjectNotFoundError
from nats.js.object_store import ObjectStore

from skill_adapter.contracts import BucketSpec

from .log import get_logger

log = get_logger(__name__)


class ObjectMissing(LookupError):
    pass


@dataclass(frozen=True)
class StoredObject:
    bucket: str
    name: str
    size: int
    digest: str  # hex sha256
    headers: dict[str, str] = field(default_factory=dict)
    nuid: str | None = None  # changes with every put, even of the same bytes
    mtime: str | None = None  # when it was put (RFC 3339, as the server wrote it)


def object_headers(info: api.ObjectInfo) -> dict[str, str]:
    """Object headers, first value of each (the store keeps them as lists, like HTTP headers)."""
    found: dict[str, str] = {}
    for key, value in (info.headers or {}).items():
        if isinstance(value, list):
            if value:
                found[key] = str(value[0])
        elif value is not None:
            found[key] = str(value)
    return found


def hex_digest(info: api.ObjectInfo) -> str:
    raw = (info.digest or "").split("=", 1)[-1]
    if not raw:
        return ""
    return base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).hex()


def stored(bucket: str, info: api.ObjectInfo) -> StoredObject:
    return StoredObject(
        bucket, info.name, info.size or 0, hex_digest(info), object_headers(info), info.nuid, info.mtime
    )


async def ensure_bucket(js: JetStreamContext, spec: BucketSpec) -> tuple[ObjectStore, bool]:
    """The bucket, created if missing; ``True`` when it was created."""
    try:
        return await js.object_store(spec.name), False
    except (BucketNotFoundError, NotFoundError):
        config = api.ObjectStoreConfig(
            bucket=spec.name,
            description=spec.description or None,
            max_bytes=spec.max_bytes,
            storage=api.StorageType(spec.storage),
            replicas=spec.num_replicas,
        )
        store = await js.create_object_store(spec.name, config=config)
        log.info("object store bucket created", bucket=spec.name)
        return store, True


class Objects:
    """Put and get whole objects; ``get`` verifies the digest (the client checks chunks too)."""

    def __init__(self, js: JetStreamContext) -> None:
        self._js = js
        self._stores: dict[str, ObjectStore] = {}

    async def store(self, bucket: str) -> ObjectStore:
        if bucket not in self._stores:
            self._stores[bucket] = await self._js.object_store(bucket)
        return self._stores[bucket]

    async def put(
        self, bucket: str, name: str, data: bytes, headers: dict[str, str] | None = None
    ) -> StoredObject:
        meta = api.ObjectMeta(name=name, headers={k: [v] for k, v in (headers or {}).items()} or None)
        info = await (await self.store(bucket)).put(name, data, meta=meta)
        digest = hashlib.sha256(data).hexdigest()
        return StoredObject(bucket, name, info.size or len(data), digest, dict(headers or {}), info.nuid)

    async def put_file(
        self, bucket: str, name: str, path: Path, headers: dict[str, str] | None = None
    ) -> StoredObject:
        """Stream the file at ``path`` into the bucket (chunk by chunk: a checkpoint of gigabytes
        is never held in memory)."""
        meta = api.ObjectMeta(name=name, headers={k: [v] for k, v in (headers or {}).items()} or None)
        store = await self.store(bucket)
        with Path(path).open("rb") as handle:  # noqa: ASYNC230 - the client reads it in an executor
            info = await store.put(name, handle, meta=meta)
        return StoredObject(bucket, name, info.size or 0, hex_digest(info), dict(headers or {}), info.nuid)

    async def get_file(self, bucket: str, name: str, path: Path) -> StoredObject:
        """Stream an object into ``path`` (replaced); the client checks the stored digest as it goes."""
        store = await self.store(bucket)
        try:
            info = await store.get_info(name)
        except ObjectNotFoundError as exc:
            raise ObjectMissing(f"{bucket}/{name} does not exist") from exc
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            with path.open("wb") as handle:  # noqa: ASYNC230 - the client writes it in an executor
                await store.get(name, writeinto=handle)
        except ObjectNotFoundError as exc:
            path.unlink(missing_ok=True)
            raise ObjectMissing(f"{bucket}/{name} does not exist") from exc
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        return stored(bucket, info)

    async def delete(self, bucket: str, name: str) -> bool:
        """Delete an object; ``False`` when there was none."""
        try:
            await (await self.store(bucket)).delete(name)
        except ObjectNotFoundError:
            return False
        return True

    async def get(self, bucket: str, name: str) -> bytes:
        try:
            result = await (await self.store(bucket)).get(name)
        except ObjectNotFoundError as exc:
            raise ObjectMissing(f"{bucket}/{name} does not exist") from exc
        return bytes(result.data or b"")

    async def info(self, bucket: str, name: str) -> StoredObject | None:
        try:
            info = await (await self.store(bucket)).get_info(name)
        except ObjectNotFoundError:
            return None
        return stored(bucket, info)

    async def list(self, bucket: str) -> list[StoredObject]:
        store = await self.store(bucket)
        try:
            infos = await store.list(ignore_deletes=True)
        except (NotFoundError, ObjectNotFoundError):  # an empty bucket, in some client versions
            return []
        return [stored(bucket, i) for i in infos if not i.deleted]
