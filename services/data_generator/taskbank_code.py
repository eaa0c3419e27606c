"""Code: functions to write, and functions pasted for a skill to work on.

Pasted functions are generated from a dozen shapes people paste (grouping, truncating,
retrying a request, pricing, reading a file, parsing dates, filtering, fetching) with fresh
names, parameters and constants, in Python, JavaScript and Go. The function's name is the
expected content: a docstring, review or explanation that loses it is about another function.
"""

from __future__ import annotations

import random

from .taskbank import Family, Task
from .taskbank_changes import identifier_pair

_SPECS = (
    ("is palindrome", "checks whether a string reads the same backwards"), ("count vowels", "counts the vowels in a string"),
    ("fizz buzz", "prints FizzBuzz up to n"), ("flatten list", "flattens a nested list"), ("parse csv line", "splits one CSV line, honouring quotes"),
    ("median", "returns the median of a list of numbers"), ("slugify", "turns a title into a URL slug"), ("chunk", "splits a list into chunks of size n"),
    ("retry", "retries a function up to n times with a delay"), ("word frequencies", "counts how often each word appears"),
    ("is leap year", "tells whether a year is a leap year"), ("celsius to fahrenheit", "converts a temperature"),
    ("merge sorted", "merges two sorted lists into one sorted list"), ("dedupe", "removes duplicates while keeping order"),
    ("title case", "capitalises each word of a sentence"), ("binary search", "finds an item in a sorted array"),
    ("validate email", "checks that a string looks like an email address"), ("days between", "returns the days between two dates"),
    ("rotate matrix", "rotates a square matrix 90 degrees"), ("group by", "groups records by a key"),
    ("parse duration", "turns strings like '1h30m' into seconds"), ("mask card number", "hides all but the last four digits"),
    ("roman to int", "converts a Roman numeral to an integer"), ("debounce", "delays a callback until calls stop for n ms"),
    ("lru cache", "caches the last n results of a function"), ("is anagram", "checks whether two words are anagrams"),
    ("format bytes", "prints a byte count as KB, MB or GB"), ("paginate", "returns one page of a list"),
    ("deep merge", "merges two nested dictionaries"), ("top k", "returns the k most frequent items"),
    ("read config", "loads settings from a TOML file with defaults"), ("camel to snake", "converts camelCase names to snake_case"),
    ("moving average", "computes a moving average over a window"), ("is prime", "tells whether a number is prime"),
    ("weekday name", "returns the weekday name for a date"), ("safe divide", "divides and returns None on division by zero"),
    ("truncate words", "shortens a text to n words"), ("parse query string", "turns a URL query string into a map"),
    ("hash password", "hashes a password with a random salt"), ("batch", "yields items in batches of n"),
)  # fmt: skip
_LANGS = {"Python": "snake", "JavaScript": "camel", "TypeScript": "camel", "Go": "camel", "Rust": "snake", "Java": "camel", "Ruby": "snake", "Kotlin": "camel", "C#": "pascal", "PHP": "camel", "Swift": "camel", "Elixir": "snake"}  # fmt: skip
_PY_SHAPES = (
    "def {name}({a}, {b}):\n    result = {{}}\n    for item in {a}:\n        result.setdefault(item[{b}], []).append(item)\n    return result",
    'def {name}({a}: str, limit: int = {n}) -> str:\n    if len({a}) <= limit:\n        return {a}\n    return {a}[: limit - 3] + "..."',
    'def {name}(url, attempts={k}):\n    for attempt in range(attempts):\n        try:\n            return requests.get(url, timeout={m}).json()\n        except requests.RequestException:\n            time.sleep(2 ** attempt)\n    raise RuntimeError(f"gave up on {{url}}")',
    "def {name}({a}, {b}, discount=0.{k}):\n    subtotal = {a} * {b}\n    return round(subtotal * (1 - discount), 2)",
    'def {name}(path):\n    with open(path, encoding="utf-8") as handle:\n        return [line.strip() for line in handle if line.strip() and not line.startswith("{c}")]',
    'def {name}({a}):\n    return datetime.strptime({a}, "%Y-%m-%d").date() + timedelta(days={k})',
    "def {name}({a}, threshold={n}):\n    return [x for x in {a} if x.{b} >= threshold]",
    "def {name}(self, {a}):\n    if {a} not in self._{b}:\n        self._{b}[{a}] = self._load({a})\n    return self._{b}[{a}]",
)  # fmt: skip
_JS_SHAPES = (
    "function {name}({a}) {{\n  return {a}.filter((x) => x.{b} > {n}).map((x) => x.id);\n}}",
    "async function {name}(id) {{\n  const res = await fetch(`/api/{b}s/${{id}}`);\n  if (!res.ok) throw new Error(`failed: ${{res.status}}`);\n  return res.json();\n}}",
    "const {name} = ({a}, {b} = {k}) => {a}.slice(0, {b}).join(', ');",
    "function {name}({a}) {{\n  let total = 0;\n  for (const row of {a}) total += row.{b} * {k};\n  return Math.round(total);\n}}",
)  # fmt: skip
_GO_SHAPES = (
    "func {name}({a} []int) int {{\n\ttotal := 0\n\tfor _, v := range {a} {{\n\t\tif v > {n} {{\n\t\t\ttotal += v\n\t\t}}\n\t}}\n\treturn total\n}}",
    'func {name}({a} string) (time.Time, error) {{\n\treturn time.Parse("2006-01-02", strings.TrimSpace({a}))\n}}',
)  # fmt: skip
_PARAMS = ("items", "records", "rows", "orders", "users", "text", "value", "entries", "events", "prices", "lines", "payload", "key", "field", "cache", "quantity", "amount")  # fmt: skip


