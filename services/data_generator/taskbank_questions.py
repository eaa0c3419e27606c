"""Questions whose answers a program can check: arithmetic, unit conversions, settled facts.

These are the near-miss prompts of every question-answering skill: the skill may change how
the answer looks, never what it is, and ``expected`` says what it is. Operands are drawn from
wide ranges, so a thousand prompts are a thousand different questions.
"""

from __future__ import annotations

import random

from .taskbank import Family, Task
from .taskbank_facts import FACTS

# Words that mark a skill about answering questions in general.
QUESTION_WORDS = (
    "question", "answer", "ask", "trivia", "quiz", "faq", "query", "queries", "knowledge",
    "general", "assistant", "conversation", "any request", "fact",
)  # fmt: skip
QUESTION_FRAMINGS = (
    "{task}", "Quick question: {task}", "Q: {task}", "Question: {task}", "{task} Thanks!",
    "Hi! {task}", "Hey, {task}", "I was wondering: {task}", "Can you tell me this? {task}",
)  # fmt: skip
_NAMES = ("Ana", "Ben", "Chloe", "Dev", "Emma", "Farid", "Grace", "Hiro", "Ines", "Jonas", "Kemi", "Liam", "Maya", "Noah", "Olga", "Priya", "Quinn", "Rosa", "Sam", "Tariq", "Uma", "Victor", "Wen", "Yusuf", "Zoe")  # fmt: skip
_ITEMS = ("notebooks", "apples", "tickets", "mugs", "pencils", "stickers", "books", "candles", "cookies", "plants", "batteries", "socks")  # fmt: skip


def number_forms(n: int | float) -> tuple[str, ...]:
    """How a correct reply may write the number: ``1234`` or ``1,234``; ``2.5``."""
    if isinstance(n, float) and not n.is_integer():
        return (f"{n:g}",)
    n = int(n)
    return tuple(dict.fromkeys((str(n), f"{n:,}")))


def _operands(rng: random.Random, low: int, high: int) -> int:
    """Mostly two-digit numbers, sometimes three: the questions people type."""
    return rng.randint(low, high if rng.random() < 0.3 else min(high, 99))


def _arithmetic(rng: random.Random) -> Task:
    kind = rng.choice(
        ("add", "add", "sub", "sub", "mul", "mul", "div", "percent", "square", "root", "word", "word")
    )
    a, b = _operands(rng, 2, 999), _operands(rng, 2, 999)
    if kind == "add":
        text, answer = (
            rng.choice(
                (
                    "What is {a} + {b}?",
                    "What's {a} plus {b}?",
                    "How much is {a} + {b}?",
                    "Add {a} and {b}.",
                    "Calculate {a} + {b}.",
                    "{a} + {b} = ?",
                    "What is the sum of {a} and {b}?",
                )
            ),
            a + b,
        )
    elif kind == "sub":
        a, b = max(a, b) + 1, min(a, b)
        text, answer = (
            rng.choice(
                (
                    "What is {a} - {b}?",
                    "What's {a} minus {b}?",
                    "Subtract {b} from {a}.",
                    "How much is {a} take away {b}?",
                    "{a} - {b} = ?",
                    "What is the difference between {a} and {b}?",
                )
            ),
            a - b,
        )
    elif kind == "mul":
        a, b = rng.randint(2, 99), rng.randint(2, 99 if rng.random() < 0.5 else 19)
        text, answer = (
            rng.choice(
                (
                    "What's {a} * {b}?",
                    "What is {a} times {b}?",
                    "Multiply {a} by {b}.",
                    "What is {a} \u00d7 {b}?",
                    "Calculate {a} x {b}.",
                    "What is the product of {a} and {b}?",
                )
            ),
            a * b,
        )
    elif kind == "div":
        b, answer = rng.randint(2, 25), rng.randint(2, 99)
        a = b * answer
        text = rng.choice(
            (
                "What is {a} divided by {b}?",
                "{a} / {b} = ?",
                "Divide {a} by {b}.",
                "How many times does {b} go into {a}?",
                "What's {a} ÷ {b}?",
            )
        )
    elif kind == "percent":
        a, b = rng.choice((5, 10, 15, 20, 25, 30, 40, 50, 60, 75, 80)), 20 * rng.randint(1, 60)
        text, answer = (
            rng.choice(("What is {a}% of {b}?", "Calculate {a} percent of {b}.", "How much is {a}% of {b}?")),
            a * b // 100,
        )
    elif kind == "square":
        a = rng.randint(11, 99)
        text, answer = (
            rng.choice(("What is {a} squared?", "What's {a} to the power of 2?", "Calculate {a}².")),
            a * a,
        )
    elif kind == "root":
        answer = rng.randint(11, 99)
        a = answer * answer
        text = rng.choice(("What is the square root of {a}?", "What's √{a}?", "Find the square root of {a}."))
    else:
        return _word_problem(rng)
    return Task(text.format(a=a, b=b), f"arith:{kind}:{a}:{b}", number_forms(answer))


