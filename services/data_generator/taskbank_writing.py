"""Writing requests: emails and messages to draft, texts to summarise, sentences to rewrite.

Each request names a concrete detail (a date, an invoice number, a name, a figure) that the
written result must keep whatever its style: the expected content of a writing skill.
"""

from __future__ import annotations

import random

from .taskbank import Family, Task

_RECIPIENTS = ("my manager", "a client", "my landlord", "the team", "a recruiter", "our supplier", "a colleague", "my professor", "the HR department", "a customer", "the project sponsor", "my neighbour")  # fmt: skip
_NAMES = ("Alex Moreno", "Bea Lindqvist", "Chen Wei", "Dana Okafor", "Eli Brandt", "Farah Haddad", "Gus Petrov", "Hana Sato", "Ivan Novak", "Jade Laurent", "Kofi Mensah", "Lucia Ferri")  # fmt: skip
_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday")
_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "June",
    "July",
    "September",
    "October",
    "November",
    "December",
)
_TOPICS = ("the Q3 budget", "the website launch", "the new onboarding process", "our contract renewal", "the team offsite", "the security review", "next year's roadmap", "the office move")  # fmt: skip
_COMPANIES = ("Northwind", "Acme Robotics", "Bluefin Foods", "Helios Energy", "Kestrel Bank", "Orbit Telecom", "Pinewood Media", "Quanta Labs", "Riverside Health", "Summit Outdoor")  # fmt: skip
_REGIONS = ("Europe", "Southeast Asia", "Latin America", "the Nordics", "the Midwest", "West Africa", "Canada", "Australia")  # fmt: skip


def _email(rng: random.Random) -> Task:
    to, name = rng.choice(_RECIPIENTS), rng.choice(_NAMES)
    day1, day2 = rng.sample(_DAYS, 2)
    date = f"{rng.randint(2, 28)} {rng.choice(_MONTHS)}"
    invoice, n = rng.randint(1000, 99999), rng.randint(2, 10)
    kind = rng.choice(
        ("an email", "a short email", "a polite email", "a message", "a Slack message", "a formal letter")
    )
    purpose, expected = rng.choice((
        (f"asking to move our meeting from {day1} to {day2}", (day2,)),
        (f"declining the invitation to {rng.choice(_TOPICS)} on {date}", (date,)),
        (f"requesting {n} days off starting {date}", (date,)),
        (f"following up on unpaid invoice #{invoice}", (str(invoice),)),
        (f"introducing {name}, who joins as our new {rng.choice(('designer', 'data analyst', 'support lead', 'engineer'))}", (name.split()[0],)),
        (f"thanking them for their help with {rng.choice(_TOPICS)}", ()),
        (f"asking for feedback on {rng.choice(_TOPICS)} by {day2}", (day2,)),
        (f"saying I will be {n * 5} minutes late to the call with {name}", (str(n * 5),)),
    ))  # fmt: skip
    text = rng.choice(
        (
            f"Write {kind} to {to} {purpose}.",
            f"Can you draft {kind} to {to} {purpose}?",
            f"Help me write {kind} to {to}, {purpose}.",
            f"draft {kind} to {to} {purpose}",
        )
    )
    return Task(text, f"email:{to}:{purpose}", expected)


def _article(rng: random.Random) -> tuple[str, tuple[str, ...]]:
    company, region = rng.choice(_COMPANIES), rng.choice(_REGIONS)
    n, m, pct, year = rng.randint(3, 60), rng.randint(100, 4000), rng.randint(3, 45), rng.randint(2021, 2026)
    return rng.choice((
        (f"{company} said on {rng.choice(_DAYS)} that it will open {n} new stores in {region} next year, creating about {m} jobs. "
         f"Its shares rose {pct}% after the announcement. Analysts said the expansion depends on a recovery in consumer spending.", (str(n),)),
        (f"Researchers at the University of {rng.choice(('Leeds', 'Utrecht', 'Kyoto', 'Toronto', 'Melbourne'))} followed {m} volunteers for {n} months. "
         f"Those who walked at least 30 minutes a day slept {pct}% longer on average. The authors warn that the study shows a link, not a cause.", (f"{pct}%", f"{pct} percent")),
        (f"The city council of {rng.choice(('Bristol', 'Lyon', 'Porto', 'Graz', 'Leipzig'))} approved a plan to add {n} km of protected bike lanes by {year}. "
         f"The project will cost about {m} thousand euros. Shop owners worry about losing parking spaces during construction.", (f"{n} km", f"{n} kilometres", f"{n} kilometers")),
        (f"In its {rng.choice(('first', 'second', 'third', 'fourth'))}-quarter report, {company} posted revenue of ${m} million, up {pct}% from a year earlier, "
         f"helped by strong demand in {region}. The company expects costs to rise next year because of new regulations.", (f"${m}", f"{m} million")),
    ))  # fmt: skip


