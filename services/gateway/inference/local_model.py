"""A base model in memory, the PEFT adapters on it, and how they get there (thread side).

Loading goes through the model store; the embedded model is converted once in a child process
(``prepare_in_subprocess``). Adapters are attached with PEFT's ``load_adapter`` under a PEFT
name derived from the adapter id (ids may hold dots, PEFT names may not), after the model
store's serving preflight. ``forward_with`` picks how one forward pass serves rows of several
adapters. torch, transformers and peft are imported inside the functions.
"""

from __future__ import annotations

import asyncio
import functools
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from ..settings import GatewaySettings, LocalBackendConfig, ServedModel
from .backend import AdapterSpec
from .grammar import GrammarCompiler


@dataclass
class LoadedAdapter:
    spec: AdapterSpec
    name: str  # the PEFT adapter name (ids may hold dots, PEFT names may not)
    mixable: bool = True  # may share a forward pass with other adapters (see ``forward_with``)


@dataclass
class LoadedModel:
    """A base model in memory and the adapters on it.

    Once serving, its weights and PEFT state are touched only by its engine's thread (forward
    passes; adapters are attached and detached there, between two steps).
    """

    served: ServedModel
    info: Any
    model: Any
    tokenizer: Any
    context_length: int
    eos_ids: frozenset[int]
    created: int
    grammars: GrammarCompiler
    peft: Any = None
    adapters: dict[str, LoadedAdapter] = field(default_factory=dict)
    peft_mode: str | None = None
    """What the PEFT layers are set for (``forward_with``): ``BASE``, an adapter, ``MIXED``;
    ``None``: as PEFT left them (adapters enabled)."""

    def names(self) -> set[str]:
        return {
            self.served.id,
            self.served.location,
            str(getattr(self.info, "id", "")),
            str(getattr(self.info, "path", "")),
        }


PREPARE = """
import sys
from pathlib import Path
from skill_adapter.modelstore import ModelStore
ModelStore(Path(sys.argv[1])).resolve(sys.argv[2])
"""


async def prepare_in_subprocess(settings: GatewaySettings, location: str) -> None:
    """Resolve (convert once) the embedded model in a child process.

    Converting the GGUF is ~20 s of CPU work holding the GIL much of the time; in a thread it
    would starve the event loop (health probes time out). A child process keeps the gateway
    responsive; the model store's lock makes concurrent converters convert once.
    """
    from skill_adapter.modelstore.embedded import embedded_model_id

    if embedded_model_id(location) is None:
        return
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        PREPARE,
        str(settings.resolved_model_cache_dir()),
        location,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await process.communicate()
    except asyncio.CancelledError:  # the gateway is stopping: do not leave a converter behind
        process.kill()
        await asyncio.shield(process.wait())
        raise
    if process.returncode != 0:
        tail = (err or out).decode(errors="replace").strip().splitlines()[-1:] or ["no output"]
        raise RuntimeError(f"preparing the model failed: {tail[0]}")


def load_base(settings: GatewaySettings, config: LocalBackendConfig, served: ServedModel) -> LoadedModel:
    from skill_adapter.modelstore import ModelStore, load_causal_lm

    info = ModelStore(settings.resolved_model_cache_dir()).resolve(served.location)
    model, tokenizer = load_causal_lm(info, device=config.device, dtype=config.dtype)
    model.eval()
    limit = getattr(model.config, "max_position_embeddings", None) or settings.context_length
    eos: set[int] = set()
    for source in (getattr(model, "generation_config", None), model.config, tokenizer):
        value = getattr(source, "eos_token_id", None)
        if isinstance(value, int):
            eos.add(value)
        elif isinstance(value, list | tuple):
            eos.update(int(v) for v in value)
    vocab_size = int(getattr(model.config, "vocab_size", 0) or len(tokenizer))
    return LoadedModel(
        served=served,
        info=info,
        model=model,
        tokenizer=tokenizer,
        context_length=min(settings.context_length, int(limit)),
        eos_ids=frozenset(eos),
        created=int(time.time()),
        grammars=GrammarCompiler(tokenizer, vocab_size, frozenset(eos)),
    )


BASE = "__base__"  # PEFT's name for "no adapter" in a mixed batch
MIXED = "mixed"


def _enable_adapters(loaded: LoadedModel) -> None:
    """Undo ``forward_with``'s base-only setting: the adapter layers as PEFT left them."""
    if loaded.peft is not None and loaded.peft_mode == BASE:
        loaded.peft.base_model.enable_adapter_layers()
    loaded.peft_mode = None


