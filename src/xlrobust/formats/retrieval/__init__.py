"""Sentence retrieval without fine-tuning on the target (Tatoeba, as XTREME and XTREME-R).

Table: id, lang, text_a (a sentence in `lang`), text_b (its English translation); the
rows of one language are the candidate pool. The encoder is used as it is (the
pretrained one for recipe `none`, the intermediate-trained one of every other recipe,
so the STILTs comparison is direct): a sentence's vector is the mean of one layer's
hidden states over its tokens, special tokens included, and neighbours are found by
cosine similarity, one matrix product per language. This is XTREME's
`third_party/evaluate_retrieval.py`: `mean_pool_embedding` with the attention mask as
pooling mask (`pool_skip_special_token` off), `hidden_states[8]` of a 12-layer encoder
(`--specific_layer 7` into the last 12 layers), L2-normalised vectors searched with
faiss `IndexFlatL2` (the same ranking as cosine).

Outcomes per sentence (hit@1): `accuracy` = its nearest English sentence is its
translation (xx -> en: the non-English sentence is the query, the side perturbations and
attacks touch); `accuracy_en_xx` = the nearest `lang` sentence of its English sentence is
it (en -> xx: XTREME's reported direction, English queries against the indexed `lang`
sentences). Predictions also carry `rank`, the gold translation's rank for the xx -> en
query (1 = nearest; a hit is rank 1, ties counting for the gold: see `neighbours`).
Attack: RetrievalAttacker, with the goal `nearest_goal`.
"""

from __future__ import annotations

import functools
from html import escape

import numpy as np
import polars as pl

from xlrobust.errors import XlrobustError
from xlrobust.formats.base import Attacker, Format
from xlrobust.formats.classify import label_attack_outcomes
from xlrobust.ta_parts import model_wrapper, score_goal


def default_layer(num_layers: int) -> int:
    """XTREME pools hidden state 8 of a 12-layer encoder: two thirds of the depth."""
    return max(1, round(num_layers * 2 / 3))