def _word_problem(rng: random.Random) -> Task:
    name, item = rng.choice(_NAMES), rng.choice(_ITEMS)
    a, b, c = rng.randint(12, 95), rng.randint(2, 11), rng.randint(3, 60)
    problems = (
        (f"{name} has {a} {item} and buys {c} more. How many {item} does {name} have now?", a + c),
        (f"{name} had {a + c} {item} and gave {c} away. How many are left?", a),
        (f"A shop sells {item} at ${b} each. How much do {c} {item} cost?", b * c),
        (f"A train travels at {a} km/h for {b} hours. How far does it go in km?", a * b),
        (f"{name} is {a} years old. How old will {name} be in {c} years?", a + c),
        (f"There are {b} boxes with {a} {item} in each. How many {item} are there in total?", a * b),
        (f"{b * c} {item} are shared equally among {b} people. How many does each person get?", c),
        (f"A recipe needs {b} eggs per cake. How many eggs do I need for {c} cakes?", b * c),
    )
    text, answer = rng.choice(problems)
    return Task(text, f"word:{text}", number_forms(answer))


_UNITS = (
    ("kilometers", "meters", 1000), ("meters", "centimeters", 100), ("centimeters", "millimeters", 10),
    ("kilograms", "grams", 1000), ("hours", "minutes", 60), ("minutes", "seconds", 60), ("days", "hours", 24),
    ("weeks", "days", 7), ("liters", "milliliters", 1000), ("years", "months", 12), ("feet", "inches", 12),
    ("yards", "feet", 3), ("pounds", "ounces", 16), ("gallons", "quarts", 4), ("dozen", "eggs", 12),
)  # fmt: skip


def _conversion(rng: random.Random) -> Task:
    if rng.random() < 0.2:
        celsius = rng.randrange(-40, 105, 5)
        fahrenheit = celsius * 9 // 5 + 32
        if rng.random() < 0.5:
            text = rng.choice(
                (
                    "What is {c}°C in Fahrenheit?",
                    "Convert {c} degrees Celsius to Fahrenheit.",
                    "{c} °C is how many °F?",
                )
            ).format(c=celsius)
            return Task(text, f"temp:c:{celsius}", number_forms(fahrenheit))
        text = rng.choice(
            (
                "What is {f}°F in Celsius?",
                "Convert {f} degrees Fahrenheit to Celsius.",
                "{f} °F is how many °C?",
            )
        ).format(f=fahrenheit)
        return Task(text, f"temp:f:{fahrenheit}", number_forms(celsius))
    big, small, factor = rng.choice(_UNITS)
    n = rng.randint(2, 48 if rng.random() < 0.7 else 500)
    if rng.random() < 0.65:
        template = rng.choice(
            (
                "How many {small} are in {n} {big}?",
                "Convert {n} {big} to {small}.",
                "{n} {big} is how many {small}?",
                "What is {n} {big} in {small}?",
            )
        )
        return Task(
            template.format(n=n, big=big, small=small), f"conv:{big}>{small}:{n}", number_forms(n * factor)
        )
    template = rng.choice(
        (
            "How many {big} is {m} {small}?",
            "Convert {m} {small} to {big}.",
            "{m} {small} equals how many {big}?",
        )
    )
    return Task(
        template.format(m=n * factor, big=big, small=small),
        f"conv:{small}>{big}:{n * factor}",
        number_forms(n),
    )


