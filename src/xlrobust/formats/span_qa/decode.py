"""Extractive QA's decoding: the best answer span of each question over its windows, and the
probability the model gives the gold span (the attack's graded signal)."""

from __future__ import annotations

import numpy as np

MAX_ANSWER_TOKENS = 30
N_BEST = 20


def qa_answers(
    start_logits: np.ndarray, end_logits: np.ndarray, features, contexts: list[str], allow_no_answer: bool
) -> list[str]:
    """Best span per example over its windows (n-best start x end, spans of at most
    MAX_ANSWER_TOKENS); with no-answer allowed, '' wins when the CLS score is higher."""
    best: dict[int, tuple[float, str]] = {}
    null: dict[int, float] = {}
    for i, (ex, offs) in enumerate(zip(features["example_index"], features["context_offsets"])):
        s_log, e_log = start_logits[i], end_logits[i]
        null[ex] = min(null.get(ex, np.inf), float(s_log[0] + e_log[0]))
        for s in np.argsort(s_log)[-N_BEST:][::-1]:
            for e in np.argsort(e_log)[-N_BEST:][::-1]:
                if s >= len(offs) or e >= len(offs) or offs[s] is None or offs[e] is None:
                    continue
                if e < s or e - s + 1 > MAX_ANSWER_TOKENS:
                    continue
                score = float(s_log[s] + e_log[e])
                if score > best.get(ex, (-np.inf, ""))[0]:
                    best[ex] = (score, contexts[ex][offs[s][0] : offs[e][1]])
    out = []
    for ex in range(len(contexts)):
        score, text = best.get(ex, (-np.inf, ""))
        out.append("" if allow_no_answer and null.get(ex, -np.inf) > score else text)
    return out


def gold_span_probability(
    start_logits: np.ndarray, end_logits: np.ndarray, features, starts: list[list[int]], texts: list[list[str]]
) -> list[float]:
    """Per example, the probability the model gives a gold answer span: softmax over a
    window's context tokens of the start and of the end, multiplied (as the transformers
    QA pipeline scores a span), the best over the example's windows and gold answers; 0
    when no window holds a gold answer whole. The attack's graded signal."""
    best = [0.0] * len(starts)
    for i, (ex, offs) in enumerate(zip(features["example_index"], features["context_offsets"])):
        ctx = [j for j, o in enumerate(offs) if o is not None]
        if not ctx or not starts[ex]:
            continue
        s_log, e_log = start_logits[i][ctx], end_logits[i][ctx]
        ps, pe = np.exp(s_log - s_log.max()), np.exp(e_log - e_log.max())
        ps, pe = ps / ps.sum(), pe / pe.sum()
        first, last = offs[ctx[0]][0], offs[ctx[-1]][1]
        for s_char, text in zip(starts[ex], texts[ex]):
            e_char = s_char + len(text)
            if not (first <= s_char and e_char <= last) or not text:
                continue
            s_tok = next(k for k, j in enumerate(ctx) if offs[j][1] > s_char)
            e_tok = max(k for k, j in enumerate(ctx) if offs[j][0] < e_char)
            if e_tok >= s_tok:
                best[ex] = max(best[ex], float(ps[s_tok] * pe[e_tok]))
    return best
