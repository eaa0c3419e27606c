"""Questions with one settled answer, and the strings a correct reply contains.

Only facts that are not disputed or moving (no contested capitals, no "most populous country")
are listed, because the expected strings become checks: a wrong one would fail a right answer.
Every fact has several wordings; ``FACTS`` is (key, wordings, expected) per fact.
"""

from __future__ import annotations

Fact = tuple[str, tuple[str, ...], tuple[str, ...]]

_CAPITALS = {
    "France": "Paris", "Germany": "Berlin", "Italy": "Rome", "Spain": "Madrid", "Portugal": "Lisbon",
    "Japan": "Tokyo", "China": "Beijing", "India": "New Delhi", "Canada": "Ottawa",
    "Australia": "Canberra", "Brazil": "Brasília|Brasilia", "Argentina": "Buenos Aires",
    "Mexico": "Mexico City", "Egypt": "Cairo", "Kenya": "Nairobi", "Nigeria": "Abuja",
    "Russia": "Moscow", "Turkey": "Ankara", "Greece": "Athens", "Norway": "Oslo",
    "Sweden": "Stockholm", "Finland": "Helsinki", "Denmark": "Copenhagen", "Poland": "Warsaw",
    "Austria": "Vienna", "Hungary": "Budapest", "Ireland": "Dublin", "Belgium": "Brussels",
    "the Czech Republic": "Prague", "Peru": "Lima", "Chile": "Santiago", "Colombia": "Bogotá|Bogota",
    "Thailand": "Bangkok", "Vietnam": "Hanoi", "South Korea": "Seoul", "the Philippines": "Manila",
    "Iran": "Tehran", "Iraq": "Baghdad", "Saudi Arabia": "Riyadh", "Pakistan": "Islamabad",
    "Bangladesh": "Dhaka", "Morocco": "Rabat", "Ethiopia": "Addis Ababa", "Ghana": "Accra",
    "New Zealand": "Wellington", "Iceland": "Reykjavík|Reykjavik", "Cuba": "Havana",
    "Ukraine": "Kyiv|Kiev", "Romania": "Bucharest", "Switzerland": "Bern", "the Netherlands": "Amsterdam",
    "the United Kingdom": "London", "Venezuela": "Caracas", "Malaysia": "Kuala Lumpur",
    "Croatia": "Zagreb", "Serbia": "Belgrade", "Bulgaria": "Sofia", "Uruguay": "Montevideo",
    "Jamaica": "Kingston", "Nepal": "Kathmandu", "Mongolia": "Ulaanbaatar|Ulan Bator", "Qatar": "Doha",
    "Lebanon": "Beirut", "Jordan": "Amman", "Senegal": "Dakar", "Zimbabwe": "Harare",
    "Algeria": "Algiers", "Tunisia": "Tunis", "Slovakia": "Bratislava", "Slovenia": "Ljubljana",
    "Estonia": "Tallinn", "Latvia": "Riga", "Lithuania": "Vilnius",
}  # fmt: skip
_BOOKS = {
    "1984": "Orwell", "Animal Farm": "Orwell", "The Hobbit": "Tolkien", "The Lord of the Rings": "Tolkien",
    "Hamlet": "Shakespeare", "Romeo and Juliet": "Shakespeare", "Macbeth": "Shakespeare",
    "War and Peace": "Tolstoy", "Anna Karenina": "Tolstoy", "Crime and Punishment": "Dostoevsky|Dostoyevsky",
    "Don Quixote": "Cervantes", "Moby-Dick": "Melville", "The Great Gatsby": "Fitzgerald",
    "To Kill a Mockingbird": "Harper Lee", "Frankenstein": "Shelley", "Dracula": "Stoker",
    "Jane Eyre": "Brontë|Bronte", "Wuthering Heights": "Brontë|Bronte", "The Odyssey": "Homer",
    "Les Misérables": "Hugo", "One Hundred Years of Solitude": "Márquez|Marquez",
    "The Old Man and the Sea": "Hemingway", "Brave New World": "Huxley",
    "The Catcher in the Rye": "Salinger", "Great Expectations": "Dickens", "Oliver Twist": "Dickens",
    "A Tale of Two Cities": "Dickens", "Ulysses": "Joyce", "The Divine Comedy": "Dante",
    "Fahrenheit 451": "Bradbury", "On the Origin of Species": "Darwin", "A Brief History of Time": "Hawking",
    "The Little Prince": "Exupéry|Exupery", "Alice's Adventures in Wonderland": "Carroll",
    "The Adventures of Tom Sawyer": "Twain", "Dune": "Herbert", "Beloved": "Morrison",
    "The Metamorphosis": "Kafka", "The Picture of Dorian Gray": "Wilde", "Mrs Dalloway": "Woolf",
}  # fmt: skip
_PEOPLE = {
    "painted the Mona Lisa": "Leonardo|da Vinci", "painted The Starry Night": "Van Gogh",
    "developed the theory of general relativity": "Einstein",
    "formulated the three laws of motion": "Newton", "discovered penicillin": "Fleming",
    "was the first person to walk on the Moon": "Armstrong", "was the first person in space": "Gagarin",
    "invented the World Wide Web": "Berners-Lee|Berners Lee", "created the Python programming language": "van Rossum|Guido",
    "created the Linux kernel": "Torvalds|Linus", "was the first President of the United States": "Washington",
    "discovered radium and polonium": "Curie", "painted the ceiling of the Sistine Chapel": "Michelangelo",
    "proposed a heliocentric model of the solar system in 1543": "Copernicus", "composed The Magic Flute": "Mozart",
    "wrote the Ninety-five Theses": "Luther", "sculpted The Thinker": "Rodin", "painted Guernica": "Picasso",
    "published the first widely recognised periodic table in 1869": "Mendeleev|Mendeleyev",
    "wrote the play Waiting for Godot": "Beckett", "composed the Moonlight Sonata": "Beethoven",
    "painted The Last Supper": "Leonardo|da Vinci", "wrote the Odyssey, according to tradition": "Homer",
    "was the first woman to win a Nobel Prize": "Curie", "developed the first successful polio vaccine": "Salk",
    "co-founded Apple with Steve Wozniak": "Jobs", "co-founded Microsoft with Paul Allen": "Gates",
}  # fmt: skip
_LANDMARKS = {
    "the Eiffel Tower": "Paris", "the Colosseum": "Rome", "Big Ben": "London", "the Statue of Liberty": "New York",
    "the Sagrada Família": "Barcelona", "the Brandenburg Gate": "Berlin", "the Taj Mahal": "Agra",
    "the Forbidden City": "Beijing", "the Sydney Opera House": "Sydney", "the Golden Gate Bridge": "San Francisco",
    "the Acropolis": "Athens", "the Kremlin": "Moscow", "the Burj Khalifa": "Dubai",
    "the Christ the Redeemer statue": "Rio", "the Leaning Tower": "Pisa", "the Louvre": "Paris",
    "Hagia Sophia": "Istanbul", "the Petronas Towers": "Kuala Lumpur", "the Space Needle": "Seattle",
    "the CN Tower": "Toronto", "the Atomium": "Brussels", "the Charles Bridge": "Prague",
    "the Alhambra": "Granada", "the Rijksmuseum": "Amsterdam", "the Little Mermaid statue": "Copenhagen",
}  # fmt: skip
_SYMBOLS = {
    "Au": "gold", "Ag": "silver", "Fe": "iron", "Na": "sodium", "K": "potassium", "Pb": "lead", "Cu": "copper",
    "Sn": "tin", "Hg": "mercury", "He": "helium", "Ne": "neon", "Ca": "calcium", "Zn": "zinc", "Cl": "chlorine",
    "Mg": "magnesium", "Si": "silicon", "Pt": "platinum", "W": "tungsten", "Ar": "argon", "Li": "lithium",
    "Ni": "nickel", "U": "uranium", "Ti": "titanium", "Co": "cobalt", "Sb": "antimony",
}  # fmt: skip
_CURRENCIES = {
    "Japan": "yen", "the United Kingdom": "pound", "India": "rupee", "Mexico": "peso", "Switzerland": "franc",
    "China": "yuan|renminbi", "Russia": "ruble|rouble", "Brazil": "real", "South Africa": "rand",
    "Sweden": "krona|kronor", "Poland": "złoty|zloty", "Turkey": "lira", "Thailand": "baht",
    "Israel": "shekel", "Germany": "euro", "Italy": "euro", "Canada": "dollar", "Australia": "dollar",
    "Nigeria": "naira", "Indonesia": "rupiah", "Hungary": "forint", "Denmark": "krone", "Norway": "krone",
    "Egypt": "pound", "Argentina": "peso",
}  # fmt: skip
_LANGUAGES = {
    "Brazil": "Portuguese", "Mexico": "Spanish", "Argentina": "Spanish", "Egypt": "Arabic",
    "Iran": "Persian|Farsi", "Austria": "German", "Japan": "Japanese", "Greece": "Greek",
    "the Netherlands": "Dutch", "Poland": "Polish", "Portugal": "Portuguese", "Chile": "Spanish",
    "Sweden": "Swedish", "Turkey": "Turkish", "Hungary": "Hungarian", "Vietnam": "Vietnamese",
    "Thailand": "Thai", "South Korea": "Korean", "the Czech Republic": "Czech", "Ukraine": "Ukrainian",
    "Saudi Arabia": "Arabic", "Israel": "Hebrew", "Indonesia": "Indonesian|Bahasa", "Finland": "Finnish",
}  # fmt: skip
_YEARS = {
    "World War II end": "1945", "the Berlin Wall fall": "1989", "humans first land on the Moon": "1969",
    "the Titanic sink": "1912", "World War I begin": "1914", "the French Revolution begin": "1789",
    "Columbus first reach the Americas": "1492", "the Soviet Union dissolve": "1991",
    "the first iPhone come out": "2007", "the Chernobyl disaster happen": "1986",
    "the Great Fire of London happen": "1666", "the Battle of Hastings take place": "1066",
    "euro banknotes and coins come into circulation": "2002", "Nelson Mandela become President of South Africa": "1994",
    "the Wright brothers make their first powered flight": "1903", "the United States declare independence": "1776",
}  # fmt: skip
_SCIENCE = [
    ("largest-planet", ("What is the largest planet in our solar system?", "Which planet is the biggest?"), "Jupiter"),
    ("closest-planet", ("Which planet is closest to the Sun?", "What's the innermost planet?"), "Mercury"),
    ("red-planet", ("Which planet is known as the Red Planet?", "What planet do people call the Red Planet?"), "Mars"),
    ("hottest-planet", ("What is the hottest planet in the solar system?", "Which planet has the highest surface temperature?"), "Venus"),
    ("tallest-mountain", ("What is the tallest mountain above sea level?", "Which mountain is the highest on Earth?"), "Everest"),
    ("largest-mammal", ("What is the largest mammal?", "Which animal is the biggest mammal alive today?"), "blue whale"),
    ("fastest-animal", ("What is the fastest land animal?", "Which land animal can run the fastest?"), "cheetah"),
    ("largest-continent", ("What is the largest continent by area?", "Which continent is the biggest?"), "Asia"),
    ("largest-country", ("What is the largest country by area?", "Which country covers the most land?"), "Russia"),
    ("photosynthesis-gas", ("What gas do plants take in for photosynthesis?", "Which gas do plants absorb from the air to make sugar?"), "carbon dioxide|CO2"),
    ("water-formula", ("What is the chemical formula of water?", "Write the chemical formula for water."), "H2O|H₂O"),
    ("hardest-material", ("What is the hardest natural material?", "Which natural substance is the hardest?"), "diamond"),
    ("largest-organ", ("What is the largest organ of the human body?", "Which organ of the body is the biggest?"), "skin"),
    ("bones", ("How many bones are in the adult human body?", "How many bones does an adult human have?"), "206"),
    ("boiling-c", ("At what temperature in Celsius does water boil at sea level?", "What is the boiling point of water in °C?"), "100"),
    ("boiling-f", ("What is the boiling point of water in Fahrenheit at sea level?", "Water boils at how many degrees Fahrenheit?"), "212"),
    ("freezing-f", ("What is the freezing point of water in Fahrenheit?", "Water freezes at how many degrees Fahrenheit?"), "32"),
    ("air-gas", ("What is the most common gas in Earth's atmosphere?", "Which gas makes up most of the air?"), "nitrogen"),
    ("powerhouse", ("Which part of the cell is called its powerhouse?", "What organelle produces most of a cell's energy?"), "mitochondri"),
    ("chromosomes", ("How many chromosomes do humans normally have?", "How many chromosomes are in a typical human cell?"), "46"),
    ("femur", ("What is the longest bone in the human body?", "Which bone is the longest in the body?"), "femur|thigh"),
    ("atomic-1", ("Which element has atomic number 1?", "What is element number 1 on the periodic table?"), "hydrogen"),
    ("piano-keys", ("How many keys are on a standard piano?", "A full-size piano has how many keys?"), "88"),
    ("octopus-hearts", ("How many hearts does an octopus have?", "An octopus has how many hearts?"), "3|three"),
    ("soccer-players", ("How many players does a soccer team have on the field?", "How many players per side are on the pitch in football?"), "11|eleven"),
    ("light-speed", ("Roughly how fast does light travel in a vacuum, in km per second?", "What is the speed of light in km/s?"), "299,792|299792|300,000|300000|3 \u00d7 10"),
]  # fmt: skip
_SIDES = {"triangle": 3, "square": 4, "pentagon": 5, "hexagon": 6, "heptagon": 7, "octagon": 8, "nonagon": 9, "decagon": 10, "dodecagon": 12}  # fmt: skip
_LEGS = {"spider": 8, "ant": 6, "dog": 4, "horse": 4, "chicken": 2, "bee": 6, "scorpion": 8, "cow": 4, "beetle": 6, "ostrich": 2}  # fmt: skip
_WORDS = {2: "two", 3: "three", 4: "four", 5: "five", 6: "six", 7: "seven", 8: "eight", 9: "nine", 10: "ten", 12: "twelve"}  # fmt: skip


