"""One thin controller per resource: parse, call one service function, answer."""

from .graders import GraderController
from .health import HealthController
from .skills import SkillController

__all__ = ["GraderController", "HealthController", "SkillController"]
