"""Rough work notes: project notes, stand-up logs, chat excerpts, meeting notes.

Notes are assembled from independent items (done, in progress, a metric, risks, next steps)
in one of the registers people write them in (terse comma lists, bullet dumps, full
sentences, "done / blocked / next" headers), so two notes rarely share more than an item. Most
carry a number or a date that a faithful summary keeps: that is their ``expected`` content.
"""

from __future__ import annotations

import random

from .taskbank import Family, Task

NOTES_WORDS = (
    "notes", "status", "report", "update", "weekly", "progress", "project", "team", "manager", "standup",
    "stand up", "sprint", "blocker", "risk", "next steps", "summar", "bullet",
)  # fmt: skip
NOTES_FRAMINGS = ("{task}", "Notes:\n{task}", "Here are my notes:\n{task}", "My notes from this week:\n{task}", "Raw notes below.\n\n{task}")  # fmt: skip
_PROJECTS = (
    "payments API integration", "login page redesign", "data pipeline rewrite", "website redesign", "search filters",
    "onboarding flow", "SSO rollout", "audit logs", "billing migration", "Kubernetes migration", "analytics dashboard",
    "customer portal", "recommendation engine", "help center revamp", "iOS widget", "public API docs", "pricing page",
    "referral program", "checkout revamp", "notification center", "reporting export", "GDPR data export",
    "warehouse scanner app", "security audit fixes", "accessibility fixes", "load testing", "Postgres upgrade",
    "mobile release", "partner integration", "email provider switch", "dark mode", "invoice redesign",
)  # fmt: skip
_PEOPLE = ("Mia", "Tom", "Sam", "Aisha", "Luca", "Priya", "Jonas", "Elena", "Kenji", "Fatima", "Omar", "Chloe", "Diego", "Hannah", "Ravi", "Sofia", "Marek", "Lena", "Kwame", "Yuki")  # fmt: skip
_PARTIES = ("legal", "security", "finance", "the vendor", "the client", "design", "procurement", "IT", "leadership", "the platform team", "marketing")  # fmt: skip
_THINGS = ("sandbox keys", "sign-off", "budget approval", "the contract", "API credentials", "brand assets", "a pricing decision", "warehouse access", "final copy", "test devices", "a data export")  # fmt: skip
_METRICS = ("p95 latency", "error rate", "churn", "page load time", "build time", "cloud costs", "crash rate", "ticket backlog", "signup conversion")  # fmt: skip
_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December")  # fmt: skip
_WHEN = ("this week", "until Thursday", "since Monday", "for two days", "next week", "on Friday")
Item = tuple[str, tuple[str, ...]]


def _date(rng: random.Random) -> Item:
    day, month = rng.randint(2, 28), rng.choice(_MONTHS)
    text = f"{day} {month}" if rng.random() < 0.5 else f"{month} {day}"
    return text, (f"{day} {month}", f"{month} {day}", f"{month[:3]} {day}", f"{day} {month[:3]}")


def _done(rng: random.Random) -> Item:
    project, n = rng.choice(_PROJECTS), rng.randint(11, 96)
    return rng.choice((
        (f"finished the {project}", ()), (f"shipped the {project}", ()), (f"{project} done, QA signed off", ()),
        (f"closed {n} support tickets", (str(n),)), (f"fixed {n} bugs from the beta list", (str(n),)),
        (f"{rng.choice(_PEOPLE)} shipped the {project}", ()), (f"migrated {n} of {n + rng.randint(3, 40)} services", (str(n),)),
    ))  # fmt: skip


def _progress(rng: random.Random) -> Item:
    project, pct, n = rng.choice(_PROJECTS), rng.randrange(15, 96, 5), rng.randint(3, 30)
    return rng.choice((
        (f"{project} {pct}% done", (f"{pct}%", f"{pct} %", f"{pct} percent")), (f"{project} in progress", ()),
        (f"{project}: {n} of {n + rng.randint(2, 20)} tasks done", ()), (f"started on the {project}", ()),
        (f"{project} about {pct}% complete", (f"{pct}%", f"{pct} %", f"{pct} percent")),
    ))  # fmt: skip


def _metric(rng: random.Random) -> Item:
    metric, a = rng.choice(_METRICS), rng.randint(20, 990)
    b, pct = rng.randint(10, a - 5), rng.randint(11, 60)
    return rng.choice(
        (
            (f"{metric} down from {a} to {b}", (str(b),)),
            (f"{metric} up {pct}% week over week", (f"{pct}%", f"{pct} percent")),
        )
    )


def _risk(rng: random.Random) -> Item:
    party, thing, project = rng.choice(_PARTIES), rng.choice(_THINGS), rng.choice(_PROJECTS)
    date, date_forms = _date(rng)
    return rng.choice((
        (f"waiting on {party} for {thing}", ()), (f"{rng.choice(_PEOPLE)} out sick {rng.choice(_WHEN)}", ()),
        (f"{party} contract ends {date}, no renewal yet", date_forms), (f"{project} might slip a week", ()),
        (f"blocked on {thing} from {party}", ()), (f"QA environment was down for {rng.randint(2, 5)} days", ()),
        (f"launch date still {date} but we are still waiting for {thing}", date_forms),
    ))  # fmt: skip


