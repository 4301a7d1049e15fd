"""Static, model-independent, seeded perturbations.

Text is handled as grapheme clusters (`regex` \\X), so a combining mark (Devanagari
vowel signs, Thai tone marks, Arabic harakat) always stays with its base character.
Insertions and substitutions draw from the *same script* as the character they
touch, taken from the letters the language's own data uses: never ASCII letters into
Thai, Hindi, Arabic or Chinese. Languages written without spaces (zh, ja, th) are
perturbed per character, not per whitespace word.

`rate` is the expected fraction of units touched (words, or characters in unspaced
languages); the count per text is rounded stochastically, so it holds on average.
Each row gets its own RNG seeded by (seed, perturbation, rate, id): the same seed
gives the same file whatever the row order, another seed other noise.

These are the operators only (a primitive the formats build their label-preserving
perturbations on); applying a probe to a prepared table is the stage xlrobust.probes.
"""

from __future__ import annotations

import math
import random
import unicodedata
from collections import defaultdict

import polars as pl
import regex

from xlrobust.errors import XlrobustError

UNSPACED = {"zh", "ja", "th", "lo", "km", "my"}

# The script of each language's letters (as `script` names it), for an attack edit in
# a word without letters ("2020"); languages not listed write in Latin.
LANG_SCRIPTS = {
    "ar": "ARABIC",
    "fa": "ARABIC",
    "ur": "ARABIC",
    "hi": "DEVANAGARI",
    "mr": "DEVANAGARI",
    "ne": "DEVANAGARI",
    "bn": "BENGALI",
    "ta": "TAMIL",
    "te": "TELUGU",
    "th": "THAI",
    "zh": "CJK",
    "ja": "HIRAGANA",
    "ko": "HANGUL",
    "ru": "CYRILLIC",
    "bg": "CYRILLIC",
    "uk": "CYRILLIC",
    "el": "GREEK",
    "he": "HEBREW",
    "ka": "GEORGIAN",
    "hy": "ARMENIAN",
    "am": "ETHIOPIC",
    "my": "MYANMAR",
    "km": "KHMER",
    "lo": "LAO",
}

# Keyboard rows (unshifted letters) per layout, for keyboard_typo neighbours.
KEYBOARDS = {
    "en": ["qwertyuiop", "asdfghjkl", "zxcvbnm"],
    "de": ["qwertzuiopü", "asdfghjklöä", "yxcvbnm"],
    "fr": ["azertyuiop", "qsdfghjklm", "wxcvbn"],
    "es": ["qwertyuiop", "asdfghjklñ", "zxcvbnm"],
}

CHAR_OPS = ("char_swap", "char_delete", "char_insert", "char_substitute", "keyboard_typo")
WORD_OPS = ("word_drop", "word_swap", "word_shuffle")
SYNTAX_OPS = ("clause_reorder",)
PERTURBATIONS = CHAR_OPS + WORD_OPS + SYNTAX_OPS

# Coordinating and common subordinating conjunctions that open a clause, per
# language (research question Q4). A clause also ends at , ; : and their
# Arabic / CJK forms. Languages not listed split at punctuation only.
CONJUNCTIONS = {
    "en": "and but or because so although while whereas since though".split(),
    "de": "und aber oder weil denn obwohl während sondern dass".split(),
    "fr": "et mais ou car donc parce puisque quand tandis bien".split(),
    "es": "y pero o porque aunque mientras sino pues cuando".split(),
    "it": "e ma o perché mentre sebbene quando".split(),
    "pt": "e mas ou porque embora enquanto quando".split(),
    "ru": "и но или потому хотя когда пока а".split(),
    "bg": "и но или защото въпреки когато докато а".split(),
    "el": "και αλλά ή επειδή ενώ όταν".split(),
    "tr": "ve ama fakat veya çünkü ancak".split(),
    "sw": "na lakini au kwa kwamba ingawa".split(),
    "vi": "và nhưng hoặc vì nên mặc".split(),
    "ar": "لكن لأن أو بينما حيث ثم".split(),
    "ur": "اور لیکن یا کیونکہ جبکہ".split(),
    "hi": "और लेकिन या क्योंकि जबकि पर".split(),
    "th": "และ แต่ หรือ เพราะ ถ้า ขณะที่".split(),
    "zh": "但是 因为 所以 而且 然后 虽然 或者 可是".split(),
    "ja": "しかし そして だから けれども または".split(),
    "ko": "그리고 그러나 하지만 그래서 또는".split(),
}
CLAUSE_PUNCT = ",;:،؛，；：、"
FINAL_PUNCT = ".!?。！？؟।॥"
SHUFFLE_WINDOW = 3

_GRAPHEME = regex.compile(r"\X")


def graphemes(text: str) -> list[str]:
    return _GRAPHEME.findall(text)


