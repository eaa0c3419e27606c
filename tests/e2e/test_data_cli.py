"""``skill-adapter data generate`` and ``data show`` as a user runs them, against ``up``.

``up`` runs NATS, the skill-parser, the gateway (serving a tiny random model) and the
data-generator as processes, and mints the key the generator uses. The CLI pushes a skill
folder, asks for a dataset, follows its progress and prints the outcome.
"""

from __future__ import annotations

import json
import signal
import subprocess
from pathlib import Path

import pytest

from tests.e2e.test_cli import CLI, ROOT, cli_env
from tests.support.helpers import eventually
from tests.support.skills import write_mini_skill

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def env(state: Path, model: Path) -> dict[str, str]:
    values = cli_env(state)
    values.update(
        SKILL_ADAPTER_BACKENDS=json.dumps(
            [{"kind": "local", "models": [{"id": "tiny", "source": str(model)}]}]
        ),
        SKILL_ADAPTER_PORT=str(_free_port()),
        SKILL_ADAPTER_DATAGEN_MAX_TOKENS="80",
        SKILL_ADAPTER_DATAGEN_GRPO_PROBE_PROMPTS="2",
        SKILL_ADAPTER_DATAGEN_PROMPT_POOL_FACTOR="4",
    )
    values["SKILL_ADAPTER_INFERENCE_URL"] = f"http://127.0.0.1:{values['SKILL_ADAPTER_PORT']}/v1"
    return values


def _free_port() -> int:
    from skill_adapter.runtime.nats_server import free_port

    return free_port()


def cli(environ: dict[str, str], *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args], cwd=ROOT, env=environ, capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture
def tiny_model(tmp_path: Path) -> Path:
    from skill_adapter.modelstore import tiny_random_model

    return tiny_random_model(tmp_path / "tiny").path


async def test_data_generate_follows_the_run_and_data_show_prints_it(
    tmp_path: Path, tiny_model: Path
) -> None:
    state = tmp_path / "state"
    environ = env(state, tiny_model)
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
            return bool(consumers.get("data_generator_generate", {}).get("waiting"))

        await eventually(ready, timeout=120, interval=0.5, what="the data-generator to consume")

        missing = cli(environ, "data", "generate", "no-such-skill", "--model", "tiny")
        assert missing.returncode == 1
        assert "no skill named 'no-such-skill'" in missing.stderr

        made = cli(
            environ,
            "data",
            "generate",
            str(skill),
            "--model",
            "tiny",
            "--n",
            "4",
            "--dataset-id",
            "mini-1",
            timeout=600,
        )
        assert made.returncode == 0, made.stdout + made.stderr
        assert "parsed" in made.stdout and "train samples" in made.stdout
        assert "strategy guided" in made.stdout

        shown = cli(environ, "data", "show", "mini-1", "--samples", "1")
        assert shown.returncode == 0, shown.stderr
        assert "mini-json" in shown.stdout and '"answer"' in shown.stdout and "guided" in shown.stdout

        manifest = json.loads(cli(environ, "data", "show", "mini-1", "--json").stdout)
        assert manifest["counts"]["train"] == 4
        assert manifest["base_model"] == "tiny"

        unknown = cli(environ, "data", "show", "nope")
        assert unknown.returncode == 1 and "no complete dataset" in unknown.stderr
    finally:
        up.send_signal(signal.SIGINT)
        output, _ = up.communicate(timeout=90)
    assert up.returncode == 0, output
    assert "data-generator |" in output
