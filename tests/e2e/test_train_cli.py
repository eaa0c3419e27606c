"""``skill-adapter train`` as a user runs it, against ``up`` (NATS, parser, gateway, generator, trainer).

The gateway serves a tiny random model (under its path, which the trainer loads); the CLI generates a small dataset for a skill folder,
then trains on it by dataset id and prints the adapter id; a hyperparameter vLLM could not
serve fails the job with its reason; training straight from the skill folder generates its
dataset first.
"""

from __future__ import annotations

import json
import signal
import subprocess
from pathlib import Path

import pytest

from tests.e2e.test_cli import CLI, ROOT
from tests.e2e.test_data_cli import cli, env
from tests.support.helpers import eventually
from tests.support.skills import write_mini_skill

pytest.importorskip("trl", reason="the trainer needs the trainer extra")

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

SMALL = ["--hp", "max_steps=2", "--hp", "batch_size=2", "--hp", "micro_batch_size=2", "--hp", "lora_r=8"]


@pytest.fixture
def tiny_model(tmp_path: Path) -> Path:
    from skill_adapter.modelstore import tiny_random_model

    return tiny_random_model(tmp_path / "tiny").path


async def test_train_a_dataset_and_a_skill_folder_and_refuse_bad_hyperparameters(
    tmp_path: Path, tiny_model: Path
) -> None:
    environ = env(tmp_path / "state", tiny_model)
    # served under its path: the id the gateway routes is the one the trainer loads
    model = str(tiny_model)
    environ["SKILL_ADAPTER_BACKENDS"] = json.dumps(
        [{"kind": "local", "models": [{"id": model, "source": model}]}]
    )
    skill = write_mini_skill(tmp_path)
    up = subprocess.Popen(
        [*CLI, "up"], cwd=ROOT, env=environ, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:

        async def ready() -> bool:
            result = cli(environ, "status", "--json")
            if result.returncode != 0:
                return False
            report = json.loads(result.stdout)
            consumers = {c["durable"]: c for s in report["streams"] for c in s["consumers"]}
            return all(
                consumers.get(name, {}).get("waiting")
                for name in ("data_generator_generate", "trainer_start")
            )

        await eventually(ready, timeout=180, interval=0.5, what="the data-generator and trainer to consume")

        made = cli(
            environ,
            "data",
            "generate",
            str(skill),
            "--model",
            model,
            "--n",
            "4",
            "--dataset-id",
            "mini-1",
            timeout=600,
        )
        assert made.returncode == 0, made.stdout + made.stderr

        trained = cli(
            environ,
            "train",
            "mini-1",
            "--model",
            model,
            "--method",
            "sft",
            "--job-id",
            "job-1",
            *SMALL,
            timeout=600,
        )
        assert trained.returncode == 0, trained.stdout + trained.stderr
        assert "started job job-1" in trained.stdout and "training on cpu" in trained.stdout
        assert "adapter ft:" in trained.stdout and ":mini-json:job-1" in trained.stdout

        refused = cli(
            environ,
            "train",
            "mini-1",
            "--model",
            model,
            "--method",
            "sft",
            "--job-id",
            "job-2",
            "--hp",
            "lora_r=12",
            timeout=300,
        )
        assert refused.returncode == 1, refused.stdout + refused.stderr
        assert "invalid_hyperparameters" in refused.stderr and "ranks vLLM serves" in refused.stderr

        whole = cli(
            environ,
            "train",
            str(skill),
            "--model",
            model,
            "--samples",
            "4",
            "--method",
            "sft",
            "--job-id",
            "job-3",
            *SMALL,
            timeout=900,
        )
        assert whole.returncode == 0, whole.stdout + whole.stderr
        assert "train samples" in whole.stdout and ":mini-json:job-3" in whole.stdout
    finally:
        up.send_signal(signal.SIGINT)
        output, _ = up.communicate(timeout=120)
    assert up.returncode == 0, output
    assert "trainer |" in output
