"""Language codes. The registry's language lists (xlrobust.tasks) describe the Hub sources;
a dataset read from local files may name any ISO 639-1 or ISO 639-3 code (validated with
pycountry's ISO 639-3 table), e.g. Tatoeba's `amh` release files as `langs: [am]`.

Language-specific behaviour falls back to a documented default for a language it has no
rules for, with one warning per language on stderr:
- MLQA's answer normalisation: no articles removed (its rules list 7 languages);
- attack stopwords: none, every word may be perturbed (stopwords.NO_LIST languages have
  none by design and are not warned about).
Two defaults need no warning, as they apply to most registry languages too: keyboard_typo
uses a same-script letter where there is no keyboard layout (perturb.KEYBOARDS), and an
attack's edit in a word without letters ("2020") uses the language's script from
perturb.LANG_SCRIPTS, Latin for a language not listed.
"""

from __future__ import annotations

import functools
import sys

from xlrobust.errors import XlrobustError


@functools.cache
def iso_language(code: str):
    """pycountry's ISO 639-3 record of a 2-letter (639-1) or 3-letter (639-3) code, or None."""
    import pycountry

    if not isinstance(code, str) or code != code.lower() or len(code) not in (2, 3):
        return None
    return pycountry.languages.get(**{"alpha_2" if len(code) == 2 else "alpha_3": code})


def check_code(code: str, where: str) -> None:
    """One clear error unless `code` is an ISO 639-1 or 639-3 language code."""
    if iso_language(code) is None:
        raise XlrobustError(f"{where}: '{code}' is not an ISO 639-1 or ISO 639-3 language code (e.g. am or amh)")


def alpha3(code: str) -> str:
    """The ISO 639-3 code of a language (amh for am)."""
    found = iso_language(code)
    return found.alpha_3 if found is not None else code


def name(code: str) -> str:
    found = iso_language(code)
    return found.name if found is not None else code


@functools.cache
def fallback(code: str, what: str, default: str) -> None:
    """Warn once per language and behaviour that a documented default stands in."""
    print(f"xlrobust: warning: no {what} for language '{code}' ({name(code)}): {default}", file=sys.stderr)
