"""Settings of the data-generator (env prefix ``SKILL_ADAPTER_``), on top of the runtime's.

The generator never loads a model: it generates through the inference plane (the gateway's
OpenAI-compatible API, or any OpenAI-compatible server), with a key that may use models. A
teacher and a judge are optional OpenAI-compatible endpoints of their own.
"""

from __future__ import annotations

from pydantic import Field, SecretStr

from skill_adapter.runtime import RuntimeSettings


class DataGeneratorSettings(RuntimeSettings):
    inference_url: str = Field(
        default="http://127.0.0.1:8000/v1",
        description="OpenAI-compatible base URL the base model is sampled from (the gateway).",
    )
    inference_api_key: SecretStr | None = Field(
        default=None, description="Key for `inference_url` (scope models:use); `up` mints one."
    )
    teacher_url: str | None = Field(
        default=None, description="OpenAI-compatible base URL of a teacher model; default `inference_url`."
    )
    teacher_model: str | None = Field(
        default=None, description="Teacher model id; unset means no teacher (strategy `teacher` fails)."
    )
    teacher_api_key: SecretStr | None = Field(default=None, description="Key for the teacher endpoint.")
    judge_url: str | None = Field(
        default=None, description="OpenAI-compatible base URL of a judge model; default `inference_url`."
    )
    judge_model: str | None = Field(
        default=None, description="Judge model id for judge criteria; unset: judge criteria not scored."
    )
    judge_api_key: SecretStr | None = Field(default=None, description="Key for the judge endpoint.")
    inference_timeout: float = Field(
        default=600.0,
        gt=0,
        description="Seconds per inference request (a CPU backend with a queue can take minutes; an "
        "unreachable server fails at once).",
    )
    datagen_concurrency: int = Field(
        default=4, ge=1, le=256, description="Inference requests in flight per run."
    )
    datagen_candidates: int = Field(default=4, ge=1, le=64, description="Samples per prompt for best_of_n.")
    datagen_attempts_per_prompt: int = Field(
        default=2, ge=1, le=16, description="Rounds per prompt and strategy before the prompt is given up."
    )
    datagen_max_tokens: int = Field(default=256, ge=8, le=32768, description="Longest response generated.")
    datagen_max_length: int = Field(default=1024, ge=16, description="Longest sample in base-model tokens.")
    datagen_temperature: float = Field(
        default=0.8, ge=0, le=2, description="Sampling temperature of candidates."
    )
    datagen_validation_share: float = Field(
        default=0.1, ge=0, lt=1, description="Share of prompts for validation."
    )
    datagen_prompt_pool_factor: float = Field(
        default=2.0, ge=1, description="Prompts synthesized per requested sample (failures need spares)."
    )
    datagen_probe_attempts: int = Field(
        default=16, ge=1, description="Attempts after which `auto` drops a strategy that accepted none."
    )
    datagen_min_samples_share: float = Field(
        default=1.0,
        gt=0,
        le=1,
        description="Fail the run when fewer than this share of `num_samples` verified samples exist.",
    )
    datagen_grpo_probe_prompts: int = Field(
        default=32, ge=0, description="Training prompts sampled k times to find reward variance for GRPO."
    )
    datagen_grpo_probe_samples: int = Field(
        default=4, ge=2, le=16, description="Samples per probed GRPO prompt."
    )
    datagen_lease_seconds: float = Field(
        default=60.0, gt=5, description="A run's claim lasts this long unrenewed."
    )
    datagen_poll_seconds: float = Field(
        default=2.0,
        gt=0,
        description="How often idle workers look for runs, and busy ones read a cancel of their run.",
    )
