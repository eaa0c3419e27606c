"""``python -m skill_adapter.trainer``: train jobs from ``training.cmd.job.*`` until Ctrl-C."""

from skill_adapter.runtime import run_service

from .service import build_service
from .settings import TrainerSettings

settings = TrainerSettings()
run_service(build_service(settings), settings)