def is_letter(g: str) -> bool:
    return unicodedata.category(g[0]).startswith("L")


def script(g: str) -> str:
    """The Unicode script of a grapheme's base character, from its name (LATIN, THAI, CJK...)."""
    try:
        return unicodedata.name(g[0]).split()[0]
    except ValueError:
        return "UNKNOWN"


def alphabets(texts) -> dict[tuple[str, bool], list[str]]:
    """Letter graphemes used in `texts`, per (script, is-uppercase), sorted for determinism."""
    pools: dict[tuple[str, bool], set[str]] = defaultdict(set)
    for text in texts:
        for g in graphemes(text or ""):
            if is_letter(g):
                pools[(script(g), g.isupper())].add(g)
    pools.setdefault(("LATIN", False), set()).update("abcdefghijklmnopqrstuvwxyz")
    return {k: sorted(v) for k, v in pools.items()}


def keyboard_neighbours(lang: str) -> dict[str, str]:
    rows = KEYBOARDS.get(lang)
    if rows is None:
        return {}
    out = {}
    for r, row in enumerate(rows):
        for c, ch in enumerate(row):
            near = [row[c - 1] if c > 0 else "", row[c + 1] if c + 1 < len(row) else ""]
            for rr in (r - 1, r + 1):
                if 0 <= rr < len(rows):
                    near += [rows[rr][cc] for cc in (c - 1, c, c + 1) if 0 <= cc < len(rows[rr])]
            out[ch] = "".join(n for n in near if n)
    return out


def _k(rng: random.Random, rate: float, n: int) -> int:
    """How many of n units to touch: rate*n rounded stochastically."""
    x = rate * n
    k = math.floor(x) + (1 if rng.random() < x - math.floor(x) else 0)
    return min(k, n)


