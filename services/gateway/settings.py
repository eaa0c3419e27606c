"""Settings of the gateway (env prefix ``SKILL_ADAPTER_``), on top of the runtime's.

Inference backends are a JSON list in ``SKILL_ADAPTER_BACKENDS``, one object per backend,
picked by ``kind``; a model id is served by the first backend that has it::

    SKILL_ADAPTER_BACKENDS='[
      {"kind": "local", "models": ["HuggingFaceTB/SmolLM2-135M-Instruct",
                                   {"id": "tiny", "source": "/models/tiny-llama"}]},
      {"kind": "vllm", "base_url": "http://gpu-box:8000/v1", "api_key": "...",
       "lora_root": "/mnt/adapters"},
      {"kind": "openai", "base_url": "https://teacher.example/v1", "api_key": "...",
       "models": ["teacher-70b"]}
    ]'

* ``local``: transformers + PEFT in this process (the ``local`` extra). ``models`` are model
  store ids or local paths (``{"id", "source"}`` serves a source under another id); empty means
  ``default_model``. Served adapters of these bases (promoted ones, and candidates with
  ``serve_candidates``) are loaded from ``adapters_dir``.
* ``openai``: any OpenAI-compatible server at ``base_url`` (ending in ``/v1``), with its key.
  ``models`` limits what is routed there; empty means whatever its ``/v1/models`` lists.
* ``vllm``: an ``openai`` backend that is a vLLM server started with ``--enable-lora`` and
  ``VLLM_ALLOW_RUNTIME_LORA_UPDATING=True``: served adapters of its bases are loaded into it
  with ``/v1/load_lora_adapter`` (from ``lora_root``, the adapters folder as that server sees
  it; default ``adapters_dir``) and retired ones unloaded; health comes from ``/health``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from skill_adapter.contracts.training import Hyperparameter
from skill_adapter.runtime import RuntimeSettings

MIB = 1024 * 1024
DEFAULT_MODEL = "HuggingFaceTB/SmolLM2-135M-Instruct"
"""The embedded default base model (the model store's ``DEFAULT_MODEL``)."""


class _BackendConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str | None = Field(default=None, description="A name for logs and /health; default kind + index.")


class ServedModel(BaseModel):
    """A base model a local backend serves: ``id`` for clients, ``source`` for the model store."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(min_length=1)
    source: str | None = Field(default=None, description="Model store id or local path; default `id`.")

    @property
    def location(self) -> str:
        return self.source or self.id


class LocalBackendConfig(_BackendConfig):
    kind: Literal["local"] = "local"
    models: list[str | ServedModel] = Field(
        default_factory=list, description="Base models to load; empty means `default_model`."
    )
    device: str = Field(default="cpu", description="torch device, e.g. `cpu` or `cuda:0`.")
    dtype: str | None = Field(default=None, description="torch dtype name; default the model store's.")
    max_batch_rows: int = Field(
        default=16,
        ge=1,
        le=256,
        description="Rows (choices) decoded together per model, in one forward pass per token; "
        "1 decodes one prompt at a time. A request with more choices runs alone.",
    )
    prefix_cache_tokens: int = Field(
        default=4096,
        ge=0,
        description="Prompt tokens whose KV cache is kept per model, so a prompt that starts like a "
        "recent one prefills only the rest; 0 turns the prefix cache off.",
    )
    prefix_min_tokens: int = Field(
        default=32, ge=1, description="Shortest shared prompt prefix the prefix cache reuses."
    )

    def served(self, default_model: str) -> list[ServedModel]:
        models = self.models or [default_model]
        return [ServedModel(id=m) if isinstance(m, str) else m for m in models]


class OpenAIBackendConfig(_BackendConfig):
    kind: Literal["openai", "vllm"] = "openai"
    base_url: str = Field(description="The upstream's API root, e.g. `http://127.0.0.1:8001/v1`.")
    api_key: SecretStr | None = Field(default=None, description="Sent as `Authorization: Bearer`.")
    models: list[str] = Field(
        default_factory=list, description="Model ids to route here; empty means what the upstream lists."
    )
    vllm: bool | None = Field(
        default=None, description="Load/unload adapters at runtime (vLLM); default true for kind `vllm`."
    )
    lora_root: str | None = Field(
        default=None, description="The adapters folder as the vLLM server sees it; default `adapters_dir`."
    )
    timeout: float = Field(default=600.0, gt=0, description="Seconds an upstream request may take.")
    connect_timeout: float = Field(default=5.0, gt=0)

    @property
    def is_vllm(self) -> bool:
        return self.vllm if self.vllm is not None else self.kind == "vllm"


BackendConfig = Annotated[LocalBackendConfig | OpenAIBackendConfig, Field(discriminator="kind")]


class GatewaySettings(RuntimeSettings):
    host: str = Field(default="127.0.0.1", description="Interface the HTTP API listens on.")
    port: int = Field(default=8000, ge=0, le=65535, description="Port of the HTTP API (0 picks one).")
    max_upload_bytes: int = Field(
        default=50 * MIB, gt=0, description="Largest skill upload (SKILL.md or zip) accepted, in bytes."
    )
    auto_train: bool = Field(
        default=True,
        description="Start a fine-tuning job for every new skill version (the watched bucket, uploads).",
    )
    auto_train_model: str = Field(
        default=DEFAULT_MODEL, min_length=1, description="The base model auto-started jobs teach."
    )
    auto_train_method: Literal["supervised", "reinforcement", "sft+grpo"] = Field(
        default="sft+grpo", description="The training method of auto-started jobs (the API's `method.type`)."
    )
    auto_train_hyperparameters: dict[str, Hyperparameter] = Field(
        default_factory=dict,
        description="Hyperparameters of auto-started jobs as JSON, by the trainer's names, e.g. "
        '`{"max_steps": 200, "lora_r": 16}`; those not set are `auto` (the trainer chooses).',
    )
    webhook_backoff: list[float] = Field(
        default=[5.0, 30.0, 120.0, 600.0, 3600.0],
        description="Seconds before each retry of a webhook that failed; then it is given up.",
    )
    webhook_timeout: float = Field(
        default=10.0, gt=0, description="Seconds a webhook endpoint has to answer."
    )
    job_samples: int = Field(
        default=200,
        ge=1,
        le=100_000,
        description="Training samples a fine-tuning job generates when its request does not say.",
    )
    max_request_bytes: int = Field(
        default=64 * MIB,
        gt=0,
        description="Largest request body of any route (JSON bodies, multipart envelopes).",
    )
    key_touch_interval: float = Field(
        default=60.0, ge=0, description="Seconds between writes of an API key's last use."
    )
    key_cache_size: int = Field(
        default=1024,
        ge=0,
        description=(
            "Verified API keys remembered per process while the database is unchanged (SQLite only: "
            "a revocation by any process is still refused at once); 0 reads the key on every request."
        ),
    )
    health_timeout: float = Field(default=2.0, gt=0, description="Seconds each health probe may take.")

    # -- inference plane ----------------------------------------------------------------
    backends: list[BackendConfig] = Field(
        default_factory=lambda: [LocalBackendConfig()],
        description="Inference backends as a JSON list (see the module docstring); default: local.",
    )
    default_model: str = Field(
        default=DEFAULT_MODEL, description="Base model a local backend serves when it lists none."
    )
    model_cache_dir: Path | None = Field(
        default=None, description="Model store cache (converted models); default `<state dir>/models`."
    )
    adapters_dir: Path | None = Field(
        default=None,
        description="Folder of PEFT adapters, one `<adapter id>/` each; default `<state dir>/adapters`.",
    )
    max_concurrent_generations: int = Field(
        default=1,
        ge=1,
        le=64,
        description="Local engine: models computing at once (each one decodes all its requests in one batch).",
    )
    max_queued_generations: int = Field(
        default=64, ge=0, description="Local engine: requests waiting for a turn before answering 503."
    )
    context_length: int = Field(
        default=8192,
        ge=16,
        description="Cap on prompt + completion tokens (the model's own limit applies too).",
    )
    rate_limit_rpm: int = Field(
        default=0, ge=0, description="Requests per minute per API key (token bucket, per process); 0 is off."
    )
    adapter_sync_seconds: float = Field(
        default=0.5,
        gt=0,
        description="How often each replica reconciles its backends with the adapter registry.",
    )
    serve_candidates: bool = Field(
        default=True,
        description=(
            "Serve candidate adapters (registered, not promoted yet) besides promoted ones, to "
            "`models:evaluate` keys only, so an evaluator can test them before promotion."
        ),
    )
    upstream_check_seconds: float = Field(
        default=15.0, gt=0, description="How often upstream backends are probed and their models refreshed."
    )

    def resolved_model_cache_dir(self) -> Path:
        return self.model_cache_dir or self.state_dir / "models"

    def resolved_adapters_dir(self) -> Path:
        return self.adapters_dir or self.state_dir / "adapters"
