"""Who sees which adapters: a candidate adapter is served to evaluators only.

The trainer registers every adapter it makes as a *candidate*; the evaluator generates with it
through the gateway's OpenAI API before it decides to promote it. Until then only keys with
``models:evaluate`` (or ``admin``) see it. For every other key it is an unknown model: absent
from ``/v1/models`` and ``/health``, and a 404 ``model_not_found`` worded as for an id nobody
serves on every route (models, chat and text completions, streaming or not, tokenize). Base
models and promoted adapters are visible to every key that may use models.

``models:evaluate`` implies ``models:use`` (``contracts.api.IMPLIED_SCOPES``): an evaluator
compares the base, the base with the skill in context and the adapter, so a key that evaluates
needs everything a ``models:use`` key has; one key then does for the data generator and the
evaluator, and the routes keep a single guard.

``AdapterStatuses`` holds the registry status of every adapter that is not retired, as the last
sync read it. Until the registry has been read once, adapters are shown to evaluators only (an
upstream vLLM may still hold a candidate loaded by an earlier run). A promotion only changes who
sees an adapter: the backends keep it loaded as it is.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal, cast

from .adapters import CANDIDATE, PROMOTED
from .keys import ApiKey

AdapterStatus = Literal["candidate", "promoted"]


@dataclass(frozen=True)
class Audience:
    """Who asks for models: whether candidate adapters are for them."""

    candidates: bool

    @staticmethod
    def of(key: object) -> Audience:
        """The audience of an authenticated request's ``request.user``."""
        return EVALUATORS if isinstance(key, ApiKey) and key.allows("models:evaluate") else EVERYONE


EVERYONE = Audience(candidates=False)
"""Keys that may use models (``models:use``): base models and promoted adapters."""
EVALUATORS = Audience(candidates=True)
"""Keys that evaluate models (``models:evaluate``, ``admin``): candidate adapters too."""


class AdapterStatuses:
    """The registry status of each adapter that is not retired, as of the last sync."""

    def __init__(self) -> None:
        self._statuses: dict[str, AdapterStatus] | None = None  # None: the registry is not read yet

    def update(self, statuses: Mapping[str, str]) -> None:
        self._statuses = {
            adapter_id: cast(AdapterStatus, status)
            for adapter_id, status in statuses.items()
            if status in (CANDIDATE, PROMOTED)
        }

    def status(self, model_id: str) -> AdapterStatus | None:
        """``candidate`` or ``promoted`` for an adapter of the registry; ``None`` otherwise."""
        return self._statuses.get(model_id) if self._statuses is not None else None

    def candidates(self) -> set[str]:
        return {a for a, status in (self._statuses or {}).items() if status == CANDIDATE}

    def visible(self, model_id: str, audience: Audience, *, adapter: Callable[[], bool]) -> bool:
        """Whether ``audience`` may see ``model_id``; ``adapter()`` tells whether the id is an
        adapter (asked only until the registry has been read)."""
        if audience.candidates:
            return True
        if self._statuses is None:
            return not adapter()
        return self._statuses.get(model_id) != CANDIDATE
