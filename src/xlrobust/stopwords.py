"""Per-language stopwords from the `stopwordsiso` package, offline.

`import textattack` reads NLTK's stopwords corpus, which cannot be downloaded here.
`ensure_nltk_stopwords()` writes that corpus (NLTK's own layout, one file per
language name) from stopwordsiso into a cache folder and puts it on NLTK's path.
"""

from __future__ import annotations

import os
from pathlib import Path

# ISO 639-1 -> NLTK corpus file name
NLTK_NAMES = {
    "ar": "arabic", "bg": "bulgarian", "de": "german", "el": "greek", "en": "english",
    "es": "spanish", "fr": "french", "hi": "hindi", "it": "italian", "ja": "japanese",
    "ko": "korean", "pt": "portuguese", "ru": "russian", "sw": "swahili", "th": "thai",
    "tr": "turkish", "ur": "urdu", "vi": "vietnamese", "zh": "chinese",
}


def stopwords(lang: str) -> set[str]:
    import stopwordsiso

    return set(stopwordsiso.stopwords(lang)) if stopwordsiso.has_lang(lang) else set()


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "xlrobust" / "nltk_data"


def ensure_nltk_stopwords() -> Path:
    """Make `nltk.corpus.stopwords` work offline; idempotent and safe under concurrency."""
    import nltk

    root = cache_dir()
    folder = root / "corpora" / "stopwords"
    if not (folder / "english").exists():
        folder.mkdir(parents=True, exist_ok=True)
        for code, name in NLTK_NAMES.items():
            words = stopwords(code)
            tmp = folder / f".{name}.{os.getpid()}"
            tmp.write_text("\n".join(sorted(words)) + "\n", encoding="utf-8")
            os.replace(tmp, folder / name)
    if str(root) not in nltk.data.path:
        nltk.data.path.insert(0, str(root))
    return root