def _summarise(rng: random.Random) -> Task:
    """A short article, pasted bare (the skill's own framing asks) or with an ask."""
    text, expected = _article(rng)
    asks = ("Summarise this in one sentence:", "TL;DR please:", "Summarize the following text:", "Give me the key points of this:", "Can you condense this?")  # fmt: skip
    ask = rng.choice(asks)
    roll = rng.random()
    joined = text if roll < 0.4 else f"{ask}\n\n{text}" if roll < 0.75 else f"{text}\n\n{ask.rstrip(':')}"
    return Task(joined, f"summary:{text}", expected)


def _rewrite(rng: random.Random) -> Task:
    name, day = rng.choice(_NAMES).split()[0], rng.choice(_DAYS)
    sentence, expected = rng.choice((
        (f"{name} and me goes to the office every {day} but we was late this week.", (name,)),
        (f"hey, send me the report by {day} or else the client gonna be mad", (day,)),
        (f"Per my last email, {name} still has not sent the slides, which were due {day}.", (name, day)),
        (f"The meeting have been moved to {day} because {name} are travelling.", (day,)),
        (f"we need the numbers asap, {name} needs them before {day} noon!!!", (day,)),
        (f"I dont think {name}'s idea will work, its too expensive and nobody asked for it.", (name,)),
    ))  # fmt: skip
    ask = rng.choice(
        (
            "Make this sound more polite:",
            "Fix the grammar:",
            "Rewrite this more formally:",
            "Proofread this:",
            "Make this friendlier:",
            "Rephrase this for a client:",
        )
    )
    return Task(f'{ask} "{sentence}"', f"rewrite:{ask}:{sentence}", expected)


_OPENERS = (
    "Hi {first},",
    "Hello {first},",
    "Dear {full},",
    "hey {first}",
    "{first} -",
    "Good morning {first},",
)
_CLOSERS = (
    "thanks",
    "Thanks,\n{me}",
    "cheers, {me}",
    "Best,\n{me}",
    "- {me}",
    "let me know asap",
    "Regards, {me}",
)


def _draft_lines(rng: random.Random) -> list[tuple[str, tuple[str, ...]]]:
    day, topic = rng.choice(_DAYS), rng.choice(_TOPICS)
    date = f"{rng.randint(2, 28)} {rng.choice(_MONTHS)}"
    invoice, n = rng.randint(1000, 99999), rng.randint(12, 480)
    return [
        (f"just checking if you got my invoice #{invoice} from {date}", (str(invoice),)),
        (f"we need to push the meeting about {topic} to {day} because the numbers arent ready", (day,)),
        (f"can you send me the slides for {topic} before {day}", (day,)),
        (f"the parts you ordered will arrive on {date}, not earlier", (date,)),
        (f"I wont make it on {day}, sorry, something came up", (day,)),
        (f"the price went up to ${n} per month, is that still ok for you", (f"${n}", f"{n} ")),
        (f"we have {rng.randint(3, 40)} seats left for the workshop on {date}", (date,)),
        (f"the deadline for {topic} moved to {date}", (date,)),
    ]


def _email_draft(rng: random.Random) -> Task:
    """A rough email someone wants improved: greeting, two or three loose sentences, sign-off."""
    first, last = rng.choice(_NAMES).split()
    me = rng.choice(_NAMES).split()[0]
    lines = rng.sample(_draft_lines(rng), rng.randint(2, 3))
    opener = rng.choice(_OPENERS).format(first=first, full=f"{first} {last}")
    body = (
        " ".join(line for line, _ in lines)
        if rng.random() < 0.5
        else ". ".join(line for line, _ in lines) + "."
    )
    text = f"{opener}\n\n{body}\n\n{rng.choice(_CLOSERS).format(me=me)}"
    return Task(text, f"draft:{text}", lines[0][1])


FAMILIES = (
    Family("emails", ("email", "mail", "message", "draft", "letter", "correspondence", "inbox", "recipient", "formal", "polite", "tone"), _email, ("{task}", "{task} Thanks!", "Quick favour: {task}"), weight=1.0, checkable=True),
    Family("email_drafts", ("draft", "email", "pastes", "polish", "rewrite", "proofread", "professional", "tone", "reply", "message", "clear", "concise"), _email_draft, ("{task}", "Here's my draft:\n\n{task}", "Draft:\n{task}", "{task}\n\nCan you improve this?"), weight=1.0, checkable=True),
    Family("summarise_text", ("summar", "tldr", "tl dr", "condense", "shorten", "article", "text", "paragraph", "document", "key points", "digest"), _summarise, ("{task}",), weight=1.0, checkable=True),
    Family("rewrite_text", ("rewrite", "rephrase", "proofread", "grammar", "edit", "polish", "clarity", "tone", "formal", "polite", "wording", "style"), _rewrite, ("{task}",), weight=1.0, checkable=True),
)  # fmt: skip
