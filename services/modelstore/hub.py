"""HuggingFace models from the local HF cache; a download only when explicitly allowed.

Nothing here downloads implicitly, even when ``HF_HUB_OFFLINE`` is unset: resolving a model
happens inside services (the gateway at start-up, the trainer when a job starts) where an
unexpected multi-gigabyte download would stall a request or a job for minutes, fill the
disk, or hang until a network timeout on the air-gapped machines this runs on. A download
has to be asked for (``ModelStore(allow_download=True)``), and ``HF_HUB_OFFLINE=1`` forbids
it even then.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import structlog

from .errors import ModelNotFound, ModelStoreError

log = structlog.get_logger(__name__)

TRUE_VALUES = {"1", "on", "yes", "true"}
# Model files worth fetching when a download is allowed (not the training checkpoints, ONNX,
# GGUF or framework copies some repositories also hold).
DOWNLOAD_PATTERNS = ["*.json", "*.safetensors", "*.jinja", "*.txt", "*.model", "*.tiktoken", "*.py"]
REPO_ID = re.compile(r"^(?:[A-Za-z0-9][\w.-]{0,95}/)?[A-Za-z0-9][\w.-]{0,95}$")


def hub_offline() -> bool:
    """``HF_HUB_OFFLINE`` (or the older ``TRANSFORMERS_OFFLINE``) as huggingface_hub reads it,
    but read now rather than when huggingface_hub was imported."""
    return any(
        os.environ.get(name, "").strip().lower() in TRUE_VALUES
        for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    )


def looks_like_repo_id(model: str) -> bool:
    return bool(REPO_ID.match(model)) and ".." not in model and not model.endswith((".", "-"))


def _missing_weights(folder: Path) -> str | None:
    """What a snapshot lacks to be loadable, or ``None``."""
    if not (folder / "config.json").is_file():
        return "config.json"
    for index_name in ("model.safetensors.index.json", "pytorch_model.bin.index.json"):
        index = folder / index_name
        if index.is_file():
            try:
                shards = set(json.loads(index.read_text(encoding="utf-8"))["weight_map"].values())
            except (OSError, ValueError, KeyError, TypeError):
                return index_name
            missing = sorted(shard for shard in shards if not (folder / shard).is_file())
            return ", ".join(missing) if missing else None
    if (folder / "model.safetensors").is_file() or (folder / "pytorch_model.bin").is_file():
        return None
    return "model.safetensors"


def find_in_hub_cache(repo_id: str, *, cache_dir: Path | None, allow_download: bool) -> Path:
    """The snapshot folder of ``repo_id``: from the local cache, or downloaded when allowed and online."""
    try:
        from huggingface_hub import snapshot_download
        from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError
    except ImportError as exc:
        raise ModelStoreError(
            "models from the HuggingFace cache need huggingface_hub: pip install 'agent-skill-adapter[local]'"
        ) from exc

    where = str(cache_dir) if cache_dir else "the HuggingFace cache (HF_HUB_CACHE / HF_HOME)"
    folder: Path | None = None
    try:
        folder = Path(snapshot_download(repo_id, cache_dir=cache_dir, local_files_only=True))
    except LocalEntryNotFoundError:
        folder = None
    if folder is not None and (lacking := _missing_weights(folder)) is None:
        return folder

    if allow_download and not hub_offline():
        log.info("downloading model from the HuggingFace Hub (allow_download is set)", model=repo_id)
        try:
            folder = Path(snapshot_download(repo_id, cache_dir=cache_dir, allow_patterns=DOWNLOAD_PATTERNS))
        except (HfHubHTTPError, OSError) as exc:
            raise ModelNotFound(f"downloading {repo_id} failed: {exc}") from exc
        if (lacking := _missing_weights(folder)) is None:
            return folder
        raise ModelNotFound(f"{repo_id} was downloaded but has no loadable weights (missing {lacking})")

    found = "is not in" if folder is None else f"is only partly in (missing {lacking})"
    if allow_download:
        why = "downloads are disabled by HF_HUB_OFFLINE / TRANSFORMERS_OFFLINE"
    else:
        why = "nothing is downloaded unless allow_download is set"
    raise ModelNotFound(
        f"model {repo_id} {found} {where}, and {why}. Download it on a machine with access "
        f"(hf download {repo_id}) and copy its cache folder models--{repo_id.replace('/', '--')} "
        f"into this one, or pass the path of a local model folder instead."
    )
