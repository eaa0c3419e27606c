"""Serving context: adapters entering and leaving the inference plane."""

from __future__ import annotations

from pydantic import Field

from .envelope import Event, Sha256Hex


class AdapterRegistered(Event, subject="serving.evt.adapter.registered.v1"):
    adapter_id: str
    base_model: str
    skill_name: str
    skill_version: str
    job_id: str | None = None
    object_name: str
    digest: Sha256Hex
    rank: int = Field(ge=1)
    chat_template_hash: str | None = None
    dataset_object: str | None = Field(
        default=None, description="manifest.json of the dataset it was trained on (bucket `datasets`)."
    )
    dataset_digest: Sha256Hex | None = Field(default=None, description="sha256 of that manifest.")


class AdapterPromoted(Event, subject="serving.evt.adapter.promoted.v1"):
    adapter_id: str
    skill_name: str
    run_id: str
    reasons: list[str] = Field(default_factory=list)


class AdapterRetired(Event, subject="serving.evt.adapter.retired.v1"):
    adapter_id: str
    skill_name: str
    replaced_by: str | None = None
