"""``python -m skill_adapter.evaluator``: evaluate adapters and gate promotion until Ctrl-C."""

from skill_adapter.runtime import run_service

from .service import build_service
from .settings import EvaluatorSettings

settings = EvaluatorSettings()
run_service(build_service(settings), settings)
