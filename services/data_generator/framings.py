"""How users ask for a skill, read from the skill itself.

A task ("I added CSV import to the contacts page") becomes a prompt once it is framed the way
the skill's users ask ("Write a commit message for this: ..."). The framings come from the
skill's own words, so an unknown skill gets its own: quoted requests in its "When to use"
section and "Use when" sentences ("reply in JSON", "how should I commit this?"), the things a
user "asks for" in its description ("a status update, weekly report or stand-up summary"),
and the lead-ins of its example prompts ("notes for the week: ..."). Held-out eval prompts are
never read here, so no framing copies one.

A framing is a template with a ``{task}`` slot, filled with ``str.replace`` (tasks hold braces:
JSON, code), in an inline form for one-line tasks and a block form for multi-line ones.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from skill_adapter.skillspec.document import SkillDocument

from .taskbank import EXAMPLE_PROMPT, trigger_text

_QUOTED = re.compile(r"\"([^\"\n`{}]{3,120})\"|\u201c([^\u201d\n`{}]{3,120})\u201d")
_ASKS_FOR = re.compile(
    r"\b(?:asks?|asking|requests?|wants?)\s+(?:you\s+)?(?:for|to (?:write|draft|create|produce|get))\s+(.+?)"
    r"(?=,\s*(?:or\s+|and\s+)?(?:when|wants?|pastes?|needs?|if|asks?)\b|[.;:!?()\"`]|\s+(?:when|because|so that)\b|$)",
    re.I,
)
_LIST_SPLIT = re.compile(r"\s*,\s*(?:or\s+|and\s+)?|\s+or\s+|\s+and\s+")
_CUT_AT = re.compile(r"\s+(?:written|based|from|that|which|with|about|of|for|in|on)\b.*$", re.I)
_ARTICLE = re.compile(r"^(?:a|an|the|some|their|its|his|her)\s+", re.I)
_LEAD_IN = re.compile(r"^([A-Za-z][\w' -]{2,48}?)\s*:\s+\S")
_NOUN_PHRASE = re.compile(r"[A-Za-z][\w'-]*(?: [A-Za-z][\w'-]*){0,3}")
MAX_PHRASE_WORDS = 14


@dataclass(frozen=True)
class Framings:
    inline: tuple[str, ...] = ()
    block: tuple[str, ...] = ()

    def for_task(self, task: str) -> tuple[str, ...]:
        return self.block if "\n" in task else self.inline


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def _terminated(text: str) -> str:
    return text if text[-1:] in ".!?" else text + "."


def trigger_phrases(document: SkillDocument) -> list[str]:
    """Quoted requests in the skill's trigger text: at least two words, at most fourteen."""
    phrases: list[str] = []
    for match in _QUOTED.finditer(trigger_text(document, examples=False)):
        phrase = " ".join((match.group(1) or match.group(2)).split())
        if 2 <= len(phrase.split()) <= MAX_PHRASE_WORDS and phrase not in phrases:
            phrases.append(phrase)
    return phrases


def requested_things(document: SkillDocument) -> list[str]:
    """What users "ask for", as short noun phrases: "commit message", "status update"."""
    things: list[str] = []
    for match in _ASKS_FOR.finditer(trigger_text(document, examples=False)):
        for item in _LIST_SPLIT.split(match.group(1)):
            thing = _ARTICLE.sub("", _CUT_AT.sub("", item.strip()))
            if (
                _NOUN_PHRASE.fullmatch(thing)
                and len(thing) >= 3
                and thing.casefold() not in {t.casefold() for t in things}
            ):
                things.append(thing)
    return things


def example_lead_ins(document: SkillDocument) -> list[str]:
    """The lead-ins of example prompts: "notes for the week" from "User: notes for the week: ..."."""
    lead_ins: list[str] = []
    for _, line in document.body_lines():
        match = EXAMPLE_PROMPT.match(line)
        if not match:
            continue
        prompt = line[match.end() :].strip().strip("*_ ").strip("\"'\u201c\u201d")
        lead = _LEAD_IN.match(prompt)
        if lead and len(lead.group(1).split()) <= 6 and lead.group(1) not in lead_ins:
            lead_ins.append(lead.group(1))
    return lead_ins


def skill_framings(document: SkillDocument) -> Framings:
    inline: list[str] = []
    block: list[str] = []
    for phrase in trigger_phrases(document):
        bare = phrase.rstrip(".!?: ")
        question = phrase.endswith("?")
        inline += [
            f"{_capital(phrase)} {{task}}" if question else f"{_capital(bare)}: {{task}}",
            f"{{task}} {_capital(_terminated(phrase))}",
        ]
        block += [
            f"{_capital(phrase) if question else _capital(bare) + ':'}\n{{task}}",
            f"{{task}}\n\n{_capital(_terminated(phrase))}",
        ]
    for thing in requested_things(document):
        article = "an" if thing[:1].casefold() in "aeio" else "a"
        inline += [
            f"{_capital(thing)} for: {{task}}",
            f"{{task}} {_capital(thing)} please.",
            f"Write {article} {thing} for this: {{task}}",
        ]
        block += [
            f"{_capital(thing)} for this:\n{{task}}",
            f"{{task}}\n\n{_capital(thing)} please.",
            f"Write {article} {thing} from this:\n\n{{task}}",
        ]
    for lead in example_lead_ins(document):
        inline.append(f"{lead}: {{task}}")
        block.append(f"{lead}:\n{{task}}")
    return Framings(tuple(dict.fromkeys(inline)), tuple(dict.fromkeys(block)))


def decapitalized(task: str) -> str:
    """ "Hey, what is..." rather than "Hey, What is...", but "Hey, I added..." and "JSON"."""
    if task[:2] in {"I ", "I'"} or task[1:2].isupper():
        return task
    return task[:1].lower() + task[1:]


def apply(template: str, task: str) -> str:
    """The prompt: ``template`` with the task in its slot. A task followed by more text ends in
    punctuation ("I added X. Commit message please."), one after a comma goes on in lower case."""
    if template.startswith("{task}") and template != "{task}" and "\n" not in task:
        task = _terminated(task.rstrip())
    if ", {task}" in template:
        task = decapitalized(task)
    return template.replace("{task}", task)
