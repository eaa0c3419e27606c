from skill_adapter.runtime import run_service

from .service import build_service
from .settings import SkillParserSettings

settings = SkillParserSettings()
run_service(build_service(settings), settings)
