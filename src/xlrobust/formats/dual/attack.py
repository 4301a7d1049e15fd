"""The dual-encoder retrieval attack (issue 27): the query is edited until none of its
relevant candidates stays in the top K of the whole multilingual pool."""

from __future__ import annotations

import numpy as np
import polars as pl

from xlrobust.errors import XlrobustError
from xlrobust.formats.base import Attacker
from xlrobust.formats.dual.ranking import pool_of
from xlrobust.ta_parts import model_wrapper, score_goal


class DualAttacker(Attacker):
    """Dual-encoder retrieval (LAReQA, Mewsli-X): the query is edited until none of its
    relevant candidates stays in the top K (20) of the whole multilingual pool (embedded
    once, as prediction does). TextAttack's goal sees the similarities to every candidate;
    its score is the K-th best irrelevant similarity minus the best relevant one (> 0: no
    relevant candidate left in the top K). Recorded: the relevant candidates' ranks before
    and after, what the attacked mAP@20 is computed from."""

    schema = {
        "text_a": pl.String,
        "perturbed_text_a": pl.String,
        "nearest_text": pl.String,
        "perturbed_nearest_text": pl.String,
        "relevant": pl.Int64,
        "ranks": pl.List(pl.Int64),
        "perturbed_ranks": pl.List(pl.Int64),
    }

    def goal(self, query_budget):
        import torch

        attacker = self
        k = self.fmt.k

        class OutOfTopK(score_goal()):
            def _get_score(self, model_output, _):
                rel = attacker.gold
                best = float(model_output[rel].max())
                mask = torch.ones(len(model_output), dtype=torch.bool)
                mask[rel] = False
                others = torch.sort(model_output[mask], descending=True).values
                return float(others[k - 1]) - best if len(others) >= k else -1.0

        return OutOfTopK(model_wrapper(self.model.model, self.similarities), query_budget=query_budget)

    def similarities(self, inputs):
        """Queries in, their similarities to every candidate of the pool out."""
        return self.fmt.embed_queries(self.model, list(inputs)) @ self.pool.T

    def start(self, table):
        pool, rel = pool_of(table)
        self.candidates = pool["text_b"].to_list()
        self.by_group = {g: np.asarray(v) for g, v in rel.group_by("group").agg("cand").iter_rows()}
        self.pool = self.fmt.candidate_vectors(self.model, pool)

    def prepare(self, ex):
        self.gold = self.by_group.get(ex["group"], np.zeros(0, dtype=np.int64))
        if len(self.gold) == 0:
            raise XlrobustError(f"example {ex['id']}: no candidate of its group '{ex['group']}' in the pool")

    def inputs(self, ex):
        return ex["text_a"], 0  # the goal reads the relevant candidates from `self.gold`

    def row(self, result, ex):
        ranks = [
            sorted(1 + int((r.raw_output > r.raw_output[g]).sum()) for g in self.gold)
            for r in (result.original_result, result.perturbed_result)
        ]
        nearest = [
            self.candidates[int(r.raw_output.argmax())] for r in (result.original_result, result.perturbed_result)
        ]
        return {
            "text_a": ex["text_a"],
            "perturbed_text_a": result.perturbed_result.attacked_text.text,
            "nearest_text": nearest[0],
            "perturbed_nearest_text": nearest[1],
            "relevant": len(self.gold),
            "ranks": ranks[0],
            "perturbed_ranks": ranks[1],
        }
