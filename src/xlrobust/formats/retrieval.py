"""Sentence retrieval without fine-tuning on the target (Tatoeba, as XTREME).

Table: id, lang, text_a (a sentence in `lang`), text_b (its English translation); the
rows of one language are the candidate pool. The encoder is used as it is (the
pretrained or the intermediate-trained one of each recipe): a sentence's vector is the
mean of one layer's hidden states over its tokens, special tokens included (XTREME's
default); neighbours by cosine similarity, one matrix product per language.

Outcomes per sentence: `accuracy` = its nearest English sentence is its translation
(xx -> en: the non-English side is the query, the side perturbations and attacks
touch); `accuracy_en_xx` = the other direction (XTREME's reported direction).
"""

from __future__ import annotations

import numpy as np
import polars as pl

from xlrobust.formats import register
from xlrobust.formats.base import Format


def default_layer(num_layers: int) -> int:
    """XTREME pools hidden state 8 of a 12-layer encoder: two thirds of the depth."""
    return max(1, round(num_layers * 2 / 3))


class Retrieval(Format):
    name = "retrieval"
    schema = {"id": pl.String, "lang": pl.String, "text_a": pl.String, "text_b": pl.String}
    text_columns = ("text_a", "text_b")
    head = "AutoModel"
    prediction_columns = ("nearest", "nearest_en_xx")  # what `predict` writes besides id and lang
    architecture_suffix = "Model"
    metric = "accuracy"
    trains = False
    sides = {"a": ("text_a",)}
    default_side = "a"

    def label_names(self, task_labels, train):
        return []

    # ------------------------------------------------------------------ prediction and outcomes
    def embed(self, model, texts: list[str]) -> np.ndarray:
        """L2-normalised mean-pooled vectors of layer `model.layer` (rows in input order)."""
        if not texts:
            return np.zeros((0, model.model.config.hidden_size), dtype=np.float32)
        layer = model.layer or default_layer(model.model.config.num_hidden_layers)
        enc = model.tok(texts, truncation=True, max_length=model.max_length)
        rows = model.run(
            dict(enc),
            per_token=True,
            forward={"output_hidden_states": True},
            output=lambda out: out.hidden_states[layer].float().cpu().numpy(),
        )
        vecs = np.stack([r.mean(axis=0) for r in rows])
        return vecs / np.maximum(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-12)

    def nearest(self, model, df: pl.DataFrame) -> tuple[list[str], list[str]]:
        """Per row: the id of the row whose English sentence is nearest to its sentence, and
        the id of the row whose sentence is nearest to its English sentence (within its language)."""
        out_xx, out_en = [None] * df.height, [None] * df.height
        for lang in df["lang"].unique(maintain_order=True).to_list():
            rows = df.with_row_index().filter(pl.col("lang") == lang)
            sims = self.embed(model, rows["text_a"].to_list()) @ self.embed(model, rows["text_b"].to_list()).T
            ids, pos = rows["id"].to_list(), rows["index"].to_list()
            for k, (a, b) in enumerate(zip(sims.argmax(axis=1), sims.argmax(axis=0))):
                out_xx[pos[k]], out_en[pos[k]] = ids[a], ids[b]
        return out_xx, out_en

    def predict(self, model, df):
        xx_en, en_xx = self.nearest(model, df)
        return pl.DataFrame(
            {
                "id": df["id"],
                "lang": df["lang"],
                "nearest": pl.Series(xx_en, dtype=pl.String),
                "nearest_en_xx": pl.Series(en_xx, dtype=pl.String),
            }
        )

    def outcomes(self, preds):
        return pl.concat(
            [
                preds.with_columns(
                    metric=pl.lit("accuracy"), x=(pl.col("nearest") == pl.col("id")).cast(pl.Float64), w=pl.lit(1.0)
                ),
                preds.with_columns(
                    metric=pl.lit("accuracy_en_xx"),
                    x=(pl.col("nearest_en_xx") == pl.col("id")).cast(pl.Float64),
                    w=pl.lit(1.0),
                ),
            ]
        )

    def answer(self) -> pl.Expr:
        return pl.col("nearest")

    def attack(self, model, lang, recipe, query_budget, alphabet, settings):
        from xlrobust.attack import RetrievalAttacker

        return RetrievalAttacker(self, model, lang, recipe, query_budget, alphabet, settings)


RETRIEVAL = register(Retrieval())
