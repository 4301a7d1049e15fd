"""Dual-encoder retrieval with fine-tuning (XTREME-R's LAReQA and Mewsli-X).

Table: id, lang, text_a (the query: a question, a mention in context; null on a row that
only adds a candidate), text_b (the candidate: an answer sentence, an entity description;
null on a query whose relevant candidates are other rows), context_b (the candidate's
context, encoded as its second segment as XTREME-R's `sentences_and_contexts`; may be
null), group (relevance: a query's relevant candidates are those of rows with its group).
The candidate pool of a table is every distinct (text_b, context_b) of its rows, all
languages together (LAReQA's multilingual pool); a candidate holding the answer of
several groups is relevant to each.

Model: one shared encoder for both sides (the bare AutoModel, saved as such); a text's
vector is the mean of the last hidden layer over its attention mask, L2-normalised:
the same pooling retrieval.py uses for Tatoeba, whose `embed_texts` computes the vectors
at prediction (the shared code), at the last layer instead of Tatoeba's two thirds.
Training: English (query, candidate) pairs, in-batch negatives: a softmax over the
batch's candidates of scale * cosine (TrainSettings.dual_scale), gold = the pair's own.
English dev selects by mAP@20 on the dev table's own pool.

Outcomes per query: `map_at_20` (XTREME-R's: google-research/xtreme's LAReQA
`average_precision_at_k`: the sum over relevant candidates in the top 20 of hits-so-far /
position, divided by min(#relevant, 20)) and `hit_at_1` (a relevant candidate ranks
first). Ranks as retrieval.py: a candidate's rank = 1 + the candidates scoring strictly
higher (ties count for it). Predictions carry `ranks` (the relevant candidates' ranks,
ascending) so mAP@20 can be recomputed from the prediction file alone.
"""

from __future__ import annotations

import hashlib
from html import escape
from pathlib import Path

import numpy as np
import polars as pl

from xlrobust import layout
from xlrobust.errors import XlrobustError
from xlrobust.formats.base import Format, first_bad
from xlrobust.formats.dual.attack import DualAttacker
from xlrobust.formats.dual.ranking import (
    CANDIDATE_BLOCK,
    QUERY_BLOCK,
    K,
    average_precision_at_k,
    pool_of,
    random_map_at_k,
    rank_queries,
)
from xlrobust.formats.retrieval import embed_texts
from xlrobust.io import atomic_path, read_examples

__all__ = [
    "CANDIDATE_BLOCK",
    "DUAL",
    "K",
    "QUERY_BLOCK",
    "Dual",
    "DualEncoder",
    "PairCollator",
    "average_precision_at_k",
    "pool_of",
    "random_map_at_k",
    "rank_queries",
]


