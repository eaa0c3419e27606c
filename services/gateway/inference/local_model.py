"""A base model in memory, the PEFT adapters on it, and how they get there (thread side).

Loading goes through the model store; the embedded model is converted once in a child process
(``prepare_in_subprocess``). Adapters are attached with PEFT's ``load_adapter`` under a PEFT
name derived from the adapter id (ids may hold dots, PEFT names may not), after the model
store's serving preflight. torch, transformers and peft are imported inside the functions.
"""

from __future__ import annotations

import asyncio
import sys
import time
from dataclasses import dataclass, field
from typing import Any

from ..settings import GatewaySettings, LocalBackendConfig, ServedModel
from .backend import AdapterSpec
from .grammar import GrammarCompiler


@dataclass
class LoadedAdapter:
    spec: AdapterSpec
    name: str  # the PEFT adapter name (ids may hold dots, PEFT names may not)


@dataclass
class LoadedModel:
    """A base model in memory and the adapters on it. Touched only under ``lock``."""

    served: ServedModel
    info: Any
    model: Any
    tokenizer: Any
    context_length: int
    eos_ids: frozenset[int]
    created: int
    grammars: GrammarCompiler
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    peft: Any = None
    adapters: dict[str, LoadedAdapter] = field(default_factory=dict)

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


def attach_adapter(loaded: LoadedModel, adapter: LoadedAdapter) -> None:
    if loaded.peft is None:
        from peft import PeftModel

        loaded.peft = PeftModel.from_pretrained(
            loaded.model, str(adapter.spec.path), adapter_name=adapter.name, is_trainable=False
        )
        loaded.peft.eval()
    else:
        loaded.peft.load_adapter(str(adapter.spec.path), adapter_name=adapter.name, is_trainable=False)


def detach_adapter(loaded: LoadedModel, adapter: LoadedAdapter) -> None:
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
