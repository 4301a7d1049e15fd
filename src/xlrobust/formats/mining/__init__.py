"""Bitext mining over two unaligned corpora (BUCC 2018, as XTREME evaluates it).

Table (one row per sentence): id, lang, side (`xx`: the non-English corpus, `en`: the
English one), part (`tune`: the corpus whose gold tunes the threshold, XTREME's dev =
BUCC's `sample` split; `test`: the corpus scored, XTREME's test = BUCC's `training`
split, whose gold is public), text, gold (on an `xx` row: the id of its English
translation in the same part, null when it has none; null on every `en` row). Gold pairs
are one-to-one on the `xx` side.

Vectors are Tatoeba's (xlrobust.formats.retrieval: the mean of one hidden layer,
L2-normalised, the layer configurable), with no fine-tuning. Mining follows XTREME's
`third_party/utils_retrieve.py` (itself LASER's `mine_bitexts.py`) with the settings of
its `bucc` evaluation (`mine_bitext(mode='mine', retrieval='max', margin='ratio',
neighborhood=4)`, then `bucc_optimize` / `bucc_extract`):

1. duplicate sentences of a side are embedded once (`text_load_unify`); a sentence that
   occurs under several ids cannot be mapped back to one and its candidates are dropped
   (`read_sent2id`);
2. the k = 4 nearest neighbours by cosine in both directions, exact (`knn`, below: blocks
   of rows x blocks of columns, top-k per block merged, so memory is bounded by the block
   sizes, never n x m);
3. the ratio margin of a pair: cos(x, y) / ((mean_k cos(x, NN_k(x)) + mean_k cos(y, NN_k(y))) / 2);
4. each sentence's best candidate among its k neighbours by margin, forward (xx -> en)
   and backward (en -> xx); the union sorted by margin, kept greedily while neither
   sentence is taken ('max' retrieval), margin > 0;
5. the threshold that maximises F1 against the tune part's gold (the midpoint between the
   best candidate's margin and the next one's), applied to the test part (margin >= threshold).

The threshold is part of the model: prediction tunes it on the clean tune part and a
perturbed table leaves the tune part untouched (perturbations edit the test part's `xx`
side only), so a probe is scored at the clean threshold, never re-tuned on noise.

Predictions: one row per `xx` sentence of the test part: gold, candidate (its greedy
candidate, any margin), margin, mined (the candidate when margin >= threshold), threshold.
Outcomes per sentence make the corpus metrics ratios of sums: F1 = sum 2TP / sum (2TP + FP
+ FN), precision = sum TP / sum mined, recall = sum TP / sum gold; the bootstrap resamples
`xx` sentences. `threshold` is reported beside them (corpus_scores).

Attack (xlrobust.attack.MiningAttacker): a gold pair of the test part is attacked through its
non-English sentence and breaks when the pair leaves the mined set at the clean threshold;
`Miner` re-mines exactly after each edit from the stored neighbours (no new n x m search).

Exact search is O(n m d): for BUCC's largest pair (de-en training: ~414k x ~397k sentences,
384-768 dimensions) about 10^14 multiply-adds, minutes on a GPU or a many-core CPU,
hours on a laptop. Approximate search (FAISS IVF/HNSW) would be needed for web-scale
mining (10^7+ sentences a side); for BUCC exact search is affordable, and approximate
neighbours would change the mined pairs and the figures XTREME reports.
"""

from __future__ import annotations

from html import escape

import numpy as np
import polars as pl

from xlrobust.errors import XlrobustError
from xlrobust.formats import register
from xlrobust.formats.base import first_bad
from xlrobust.formats.retrieval import Retrieval

K = 4  # XTREME's `neighborhood` for BUCC
TUNE_FRACTION, TUNE_SEED = 0.2, 0  # Hub copy (no sample split): the seeded held-out tune part
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


