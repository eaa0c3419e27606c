"""A skill as agent clients put it in a model's context.

Agent clients load a skill's ``SKILL.md`` body into the conversation once the skill applies,
announced by its name and description. The data generator samples "the base model with the
skill in context" this way, and the evaluator's base-with-skill arm must use the same words,
so there is one rendering.
"""

from __future__ import annotations

from .document import SkillDocument


def skill_system_prompt(document: SkillDocument) -> str:
    """The system message that gives a model the skill.

    >>> doc = SkillDocument(name="demo", description="Says hi.", body="# Demo\\nSay hi.", body_line=4)
    >>> print(skill_system_prompt(doc))
    You have the skill "demo": Says hi.
    Follow its instructions exactly for this conversation.
    <BLANKLINE>
    # Demo
    Say hi.
    """
    return (
        f'You have the skill "{document.name}": {document.description}\n'
        "Follow its instructions exactly for this conversation.\n\n"
        f"{document.body.strip()}"
    )
