"""Tiny models and real PEFT adapters, built once per session in a temporary folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from skill_adapter.modelstore import ModelInfo, tiny_random_model

from .builders import ADAPTER_RECIPES, make_adapter


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> ModelInfo:
    return tiny_random_model(tmp_path_factory.mktemp("tiny") / "model")


@pytest.fixture(scope="session")
def adapters(tmp_path_factory: pytest.TempPathFactory, tiny_model: ModelInfo) -> dict[str, Path]:
    """One real adapter per recipe, trained on nothing (PEFT's initial weights) but saved by PEFT."""
    root = tmp_path_factory.mktemp("adapters")
    return {name: make_adapter(tiny_model, root / name, **recipe) for name, recipe in ADAPTER_RECIPES.items()}
