# Developer shortcuts (https://github.com/casey/just; `pip install rust-just`). Each recipe is
# a plain command you can also copy from here.

venv := ".venv"
python := venv / "bin/python"

# Create the virtualenv and install everything a developer needs.
setup:
    test -d {{venv}} || python3 -m venv {{venv}}
    {{venv}}/bin/pip install -e '.[dev]'

# Run the whole stack on the embedded defaults.
up: setup
    {{venv}}/bin/skill-adapter up

# All tests (unit, integration against a real nats-server and databases, e2e).
test *args: setup
    {{python}} -m pytest {{args}}

# Only the fast tests.
unit: setup
    {{python}} -m pytest -m unit

# What CI runs, in a fresh virtualenv.
ci:
    bash .ci/run

# Check the published JSON Schemas against the contracts; `just schemas --write` publishes
# compatible changes (and refuses breaking ones).
schemas *args:
    {{python}} -m skill_adapter.contracts.schema_registry {{args}}

# The AsyncAPI document of every command and event.
asyncapi out="asyncapi.yaml":
    {{venv}}/bin/skill-adapter asyncapi --output {{out}}

lint:
    {{venv}}/bin/ruff check .
    {{venv}}/bin/ruff format --check .
