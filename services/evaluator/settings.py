"""Settings of the evaluator (env prefix ``SKILL_ADAPTER_``), on top of the runtime's.

The evaluator loads no model: it generates through the inference plane with a key that may
use models and evaluate candidates (scope ``models:evaluate``: candidate adapters are served to
it before they are promoted). A judge is an optional OpenAI-compatible endpoint of its own.
"""

from __future__ import annotations

from pydantic import Field, SecretStr

from skill_adapter.contracts import Thresholds
from skill_adapter.runtime import RuntimeSettings


class EvaluatorSettings(RuntimeSettings):
    inference_url: str = Field(
        default="http://127.0.0.1:8000/v1",
        description="OpenAI-compatible base URL the arms are sampled from (the gateway).",
    )
    inference_api_key: SecretStr | None = Field(
        default=None, description="Key for `inference_url` (scopes models:use and models:evaluate)."
    )
    inference_timeout: float = Field(
        default=600.0,
        gt=0,
        description="Seconds per inference request (a CPU backend with a queue can take minutes; an "
        "unreachable server fails at once).",
    )
    judge_url: str | None = Field(
        default=None, description="OpenAI-compatible base URL of a judge model; default `inference_url`."
    )
    judge_model: str | None = Field(
        default=None,
        description="Judge model id for judge criteria; unset: they are listed as not evaluated.",
    )
    judge_api_key: SecretStr | None = Field(default=None, description="Key for the judge endpoint.")
    eval_concurrency: int = Field(
        default=4, ge=1, le=256, description="Inference requests in flight per run."
    )
    eval_max_tokens: int = Field(default=256, ge=1, le=32768, description="Longest reply generated.")
    eval_temperature: float = Field(
        default=0.8, ge=0, le=2, description="Temperature of the sampled replies."
    )
    eval_max_prompts: int = Field(
        default=200, ge=1, description="Held-out prompts used at most (the first ones, in dataset order)."
    )
    eval_min_lift: float = Field(
        default=0.1, ge=-1, le=1, description="Gate: adapter - base overall pass rate at least this."
    )
    eval_min_pass_rate: float = Field(
        default=0.8, ge=0, le=1, description="Gate: the adapter's overall pass rate at least this."
    )
    eval_max_regression: float = Field(
        default=0.05,
        ge=0,
        le=1,
        description="Gate: near-miss content and general set at most this below base.",
    )
    eval_model_wait_seconds: float = Field(
        default=120.0,
        ge=0,
        description="How long a just-registered adapter may take to be served (fetched and loaded by the "
        "gateway) before the run fails as model_not_served.",
    )
    eval_lease_seconds: float = Field(
        default=60.0, gt=5, description="A run's claim lasts this long unrenewed."
    )
    eval_poll_seconds: float = Field(default=2.0, gt=0, description="How often idle workers look for runs.")
    eval_retry_delays: tuple[float, ...] = Field(
        default=(0.5, 2.0, 5.0), description="Pauses between retries of a failed inference request."
    )

    def thresholds(self) -> Thresholds:
        return Thresholds(
            min_lift=self.eval_min_lift,
            min_pass_rate=self.eval_min_pass_rate,
            max_regression=self.eval_max_regression,
        )
