"""XTREME's BUCC mining: exact k-nearest-neighbour search in blocks, margin scores, the
greedy one-to-one pairs, the threshold tuned on gold, and `Miner`, which re-mines after one
vector changes (what the attack asks)."""

from __future__ import annotations

import numpy as np

K = 4  # XTREME's `neighborhood` for BUCC

BLOCK = 4096  # rows and columns per similarity block: 64 MiB of float32 at most


# ---------------------------------------------------------------------------- search
def _top(sims: np.ndarray, inds: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The k best of each row: larger similarity first, ties by smaller index."""
    order = np.lexsort((inds, -sims), axis=1)[:, :k]
    return np.take_along_axis(sims, order, 1), np.take_along_axis(inds, order, 1)


def _block_top(s: np.ndarray, offset: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The k best columns of each row of one block (ties: the smaller index). torch.topk
    finds k + 1 (fast, but its order among equal values is unspecified); rows where the
    k-th and (k+1)-th are equal take every larger value and the first equal ones instead."""
    import torch

    k = min(k, s.shape[1])
    if k == s.shape[1]:
        cols = np.broadcast_to(np.arange(k), s.shape).copy()
    else:
        vals, idx = torch.topk(torch.from_numpy(s), k + 1, dim=1)
        vals, cols = vals.numpy(), idx[:, :k].numpy().copy()
        tied = np.nonzero(vals[:, k - 1] == vals[:, k])[0]
        if len(tied):
            t = s[tied]
            kth = vals[tied, k - 1 : k]
            equal = t == kth
            keep = (t > kth) | (equal & (np.cumsum(equal, axis=1) <= k - (t > kth).sum(axis=1, keepdims=True)))
            cols[tied] = np.nonzero(keep)[1].reshape(len(tied), k)  # row-major: each row's k together
    return np.take_along_axis(s, cols, 1), cols + offset


def similarity(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Inner products accumulated in float64 and rounded to float32: BLAS sums in an order
    that depends on the shapes (a 1-row block takes another kernel than a 4096-row one),
    which moves float32 results by an ulp; rounded from float64 they agree whatever the
    blocking, so ties stay ties and the mined pairs do not depend on the block size."""
    return (x.astype(np.float64, copy=False) @ y.astype(np.float64, copy=False).T).astype(np.float32)


def knn(x: np.ndarray, y: np.ndarray, k: int, block: int = BLOCK) -> tuple[np.ndarray, np.ndarray]:
    """Exact k nearest neighbours of each row of x among the rows of y by inner product
    (cosine for normalised rows): similarities (n, k) best first and their indices; ties
    go to the smaller index. Memory: one block x block product at a time."""
    k = min(k, len(y))
    x, y = x.astype(np.float64), y.astype(np.float64)  # once, not per block (see `similarity`)
    sims = np.empty((len(x), k), dtype=np.float32)
    inds = np.empty((len(x), k), dtype=np.int64)
    for r in range(0, len(x), block):
        xb = x[r : r + block]
        best_s = np.empty((len(xb), 0), dtype=np.float32)
        best_i = np.empty((len(xb), 0), dtype=np.int64)
        for c in range(0, len(y), block):
            bs, bi = _block_top(similarity(xb, y[c : c + block]), c, k)
            best_s, best_i = _top(np.hstack([best_s, bs]), np.hstack([best_i, bi]), k)
        sims[r : r + block], inds[r : r + block] = best_s, best_i
    return sims, inds


def mine(x: np.ndarray, y: np.ndarray, k: int = K, block: int = BLOCK) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """XTREME's `mine_bitext(mode='mine', retrieval='max', margin='ratio')` on vectors:
    the mined pairs (x index, y index) and their margins, best first."""
    if len(x) == 0 or len(y) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float32)
    return mine_from_neighbours(*knn(x, y, k, block), *knn(y, x, k, block))


def mine_from_neighbours(
    x2y_sim, x2y_ind, y2x_sim, y2x_ind, floor: float = -np.inf
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The margins and the greedy 'max' retrieval given both directions' k nearest
    neighbours. XTREME sorts the candidates with numpy's default (unstable) argsort; here
    ties keep forward candidates before backward ones, each in index order (a stable sort),
    so results are reproducible. `floor`: only the mined pairs with margin >= floor (a
    candidate is taken or not by the ones before it, so the greedy pass can start there:
    what an attack asks about the pairs above the threshold)."""
    n, m = len(x2y_sim), len(y2x_sim)
    x2y_mean, y2x_mean = x2y_sim.mean(axis=1), y2x_sim.mean(axis=1)
    # score_candidates: margin(x.y, (fwd_mean[i] + bwd_mean[j]) / 2) for each neighbour j of i
    fwd = x2y_sim / ((x2y_mean[:, None] + y2x_mean[x2y_ind]) / 2)
    bwd = y2x_sim / ((y2x_mean[:, None] + x2y_mean[y2x_ind]) / 2)
    fwd_best = x2y_ind[np.arange(n), fwd.argmax(axis=1)]
    bwd_best = y2x_ind[np.arange(m), bwd.argmax(axis=1)]
    src = np.concatenate([np.arange(n), bwd_best])
    trg = np.concatenate([fwd_best, np.arange(m)])
    scores = np.concatenate([fwd.max(axis=1), bwd.max(axis=1)])
    seen_src, seen_trg = np.zeros(n, bool), np.zeros(m, bool)
    keep = []
    above = np.nonzero(scores >= floor)[0]
    for i in above[np.argsort(-scores[above], kind="stable")]:
        s, t = src[i], trg[i]
        if not seen_src[s] and not seen_trg[t]:
            seen_src[s] = seen_trg[t] = True
            if scores[i] > 0:  # mine_bitext's threshold=0
                keep.append(i)
    keep = np.array(keep, dtype=np.int64)
    return src[keep], trg[keep], scores[keep]


class Miner:
    """Mining of two fixed corpora in which one xx vector at a time is replaced (an attack's
    queries), exactly and without a new n x m search: the replaced vector's neighbours come
    from one row of similarities, and each English sentence's new k nearest xx sentences
    from its old k + 1 nearest (dropping the replaced one leaves its true k among the rest)
    and the new vector. The margins and the greedy pass are `mine_from_neighbours`'."""

    def __init__(self, x: np.ndarray, y: np.ndarray, k: int = K, block: int = BLOCK):
        self.k = min(k, len(y))
        self.y = y.astype(np.float64)  # once: each query's row of similarities reads it (see `similarity`)
        self.x2y = knn(x, y, self.k, block)
        self.y2x = knn(y, x, min(k + 1, len(x)), block)
        self.kx = min(k, len(x))

    def mine(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        s, i = self.y2x
        return mine_from_neighbours(*self.x2y, s[:, : self.kx], i[:, : self.kx])

    def mine_with(self, i: int, v: np.ndarray, floor: float = -np.inf) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The mined pairs (margin >= floor) with xx vector `i` replaced by `v`."""
        sim = similarity(v[None], self.y)
        row_s, row_i = _top(*_block_top(sim, 0, self.k), self.k)  # best first, as knn orders them
        x2y_sim, x2y_ind = self.x2y[0].copy(), self.x2y[1].copy()
        x2y_sim[i], x2y_ind[i] = row_s[0], row_i[0]
        s, ind = self.y2x
        y2x_sim, y2x_ind = s[:, : self.kx].copy(), ind[:, : self.kx].copy()
        # only English sentences that had i among their k + 1 or that v reaches change
        rows = np.nonzero((ind == i).any(axis=1) | (sim[0] >= s[:, self.kx - 1]))[0]
        if len(rows):
            old = np.where(ind[rows] == i, -np.inf, s[rows]).astype(np.float32)
            new_s, new_i = _top(
                np.hstack([old, sim[0, rows, None]]), np.hstack([ind[rows], np.full((len(rows), 1), i)]), self.kx
            )
            y2x_sim[rows], y2x_ind[rows] = new_s, new_i
        return mine_from_neighbours(x2y_sim, x2y_ind, y2x_sim, y2x_ind, floor)


def optimize_threshold(scores: np.ndarray, correct: np.ndarray, n_gold: int) -> float:
    """XTREME's `bucc_optimize`: walk the candidates best first; where F1 is best, the
    threshold is halfway to the next candidate's margin (the last candidate: its own margin,
    where XTREME would index past the end); 0 when no candidate is correct."""
    order = np.argsort(-scores, kind="stable")
    scores, correct = scores[order], correct[order]
    tp = np.cumsum(correct)
    extracted = np.arange(1, len(scores) + 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = np.where(tp > 0, 2 * tp / (extracted + n_gold), 0.0)  # 2PR/(P+R) = 2TP/(extracted + gold)
    if not len(scores) or f1.max() <= 0:
        return 0.0
    i = int(np.argmax(f1))  # the first best, as bucc_optimize's strict '>'
    return float((scores[i] + scores[i + 1]) / 2) if i + 1 < len(scores) else float(scores[i])


def prf(mined: set, gold: set) -> dict[str, float]:
    """Precision, recall and F1 of a set of mined pairs against the gold pairs (bucc_eval)."""
    tp = len(mined & gold)
    p = tp / len(mined) if mined else 0.0
    r = tp / len(gold) if gold else 0.0
    return {"precision": p, "recall": r, "f1": 2 * p * r / (p + r) if tp else 0.0}
