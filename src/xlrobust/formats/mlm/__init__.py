"""Masked-language-model text (continued multilingual MLM mixed into intermediate
training, Q4). Table: id, lang, text_a. Head: AutoModelForMaskedLM, 15% of tokens
masked by transformers' collator; it never selects checkpoints and is never a target."""

from __future__ import annotations

import polars as pl

from xlrobust.formats.base import Format


class MLM(Format):
    name = "mlm"
    schema = {"id": pl.String, "lang": pl.String, "text_a": pl.String}
    text_columns = ("text_a",)
    head = "AutoModelForMaskedLM"
    architecture_suffix = "ForMaskedLM"
    metric = ""
    sides = {}
    masked_lm_text = True

    def label_names(self, task_labels, train):
        return []

    def encode(self, tok, df, labels, max_length, doc_stride=128, train=True):
        from datasets import Dataset

        return Dataset.from_dict(
            dict(tok(df["text_a"].to_list(), truncation=True, max_length=max_length, return_special_tokens_mask=True))
        )

    def collator(self, tok):
        import transformers

        return transformers.DataCollatorForLanguageModeling(tok, mlm_probability=0.15)


MLM_TEXT = MLM()
