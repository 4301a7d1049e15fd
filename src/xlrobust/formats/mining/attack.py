"""The mining attack (issue 26): a gold pair's non-English sentence is edited until the pair
is no longer mined at the clean threshold."""

from __future__ import annotations

import numpy as np
import polars as pl

from xlrobust.formats.base import Attacker
from xlrobust.formats.mining.search import Miner
from xlrobust.ta_parts import model_wrapper, score_goal


def mined_goal(model_wrapper, query_budget: int):
    """Succeeds when the attacked gold pair leaves the mined set (at the clean threshold).
    The wrapper returns [the pair's margin (-1e3 when it is not mined), the threshold]:
    class 0 ("still mined") wins while margin >= threshold; the score the search raises is
    threshold - margin (> 0: broken)."""

    class MinedPairGoal(score_goal()):
        def _get_score(self, model_output, _):
            return float(model_output[1]) - float(model_output[0])

    return MinedPairGoal(model_wrapper, query_budget=query_budget)


class MiningAttacker(Attacker):
    """Mining (BUCC): a gold pair's non-English sentence is edited until the pair is no longer
    mined at the clean threshold (re-mined exactly after each edit with
    xlrobust.formats.mining.search.Miner: the other sentences' vectors stay). Recorded: the
    sentence mined with it and its margin, before and after."""

    schema = {
        "text": pl.String,
        "perturbed_text": pl.String,
        "gold": pl.String,
        "gold_text": pl.String,
        "candidate": pl.String,
        "perturbed_candidate": pl.String,
        "candidate_text": pl.String,
        "perturbed_candidate_text": pl.String,
        "margin": pl.Float64,
        "perturbed_margin": pl.Float64,
        "threshold": pl.Float64,
    }

    def goal(self, query_budget):
        return mined_goal(model_wrapper(self.model.model, self.margins), query_budget)

    def margins(self, inputs):
        """(the gold pair's margin or -1e3, the threshold) of each text."""
        return np.array([self.outcome(text)[1:3] for text in inputs], dtype=np.float64)

    def start(self, table):
        cache = self.model.__dict__.setdefault("_retrieval_cache", {})
        self.threshold = self.fmt.threshold(self.model, table, cache)
        test = table.filter(pl.col("part") == "test")
        (xx_texts, xx_ids), (en_texts, en_ids) = self.fmt.corpus(test)
        self.xx_texts, self.xx_ids, self.en_ids = xx_texts, xx_ids, en_ids
        self.en_text = dict(zip(test["id"].to_list(), test["text"].to_list()))
        self.position = {t: p for p, t in enumerate(xx_texts)}
        self.miner = Miner(self.fmt.embed(self.model, xx_texts, cache), self.fmt.embed(self.model, en_texts, cache))

    def prepare(self, ex):
        self.ex = ex
        self.i = self.position[ex["text"]]

    def outcome(self, text: str, floor: float | None = None) -> tuple[str | None, float, float, float | None]:
        """(the English id paired with the attacked sentence, the gold pair's margin or -1e3,
        the threshold, the sentence's own margin) when its text is `text`. The goal asks only
        about pairs at or above the threshold (`floor`, a shorter greedy pass); the recorded
        rows take every candidate (floor -inf), so a broken pair's margin after shows too."""
        i, th = self.i, self.threshold
        if text != self.xx_texts[i] and text in self.position:  # now a repeated text: XTREME drops it
            return None, -1e3, th, None
        v = self.fmt.embed(self.model, [text])[0]
        src, trg, score = self.miner.mine_with(i, v, floor=th if floor is None else floor)
        hit = np.nonzero(src == i)[0]
        if not len(hit) or self.xx_ids[i] is None:
            return None, -1e3, th, None
        en = self.en_ids[trg[hit[0]]]
        margin = float(score[hit[0]])
        return en, (margin if en == self.ex["gold"] and margin >= th else -1e3), th, margin

    def inputs(self, ex):
        return ex["text"], 0

    def row(self, result, ex):
        after_text = result.perturbed_result.attacked_text.text
        (b_en, _, th, b_margin), (a_en, _, _, a_margin) = (
            self.outcome(t, floor=-np.inf) for t in (ex["text"], after_text)
        )
        mined = lambda en, margin: en if margin is not None and margin >= th else None  # noqa: E731
        return {
            "text": ex["text"],
            "perturbed_text": after_text,
            "gold": ex["gold"],
            "gold_text": self.en_text.get(ex["gold"]),
            "candidate": mined(b_en, b_margin),  # the English sentence mined with it (at the threshold)
            "perturbed_candidate": mined(a_en, a_margin),
            "candidate_text": self.en_text.get(mined(b_en, b_margin)),
            "perturbed_candidate_text": self.en_text.get(mined(a_en, a_margin)),
            "margin": b_margin,  # its greedy pair's margin, above the threshold or not
            "perturbed_margin": a_margin,
            "threshold": th,
        }
