"""Multilingual building blocks for TextAttack recipes, and the fixes for TextAttack's
multilingual defects, in one place.

- `words_from_text`: TextAttack's splits words with `[\\w...]+`, which drops combining
  marks (Devanagari vowel signs, Thai tone marks, Urdu harakat) and so cuts words
  apart; ours also keeps \\p{M}. Installed by `install_word_splitter()`.
- `GraphemeCharSwap`: the character operations of DeepWordBug / Pruthi / TextBugger
  on grapheme clusters (a mark stays with its base), with letters drawn from the
  script of the character they touch: TextAttack's ASCII letters for Latin (so
  English outcomes equal stock TextAttack's, RNG call for RNG call), the
  language's own letters for every other script, and per-language keyboard
  layouts instead of English QWERTY only.
- Stopwords are always passed as a list (TextAttack's French and Spanish recipes
  pass the language positionally to StopwordModification, where it lands in the
  `stopwords` argument).
- `build`: the attack recipes (RECIPES) composed from those parts around a goal function;
  `model_wrapper` and `score_goal`: the model wrapper and the goal over raw scores that the
  formats' attackers (xlrobust.formats.<name>) share.
"""

from __future__ import annotations

import functools
import random
import string

import numpy as np
import regex

from xlrobust.errors import XlrobustError
from xlrobust.perturb import LANG_SCRIPTS, graphemes, is_letter, keyboard_neighbours, script
from xlrobust.stopwords import provide_nltk_stopwords, stopwords

_HOMOS = "˗৭Ȣ𝟕бƼᏎƷᒿlO`ɑЬϲԁе𝚏ɡհіϳ𝒌ⅼｍոорԛⲅѕ𝚝սѵԝ×уᴢ"  # TextAttack's homoglyph set, kept
_WORD = regex.compile(rf"[\w\p{{M}}{regex.escape(_HOMOS)}'\-_*@]+")
_EXCEPTIONS = "'-_*@"


def words_from_text(s: str, words_to_ignore=[]):  # noqa: B006 (TextAttack's signature)
    """TextAttack's word splitter with combining marks kept inside words."""
    try:
        if regex.search("[\u4e00-\u9fff]", s):
            import jieba

            s = " ".join(jieba.cut(s, cut_all=False))
        else:
            s = " ".join(s.split())
    except Exception:
        s = " ".join(s.split())
    words = []
    for word in s.split():
        word = word.strip(_EXCEPTIONS)
        words.extend(w.strip(_EXCEPTIONS) for w in _WORD.findall(word))
    return [w for w in words if w and w not in words_to_ignore]


def import_textattack():
    """`import textattack`, which needs NLTK's stopwords corpus (NLTK's real lists, from
    our private folder when the user's NLTK has none: see provide_nltk_stopwords) and
    otherwise imports flair's models (deferred: see defer_flair).

    On its first import on a machine, textattack also calls `nltk.download` for six NLTK
    packages, which writes into the first writable folder on NLTK's path (a user's
    ~/nltk_data, or our private folder, replacing NLTK's lists there with whatever
    the download brings). Our recipes use none of them, so during our import
    `nltk.download` does nothing, and textattack's "post-install done" mark is removed
    again, so the user's own textattack still runs its post-install."""
    import sys

    if "textattack" in sys.modules:
        return sys.modules["textattack"]
    import logging

    import nltk

    provide_nltk_stopwords()
    defer_flair()
    suppressed = []
    real_download, quiet = nltk.download, logging.root.manager.disable
    nltk.download = lambda *a, **k: suppressed.append(a[:1]) or False
    logging.disable(logging.INFO)  # textattack logs "Downloading NLTK required packages."
    try:
        import textattack
    finally:
        nltk.download = real_download
        logging.disable(quiet)
    if suppressed:
        from pathlib import Path

        Path(textattack.shared.utils.path_in_cache("post_install_check_3")).unlink(missing_ok=True)
    return textattack


def install_word_splitter() -> None:
    import_textattack()
    import textattack.shared.attacked_text as at
    import textattack.shared.utils as tu

    at.words_from_text = words_from_text
    tu.words_from_text = words_from_text