def _fact(rng: random.Random) -> Task:
    key, wordings, expected = rng.choice(FACTS)
    return Task(rng.choice(wordings), key, expected)


_PLACES = ("London", "Paris", "Tokyo", "Berlin", "Madrid", "Chicago", "Toronto", "Sydney", "Mumbai", "Cairo", "Lagos", "Lima", "Oslo", "Seoul", "Dublin", "Denver", "Lisbon", "Vienna", "Nairobi", "Bogotá", "Boston", "Manchester", "Osaka", "Munich", "Cape Town", "Austin", "Seattle", "Prague", "Hanoi", "Athens")  # fmt: skip
_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_ASSETS = ("Bitcoin", "Ethereum", "gold", "oil", "the S&P 500", "Apple stock", "Tesla shares", "the euro against the dollar", "the yen", "silver", "the Nasdaq", "copper", "natural gas", "wheat")  # fmt: skip
_WHEN = ("next month", "by the end of the year", "next Friday", "in five years", "tomorrow", "next quarter", "a year from now", "in 2030")  # fmt: skip
_EVENTS = ("FIFA World Cup", "Super Bowl", "Tour de France", "Wimbledon men's final", "Eurovision Song Contest", "Champions League", "NBA Finals", "Ballon d'Or", "cricket World Cup", "Olympic 100 m final", "Formula 1 championship", "Rugby World Cup")  # fmt: skip


def _unknowable(rng: random.Random) -> Task:
    kind = rng.randrange(4)
    if kind == 0:
        place, day = rng.choice(_PLACES), rng.choice(_DAYS)
        text = rng.choice(
            (
                f"Will it rain in {place} next {day}?",
                f"What will the weather be in {place} on {day}?",
                f"Is it going to snow in {place} next {day}?",
                f"How warm will it be in {place} next {day}?",
            )
        )
    elif kind == 1:
        asset, when = rng.choice(_ASSETS), rng.choice(_WHEN)
        text = rng.choice(
            (
                f"What will the price of {asset} be {when}?",
                f"Will {asset} go up {when}?",
                f"Should I expect {asset} to crash {when}?",
            )
        )
    elif kind == 2:
        event = rng.choice(_EVENTS)
        text = rng.choice(
            (
                f"Who will win the next {event}?",
                f"Which team will win the next {event}?",
                f"Predict the winner of the next {event}.",
            )
        )
    else:
        name, n = rng.choice(_NAMES), rng.randint(2, 100)
        text = rng.choice(
            (
                f"What number between 1 and {n} am I thinking of?",
                f"What did my friend {name} have for breakfast today?",
                f"What is {name}'s phone number?",
                f"How many emails will I get tomorrow, roughly {n}?",
            )
        )
    return Task(text, f"unknown:{text}")


FAMILIES = (
    Family("arithmetic", (*QUESTION_WORDS, "calculat", "math", "arithmetic", "number", "sum", "compute", "exact", "numeric"), _arithmetic, QUESTION_FRAMINGS, weight=1.2, fallback=True, checkable=True),
    Family("unit_conversion", (*QUESTION_WORDS, "convert", "conversion", "unit", "measure", "metric", "calculat"), _conversion, QUESTION_FRAMINGS, weight=0.8, fallback=True, checkable=True),
    Family("facts", (*QUESTION_WORDS, "fact", "well established", "history", "geography", "science", "capital", "who", "trivia"), _fact, QUESTION_FRAMINGS, weight=1.2, fallback=True, checkable=True),
    Family("unknowable", (*QUESTION_WORDS, "unknown", "guess", "uncertain", "confidence", "cannot be answered", "future", "predict", "do not know"), _unknowable, QUESTION_FRAMINGS, weight=0.5),
)  # fmt: skip