class DualEncoder:
    """A shared encoder for queries and candidates (built by `DualEncoder.from_pretrained`,
    an nn.Module): masked mean of the last hidden layer; with candidate inputs (`c_*`), the
    in-batch-negative loss."""

    @staticmethod
    def from_pretrained(path, scale: float = 20.0, **kw):
        import torch
        from transformers import AutoModel
        from transformers.modeling_outputs import ModelOutput

        kw.pop("ignore_mismatched_sizes", None)
        kw.pop("use_safetensors", None)
        encoder = AutoModel.from_pretrained(path, use_safetensors=True, **kw)  # weights as safetensors only

        class Dual(torch.nn.Module):
            base_model_prefix = "encoder"

            def __init__(self):
                super().__init__()
                self.encoder, self.scale = encoder, scale
                self.config = encoder.config

            def tie_weights(self):
                pass

            def save_pretrained(self, path, **kw):
                self.encoder.save_pretrained(path, **kw)

            def pooled(self, prefix: str, batch: dict):
                inputs = {k[len(prefix) :]: v for k, v in batch.items() if k.startswith(prefix)}
                hidden = self.encoder(**inputs).last_hidden_state
                mask = inputs["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                vec = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1)
                return torch.nn.functional.normalize(vec.float(), dim=-1)

            def forward(self, **batch):
                if not any(k.startswith("c_") for k in batch):
                    if batch.pop("output_hidden_states", False):  # prediction: retrieval's pooling reads them
                        return self.encoder(**batch, output_hidden_states=True)
                    return ModelOutput(embedding=self.pooled("", batch))
                q = self.pooled("", {k: v for k, v in batch.items() if not k.startswith("c_")})
                c = self.pooled("c_", batch)
                logits = self.scale * q @ c.T
                loss = torch.nn.functional.cross_entropy(logits, torch.arange(len(q), device=q.device))
                return ModelOutput(loss=loss, logits=logits)

        return Dual()


class PairCollator:
    """Pads the query side and the candidate side (`c_` columns) of training pairs apart."""

    def __init__(self, tok):
        self.tok = tok

    def __call__(self, features):
        q = [{k: v for k, v in f.items() if not k.startswith("c_")} for f in features]
        batch = dict(self.tok.pad(q, return_tensors="pt"))
        if any(k.startswith("c_") for k in features[0]):
            c = [{k[2:]: v for k, v in f.items() if k.startswith("c_")} for f in features]
            batch.update({f"c_{k}": v for k, v in self.tok.pad(c, return_tensors="pt").items()})
        return batch


class Dual(Format):
    name = "dual"
    schema = {
        "id": pl.String,
        "lang": pl.String,
        "text_a": pl.String,
        "text_b": pl.String,
        "context_b": pl.String,
        "group": pl.String,
    }
    head = "AutoModel"
    prediction_stage = "retrieval"  # prediction embeds queries and candidates (retrieval.embed_texts)
    prediction_columns = ("nearest", "ranks", "relevant", "pool")
    metric = "map_at_20"
    k = K
    sides = {"query": ("text_a",)}
    default_side = "query"

    def label_names(self, task_labels, train):
        return []

    def head_class(self):
        return DualEncoder

    def train_kwargs(self, hp: dict) -> dict:
        return {"scale": hp["dual_scale"]}

    def check(self, df, labels, source, raw_name):
        row = first_bad(df, pl.col("text_a").is_null() & pl.col("text_b").is_null())
        if row is not None:
            raise XlrobustError(f"{source}: row {row}: neither a query (text_a) nor a candidate (text_b)")
        for col in ("text_a", "text_b"):
            row = first_bad(df, pl.col(col).is_not_null() & (pl.col(col).str.strip_chars() == ""))
            if row is not None:
                raise XlrobustError(f"{source}: row {row}: empty text in column '{raw_name.get(col, col)}'")
        row = first_bad(df, pl.col("group").is_null())
        if row is not None:
            raise XlrobustError(f"{source}: row {row}: no relevance group in column '{raw_name.get('group', 'group')}'")

    # ------------------------------------------------------------------ model
    @staticmethod
    def _tok_candidates(tok, pool: pl.DataFrame, max_length: int) -> dict:
        texts, ctx = pool["text_b"].to_list(), pool["context_b"].to_list()
        if all(c is None for c in ctx):
            return dict(tok(texts, truncation=True, max_length=max_length))
        return dict(tok(texts, [c or "" for c in ctx], truncation="longest_first", max_length=max_length))

    def encode(self, tok, df, labels, max_length, doc_stride=128, train=True):
        from datasets import Dataset

        if train:  # (query, its candidate) pairs
            pairs = df.filter(pl.col("text_a").is_not_null() & pl.col("text_b").is_not_null())
            if pairs.height == 0:
                raise XlrobustError("dual training needs rows with both a query (text_a) and a candidate (text_b)")
            q = tok(pairs["text_a"].to_list(), truncation=True, max_length=max_length)
            c = self._tok_candidates(tok, pairs.select("text_b", "context_b"), max_length)
            return Dataset.from_dict({**dict(q), **{f"c_{k}": v for k, v in c.items()}})
        # dev: the queries, then the pool's candidates, each a row of its own
        queries = df.filter(pl.col("text_a").is_not_null())
        pool, _ = pool_of(df)
        q = dict(tok(queries["text_a"].to_list(), truncation=True, max_length=max_length))
        c = self._tok_candidates(tok, pool, max_length)
        keys = [k for k in q if k in c]
        return Dataset.from_dict({k: q[k] + c[k] for k in keys})

    def collator(self, tok):
        return PairCollator(tok)

    def output(self, out):
        return out.embedding.float().cpu().numpy()

    def dev_metrics(self, outputs, order, features, dev, train):
        vecs = np.empty((len(order), outputs[0].shape[1]), dtype=np.float32)
        vecs[order] = np.concatenate(outputs)
        queries = dev.filter(pl.col("text_a").is_not_null())
        _, rel = pool_of(dev)
        n = queries.height
        ranks, _ = rank_queries(vecs[:n], vecs[n:], queries["group"].to_list(), rel)
        counts = dict(rel.group_by("group").len().iter_rows())
        aps = [average_precision_at_k(r, counts.get(g, 0)) for r, g in zip(ranks, queries["group"])]
        m = {"map_at_20": float(np.mean(aps)), "hit_at_1": float(np.mean([len(r) > 0 and r[0] == 1 for r in ranks]))}
        return m, m["map_at_20"]

    # ------------------------------------------------------------------ prediction and outcomes
    @staticmethod
    def layer(model) -> int:
        n = model.model.config.num_hidden_layers
        layer = n if model.layer is None else model.layer
        if not 0 <= layer <= n:
            raise XlrobustError(f"--layer {layer}: the encoder has hidden states 0..{n} (0 = the embeddings)")
        return layer

    def candidate_vectors(self, model, pool: pl.DataFrame) -> np.ndarray:
        """The pool's vectors, embedded once per model and pool: kept in
        `layout.candidate_vectors(<digest>)` (outside the model folder, which its training
        stage owns; written atomically) and read back by every later probe and attack of the
        same model (probes change only the query side). The digest covers the model folder's
        files (a retrained model misses), the layer, length and precision, and the pool.
        Embedded in chunks of 4096 with a progress bar and written to the file as they come
        (a memory-mapped .npy), so memory holds one chunk's tokens and vectors: Mewsli-X's
        million entity descriptions (3 GB of vectors at 768 dimensions) never sit in memory."""
        layer = self.layer(model)
        h = hashlib.sha256(f"{layer}|{model.max_length}|{model.precision}".encode())
        path = None
        if model.model_dir:
            for f in sorted(p for p in Path(model.model_dir).rglob("*") if p.is_file()):
                h.update(f"{f.relative_to(model.model_dir)}\x02".encode())
                with open(f, "rb") as fh:
                    for block in iter(lambda: fh.read(1 << 22), b""):
                        h.update(block)
            for t, c in pool.select("text_b", "context_b").iter_rows():
                h.update(f"{t}\x00{c}\x01".encode())
            path = Path(layout.candidate_vectors(h.hexdigest()[:32]))
        if path is not None and path.exists():
            return np.load(path, mmap_mode="r")  # read back as needed, never all in memory
        dim = model.model.config.hidden_size
        if path is None or pool.height == 0:  # no model folder to key a file by (or nothing): in memory
            vecs = np.zeros((pool.height, dim), np.float32)
            self._embed_pool(model, layer, pool, vecs)
            return vecs
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp:  # a .npy written chunk by chunk into its final layout
            vecs = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float32, shape=(pool.height, dim))
            self._embed_pool(model, layer, pool, vecs)
            vecs.flush()
            del vecs
        print(f"candidate vectors ({pool.height}) -> {path}", flush=True)
        return np.load(path, mmap_mode="r")

    def _embed_pool(self, model, layer: int, pool: pl.DataFrame, out: np.ndarray, chunk: int = 4096) -> None:
        """Embed the pool into `out` (an array or a memory-mapped file) chunk by chunk, with
        a progress bar: only one chunk's texts are tokenised and embedded at a time."""
        from tqdm import tqdm

        for s in tqdm(range(0, pool.height, chunk), desc="candidates", unit="chunk", mininterval=5):
            part = pool[s : s + chunk]
            out[s : s + part.height] = embed_texts(
                model, layer, self._tok_candidates(model.tok, part, model.max_length)
            )

    def embed_queries(self, model, texts: list[str]) -> np.ndarray:
        return embed_texts(
            model, self.layer(model), dict(model.tok(texts, truncation=True, max_length=model.max_length))
        )

    def predict(self, model, df):
        pool, rel = pool_of(df)
        cands = self.candidate_vectors(model, pool)
        queries = df.filter(pl.col("text_a").is_not_null())
        q = self.embed_queries(model, queries["text_a"].to_list())
        groups = queries["group"].to_list()
        ranks, top = rank_queries(q, cands, groups, rel)
        nearest = top[:, 0] if top.shape[1] else np.zeros(len(q), dtype=np.int64)
        counts = dict(rel.group_by("group").len().iter_rows())
        texts = pool["text_b"]
        return queries.select(
            "id",
            "lang",
            pl.Series("nearest", [texts[int(i)] for i in nearest], dtype=pl.String),
            pl.Series("ranks", [r.tolist() for r in ranks], dtype=pl.List(pl.Int64)),
            pl.Series("relevant", [counts.get(g, 0) for g in groups], dtype=pl.Int64),
            pl.lit(pool.height, dtype=pl.Int64).alias("pool"),
        )

    def outcomes(self, preds):
        ap = pl.struct("ranks", "relevant").map_elements(
            lambda r: average_precision_at_k(np.asarray(r["ranks"], dtype=np.int64), r["relevant"]),
            return_dtype=pl.Float64,
        )
        hit = (pl.col("ranks").list.first().fill_null(0) == 1).cast(pl.Float64)
        return pl.concat(
            [
                preds.with_columns(metric=pl.lit("map_at_20"), x=ap, w=pl.lit(1.0)),
                preds.with_columns(metric=pl.lit("hit_at_1"), x=hit, w=pl.lit(1.0)),
            ]
        )

    def baselines(self, preds):
        """A uniformly random ranking of each query's pool: its expected AP@20
        (random_map_at_k) and hit@1 (relevant / pool), averaged over the queries."""
        if not preds.height:
            return {}
        rows = preds.select("pool", "relevant").rows()
        return {
            "map_at_20": (float(np.mean([random_map_at_k(n, r) for n, r in rows])), "random ranking"),
            "hit_at_1": (float(np.mean([r / n for n, r in rows])), "random ranking"),
        }

    def attack_outcomes(self, attacks):
        """The mAP@20 the attack ended with (a skipped query: its clean one)."""
        return attacks.with_columns(
            metric=pl.lit("map_at_20"),
            x=pl.struct("perturbed_ranks", "relevant").map_elements(
                lambda r: average_precision_at_k(np.asarray(r["perturbed_ranks"], dtype=np.int64), r["relevant"]),
                return_dtype=pl.Float64,
            ),
            w=pl.lit(1.0),
        )

    def answer(self):
        return pl.col("nearest")

    def attack(self, model, lang, recipe, query_budget, alphabet, settings):
        return DualAttacker(self, model, lang, recipe, query_budget, alphabet, settings)

    def probe_table(self, data, lang):
        """The language's rows, and every other language's row as a candidate only (no
        query): a probe's pool is the clean multilingual pool (so its vectors file is
        reused), its queries are the language's."""
        df = read_examples(data, None, self)
        return df.with_columns(text_a=pl.when(pl.col("lang") == lang).then(pl.col("text_a")))

    def attack_pool(self, data, table):
        return read_examples(data, None, self)

    def attack_rows(self, table):
        return table.filter(pl.col("text_a").is_not_null())

    def attack_example(self, row):
        return [("query", row.get("text_a"), row.get("perturbed_text_a"))]

    def prediction_change(self, row):
        """The best relevant candidate's rank and the nearest candidate, before -> after."""
        best = [(r or [None])[0] for r in (row.get("ranks"), row.get("perturbed_ranks"))]
        return (
            f"best relevant rank {best[0]} → {best[1]}<br><small>nearest:</small> "
            f"{escape(str(row.get('nearest_text')))} → {escape(str(row.get('perturbed_nearest_text')))}"
        )

    # ------------------------------------------------------------------ robustness
    def perturb(self, df, perturber, sides):
        """Queries only: candidate-only rows (no text_a) are kept as they are."""
        self.columns_of(sides)
        new, edits = [], []
        for row in df.select("id", "text_a").iter_rows(named=True):
            if row["text_a"] is None:
                new.append(None)
                edits.append(0)
                continue
            text, n = perturber(row["text_a"], f"{row['id']}|text_a")
            new.append(text)
            edits.append(n)
        return df.with_columns(pl.Series("text_a", new, dtype=pl.String), pl.Series("edits", edits, dtype=pl.Int64))


DUAL = Dual()