def neighbours(queries: np.ndarray, candidates: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For aligned rows (query i's gold is candidate i) of L2-normalised vectors: the nearest
    candidate of each query, the nearest query of each candidate, and the gold's rank among
    each query's candidates. One matrix product.

    Ties, defined once for accuracy and rank: the gold's rank is 1 + the number of candidates
    with a strictly higher similarity, and a tie for nearest goes to the gold, so the nearest
    is the gold (a hit) exactly when the rank is 1 (two identical English sentences: each
    query finds its own). The attack's goal (nearest_goal) counts ties the same way."""
    sims = queries @ candidates.T
    gold = np.diagonal(sims)
    rank = 1 + (sims > gold[:, None]).sum(axis=1)
    rank_en_xx = 1 + (sims > gold[None, :]).sum(axis=0)
    own = np.arange(len(gold))
    return np.where(rank == 1, own, sims.argmax(axis=1)), np.where(rank_en_xx == 1, own, sims.argmax(axis=0)), rank


def embed_texts(model, layer: int, enc: dict) -> np.ndarray:
    """L2-normalised vectors of tokenised texts (`enc`: the tokenizer's output, one text or
    text pair a row): the mean of hidden state `layer` over each row's tokens (the
    attention mask, special tokens included). Shared by retrieval (Tatoeba, no training)
    and dual (LAReQA, Mewsli-X: trained dual encoders)."""
    if not enc["input_ids"]:
        return np.zeros((0, model.model.config.hidden_size), dtype=np.float32)
    Retrieval.drop_upper_layers(model, layer)
    rows = model.run(
        enc,
        per_token=True,  # each row cut to its own tokens: the mean over the attention mask
        forward={"output_hidden_states": True},
        output=lambda out: out.hidden_states[layer].float().cpu().numpy(),
    )
    vecs = np.stack([r.mean(axis=0) for r in rows])
    vecs /= np.maximum(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-12)
    return vecs.astype(np.float32, copy=False)


class Retrieval(Format):
    name = "retrieval"
    schema = {"id": pl.String, "lang": pl.String, "text_a": pl.String, "text_b": pl.String}
    text_columns = ("text_a", "text_b")
    head = "AutoModel"
    prediction_columns = ("nearest", "nearest_en_xx")  # what `predict` writes besides id and lang
    architecture_suffix = "Model"
    metric = "accuracy"
    trains = False
    prediction_stage = "retrieval"  # sentence embedding (mining inherits it)
    sides = {"a": ("text_a",)}
    default_side = "a"

    def label_names(self, task_labels, train):
        return []

    # ------------------------------------------------------------------ prediction and outcomes
    @staticmethod
    def layer(model) -> int:
        """The hidden layer a model pools (`hidden_states` index: 0 = the embeddings)."""
        n = model.model.config.num_hidden_layers
        layer = default_layer(n) if model.layer is None else model.layer
        if not 0 <= layer <= n:
            raise XlrobustError(f"--layer {layer}: the encoder has hidden states 0..{n} (0 = the embeddings)")
        return layer

    @staticmethod
    def drop_upper_layers(model, layer: int) -> None:
        """Run the encoder only up to the pooled layer: the layers above it change nothing
        the format reads (XTREME computes all 12 to read the 8th; this skips a third of the
        work). Applied where the layers are one ModuleList of num_hidden_layers blocks
        (BERT, XLM-R, RoBERTa, XLNet); other encoders run whole."""
        import torch

        if getattr(model, "_pooled_layer", None) is not None:
            return
        n = model.model.config.num_hidden_layers
        for module in model.model.modules():
            for name, child in module.named_children():
                if isinstance(child, torch.nn.ModuleList) and len(child) == n:
                    setattr(module, name, child[:layer])
                    model._pooled_layer = layer
                    return
        model._pooled_layer = n

    def embed(self, model, texts: list[str], cache: dict | None = None) -> np.ndarray:
        """L2-normalised mean-pooled vectors of layer `model.layer` (rows in input order).
        `cache` (text -> vector) skips texts embedded before (a probe file's English side
        and its unchanged sentences)."""
        cache = {} if cache is None else cache
        todo = list(dict.fromkeys(t for t in texts if t not in cache))
        if todo:
            enc = model.tok(todo, truncation=True, max_length=model.max_length)
            cache.update(zip(todo, embed_texts(model, self.layer(model), dict(enc))))
        if not texts:
            return np.zeros((0, model.model.config.hidden_size), dtype=np.float32)
        return np.stack([cache[t] for t in texts]).astype(np.float32, copy=False)

    def predict(self, model, df):
        cache = model.__dict__.setdefault("_retrieval_cache", {})  # one model, many probe files
        parts = [
            pl.DataFrame(schema={"id": pl.String, "nearest": pl.String, "nearest_en_xx": pl.String, "rank": pl.Int64})
        ]
        for lang in df["lang"].unique(maintain_order=True).to_list():  # each language is its own pool
            rows = df.filter(pl.col("lang") == lang)
            xx, en, rank = neighbours(
                self.embed(model, rows["text_a"].to_list(), cache), self.embed(model, rows["text_b"].to_list(), cache)
            )
            ids = rows["id"]
            parts.append(
                pl.DataFrame({"id": ids, "nearest": ids.gather(xx), "nearest_en_xx": ids.gather(en), "rank": rank})
            )
        found = pl.concat(parts, how="vertical_relaxed").with_columns(pl.col("rank").cast(pl.Int64))
        return df.select("id", "lang").join(found, on="id", how="left", maintain_order="left")

    def outcomes(self, preds):
        return pl.concat(
            [
                preds.with_columns(
                    metric=pl.lit(metric), x=(pl.col(col) == pl.col("id")).cast(pl.Float64), w=pl.lit(1.0)
                )
                for metric, col in (("accuracy", "nearest"), ("accuracy_en_xx", "nearest_en_xx"))
            ]
        )

    def baselines(self, preds):
        """A random pick among the language's N candidates: hit@1 = 1/N, both directions."""
        if not preds.height:
            return {}
        return {m: (1 / preds.height, "1/N (random candidate)") for m in ("accuracy", "accuracy_en_xx")}

    def attack_outcomes(self, attacks):
        """Still a hit after the attack only when it failed: a skipped query missed already."""
        return label_attack_outcomes(attacks)

    def answer(self) -> pl.Expr:
        return pl.col("nearest")

    # ------------------------------------------------------------------ robustness
    def attack(self, model, lang, recipe, query_budget, alphabet, settings):
        return RetrievalAttacker(self, model, lang, recipe, query_budget, alphabet, settings)

    def attack_example(self, row):
        return [
            ("query", row.get("text_a"), row.get("perturbed_text_a")),
            ("gold English", row.get("text_b"), row.get("text_b")),
        ]

    def prediction_change(self, row):
        """The gold translation's rank and the nearest English sentence, before -> after."""
        return (
            f"gold rank {row.get('rank')} → {row.get('perturbed_rank')}<br><small>nearest:</small> "
            f"{escape(str(row.get('nearest_text')))} → {escape(str(row.get('perturbed_nearest_text')))}"
        )


RETRIEVAL = Retrieval()


# ---------------------------------------------------------------------- attack
@functools.cache
def _nearest_goal():
    import torch

    class NearestNeighbourGoal(score_goal()):
        def _get_displayed_output(self, raw_output):
            """The nearest candidate, the gold when it ties for nearest (neighbours)."""
            gold = self.ground_truth_output
            return gold if float(raw_output[gold]) >= float(raw_output.max()) else int(raw_output.argmax())

        def _get_score(self, model_output, _):
            gold = float(model_output[self.ground_truth_output])
            others = torch.cat([model_output[: self.ground_truth_output], model_output[self.ground_truth_output + 1 :]])
            return float(others.max()) - gold if len(others) else -1.0

    return NearestNeighbourGoal


def nearest_goal(model_wrapper, query_budget: int):
    """TextAttack's untargeted classification goal with the candidates as classes and
    cosine similarities as scores: it succeeds when the gold candidate is no longer the
    nearest (another is strictly nearer: a tie with the gold is still a hit, as in
    `neighbours`). Its score is the margin of the best other candidate over the gold one
    (> 0: succeeded), not 1 - softmax(gold): over a pool of 1000 near-equal similarities a
    softmax is flat, and the margin is what the search has to push past zero."""
    return _nearest_goal()(model_wrapper, query_budget=query_budget)


class RetrievalAttacker(Attacker):
    """Retrieval (Tatoeba): the query, the non-English sentence, is edited until its English
    translation is no longer its nearest neighbour among the language's English sentences
    (the candidate pool of prediction, embedded once per language). Recorded: the nearest
    candidate and the gold's rank (1 = nearest) before and after."""

    schema = {
        "text_a": pl.String,
        "text_b": pl.String,
        "perturbed_text_a": pl.String,
        "nearest": pl.String,
        "perturbed_nearest": pl.String,
        "nearest_text": pl.String,
        "perturbed_nearest_text": pl.String,
        "rank": pl.Int64,
        "perturbed_rank": pl.Int64,
    }

    def goal(self, query_budget):
        # queries in, their cosine similarities to every candidate out
        return nearest_goal(model_wrapper(self.model.model, self.similarities), query_budget)

    def similarities(self, inputs):
        return self.fmt.embed(self.model, list(inputs)) @ self.pool.T

    def start(self, table):
        self.ids = table["id"].to_list()
        self.position = {i: k for k, i in enumerate(self.ids)}
        self.candidates = table["text_b"].to_list()
        self.pool = self.fmt.embed(self.model, self.candidates)

    def inputs(self, ex):
        return ex["text_a"], self.position[ex["id"]]

    def row(self, result, ex):
        gold = self.position[ex["id"]]
        ranks = [
            1 + int((r.raw_output > r.raw_output[gold]).sum())
            for r in (result.original_result, result.perturbed_result)
        ]
        before, after = int(result.original_result.output), int(result.perturbed_result.output)
        return {
            "text_a": ex["text_a"],
            "text_b": ex["text_b"],
            "perturbed_text_a": result.perturbed_result.attacked_text.text,
            "nearest": self.ids[before],
            "perturbed_nearest": self.ids[after],
            "nearest_text": self.candidates[before],
            "perturbed_nearest_text": self.candidates[after],
            "rank": ranks[0],
            "perturbed_rank": ranks[1],
        }