# ---------------------------------------------------------------------------- format
class Mining(Retrieval):
    name = "mining"
    schema = {
        "id": pl.String,
        "lang": pl.String,
        "side": pl.String,
        "part": pl.String,
        "text": pl.String,
        "gold": pl.String,
    }
    text_columns = ("text",)
    prediction_columns = ("gold", "candidate", "margin", "mined", "threshold")
    architecture_suffix = ""  # a bare encoder is retrieval's by default; mining is chosen by --format
    rows_cappable = False  # a corpus cut at some row would lose gold partners: build smaller release files
    metric = "f1"
    sides = {"xx": ("text",)}
    default_side = "xx"

    # ------------------------------------------------------------------ data
    def unpack(self, raw: pl.DataFrame, lang: str, split: str, source: str) -> pl.DataFrame:
        """The raw rows as one row per sentence (sid, side, part, sentence, gold). The Hub copy
        (mteb/bucc-bitext-mining: one row per language pair, `sentence1` = xx sentences,
        `sentence2` = English ones, `gold` = 1-based [xx, en] positions) has no sample split:
        a seeded TUNE_FRACTION of the gold pairs (both sentences) and of the other sentences
        of each side becomes the tune part. The release reader's rows (xlrobust.readers.bucc) get
        their gold ids completed."""
        if "sentence1" not in raw.columns:  # the release reader's rows: gold as the partner's table id
            if "gold_sid" not in raw.columns:
                return raw
            return raw.with_columns(gold=pl.lit(f"{lang}-") + pl.col("gold_sid")).drop("gold_sid")
        for col in ("sentence2", "gold"):
            if col not in raw.columns:
                raise XlrobustError(f"{source}: missing column '{col}' (has: {', '.join(raw.columns)})")
        if raw.height != 1:
            raise XlrobustError(
                f"{source}: expected one row holding a language pair's corpora, found {raw.height}: this revision "
                "holds aligned gold pairs only (mteb's BUCC.v2 layout, nothing to mine); pin the dataset's revision "
                "to the one-row-per-pair copy (config.yaml's) or use the release files (local_format: bucc)"
            )
        xx, en, gold = raw["sentence1"][0].to_list(), raw["sentence2"][0].to_list(), raw["gold"][0].to_list()
        rng = np.random.default_rng(TUNE_SEED)
        partner = {}
        for n, pair in enumerate(gold):
            i, j = (int(v) for v in pair)
            if not (1 <= i <= len(xx) and 1 <= j <= len(en)):
                raise XlrobustError(f"{source}: gold pair {n} {pair!r} is outside sentence1 / sentence2 (1-based)")
            if i in partner:
                raise XlrobustError(f"{source}: gold pair {n}: sentence1 position {i} is in two gold pairs")
            partner[i] = j
        tune_pairs = rng.random(len(partner)) < TUNE_FRACTION
        xx_part = np.where(rng.random(len(xx)) < TUNE_FRACTION, "tune", "test").astype(object)
        en_part = np.where(rng.random(len(en)) < TUNE_FRACTION, "tune", "test").astype(object)
        for (i, j), tune in zip(partner.items(), tune_pairs):  # a gold pair stays in one part
            xx_part[i - 1] = en_part[j - 1] = "tune" if tune else "test"
        return pl.DataFrame(
            {
                "sid": [f"{p}-xx-{i}" for i, p in enumerate(xx_part, 1)]
                + [f"{p}-en-{j}" for j, p in enumerate(en_part, 1)],
                "side": ["xx"] * len(xx) + ["en"] * len(en),
                "part": list(xx_part) + list(en_part),
                "sentence": xx + en,
                "gold": [
                    f"{lang}-{xx_part[i - 1]}-en-{partner[i]}" if i in partner else None for i in range(1, len(xx) + 1)
                ]
                + [None] * len(en),
            },
            schema={"sid": pl.String, "side": pl.String, "part": pl.String, "sentence": pl.String, "gold": pl.String},
        )

    def check(self, df, labels, source, raw_name):
        row = first_bad(df, ~pl.col("side").is_in(["xx", "en"]))
        if row is not None:
            raise XlrobustError(f"{source}: row {row}: side '{df['side'][row]}' is not xx or en")
        row = first_bad(df, ~pl.col("part").is_in(["tune", "test"]))
        if row is not None:
            raise XlrobustError(f"{source}: row {row}: part '{df['part'][row]}' is not tune or test")
        row = first_bad(df, (pl.col("side") == "en") & pl.col("gold").is_not_null())
        if row is not None:
            raise XlrobustError(f"{source}: row {row}: an English sentence carries a gold id (xx rows do)")
        en = df.filter(pl.col("side") == "en").select("lang", "part", gold="id", found=pl.lit(True))
        linked = df.with_row_index().join(en, on=["lang", "part", "gold"], how="left")
        bad = linked.filter(pl.col("gold").is_not_null() & pl.col("found").is_null()).sort("index")
        if bad.height:
            r = bad.row(0, named=True)
            raise XlrobustError(
                f"{source}: row {r['index']}: gold id '{r['gold']}' of '{r['id']}' is no English sentence of "
                f"its part ({r['part']})"
            )

    # ------------------------------------------------------------------ prediction and outcomes
    @staticmethod
    def corpus(rows: pl.DataFrame) -> tuple[tuple[list, list], tuple[list, list]]:
        """(texts, ids) of the xx side and of the English side of one part: each distinct text
        once (text_load_unify), its id, or None for a text under several ids (read_sent2id)."""
        out = []
        for side in ("xx", "en"):
            by_text = rows.filter(pl.col("side") == side).group_by("text", maintain_order=True).agg(pl.col("id"))
            out.append((by_text["text"].to_list(), [v[0] if len(v) == 1 else None for v in by_text["id"].to_list()]))
        return out[0], out[1]

    def pairs(self, model, rows: pl.DataFrame, cache: dict) -> pl.DataFrame:
        """The mined candidates of one language and part: xx id, en id, margin (best first).
        A text under several ids of its side is embedded once and its candidates dropped."""
        (xx_texts, xx_ids), (en_texts, en_ids) = self.corpus(rows)
        i, j, score = mine(self.embed(model, xx_texts, cache), self.embed(model, en_texts, cache))
        found = pl.DataFrame(
            {"xx": [xx_ids[a] for a in i], "en": [en_ids[b] for b in j], "margin": score.astype(np.float64)},
            schema={"xx": pl.String, "en": pl.String, "margin": pl.Float64},
        )
        return found.drop_nulls()

    def threshold(self, model, rows: pl.DataFrame, cache: dict) -> float:
        """The margin threshold maximising F1 on the tune part of one language."""
        tune = rows.filter(pl.col("part") == "tune")
        gold = tune.filter(pl.col("gold").is_not_null())
        if gold.height == 0:
            raise XlrobustError(
                f"language {rows['lang'][0]}: the tune part has no gold pairs: no threshold can be tuned"
            )
        cands = self.pairs(model, tune, cache)
        gold_set = set(zip(gold["id"].to_list(), gold["gold"].to_list()))
        correct = np.array([p in gold_set for p in zip(cands["xx"].to_list(), cands["en"].to_list())], dtype=bool)
        return optimize_threshold(cands["margin"].to_numpy(), correct, len(gold_set))

    def predict(self, model, df):
        cache = model.__dict__.setdefault("_retrieval_cache", {})
        thresholds = model.__dict__.setdefault("_mining_thresholds", {})
        parts = []
        for lang in df["lang"].unique(maintain_order=True).to_list():
            rows = df.filter(pl.col("lang") == lang)
            tune = rows.filter(pl.col("part") == "tune").select("id", "text")
            key = (lang, tune["id"].to_list().__repr__(), tune["text"].to_list().__repr__())
            if key not in thresholds:  # tuned once per model on the clean tune part
                thresholds[key] = self.threshold(model, rows, cache)
            th = thresholds[key]
            test = rows.filter(pl.col("part") == "test")
            cands = self.pairs(model, test, cache).rename({"xx": "id", "en": "candidate"})
            parts.append(
                test.filter(pl.col("side") == "xx")
                .select("id", "lang", "gold")
                .join(cands, on="id", how="left", maintain_order="left")
                .with_columns(
                    mined=pl.when(pl.col("margin") >= th).then(pl.col("candidate")),
                    threshold=pl.lit(th, dtype=pl.Float64),
                )
            )
        schema = {"id": pl.String, "lang": pl.String, "gold": pl.String, "candidate": pl.String}
        schema |= {"margin": pl.Float64, "mined": pl.String, "threshold": pl.Float64}
        return pl.concat([pl.DataFrame(schema=schema), *parts], how="vertical_relaxed")

    @staticmethod
    def counts() -> dict[str, pl.Expr]:
        tp = (pl.col("mined").is_not_null() & (pl.col("mined") == pl.col("gold"))).fill_null(False).cast(pl.Float64)
        mined = pl.col("mined").is_not_null().cast(pl.Float64)
        gold = pl.col("gold").is_not_null().cast(pl.Float64)
        return {"tp": tp, "mined": mined, "gold": gold}

    def outcomes(self, preds):
        c = self.counts()
        fp, fn = c["mined"] - c["tp"], c["gold"] - c["tp"]
        return pl.concat(
            [
                preds.with_columns(metric=pl.lit("f1"), x=2 * c["tp"], w=2 * c["tp"] + fp + fn),
                preds.with_columns(metric=pl.lit("precision"), x=c["tp"], w=c["mined"]),
                preds.with_columns(metric=pl.lit("recall"), x=c["tp"], w=c["gold"]),
            ]
        )

    def corpus_scores(self, preds):
        def threshold(g):
            th = float(g["threshold"][0]) if g.height else None
            return th, th, th

        return {"threshold": threshold}

    def answer(self) -> pl.Expr:
        return pl.col("mined")

    def flip(self) -> pl.Expr:
        return pl.col("answer").ne_missing(pl.col("canswer"))

    # ------------------------------------------------------------------ robustness
    def perturb(self, df, perturber, sides):
        """Only the non-English sentences of the test part: the English corpus and the tune
        part (whose gold fixed the threshold) stay as they are."""
        self.columns_of(sides)
        texts, edits = [], []
        for row in df.select("id", "side", "part", "text").iter_rows(named=True):
            if row["side"] == "xx" and row["part"] == "test":
                new, n = perturber(row["text"], f"{row['id']}|text")
            else:
                new, n = row["text"], 0
            texts.append(new)
            edits.append(n)
        return df.with_columns(pl.Series("text", texts, dtype=pl.String), pl.Series("edits", edits, dtype=pl.Int64))

    def attack_rows(self, table):
        """The gold pairs of the test part, by their non-English sentence."""
        return table.filter((pl.col("part") == "test") & (pl.col("side") == "xx") & pl.col("gold").is_not_null())

    def attack(self, model, lang, recipe, query_budget, alphabet, settings):
        from xlrobust.attack import MiningAttacker

        return MiningAttacker(self, model, lang, recipe, query_budget, alphabet, settings)

    def attack_outcomes(self, attacks):
        """F1 over the attacked gold pairs after the attack: a pair still mined (a failed attack)
        is a true positive; otherwise it is missed (and a false positive where its sentence is
        now mined with another English sentence). Skipped: not mined before the attack."""
        kept = (pl.col("status") == "failed").cast(pl.Float64)
        after = (
            pl.when(pl.col("status") == "skipped").then(pl.col("candidate")).otherwise(pl.col("perturbed_candidate"))
        )
        wrong = (after.is_not_null() & (kept == 0)).cast(pl.Float64)
        return attacks.with_columns(metric=pl.lit("f1"), x=2 * kept, w=2 * kept + (1 - kept) + wrong)

    def attack_example(self, row):
        return [
            ("sentence", row.get("text"), row.get("perturbed_text")),
            ("gold English", row.get("gold_text"), row.get("gold_text")),
        ]

    def prediction_change(self, row):
        """The sentence mined with it and the margin, before -> after (threshold beside)."""
        fmt = lambda v: "–" if v is None else f"{v:.3f}"  # noqa: E731
        return (
            f"margin {fmt(row.get('margin'))} → {fmt(row.get('perturbed_margin'))} "
            f"(threshold {fmt(row.get('threshold'))})<br><small>mined with:</small> "
            f"{escape(str(row.get('candidate_text')))} → {escape(str(row.get('perturbed_candidate_text')))}"
        )


MINING = register(Mining())