def attach_adapter(loaded: LoadedModel, adapter: LoadedAdapter) -> None:
    _enable_adapters(loaded)
    if loaded.peft is None:
        from peft import PeftModel

        loaded.peft = PeftModel.from_pretrained(
            loaded.model, str(adapter.spec.path), adapter_name=adapter.name, is_trainable=False
        )
        loaded.peft.eval()
    else:
        loaded.peft.load_adapter(str(adapter.spec.path), adapter_name=adapter.name, is_trainable=False)
    config = loaded.peft.peft_config[adapter.name]
    adapter.mixable = (
        getattr(config, "peft_type", None) == "LORA"  # a str enum
        and not getattr(config, "use_dora", False)
        and not getattr(config, "alora_invocation_tokens", None)
    )


def detach_adapter(loaded: LoadedModel, adapter: LoadedAdapter) -> None:
    _enable_adapters(loaded)
    if loaded.peft is None:
        return
    if len(loaded.adapters) <= 1:
        loaded.model = loaded.peft.unload()  # the last one: back to the plain base model
        loaded.peft = None
    else:
        if adapter.name in getattr(loaded.peft, "active_adapters", []):
            other = next(a.name for a in loaded.adapters.values() if a.name != adapter.name)
            loaded.peft.set_adapter(other)
        loaded.peft.delete_adapter(adapter.name)


@contextmanager
def forward_with(loaded: LoadedModel, adapters: Sequence[str | None]) -> Iterator[Callable[..., Any]]:
    """The module to call for one forward pass whose rows use ``adapters`` (PEFT names, one per
    row; ``None``: the base model). Called on the engine's thread only.

    One adapter for every row is the plain PEFT forward (``set_adapter``; the base alone runs
    with the adapter layers disabled, what ``disable_adapter()`` does), so a lone request
    computes exactly what it did before batching. The setting is kept between steps and
    changed only when the batch changes (``disable_adapter()`` itself costs milliseconds per
    call: it inspects every layer). Rows of several adapters (the base included, as
    ``"__base__"``) share one forward pass with PEFT's mixed-adapter batches
    (``adapter_names=``): each LoRA layer runs the base weights over every row, then each
    adapter's low-rank update over its own rows. That keeps the batch as large as the traffic
    allows, where batching per adapter would split it and make adapters take turns. PEFT
    refuses it for DoRA (and aLoRA needs offsets we do not compute), so such adapters are not
    ``mixable``: the scheduler never puts them beside another adapter.
    """
    peft = loaded.peft
    names = set(adapters)
    if peft is None:
        if names - {None}:
            raise RuntimeError(f"adapters {sorted(n for n in names if n)} are not loaded")
        yield loaded.model
        return
    if names == {None}:
        if loaded.peft_mode != BASE:
            peft.base_model.disable_adapter_layers()
            loaded.peft_mode = BASE
        yield peft
        return
    _enable_adapters(loaded)
    if len(names) == 1:
        (name,) = names
        if peft.active_adapter != name:
            peft.set_adapter(name, inference_mode=True)
        loaded.peft_mode = name
        yield peft
    else:
        loaded.peft_mode = MIXED
        yield functools.partial(peft, adapter_names=[name or BASE for name in adapters])


VLLM_ONLY_PROBLEMS = frozenset(
    {
        "rank_unsupported",
        "rank_too_large",
        "modules_to_save",
        "lm_head_weights",
        "embedding_weights",
        "dora_unsupported",
        "bias_unsupported",
        "base_unknown",
    }
)
"""Preflight findings that stop vLLM but not PEFT (the registry refuses them for vLLM)."""


def same_base(a: str, b: str) -> bool:
    from skill_adapter.modelstore import same_model

    return same_model(a, b)


def preflight(spec: AdapterSpec, loaded: LoadedModel) -> list[str]:
    """Why the model store says ``spec`` cannot be served on ``loaded`` (empty: it can)."""
    if not (spec.path / "adapter_config.json").is_file():
        return [f"no PEFT adapter at {spec.path} (adapter_config.json missing)"]
    from skill_adapter.modelstore import preflight_adapter

    return [
        f"{problem.code}: {problem.message}"
        for problem in preflight_adapter(spec.path, loaded.info)
        if str(problem.code) not in VLLM_ONLY_PROBLEMS
    ]