def _table(kind: str, rows: dict[str, str], wordings: tuple[str, ...]) -> list[Fact]:
    return [
        (
            f"{kind}:{subject.casefold()}",
            tuple(w.format(x=subject) for w in wordings),
            tuple(answer.split("|")),
        )
        for subject, answer in rows.items()
    ]


def _an(noun: str) -> str:
    return ("an " if noun[0] in "aeiou" else "a ") + noun


FACTS: list[Fact] = [
    *_table("capital", _CAPITALS, ("What is the capital of {x}?", "What's the capital city of {x}?", "Which city is the capital of {x}?", "Name the capital of {x}.", "capital of {x}?")),
    *_table("author", _BOOKS, ("Who wrote {x}?", "Who is the author of '{x}'?", "Which writer wrote {x}?", "{x} was written by whom?")),
    *_table("person", _PEOPLE, ("Who {x}?", "Do you know who {x}?", "Name the person who {x}.")),
    *_table("landmark", _LANDMARKS, ("In which city is {x}?", "Where is {x} located?", "Which city is home to {x}?", "What city do I visit to see {x}?")),
    *_table("symbol", _SYMBOLS, ("Which element has the chemical symbol {x}?", "What element is {x} on the periodic table?", "The symbol {x} stands for which element?")),
    *_table("currency", _CURRENCIES, ("What currency is used in {x}?", "What's the currency of {x}?", "Which currency do they use in {x}?")),
    *_table("language", _LANGUAGES, ("What language do most people speak in {x}?", "What is the main language of {x}?", "Which language is spoken in {x}?")),
    *_table("year", _YEARS, ("In what year did {x}?", "When did {x}?", "What year did {x}?")),
    *[(f"science:{key}", wordings, tuple(answer.split("|"))) for key, wordings, answer in _SCIENCE],
    *[
        (f"sides:{shape}", (f"How many sides does {_an(shape)} have?", f"{_an(shape).capitalize()} has how many sides?"), (str(n), _WORDS[n]))
        for shape, n in _SIDES.items()
    ],
    *[
        (f"legs:{animal}", (f"How many legs does {_an(animal)} have?", f"{_an(animal).capitalize()} has how many legs?"), (str(n), _WORDS[n]))
        for animal, n in _LEGS.items()
    ],
]  # fmt: skip