def make_char_swap():
    """The GraphemeCharSwap class (built lazily: textattack is imported on demand)."""
    WordSwap = import_textattack().transformations.WordSwap

    class GraphemeCharSwap(WordSwap):
        """One character operation (swap, delete, insert, substitute, keyboard) on graphemes."""

        OPS = ("swap", "delete", "insert", "substitute", "keyboard", "homoglyph")
        # TextBugger's Sub-C: visually similar characters (Li et al. 2019). TextAttack's own
        # WordSwapHomoglyphSwap needs a data file its 0.3.11 wheel does not ship.
        HOMOGLYPHS = {
            "o": "0",
            "O": "0",
            "l": "1",
            "I": "1",
            "i": "1",
            "a": "@",
            "e": "3",
            "E": "3",
            "s": "$",
            "S": "5",
            "b": "6",
            "g": "9",
            "t": "7",
            "z": "2",
            "B": "8",
        }

        def __init__(
            self,
            op: str,
            lang: str,
            alphabet: dict,
            random_one: bool = True,
            skip_first_char: bool = False,
            skip_last_char: bool = False,
            latin=string.ascii_letters,
            letters_to_insert: str | None = None,
        ):
            super().__init__(letters_to_insert=letters_to_insert)
            assert op in self.OPS, op
            self.op, self.lang, self.alphabet, self.random_one = op, lang, alphabet, random_one
            self.skip_first_char, self.skip_last_char = skip_first_char, skip_last_char
            self.latin = latin
            self.fixed_letters = letters_to_insert
            self.keys = keyboard_neighbours(lang)
            self.home = LANG_SCRIPTS.get(lang, "LATIN")

        def _letter(self, like: str | None) -> str:
            """A letter to insert or substitute next to `like`, a letter of the word
            (None: the word has none, as "2020"); one RNG call, as TextAttack's."""
            if self.fixed_letters:
                return random.choice(self.fixed_letters)
            sc = script(like) if like else self.home
            if sc == "LATIN":
                return random.choice(self.latin)
            upper = bool(like and like.isupper())
            pool = (
                self.alphabet.get((sc, upper)) or self.alphabet.get((sc, not upper)) or ([like] if like else self.latin)
            )
            return random.choice(pool)

        def _neighbours(self, g: str, like: str | None) -> list[str]:
            near = self.keys.get(g.lower())
            if near:
                return [n.upper() if g.isupper() else n for n in near]
            if not is_letter(g):  # digits, apostrophes, @: what is not on the layout has no neighbours
                return []
            # declared fallback where the language has no layout: same-script letters
            return [self._letter(like)] if script(g) != "LATIN" or not self.keys else []

        def _get_replacement_words(self, word):
            gs = graphemes(word)
            n = len(gs)
            if n <= 1:
                return []
            letters = [i for i, g in enumerate(gs) if is_letter(g)]

            def like(i: int) -> str | None:  # the script an edit at i draws from: its nearest letter's
                return gs[min(letters, key=lambda j: abs(j - i))] if letters else None

            start = 1 if self.skip_first_char else 0
            end = {"swap": n - 2 if self.skip_last_char else n - 1, "substitute": n}.get(
                self.op, n - 1 if self.skip_last_char else n
            )
            if self.op == "substitute":
                start = 0
            if self.op == "homoglyph":
                spots = [i for i, g in enumerate(gs) if g in self.HOMOGLYPHS]
                if not spots:
                    return []
                spots = [spots[np.random.randint(len(spots))]] if self.random_one else spots
                return ["".join(gs[:i] + [self.HOMOGLYPHS[gs[i]]] + gs[i + 1 :]) for i in spots]
            if start >= end:
                return []
            positions = [np.random.randint(start, end)] if self.random_one else range(start, end)
            out = []
            for i in positions:
                if self.op == "swap":
                    out.append(gs[:i] + [gs[i + 1], gs[i]] + gs[i + 2 :])
                elif self.op == "delete":
                    out.append(gs[:i] + gs[i + 1 :])
                elif self.op == "insert":
                    out.append(gs[:i] + [self._letter(like(i))] + gs[i:])
                elif self.op == "substitute":
                    out.append(gs[:i] + [self._letter(like(i))] + gs[i + 1 :])
                else:
                    out += [gs[:i] + [k] + gs[i + 1 :] for k in self._neighbours(gs[i], like(i))]
            return ["".join(w) for w in out]

        @property
        def deterministic(self):
            return not self.random_one  # as TextAttack's own character swaps

        def extra_repr_keys(self):
            return super().extra_repr_keys() + ["op", "lang", "random_one"]

    return GraphemeCharSwap


