from skill_adapter.runtime import run_service

from .service import build_service
from .settings import DataGeneratorSettings

settings = DataGeneratorSettings()
run_service(build_service(settings), settings)
