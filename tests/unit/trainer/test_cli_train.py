"""``skill-adapter train --hp KEY=VALUE``: values typed as JSON reads them, bad pairs refused."""

from __future__ import annotations

import pytest

from skill_adapter.cli.data import CliError
from skill_adapter.cli.train import parse_hyperparameters

pytestmark = pytest.mark.unit


def test_values_are_numbers_booleans_or_words() -> None:
    assert parse_hyperparameters(
        [
            "lora_r=32",
            "learning_rate=1e-4",
            "gradient_checkpointing=true",
            "lr_scheduler=linear",
            "n_epochs=auto",
        ]
    ) == {
        "lora_r": 32,
        "learning_rate": 1e-4,
        "gradient_checkpointing": True,
        "lr_scheduler": "linear",
        "n_epochs": "auto",
    }


@pytest.mark.parametrize("bad", ["lora_r", "=3", "target_modules=[1, 2]", "x=null"])
def test_malformed_pairs_are_refused(bad: str) -> None:
    with pytest.raises(CliError):
        parse_hyperparameters([bad])