def defer_flair() -> None:
    """Let `import textattack` skip importing flair's models.

    TextAttack imports flair at module level for its part-of-speech constraint and
    AttackedText's tokenizer base class, and `import flair` imports flair's models and
    embeddings (and through them scikit-learn): seconds of every `xlrobust attack`
    process, for parts our recipes never use (bench/attack_speed.py measures it).
    This registers a light `flair` package object — the real package's path, so
    `flair.data` and `flair.tokenization` still load for real, and the globals those
    read — and a `flair.models` whose `SequenceTagger` imports the real models on
    first use. Does nothing once flair is imported.
    """
    import importlib
    import importlib.util
    import logging
    import os
    import sys
    import types
    from pathlib import Path

    if "flair" in sys.modules:
        return
    import torch

    spec = importlib.util.find_spec("flair")
    if spec is None:
        return
    flair = types.ModuleType("flair")
    flair.__spec__, flair.__path__, flair.__file__ = spec, list(spec.submodule_search_locations), spec.origin
    flair.cache_root = Path(os.getenv("FLAIR_CACHE_ROOT", Path(Path.home(), ".flair")))
    flair.device = torch.device("cuda:0" if torch.cuda.is_available() else "cpu")
    flair._arrow = " → "
    flair.logger = logging.getLogger("flair")
    try:
        from importlib import metadata

        flair.__version__ = metadata.version("flair")
    except Exception:  # noqa: BLE001 (metadata missing: only logged by flair)
        flair.__version__ = "unknown"

    def submodule(name):
        if name.startswith("__"):
            raise AttributeError(name)
        return importlib.import_module(f"flair.{name}")

    flair.__getattr__ = submodule

    class _LazySequenceTagger:
        def __getattr__(self, name):
            sys.modules.pop("flair.models", None)
            return getattr(importlib.import_module("flair.models").SequenceTagger, name)

    models = types.ModuleType("flair.models")
    models.SequenceTagger = _LazySequenceTagger()
    sys.modules["flair"], sys.modules["flair.models"] = flair, models


# ---- recipes: TextAttack's parts composed around a goal function
RECIPES = ("deepwordbug", "pruthi", "textbugger", "xl_charbug")
RECIPE_NOTES = {
    "deepwordbug": "TextAttack's DeepWordBug composition; script-aware letters outside Latin (same as stock on English)",
    "pruthi": "TextAttack's Pruthi2019 composition; the language's keyboard layout instead of English QWERTY",
    "textbugger": "character bugs of TextBugger only (insert space, delete, swap, visually similar character): its word-embedding "
    "swap and Universal Sentence Encoder constraint need downloads that are unavailable offline",
    "xl_charbug": "multilingual character recipe: grapheme edits with the language's own letters and keyboard, "
    "per-language stopwords, DeepWordBug's greedy word-importance search",
}


