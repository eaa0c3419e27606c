"""The inference plane's backends: ``local`` (transformers + PEFT in process), ``openai`` and
``vllm`` (proxies to OpenAI-compatible upstreams), behind one ``Backend`` interface and a
``Router`` that picks the backend by model id."""

from .backend import AdapterSpec, Backend, Cancellation, RawJson
from .router import Router, build_backends

__all__ = ["AdapterSpec", "Backend", "Cancellation", "RawJson", "Router", "build_backends"]
