"""The README cannot drift from the code: quickstart, CLI, configuration, event catalogue."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.main import get_command

from skill_adapter.cli.app import app
from skill_adapter.contracts import MESSAGES, Subject
from skill_adapter.contracts.api import SCOPES
from skill_adapter.data_generator.settings import DataGeneratorSettings
from skill_adapter.evaluator.settings import EvaluatorSettings
from skill_adapter.gateway.settings import GatewaySettings
from skill_adapter.runtime.settings import RuntimeSettings
from skill_adapter.skill_parser.settings import SkillParserSettings
from skill_adapter.trainer.settings import TrainerSettings

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()


def quickstart() -> list[str]:
    block = README.split("## Quickstart", 1)[1].split("```bash", 1)[1].split("```", 1)[0]
    return [line.strip() for line in block.strip().splitlines()]


def test_quickstart_is_two_commands_and_ci_runs_the_test_one() -> None:
    setup_and_run, setup_and_test = quickstart()
    assert setup_and_run.endswith("skill-adapter demo")
    assert "pytest" in setup_and_test
    assert setup_and_test in (ROOT / ".ci" / "run").read_text()


def test_every_cli_command_is_documented_and_exists() -> None:
    commands = set(get_command(app).commands)  # type: ignore[attr-defined]
    documented = set(re.findall(r"^\| `skill-adapter ([a-z]+)", README, re.M))
    assert documented == commands - {"version"}


def test_subject_table_matches_the_contracts() -> None:
    rows = re.findall(r"^\| `([a-z0-9_.]+\.v\d+)` \| `(\w+)` \| `([A-Z]+)` \|$", README, re.M)
    assert rows == [(s, m.__name__, Subject.parse(s).stream) for s, m in MESSAGES.items()]


@pytest.mark.parametrize(
    "settings_class",
    [
        RuntimeSettings,
        SkillParserSettings,
        GatewaySettings,
        DataGeneratorSettings,
        TrainerSettings,
        EvaluatorSettings,
    ],
    ids=lambda c: c.__name__,
)
def test_configuration_table_lists_every_setting(settings_class: type) -> None:
    section = README.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"`((?:SKILL_ADAPTER_)?[A-Z_]+)`", section))
    for name in settings_class.model_fields:
        env = f"SKILL_ADAPTER_{name.upper()}"
        assert env in documented or name.upper() in documented, f"{env} is not in the README"


def test_scope_list_matches_the_contracts() -> None:
    listed = re.search(r"\(scopes: ((?:`[a-z:]+`,?\s*)+);", README)
    assert listed is not None, "the README lists no scopes"
    assert tuple(re.findall(r"`([a-z:]+)`", listed.group(1))) == SCOPES
