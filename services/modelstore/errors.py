"""What can go wrong when a model is looked up, converted or loaded."""

from __future__ import annotations


class ModelStoreError(Exception):
    """Base class of the model store's errors."""


class ModelNotFound(ModelStoreError, LookupError):
    """The model is neither embedded, a local folder, nor in the local HuggingFace cache.

    The message says what to do about it; nothing was downloaded.
    """


class ConversionFailed(ModelStoreError):
    """The embedded GGUF could not be turned into a safetensors folder (nothing was kept)."""
