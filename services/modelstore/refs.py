"""Whether two names refer to the same base model: ids, aliases and the folders they live in.

An adapter records its base as whatever the trainer loaded: a hub id, an alias, our own cache
folder (``<cache>/models/org--name``), a HuggingFace cache snapshot
(``.../models--org--name/snapshots/<rev>``) or some other local folder. Each is reduced to a
canonical key: a lower-case hub id where one can be recovered, else the absolute path.
"""

from __future__ import annotations

import json
from pathlib import Path

from .embedded import MODEL_MANIFEST, embedded_model_id


def _looks_like_path(ref: str) -> bool:
    return ref.startswith(("/", "./", "../", "~")) or ref in {".", ".."} or "\\" in ref or ref.count("/") > 1


def canonical_model_ref(ref: str) -> str:
    """A key equal for every name of the same model.

    >>> canonical_model_ref("smollm2") == canonical_model_ref("HuggingFaceTB/SmolLM2-135M-Instruct")
    True
    >>> canonical_model_ref("/data/hf/models--Org--Name/snapshots/abc123")
    'org/name'
    """
    text = ref.strip()
    if (embedded := embedded_model_id(text)) is not None:
        return embedded.lower()
    path = Path(text).expanduser()
    if not _looks_like_path(text) and not path.exists():
        return text.lower()  # a hub id
    manifest = path / MODEL_MANIFEST
    if manifest.is_file():
        try:
            recorded = json.loads(manifest.read_text(encoding="utf-8")).get("id")
        except (OSError, ValueError, AttributeError):
            recorded = None
        if isinstance(recorded, str) and recorded.strip() and recorded.strip() != text:
            return canonical_model_ref(recorded)
    parts = path.parts
    for index, part in enumerate(parts):
        # the HuggingFace cache: models--org--name/snapshots/<revision>
        if part.startswith("models--") and parts[index + 1 : index + 2] == ("snapshots",):
            return part.removeprefix("models--").replace("--", "/").lower()
    if len(parts) >= 2 and parts[-2] == "models" and "--" in parts[-1]:
        # our own cache, possibly on another machine: <cache>/models/org--name
        candidate = parts[-1].replace("--", "/", 1)
        if (embedded := embedded_model_id(candidate)) is not None:
            return embedded.lower()
        return candidate.lower()
    return str(path.resolve())


def same_model(a: str, b: str) -> bool:
    return canonical_model_ref(a) == canonical_model_ref(b)
