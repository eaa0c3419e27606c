"""``/v1/models``: the base models and adapters this gateway serves right now, as the key sees
them (candidate adapters only for ``models:evaluate`` keys)."""

from __future__ import annotations

from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import FromPath

from skill_adapter.contracts.openai import Model, ModelList

from ..auth import requires
from ..errors import ModelNotFound, error_responses
from ..serving import InferencePlane
from ..visibility import Audience


class ModelController(Controller):
    path = "/v1/models"
    tags = ["models"]
    guards = [requires("models:use")]

    @get(
        "/",
        operation_id="listModels",
        summary="List the served models and adapters",
        responses=error_responses(429),
    )
    async def list_models(
        self, inference: NamedDependency[InferencePlane], audience: NamedDependency[Audience]
    ) -> ModelList:
        """Base models, and adapters with `parent` (their base model's id), `root` and `status`
        (`promoted`, or `candidate`: listed only for keys with `models:evaluate`)."""
        return inference.router.models(audience)

    @get(
        "/{model:path}",
        operation_id="retrieveModel",
        summary="One served model or adapter",
        responses=error_responses(404, 429),
    )
    async def retrieve_model(
        self,
        model: FromPath[str],
        inference: NamedDependency[InferencePlane],
        audience: NamedDependency[Audience],
    ) -> Model:
        """A model id may contain slashes (`HuggingFaceTB/SmolLM2-135M-Instruct`), or be a local
        path served under itself (`/models/tiny`, asked for as `/v1/models//models/tiny`)."""
        name = model.lstrip("/")  # the router's path always starts with one; `//` arrives as `/`
        try:
            return await inference.router.retrieve(name, audience)
        except ModelNotFound:
            try:
                return await inference.router.retrieve(f"/{name}", audience)
            except ModelNotFound:
                pass
            raise