class Perturber:
    def __init__(self, name: str, lang: str, rate: float, seed: int, alphabet: dict):
        if name not in PERTURBATIONS:
            raise XlrobustError(f"unknown perturbation '{name}'; known: {', '.join(PERTURBATIONS)}")
        if not (0 < rate <= 1):
            raise XlrobustError(f"--rate {rate} must be in (0, 1]")
        self.name, self.lang, self.rate, self.seed = name, lang, rate, seed
        self.kind = "char" if name in CHAR_OPS else ("word" if name in WORD_OPS else "syntax")
        self.alphabet = alphabet
        self.unspaced = lang in UNSPACED
        self.keys = keyboard_neighbours(lang)

    def rng(self, key: str) -> random.Random:
        return random.Random(f"{self.seed}|{self.name}|{self.rate}|{key}")

    def __call__(self, text: str | None, key: str) -> tuple[str | None, int]:
        if text is None or not text.strip():
            return text, 0
        rng = self.rng(key)
        if self.name in WORD_OPS:
            return self._word_op(text, rng)
        if self.name in SYNTAX_OPS:
            return self._clause_reorder(text, rng)
        return self._char_op(text, rng)

    # character level --------------------------------------------------------
    def _draw(self, rng: random.Random, like: str) -> str:
        pool = self.alphabet.get((script(like), like.isupper())) or self.alphabet.get(
            (script(like), not like.isupper())
        )
        pool = [g for g in (pool or [like]) if g != like] or [like]
        return rng.choice(pool)

    def _char_op(self, text: str, rng: random.Random) -> tuple[str, int]:
        gs = graphemes(text)
        runs, start = [], None  # letter runs as [start, end)
        for i, g in enumerate(gs + [" "]):
            if i < len(gs) and is_letter(g):
                start = i if start is None else start
            elif start is not None:
                runs.append((start, i))
                start = None
        if self.unspaced:  # every letter is a unit; an edit may look at its run neighbours
            sites = [(s, e, i) for s, e in runs for i in range(s, e)]
        else:
            sites = [(s, e, None) for s, e in runs]
        k = _k(rng, self.rate, len(sites))
        chosen = sorted(rng.sample(range(len(sites)), k), reverse=True)  # right to left: indices stay valid
        edits = 0
        for idx in chosen:
            s, e, pos = sites[idx]
            if pos is None:
                pos = rng.randrange(s, e)
            edits += self._edit(gs, s, e, pos, rng)
        return "".join(gs), edits

    def _edit(self, gs: list[str], s: int, e: int, pos: int, rng: random.Random) -> int:
        op = self.name
        if op == "char_swap":
            j = pos + 1 if pos + 1 < e else pos - 1
            if j < s or gs[j] == gs[pos]:
                return 0
            gs[pos], gs[j] = gs[j], gs[pos]
        elif op == "char_delete":
            if e - s < 2 and not self.unspaced:
                return 0
            del gs[pos]
        elif op == "char_insert":
            gs.insert(pos + rng.randint(0, 1), self._draw(rng, gs[pos]))
        elif op == "char_substitute":
            gs[pos] = self._draw(rng, gs[pos])
        elif op == "keyboard_typo":
            near = self.keys.get(gs[pos].lower())
            if near:  # a real neighbouring key of this language's layout
                repl = rng.choice(near)
                gs[pos] = repl.upper() if gs[pos].isupper() else repl
            else:  # declared fallback: a same-script letter (no layout for this language/character)
                gs[pos] = self._draw(rng, gs[pos])
        return 1

    # syntactic ---------------------------------------------------------------
    def clauses(self, text: str) -> tuple[list[str], str]:
        """Split a text into clauses (each keeps its trailing comma-like punctuation)
        and its final punctuation."""
        body = text.rstrip()
        end = ""
        while body and body[-1] in FINAL_PUNCT:
            end, body = body[-1] + end, body[:-1]
        parts = [p for p in regex.split(f"(?<=[{regex.escape(CLAUSE_PUNCT)}])", body) if p.strip()]
        conj = CONJUNCTIONS.get(self.lang, [])
        out = []
        for part in parts:
            if conj and self.unspaced:
                pattern = "(?=" + "|".join(map(regex.escape, conj)) + ")"
            elif conj:
                pattern = r"(?<=\s)(?=(?:" + "|".join(map(regex.escape, conj)) + r")\b)"
            else:
                pattern = None
            pieces = regex.split(pattern, part, flags=regex.IGNORECASE) if pattern else [part]
            out += [p for p in pieces if p.strip()]
        return out, end

    def _clause_reorder(self, text: str, rng: random.Random) -> tuple[str, int]:
        parts, end = self.clauses(text)
        n = len(parts)
        if n < 2:
            return text, 0
        # clause contents move; the punctuation stays at its position
        contents = [p.strip().rstrip(CLAUSE_PUNCT).strip() for p in parts]
        puncts = [p.strip()[len(p.strip().rstrip(CLAUSE_PUNCT)) :] for p in parts]
        k = max(1, _k(rng, self.rate, n - 1))  # a reordering perturbs at least one clause boundary
        for i in sorted(rng.sample(range(n - 1), min(k, n - 1))):
            contents[i], contents[i + 1] = contents[i + 1], contents[i]
        sep = "" if self.unspaced else " "
        return sep.join(c + p for c, p in zip(contents, puncts)) + end, k

    # word level --------------------------------------------------------------
    def order(self, n: int, key: str) -> tuple[list[int], int]:
        """A word operation on n units (tokens of a tagged sentence): the indices of the
        units in their new order (fewer after word_drop), and how many were touched."""
        order, k = self._word_order(n, self.rng(key))
        return (list(range(n)) if order is None else order), k

    def _word_order(self, n: int, rng: random.Random) -> tuple[list[int] | None, int]:
        """None: nothing to reorder (fewer than 2 units for a swap or shuffle)."""
        if self.name == "word_drop":
            k = min(_k(rng, self.rate, n), n - 1)
            drop = set(rng.sample(range(n), k)) if k > 0 else set()
            return [i for i in range(n) if i not in drop], len(drop)
        if n < 2:
            return None, 0
        idx = list(range(n))
        if self.name == "word_swap":
            k = _k(rng, self.rate, n - 1)
            for i in sorted(rng.sample(range(n - 1), k)):
                idx[i], idx[i + 1] = idx[i + 1], idx[i]
            return idx, k
        # word_shuffle: shuffle units inside windows of SHUFFLE_WINDOW starting at sampled positions
        starts = list(range(0, n, SHUFFLE_WINDOW))
        k = _k(rng, self.rate, len(starts))
        for st in rng.sample(starts, k):
            window = idx[st : st + SHUFFLE_WINDOW]
            rng.shuffle(window)
            idx[st : st + SHUFFLE_WINDOW] = window
        return idx, k

    def _word_op(self, text: str, rng: random.Random) -> tuple[str, int]:
        if self.unspaced:
            tokens, sep = [g for g in graphemes(text) if not g.isspace()], ""
        else:
            tokens, sep = text.split(), " "
        order, k = self._word_order(len(tokens), rng)
        if order is None:
            return text, 0
        return sep.join(tokens[i] for i in order), k


def frame_alphabet(df: pl.DataFrame) -> dict[tuple[str, bool], list[str]]:
    """The letters of an example table (every text column and text list), which insertions
    and substitutions draw from."""
    texts = []
    for c, t in df.schema.items():
        if c in ("id", "lang", "probe", "sides", "scoring", "format"):
            continue
        if t == pl.String:
            texts += [x for x in df[c].to_list() if x]
        elif t == pl.List(pl.String) and c not in ("tags",):
            texts += [x for xs in df[c].to_list() if xs for x in xs if x]
    return alphabets(texts)
