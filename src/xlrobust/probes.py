"""The perturbation stage: the probes of one prepared table, one file each.

A probe is a perturbation (xlrobust.perturb's operators, or a mode a format names such as
tagging's entity_char_swap) at a rate and seed, on the sides of the table the format says.
The format perturbs its own columns and keeps its labels valid (`Format.perturb`); this
module checks the probes, reads the table once and writes one table per probe with the
probe keys (probe, rate, pseed, sides, format) as columns, which prediction and scoring
carry through.
"""

from __future__ import annotations

import polars as pl

from xlrobust.errors import XlrobustError
from xlrobust.formats import format_of_table, get_format
from xlrobust.io import write_parquet
from xlrobust.perturb import Perturber, frame_alphabet


def probe_list(
    names: list[str], rates: list[float], seeds: list[int], sides: list[str | None], outs: list[str], fmt=None
) -> list[tuple[str, float, int, str | None, str]]:
    """(perturbation, rate, seed, sides, out) per output file: the i-th value of each flag
    goes with the i-th --out, and a flag given once applies to every output. Checked whole
    before anything is read or written."""
    n = len(outs)
    given = {"--perturbation": names, "--rate": rates, "--seed": seeds, "--sides": sides}
    for flag, values in given.items():
        if len(values) not in (1, n):
            raise XlrobustError(f"{flag} has {len(values)} values but --out has {n}: give one value, or one per --out")
    if len(set(outs)) != n:
        dup = next(o for o in outs if outs.count(o) > 1)
        raise XlrobustError(f"--out {dup} is given more than once")
    probes = list(zip(*(v * n if len(v) == 1 else v for v in given.values()), outs))
    named = fmt.named_perturbations if fmt is not None else {}
    for name, rate, seed, _, _ in probes:
        Perturber(named.get(name, (name,))[0], "en", rate, seed, {})  # validates name and rate
    return probes


def perturb_frame(
    df: pl.DataFrame,
    name: str,
    lang: str,
    rate: float,
    seed: int,
    sides: str | None = None,
    alphabet: dict | None = None,
    fmt=None,
) -> pl.DataFrame:
    """One probe of a table: the format perturbs what `sides` names and keeps its labels
    valid; the probe keys (probe, rate, pseed, sides) become columns."""
    fmt = fmt or get_format("classify")
    if name not in fmt.perturbations:
        raise XlrobustError(
            f"perturbation {name} is not available for the {fmt.name} format "
            f"(available: {', '.join(fmt.perturbations)})"
        )
    base, sides = fmt.probe(name, sides)  # a probe the format names fixes its sides
    fmt.columns_of(sides)
    p = Perturber(base, lang, rate, seed, frame_alphabet(df) if alphabet is None else alphabet)
    out = fmt.perturb(df, p, sides)
    return out.with_columns(
        probe=pl.lit(name),
        rate=pl.lit(rate, dtype=pl.Float64),
        pseed=pl.lit(seed, dtype=pl.Int64),
        sides=pl.lit(sides),
        format=pl.lit(fmt.name),
    )


def perturb(
    data: str,
    lang: str,
    names: list[str],
    rates: list[float],
    seeds: list[int],
    outs: list[str],
    sides: list[str | None] = (None,),
    fmt_name: str | None = None,
) -> None:
    """Every probe of one language in one process: the examples are read and the
    replacement alphabet built once, then one file per probe."""
    fmt = format_of_table(data, fmt_name)
    probes = probe_list(list(names), list(rates), list(seeds), list(sides), list(outs), fmt)
    for name, _, _, side, _ in probes:
        if name not in fmt.perturbations:
            raise XlrobustError(
                f"perturbation {name} is not available for the {fmt.name} format "
                f"(available: {', '.join(fmt.perturbations)})"
            )
        fmt.columns_of(fmt.probe(name, side)[1])
    df = fmt.probe_table(data, lang)
    alphabet = frame_alphabet(df.filter(pl.col("lang") == lang))
    for name, rate, seed, side, out in probes:
        write_parquet(perturb_frame(df, name, lang, rate, seed, side, alphabet, fmt), out, "perturb")
        print(
            f"{name} rate {rate:g} seed {seed} sides {fmt.probe(name, side)[1]}: {df.height} rows -> {out}", flush=True
        )