def build(recipe: str, goal, lang: str, query_budget: int, alphabet: dict | None = None, extra=()):
    """Compose a recipe from TextAttack's building blocks (see RECIPE_NOTES) around a goal
    function (a model wrapper: the untargeted classification goal); `extra` constraints
    come before the recipe's (e.g. which input columns may change)."""
    ta = import_textattack()
    from textattack.constraints.overlap import LevenshteinEditDistance, MaxWordsPerturbed
    from textattack.constraints.pre_transformation import MinWordLength, RepeatModification, StopwordModification
    from textattack.goal_functions import UntargetedClassification
    from textattack.search_methods import GreedySearch, GreedyWordSwapWIR
    from textattack.transformations import CompositeTransformation

    if recipe not in RECIPES:
        raise XlrobustError(f"unknown attack recipe '{recipe}'; known: {', '.join(RECIPES)}")
    install_word_splitter()
    Char = make_char_swap()
    alphabet = alphabet or {}
    ops = lambda names, **kw: [Char(op, lang, alphabet, **kw) for op in names]  # noqa: E731
    stop = StopwordModification(stopwords=sorted(stopwords(lang)))
    if not isinstance(goal, ta.goal_functions.GoalFunction):
        goal = UntargetedClassification(goal, query_budget=query_budget)
    if recipe == "deepwordbug":  # Gao et al. 2018, as textattack.attack_recipes.DeepWordBugGao2018
        transformation = CompositeTransformation(ops(["swap", "substitute", "delete", "insert"]))
        constraints = [RepeatModification(), stop, LevenshteinEditDistance(30)]
        search = GreedyWordSwapWIR()
    elif recipe == "pruthi":  # Pruthi et al. 2019, as textattack.attack_recipes.Pruthi2019
        transformation = CompositeTransformation(
            ops(["swap", "delete", "insert", "keyboard"], random_one=False, skip_first_char=True, skip_last_char=True)
        )
        constraints = [MinWordLength(min_length=4), stop, MaxWordsPerturbed(max_num_words=1), RepeatModification()]
        search = GreedySearch()
    elif recipe == "textbugger":  # Li et al. 2019, character bugs only (see RECIPE_NOTES)
        transformation = CompositeTransformation(
            [
                Char("insert", lang, alphabet, skip_first_char=True, skip_last_char=True, letters_to_insert=" "),
                Char("delete", lang, alphabet, skip_first_char=True, skip_last_char=True),
                Char("swap", lang, alphabet, skip_first_char=True, skip_last_char=True),
                Char("homoglyph", lang, alphabet),
            ]
        )
        constraints = [RepeatModification(), stop]
        search = GreedyWordSwapWIR(wir_method="delete")
    else:  # xl_charbug: DeepWordBug's search with script-aware edits and the language's keyboard
        latin = "".join(alphabet.get(("LATIN", False), [])) + "".join(alphabet.get(("LATIN", True), []))
        transformation = CompositeTransformation(
            ops(["swap", "substitute", "delete", "insert", "keyboard"], latin=latin)
        )
        constraints = [RepeatModification(), stop, LevenshteinEditDistance(30)]
        search = GreedyWordSwapWIR()
    return ta.Attack(goal, [*extra, *constraints], transformation, search)


# ---- what the formats' attackers share
def model_wrapper(module, scores):
    """A TextAttack model wrapper: a batch of attacked inputs in, `scores(inputs)` out (the
    format's logits, similarities or outcomes); `module` is the torch model TextAttack
    checks the goal against."""
    ta = import_textattack()

    class Wrapper(ta.models.wrappers.ModelWrapper):
        def __init__(self):
            self.model = module

        def __call__(self, inputs):
            return scores(inputs)

    return Wrapper()


@functools.cache
def score_goal():
    """TextAttack's untargeted classification goal over raw scores (similarities, margins:
    no softmax), (queries x scores) per batch, complete once its score (`_get_score`, which
    a subclass defines) is above 0. A class built once textattack is imported."""
    import torch

    import_textattack()
    from textattack.goal_functions import UntargetedClassification

    class ScoreGoal(UntargetedClassification):
        def _process_model_outputs(self, inputs, scores):
            scores = torch.as_tensor(np.asarray(scores) if isinstance(scores, list) else scores)
            if scores.ndim == 1 and len(inputs) == 1:
                scores = scores.unsqueeze(0)
            if scores.ndim != 2 or scores.shape[0] != len(inputs):
                raise ValueError(f"scores of shape {tuple(scores.shape)} for {len(inputs)} queries")
            return scores.cpu()  # scores, not probabilities: no softmax

        def _is_goal_complete(self, model_output, _):
            return self._get_score(model_output, _) > 0

    return ScoreGoal
