"""``POST /tokenize``: token counts as the model sees them (vLLM's extension, same path and shape).

The data generator measures every sample with it, so training lengths are counted by the
tokenizer and chat template the base model is served with.
"""

from __future__ import annotations

from litestar import Controller, post
from litestar.di import NamedDependency
from litestar.params import JSONBody

from skill_adapter.contracts.openai import TokenizeRequest, TokenizeResponse

from ..auth import requires
from ..errors import error_responses
from ..serving import InferencePlane
from ..visibility import Audience


class TokenizeController(Controller):
    path = "/tokenize"
    tags = ["models"]
    guards = [requires("models:use")]

    @post(
        "/",
        operation_id="tokenize",
        summary="Count the tokens of a conversation or a prompt",
        status_code=200,
        responses=error_responses(404, 413, 429, 502, 503),
    )
    async def tokenize(
        self,
        data: JSONBody[TokenizeRequest],
        inference: NamedDependency[InferencePlane],
        audience: NamedDependency[Audience],
    ) -> TokenizeResponse:
        """`messages` go through the model's chat template (`add_generation_prompt` as for a reply); a `prompt` is tokenized as is."""
        return await inference.router.tokenize(data, audience)
