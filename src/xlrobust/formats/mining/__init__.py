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

Attack (xlrobust.formats.mining.attack.MiningAttacker): a gold pair of the test part is attacked through its
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
from xlrobust.formats.base import first_bad
from xlrobust.formats.mining.attack import MiningAttacker
from xlrobust.formats.mining.search import BLOCK, K, Miner, knn, mine, mine_from_neighbours, optimize_threshold, prf
from xlrobust.formats.retrieval import Retrieval

__all__ = [
    "BLOCK",
    "K",
    "MINING",
    "Miner",
    "Mining",
    "knn",
    "mine",
    "mine_from_neighbours",
    "optimize_threshold",
    "prf",
]

TUNE_FRACTION, TUNE_SEED = 0.2, 0  # Hub copy (no sample split): the seeded held-out tune part


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


MINING = Mining()