def _code_task(rng: random.Random) -> Task:
    (words, spec), (lang, style) = rng.choice(_SPECS), rng.choice(list(_LANGS.items()))
    parts = words.split()
    name = {
        "snake": "_".join(parts),
        "camel": parts[0] + "".join(p.capitalize() for p in parts[1:]),
        "pascal": "".join(p.capitalize() for p in parts),
    }[style]
    text = rng.choice((
        f"Write a {lang} function called {name} that {spec}.", f"I need a {lang} function `{name}` that {spec}.",
        f"Can you write {name} in {lang}? It {spec}.", f"{lang}: implement {name}(), which {spec}.",
    ))  # fmt: skip
    return Task(text, f"codetask:{words}:{lang}", (name,))


def _snippet(rng: random.Random) -> Task:
    language = rng.choices(("python", "javascript", "go"), weights=(6, 3, 1))[0]
    style, shapes = {
        "python": ("snake", _PY_SHAPES),
        "javascript": ("camel", _JS_SHAPES),
        "go": ("camel", _GO_SHAPES),
    }[language]
    _, name = identifier_pair(rng, style)
    if language == "go" and rng.random() < 0.5:
        name = name[0].upper() + name[1:]
    a, b = rng.sample(_PARAMS, 2)
    shape = rng.randrange(len(shapes))
    code = shapes[shape].format(
        name=name,
        a=a,
        b=b,
        n=rng.randint(2, 500),
        k=rng.randint(2, 9),
        m=rng.randint(3, 30),
        c=rng.choice("#;/"),
    )
    return Task(code, f"snippet:{language}:{shape}:{name}", (name,))


FAMILIES = (
    Family("code_task", ("code", "function", "implement", "snippet", "program", "class", "method", "docstring", "type hint", "refactor", "developer"), _code_task, ("{task}", "Quick one: {task}", "{task} Thanks!"), weight=1.0, checkable=True),
    Family("code_snippet", ("function", "snippet", "pastes", "code", "docstring", "type hint", "review", "comment", "document", "refactor", "source", "bug"), _snippet, ("{task}", "Here's a function:\n\n{task}", "Can you look at this?\n\n{task}", "{task}\n\nThis is from our codebase.", "Function:\n```\n{task}\n```"), weight=1.0, checkable=True),
)  # fmt: skip
