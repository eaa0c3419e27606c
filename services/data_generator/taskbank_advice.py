"""Open questions: definitions, how-to, programming, comparisons, recommendations, requests for
another format, small talk.

Their answers cannot be checked by a program, so they feed training, never near-miss checks;
they are what makes a question-answering skill see the range of things people actually ask
(the evals of such skills mix facts with advice, opinions and chit-chat).
"""

from __future__ import annotations

import random

from .taskbank import Family, Task
from .taskbank_questions import QUESTION_FRAMINGS, QUESTION_WORDS

_TERMS = (
    "an API", "a hash function", "inflation", "photosynthesis", "a black hole", "machine learning", "a mortgage",
    "compound interest", "DNS", "a firewall", "entropy", "an index fund", "a neural network", "opportunity cost",
    "a recession", "latency", "a VPN", "encryption", "a compiler", "recursion", "a container image", "an algorithm",
    "the greenhouse effect", "a vaccine", "a sonnet", "a metaphor", "supply and demand", "a derivative in calculus",
    "a prime number", "the placebo effect", "gerrymandering", "a blockchain", "an ETF", "a deductible",
    "cognitive dissonance", "the Doppler effect", "osmosis", "a cache", "a race condition", "a load balancer",
    "technical debt", "a stand-up meeting", "an OKR", "a KPI", "GDP", "a tariff", "a haiku", "irony", "an allele",
    "a tectonic plate", "a monsoon", "a credit score", "a pull request", "a kernel", "a microservice", "an SSD",
    "bandwidth", "a spreadsheet pivot table", "a regular expression", "UTF-8", "a deadlock", "big O notation",
)  # fmt: skip
_HOWTO = (
    "boil an egg so the yolk stays soft", "change a flat tyre", "get better sleep", "start running as a beginner",
    "write a good cover letter", "clean a cast iron pan", "keep basil alive indoors", "learn touch typing",
    "back up my phone", "make cold brew coffee", "remove a red wine stain", "save money on groceries",
    "prepare for a job interview", "negotiate a raise", "memorise a speech", "stop procrastinating",
    "set up a budget", "take better photos with my phone", "unclog a drain without chemicals",
    "learn a new language quickly", "fall asleep faster", "keep a sourdough starter alive", "paint a room",
    "write a haiku", "give useful feedback to a colleague", "run a productive meeting", "pack for a week with only a backpack",
    "reduce my screen time", "calm down before a presentation", "choose a good password", "undo the last git commit",
    "resolve a merge conflict in git", "free up disk space on my laptop", "speed up a slow Wi-Fi connection",
    "write a README for my project", "estimate a software project", "train a puppy to sit", "fix a squeaky door",
)  # fmt: skip
_LANGS = ("Python", "JavaScript", "TypeScript", "Go", "Rust", "Java", "C#", "Ruby", "Kotlin", "Bash")
_CODE_OPS = (
    "reverse a list", "read a file line by line", "sort a dictionary by value", "parse a JSON string",
    "make an HTTP GET request", "get the current date and time", "remove duplicates from a list",
    "check whether a string contains a substring", "convert a string to an integer", "split a string on commas",
    "write a unit test", "handle an exception", "start a background thread", "read an environment variable",
    "format a number with two decimals", "merge two dictionaries", "generate a random number",
    "find the largest item in an array", "count words in a string", "write to a CSV file",
    "create a class with a constructor", "iterate over a map", "measure how long a function takes",
    "define an enum", "pad a string with zeros", "check if a file exists", "join a list of strings",
)  # fmt: skip
_CHOICES = (
    ("Python", "Go", "a small web scraper"), ("PostgreSQL", "MongoDB", "an online shop"), ("React", "Vue", "a dashboard"),
    ("a laptop", "a desktop", "a student"), ("renting", "buying", "a first home"), ("an e-bike", "a car", "a 10 km commute"),
    ("Kindle", "paper books", "reading on holiday"), ("tea", "coffee", "an afternoon pick-me-up"),
    ("SQLite", "PostgreSQL", "a personal project"), ("REST", "GraphQL", "a public API"), ("Docker", "a virtual machine", "local development"),
    ("index funds", "individual stocks", "a beginner investor"), ("running", "swimming", "bad knees"),
    ("iPhone", "Android", "an older parent"), ("Excel", "Google Sheets", "a small team"), ("Spanish", "French", "an English speaker"),
    ("a gas stove", "an induction hob", "a small flat"), ("Rust", "C++", "a new systems project"), ("Kubernetes", "a single VM", "a startup"),
    ("a standing desk", "a regular desk", "working from home"), ("cats", "dogs", "a busy family"), ("Zoom", "Teams", "a company of 50"),
    ("Markdown", "Word", "technical notes"), ("TypeScript", "JavaScript", "a large frontend"), ("a monorepo", "many repositories", "a team of 10"),
)  # fmt: skip
_TOPICS = (
    "statistics", "Python", "personal finance", "machine learning", "cooking", "negotiation", "public speaking",
    "world history", "photography", "design", "chess", "writing fiction", "economics", "philosophy", "astronomy",
    "SQL", "leadership", "gardening", "music theory", "psychology", "linear algebra", "marketing", "Japanese",
)  # fmt: skip
_FORMAT_ASKS = (
    "Give me a markdown table of {x}.", "Write a short poem about {x}.", "Write a haiku about {x}.", "Make a bulleted list of {x}.",
    "Can you put {x} in a table?", "Answer in YAML: what do you know about {x}?", "In three bullet points, tell me about {x}.",
    "Write a limerick about {x}.", "Can you answer in XML? Tell me about {x}.", "Draw an ASCII chart of {x}.",
)  # fmt: skip
_FORMAT_SUBJECTS = (
    "the planets and their moons", "the five largest countries", "the seasons", "coffee", "Monday mornings", "the ocean",
    "the days of the week in French", "the primary colours", "my cat", "the phases of the Moon", "prime numbers under 30",
    "the continents", "autumn", "the noble gases", "the Beatles' albums", "programming languages", "the Olympic host cities since 2000",
    "the layers of the Earth", "the first ten elements", "rain", "the bones of the arm", "famous bridges", "the speed of animals",
)  # fmt: skip
_SMALLTALK = (
    "hey, what's up?", "good morning!", "thanks for the help earlier", "who are you?", "what can you do?",
    "tell me a joke", "how are you today?", "I'm bored", "what's your favourite colour?", "are you a robot?",
    "can you keep a secret?", "do you dream?", "I just got a new job!", "say something nice", "what day is it today?",
    "hello?", "are you there?", "lol", "ok cool", "what should I have for dinner?", "I can't sleep",
    "what's the meaning of life?", "do you like music?", "recommend me a movie", "sorry, wrong window",
)  # fmt: skip