def _next(rng: random.Random) -> str:
    first, second = rng.sample(_PROJECTS, 2)
    return rng.choice((
        f"finish the {first}", f"start the {first}", f"demo the {first} to {rng.choice(_PARTIES)}", f"book a review with {rng.choice(_PARTIES)}",
        f"hand the {first} over to {rng.choice(_PEOPLE)}", f"write the release notes for the {second}", f"plan the {second}",
    ))  # fmt: skip


def _assemble(rng: random.Random, items: list[Item], nexts: list[str]) -> Task:
    """Join items in one register; the first number or date among them is the check."""
    style = rng.randrange(4)
    if style == 0:
        text = ", ".join(t for t, _ in items) + ". next: " + ", ".join(nexts)
    elif style == 1:
        text = "\n".join(f"- {t}" for t, _ in items) + "\n- next: " + ", ".join(nexts)
    elif style == 2:
        text = " ".join(t[0].upper() + t[1:] + "." for t, _ in items) + " Next: " + " and ".join(nexts) + "."
    else:
        text = (
            f"this week: {items[0][0]}\n"
            + "".join(f"also: {t}\n" for t, _ in items[1:])
            + "next: "
            + ", ".join(nexts)
        )
    expected = next((e for _, e in items if e), ())
    return Task(text, f"notes:{text}", expected)


def _project_notes(rng: random.Random) -> Task:
    items = [_done(rng) for _ in range(rng.randint(1, 2))] + [_progress(rng)]
    if rng.random() < 0.5:
        items.append(_metric(rng))
    items += [_risk(rng) for _ in range(rng.choice((0, 1, 1, 2)))]
    rng.shuffle(items)
    return _assemble(rng, items, [_next(rng) for _ in range(rng.randint(1, 2))])


def _standup(rng: random.Random) -> Task:
    people = rng.sample(_PEOPLE, rng.randint(2, 4))
    lines: list[Item] = []
    for person in people:
        text, expected = rng.choice((_done, _progress, _risk, _metric))(rng)
        lines.append((f"{person}: {text}", expected))
    if rng.random() < 0.5:
        text = "standup:\n" + "\n".join(t for t, _ in lines)
    else:
        lines = lines[:2]
        text = (
            "Yesterday: "
            + "; ".join(t for t, _ in lines)
            + ". Today: "
            + _next(rng)
            + ". Blockers: "
            + (_risk(rng)[0] if rng.random() < 0.6 else "none")
        )
    return Task(text, f"standup:{text}", next((e for _, e in lines if e), ()))


def _chat(rng: random.Random) -> Task:
    items = [rng.choice((_done, _progress, _risk, _metric))(rng) for _ in range(rng.randint(2, 4))]
    channel = rng.choice(("#team-platform", "#proj-launch", "#eng-standup", "#ops", "#design-sync"))
    if rng.random() < 0.5:
        text = f"from slack ({channel}): " + " ".join(f"'{t}'" for t, _ in items)
    else:
        text = f"{channel}\n" + "\n".join(f"{rng.choice(_PEOPLE)}: {t}" for t, _ in items)
    return Task(text, f"chat:{text}", next((e for _, e in items if e), ()))


def _meeting(rng: random.Random) -> Task:
    date, forms = _date(rng)
    people = rng.sample(_PEOPLE, 3)
    decision = rng.choice(
        (
            f"launch the {rng.choice(_PROJECTS)} on {date}",
            f"freeze features from {date}",
            f"move the review to {date}",
        )
    )
    actions = [f"{person} to {_next(rng)}" for person in people[: rng.randint(1, 3)]]
    text = f"meeting notes - attendees: {', '.join(people)}\ndecided: {decision}\naction items: " + "; ".join(
        actions
    )
    if rng.random() < 0.5:
        text += f"\nopen question: {_risk(rng)[0]}"
    return Task(text, f"meeting:{text}", forms)


FAMILIES = (
    Family("project_notes", (*NOTES_WORDS, "rough", "loose", "dump", "written from"), _project_notes, NOTES_FRAMINGS, weight=1.4, checkable=True),
    Family("standup_log", (*NOTES_WORDS, "daily", "yesterday", "today", "log"), _standup, NOTES_FRAMINGS, weight=0.8, checkable=True),
    Family("chat_excerpt", (*NOTES_WORDS, "chat", "slack", "excerpt", "thread", "channel", "messages", "log"), _chat, NOTES_FRAMINGS, weight=0.6, checkable=True),
    Family("meeting_notes", ("meeting", "minutes", "action item", "decision", "agenda", "attendee", "notes", "summar", "follow up"), _meeting, NOTES_FRAMINGS, weight=0.5, checkable=True),
)  # fmt: skip
