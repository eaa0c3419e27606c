"""One thin controller per resource: parse, call one service function, answer."""

from .completions import ChatCompletionController, CompletionController
from .graders import GraderController
from .health import HealthController
from .jobs import FineTuningJobController
from .models import ModelController
from .skills import SkillController, SkillRejectionController
from .tokenize import TokenizeController

__all__ = [
    "ChatCompletionController",
    "CompletionController",
    "FineTuningJobController",
    "GraderController",
    "HealthController",
    "ModelController",
    "SkillController",
    "SkillRejectionController",
    "TokenizeController",
]
