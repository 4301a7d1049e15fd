"""The metric and ranking of dual-encoder retrieval: XTREME-R's mAP@K, its random baseline,
a table's candidate pool, and the exact ranks of relevant candidates (blocked search)."""

from __future__ import annotations

import numpy as np
import polars as pl

K = 20  # mAP@K, and an attack succeeds when no relevant candidate stays in the top K


def average_precision_at_k(ranks: np.ndarray, n_relevant: int, k: int = K) -> float:
    """XTREME's AP@k from the (1-based) ranks of a query's relevant candidates."""
    r = np.sort(np.asarray(ranks))
    r = r[r <= k]
    if n_relevant == 0:
        return 0.0
    return float(np.sum(np.arange(1, len(r) + 1) / r) / min(n_relevant, k))


def random_map_at_k(pool: int, n_relevant: int, k: int = K) -> float:
    """Expected AP@k of a uniformly random ranking of `pool` candidates, `n_relevant` of
    them relevant: position i is relevant with probability R/N, and given that, the hits
    above it are hypergeometric with mean (i-1)(R-1)/(N-1)."""
    i = np.arange(1, min(k, pool) + 1)
    rate = n_relevant / pool
    hits = 1 + (i - 1) * (n_relevant - 1) / max(pool - 1, 1)
    return float(np.sum(rate * hits / i) / min(n_relevant, k))


def pool_of(df: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The candidate pool (cand, text_b, context_b, in first-seen order) and the relevance
    pairs (group, cand) of a table."""
    rows = df.filter(pl.col("text_b").is_not_null()).select("text_b", "context_b", "group")
    pool = rows.select("text_b", "context_b").unique(maintain_order=True).with_row_index("cand")
    rel = rows.join(pool, on=["text_b", "context_b"], how="left", nulls_equal=True).select("group", "cand").unique()
    return pool, rel


QUERY_BLOCK = 256  # queries scored together
CANDIDATE_BLOCK = 65_536  # candidates scored together: memory is QUERY_BLOCK x CANDIDATE_BLOCK scores


def rank_queries(
    q: np.ndarray,
    c: np.ndarray,
    groups: list[str],
    rel: pl.DataFrame,
    k: int = K,
    query_block: int = QUERY_BLOCK,
    candidate_block: int = CANDIDATE_BLOCK,
) -> tuple[list[np.ndarray], np.ndarray]:
    """Per query: the ranks of its relevant candidates (ascending; rank = 1 + the candidates
    scoring strictly higher), and the top `k` candidates (indices, best first; ties: the
    lower index first). Candidates are scored in blocks (`c` may be a memory-mapped file):
    a relevant candidate's rank is counted block by block against its own score, and the
    top k is a running merge of each block's torch.topk, so memory holds query_block x
    candidate_block scores however large the pool (Mewsli-X: a million entities)."""
    import torch

    def scores(a, b):
        """Cosines of L2-normalised float32 vectors, summed in float64 and rounded to float32:
        the same score for a (query, candidate) pair whichever block or kernel computes it (a
        float32 sum's last bits depend on the matrix shapes), so a relevant candidate's own
        score, taken apart, equals the one in its block and ties stay ties."""
        return (a @ torch.from_numpy(np.asarray(b, dtype=np.float64)).T).float()

    by_group = {g: np.asarray(v) for g, v in rel.group_by("group").agg("cand").iter_rows()}
    none = np.zeros(0, dtype=np.int64)
    n, kk = len(q), min(k, len(c))
    ranks: list[np.ndarray] = []
    top = np.zeros((n, kk), dtype=np.int64)
    for s in range(0, n, query_block):
        qb = torch.from_numpy(np.asarray(q[s : s + query_block], dtype=np.float64))
        gold = [by_group.get(g, none) for g in groups[s : s + query_block]]
        gold_scores = [scores(qb[j : j + 1], c[g])[0] for j, g in enumerate(gold)]
        higher = [torch.zeros(len(g), dtype=torch.int64) for g in gold]
        best_v = torch.full((len(qb), 0), -torch.inf)
        best_i = torch.zeros((len(qb), 0), dtype=torch.int64)
        for b in range(0, len(c), candidate_block):
            sims = scores(qb, c[b : b + candidate_block])
            for j, gs in enumerate(gold_scores):
                if len(gs):
                    higher[j] += (sims[j][None, :] > gs[:, None]).sum(dim=1)
            v, i = torch.topk(sims, min(kk, sims.shape[1]), dim=1)  # this block's best, then the merge
            v, i = torch.cat([best_v, v], 1), torch.cat([best_i, i + b], 1)
            order = np.lexsort((i.numpy(), -v.numpy()), axis=1)[:, :kk]  # score down, index up
            best_v = torch.gather(v, 1, torch.from_numpy(order))
            best_i = torch.gather(i, 1, torch.from_numpy(order))
        top[s : s + len(qb)] = best_i.numpy()
        ranks.extend(np.sort(1 + h.numpy()) for h in higher)
    return ranks, top