def _definition(rng: random.Random) -> Task:
    term = rng.choice(_TERMS)
    bare = term.split(" ", 1)[1] if term.split(" ", 1)[0] in {"a", "an", "the"} else term
    text = rng.choice(
        (f"What is {term}?", f"What does {bare} mean?", f"Define {bare}.", f"Explain {term} in one sentence.",
         f"Can you explain {term} simply?", f"What's the meaning of {bare}?", f"ELI5: {bare}")
    )  # fmt: skip
    return Task(text, f"define:{bare}")


def _howto(rng: random.Random) -> Task:
    task = rng.choice(_HOWTO)
    text = rng.choice(
        (
            f"How do I {task}?",
            f"What's the best way to {task}?",
            f"How can I {task}?",
            f"Any tips on how to {task}?",
            f"how to {task}",
        )
    )
    return Task(text, f"howto:{task}")


def _programming(rng: random.Random) -> Task:
    op, lang = rng.choice(_CODE_OPS), rng.choice(_LANGS)
    text = rng.choice(
        (
            f"How do I {op} in {lang}?",
            f"What's the idiomatic way to {op} in {lang}?",
            f"In {lang}, how can I {op}?",
            f"{lang}: how to {op}?",
        )
    )
    return Task(text, f"code:{op}:{lang}")


def _comparison(rng: random.Random) -> Task:
    a, b, purpose = rng.choice(_CHOICES)
    if rng.random() < 0.5:
        a, b = b, a
    text = rng.choice(
        (
            f"Is {a} or {b} better for {purpose}?",
            f"{a} vs {b} for {purpose}?",
            f"Which should I pick for {purpose}: {a} or {b}?",
            f"Would you recommend {a} over {b} for {purpose}?",
        )
    )
    return Task(text, f"compare:{purpose}")


def _recommendation(rng: random.Random) -> Task:
    topic = rng.choice(_TOPICS)
    text = rng.choice(
        (
            f"Name a good book for learning {topic}.",
            f"What's a good podcast about {topic}?",
            f"Where should I start with {topic}?",
            f"Recommend one free course on {topic}.",
            f"What should a beginner in {topic} learn first?",
        )
    )
    return Task(text, f"recommend:{text}")


def _format_request(rng: random.Random) -> Task:
    ask, subject = rng.choice(_FORMAT_ASKS), rng.choice(_FORMAT_SUBJECTS)
    return Task(ask.format(x=subject), f"format:{ask}:{subject}")


def _smalltalk(rng: random.Random) -> Task:
    text = rng.choice(_SMALLTALK)
    return Task(text, f"smalltalk:{text}")


FAMILIES = (
    Family("definitions", (*QUESTION_WORDS, "define", "definition", "explain", "meaning", "term", "concept"), _definition, QUESTION_FRAMINGS, weight=0.8, fallback=True),
    Family("how_to", (*QUESTION_WORDS, "how to", "how do", "advice", "tips", "steps", "instructions", "guide"), _howto, QUESTION_FRAMINGS, weight=0.7, fallback=True),
    Family("programming", (*QUESTION_WORDS, "code", "programming", "python", "javascript", "developer", "snippet", "function", "software"), _programming, QUESTION_FRAMINGS, weight=0.6),
    Family("comparisons", (*QUESTION_WORDS, "opinion", "compare", "comparison", "better", "recommend", "choice", "assumption", "depend"), _comparison, QUESTION_FRAMINGS, weight=0.5, fallback=True),
    Family("recommendations", (*QUESTION_WORDS, "recommend", "suggest", "book", "learn", "resource", "opinion"), _recommendation, QUESTION_FRAMINGS, weight=0.4),
    Family("format_requests", (*QUESTION_WORDS, "another format", "table", "poem", "yaml", "haiku"), _format_request, QUESTION_FRAMINGS, weight=0.4),
    Family("small_talk", (*QUESTION_WORDS, "greeting", "chit chat", "small talk", "unclear", "hello", "casual"), _smalltalk, ("{task}",), weight=0.15),
)  # fmt: skip
