"""Writes the offline demo data (committed beside this script) from hand-written
templates: a small multilingual sentiment task in the schema of the Hub dataset
cardiffnlp/tweet_sentiment_multilingual (configs named by language, columns text,
label: 0 negative / 1 neutral / 2 positive) and a small English NLI task in the
schema of nyu-mll/glue mnli (premise, hypothesis, label, idx).

Run: python demo/make_demo_data.py   (deterministic; rewrites demo/sentiment and demo/nli)
"""

import itertools
import json
import random
from pathlib import Path

HERE = Path(__file__).parent
NEG, NEU, POS = 0, 1, 2

# Each language: things (with grammatical gender where adjectives agree),
# adjectives per polarity, templates per polarity, neutral fillers.
EN = dict(
    things=[(t, "m") for t in "food movie hotel service book phone concert trip game coffee".split()],
    adj={POS: ["great", "wonderful", "excellent", "amazing", "fantastic", "lovely"],
         NEG: ["terrible", "awful", "horrible", "boring", "disappointing", "bad"]},
    polar=["The {t} was {a}.", "Honestly, the {t} is {a}!", "I think the {t} was really {a}.", "What a {a} {t}, seriously."],
    neutral=["The {t} is on {d}.", "I saw the {t} on {d}.", "We talked about the {t} on {d}.", "The {t} starts at {h} o'clock."],
    days="Monday Tuesday Wednesday Thursday Friday".split(),
)
DE = dict(
    things=[("das Essen", "m"), ("der Film", "m"), ("das Hotel", "m"), ("der Service", "m"), ("das Buch", "m"),
            ("das Handy", "m"), ("das Konzert", "m"), ("die Reise", "m"), ("das Spiel", "m"), ("der Kaffee", "m")],
    adj={POS: ["großartig", "wunderbar", "ausgezeichnet", "toll", "fantastisch", "schön"],
         NEG: ["schrecklich", "furchtbar", "langweilig", "enttäuschend", "schlecht", "grauenhaft"]},
    polar=["{T} war {a}.", "Ehrlich gesagt ist {t} {a}!", "Ich finde, {t} war wirklich {a}.", "{T} ist einfach {a}."],
    neutral=["{T} ist am {d}.", "{T} beginnt um {h} Uhr.", "{T} kommt am {d}.", "Am {d} ist {t} dran."],
    days="Montag Dienstag Mittwoch Donnerstag Freitag".split(),
)
ES = dict(
    things=[("la comida", "f"), ("la película", "f"), ("el hotel", "m"), ("el servicio", "m"), ("el libro", "m"),
            ("el teléfono", "m"), ("el concierto", "m"), ("el viaje", "m"), ("el juego", "m"), ("el café", "m")],
    adj={POS: [("genial", "genial"), ("excelente", "excelente"), ("increíble", "increíble"),
               ("estupendo", "estupenda"), ("maravilloso", "maravillosa"), ("fantástico", "fantástica")],
         NEG: [("terrible", "terrible"), ("horrible", "horrible"), ("aburrido", "aburrida"),
               ("malo", "mala"), ("decepcionante", "decepcionante"), ("espantoso", "espantosa")]},
    polar=["{T} fue {a}.", "Sinceramente, {t} es {a}!", "Creo que {t} fue muy {a}.", "¡Qué {a} fue {t}!"],
    neutral=["{T} es el {d}.", "{T} empieza a las {h}.", "Vi {t} el {d}.", "Hablamos de {t} el {d}."],
    days="lunes martes miércoles jueves viernes".split(),
)
FR = dict(
    things=[(t, "m") for t in ["le repas", "le film", "l'hôtel", "le service", "le livre", "le téléphone",
                               "le concert", "le voyage", "le jeu", "le café"]],
    adj={POS: ["génial", "excellent", "merveilleux", "fantastique", "magnifique", "super"],
         NEG: ["horrible", "terrible", "ennuyeux", "décevant", "nul", "affreux"]},
    polar=["{T} était {a}.", "Franchement, {t} est {a} !", "Je trouve que {t} était vraiment {a}.", "{T} ? Vraiment {a}."],
    neutral=["{T} est {d}.", "{T} commence à {h} heures.", "J'ai vu {t} {d}.", "On parle de {t} {d}."],
    days="lundi mardi mercredi jeudi vendredi".split(),
)
AR = dict(
    things=[("الطعام", "m"), ("الفيلم", "m"), ("الفندق", "m"), ("الخدمة", "f"), ("الكتاب", "m"),
            ("الهاتف", "m"), ("الحفل", "m"), ("الرحلة", "f"), ("اللعبة", "f"), ("القهوة", "f")],
    adj={POS: [("رائع", "رائعة"), ("ممتاز", "ممتازة"), ("جميل", "جميلة"), ("مذهل", "مذهلة"), ("رائع جدا", "رائعة جدا"), ("لطيف", "لطيفة")],
         NEG: [("سيئ", "سيئة"), ("فظيع", "فظيعة"), ("ممل", "مملة"), ("مخيب للآمال", "مخيبة للآمال"), ("رديء", "رديئة"), ("مزعج", "مزعجة")]},
    polar=["{T} {kan} {a}.", "بصراحة {t} {a}!", "أعتقد أن {t} {kan} {a} حقا.", "يا له من {t} {a}."],
    neutral=["{T} يوم {d}.", "شاهدت {t} يوم {d}.", "تحدثنا عن {t} يوم {d}.", "{T} {yabda} الساعة {h}."],
    days=["الاثنين", "الثلاثاء", "الأربعاء", "الخميس", "الجمعة"],
)
LANGS = {"english": EN, "german": DE, "spanish": ES, "french": FR, "arabic": AR}


