"""The gold answers' spans of a context under perturbation: which characters are protected,
and where a span of the original context lies in a perturbed one."""

from __future__ import annotations

import difflib


def protected_spans(starts: list[int], texts: list[str]) -> list[tuple[int, int]]:
    """The gold answers' character intervals, overlapping ones merged, in order."""
    spans = sorted((s, s + len(t)) for s, t in zip(starts, texts))
    merged: list[list[int]] = []
    for s, e in spans:
        if merged and s <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], e)
        else:
            merged.append([s, e])
    return [(s, e) for s, e in merged]


def _keep_edges(perturber, text: str, key: str) -> tuple[str, int]:
    """Perturb a piece of a context, keeping its leading and trailing whitespace (a word
    operation re-joins words with single spaces)."""
    core = text.strip()
    if not core:
        return text, 0
    lead, trail = text[: len(text) - len(text.lstrip())], text[len(text.rstrip()) :]
    new, n = perturber(core, key)
    return lead + new + trail, n


def _map_span(old: str, new: str, start: int, end: int) -> tuple[int, int]:
    """Where the characters [start, end) of `old` are in `new` (difflib alignment): a
    boundary inside an edited block widens to cover the whole edit (start to the block's
    start, end to its end), so an answer keeps every character an edit put into it."""
    new_start, new_end = len(new), len(new)
    found_start = found_end = False
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(a=old, b=new, autojunk=False).get_opcodes():
        if not found_start and (i1 <= start < i2 or (tag == "equal" and start == i2 == len(old))):
            new_start = j1 + (start - i1) if tag == "equal" else j1
            found_start = True
        if not found_end and (i1 < end <= i2 or (end == i1 == i2 == 0)):
            new_end = j1 + (end - i1) if tag == "equal" else j2
            found_end = True
    return new_start, max(new_start, new_end)
