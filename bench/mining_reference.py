"""A plain reference implementation of XTREME's BUCC mining (third_party/utils_retrieve.py:
`mine_bitext(mode='mine', retrieval='max', margin='ratio', neighborhood=4)`, `bucc_optimize`,
`bucc_extract`, `bucc_eval`) on vectors, written as XTREME writes it: the whole n x m
similarity matrix at once (faiss IndexFlatIP's exact search, here numpy), each candidate
scored in a Python loop, the candidates of both directions taken greedily. Ties: larger
similarity first, then the smaller index (as xlrobust.formats.mining documents).

Used by tests/test_mining.py (same mined pairs and F1 as xlrobust's blocked search) and
bench/mining_speed.py (the speed ratio)."""

from __future__ import annotations

import numpy as np


def knn(x: np.ndarray, y: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    sims = (x.astype(np.float64) @ y.astype(np.float64).T).astype(np.float32)  # as xlrobust rounds them
    k = min(k, y.shape[0])
    cols = np.broadcast_to(np.arange(y.shape[0]), sims.shape)
    order = np.lexsort((cols, -sims), axis=1)[:, :k]
    return np.take_along_axis(sims, order, 1), order


def mine(x: np.ndarray, y: np.ndarray, k: int = 4) -> list[tuple[int, int, float]]:
    x2y_sim, x2y_ind = knn(x, y, k)
    y2x_sim, y2x_ind = knn(y, x, k)
    x2y_mean, y2x_mean = x2y_sim.mean(axis=1), y2x_sim.mean(axis=1)

    def score_candidates(sim, fwd_mean, bwd_mean, inds):
        scores = np.zeros(inds.shape, dtype=np.float32)
        for i in range(scores.shape[0]):
            for j in range(scores.shape[1]):
                scores[i, j] = sim[i, j] / ((fwd_mean[i] + bwd_mean[inds[i, j]]) / 2)
        return scores

    fwd_scores = score_candidates(x2y_sim, x2y_mean, y2x_mean, x2y_ind)
    bwd_scores = score_candidates(y2x_sim, y2x_mean, x2y_mean, y2x_ind)
    fwd_best = x2y_ind[np.arange(x.shape[0]), fwd_scores.argmax(axis=1)]
    bwd_best = y2x_ind[np.arange(y.shape[0]), bwd_scores.argmax(axis=1)]
    indices = np.stack(
        (np.concatenate((np.arange(x.shape[0]), bwd_best)), np.concatenate((fwd_best, np.arange(y.shape[0])))), axis=1
    )
    scores = np.concatenate((fwd_scores.max(axis=1), bwd_scores.max(axis=1)))
    seen_src, seen_trg, out = set(), set(), []
    for i in np.argsort(-scores, kind="stable"):
        src_ind, trg_ind = indices[i]
        if src_ind not in seen_src and trg_ind not in seen_trg:
            seen_src.add(src_ind)
            seen_trg.add(trg_ind)
            if scores[i] > 0:
                out.append((int(src_ind), int(trg_ind), float(scores[i])))
    return out


def bucc_optimize(candidate2score: dict, gold: set) -> float:
    """XTREME's loop; where the best candidate is the last one, its own score (XTREME
    would index past the end)."""
    items = sorted(candidate2score.items(), key=lambda x: -x[1])
    nextract = ncorrect = 0
    threshold, best_f1 = 0, 0
    for i in range(len(items)):
        nextract += 1
        if items[i][0] in gold:
            ncorrect += 1
        if ncorrect > 0:
            precision, recall = ncorrect / nextract, ncorrect / len(gold)
            f1 = 2 * precision * recall / (precision + recall)
            if f1 > best_f1:
                best_f1 = f1
                threshold = (items[i][1] + items[i + 1][1]) / 2 if i + 1 < len(items) else items[i][1]
    return threshold


def bucc_eval(candidate2score: dict, gold: set, threshold: float) -> dict:
    bitexts = {pair for pair, score in candidate2score.items() if score >= threshold}
    ncorrect = len(gold & bitexts)
    if ncorrect == 0:
        return {"precision": 0.0, "recall": 0.0, "f1": 0.0}
    precision, recall = ncorrect / len(bitexts), ncorrect / len(gold)
    return {"precision": precision, "recall": recall, "f1": 2 * precision * recall / (precision + recall)}