def cap(s: str) -> str:
    return s[:1].upper() + s[1:]


def sentences(spec: dict) -> list[tuple[str, int]]:
    out = []
    for (thing, gender), tpl in itertools.product(spec["things"], spec["polar"]):
        for label in (POS, NEG):
            for a in spec["adj"][label]:
                adj = a if isinstance(a, str) else a[gender == "f"]
                kan = "كانت" if gender == "f" else "كان"
                out.append((tpl.format(t=thing, T=cap(thing), a=adj, kan=kan), label))
    for (thing, gender), tpl, (i, d) in itertools.product(spec["things"], spec["neutral"], enumerate(spec["days"])):
        yabda = "تبدأ" if gender == "f" else "يبدأ"
        out.append((tpl.format(t=thing, T=cap(thing), d=d, h=8 + i, yabda=yabda), NEU))
    return sorted(set(out))


def balanced(rows, per_class, rng):
    rows = rows[:]
    rng.shuffle(rows)
    picked = []
    for label in (NEG, NEU, POS):
        picked += [r for r in rows if r[1] == label][:per_class]
    rng.shuffle(picked)
    return picked


def write_jsonl(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


def sentiment():
    rng = random.Random(2026)
    for lang, spec in LANGS.items():
        rows = balanced(sentences(spec), 120 if lang == "english" else 16, rng)
        splits = {"test": rows[:48]}
        if lang == "english":
            splits = {"test": rows[:48], "validation": rows[48:96], "train": rows[96:]}
        for split, part in splits.items():
            write_jsonl(HERE / "sentiment" / lang / f"{split}.jsonl", [{"text": t, "label": y} for t, y in part])


def nli():
    rng = random.Random(7)
    names = "Anna Tom Maria David Lisa John Sara Peter".split()
    acts = ["playing football", "reading a book", "cooking dinner", "riding a bike", "painting a picture",
            "writing a letter", "singing a song", "swimming"]
    places = "park kitchen garden library city house".split()
    rows = []
    for n, act, pl in itertools.product(names, acts, places):
        premise = f"{n} is {act} in the {pl}."
        other = rng.choice([a for a in acts if a != act])
        rows += [
            (premise, rng.choice([f"{n} is {act}.", f"Someone is {act}.", f"{n} is in the {pl}."]), 0),
            (premise, rng.choice([f"{n} is {act} with a friend.", f"{n} is happy.", f"{n} is {act} on Sunday."]), 1),
            (premise, rng.choice([f"{n} is sleeping.", f"Nobody is {act}.", f"{n} is not in the {pl}.", f"{n} is {other}."]), 2),
        ]
    rng.shuffle(rows)
    for split, part in {"validation_matched": rows[:90], "train": rows[90:450]}.items():
        write_jsonl(HERE / "nli" / f"{split}.jsonl",
                    [{"premise": p, "hypothesis": h, "label": y, "idx": i} for i, (p, h, y) in enumerate(part)])


if __name__ == "__main__":
    sentiment()
    nli()
