"""The real data that ships with the repository (samples/, scripts/make_samples.py): the
slices are what the script rebuilds from the full files, give the studies the full files'
tables, stay small and licensed; and a bare clone (nothing beside it) runs a real-data check
of every format on them without reading anything outside itself."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys

import yaml

from xlrobust import config

from conftest import REPO, SAMPLES, SHARED_DATA, git_clone


def make_samples():
    spec = importlib.util.spec_from_file_location("make_samples", REPO / "scripts" / "make_samples.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_slices_are_rebuilt_exactly_and_give_the_studies_the_full_files_tables(full_files, tmp_path):
    """Re-running the script on ../shared/data writes the committed slices byte for byte (nothing
    hand-edited), and data.prepare of every shipped dataset, under config.yaml's caps and CI's,
    gives identical tables from the committed slices as from the full files: the real-data
    studies' figures do not depend on which of the two they read."""
    ms = make_samples()
    sizes = ms.build(full_files, tmp_path / "samples")
    ours = sorted(p.relative_to(SAMPLES) for p in SAMPLES.rglob("*") if p.is_file())
    rebuilt = sorted(p.relative_to(tmp_path / "samples") for p in (tmp_path / "samples").rglob("*") if p.is_file())
    assert ours == rebuilt and len(ours) > 20
    changed = [str(p) for p in ours if (SAMPLES / p).read_bytes() != (tmp_path / "samples" / p).read_bytes()]
    assert not changed, f"samples/ differs from what scripts/make_samples.py writes: {changed}"
    cfg = config.read(REPO / "config.yaml")
    specs = ms.effective_specs(cfg, yaml.safe_load(ms.CI.read_text()))
    assert set(specs) == {"csqa_local", "tydiqa_en_shared", "mlqa_dev_shared", "panx_local", "udpos_local"} | {
        "xcopa_real",
        "tatoeba_real",
        "tydiqa_r_shared",  # LAReQA's offline check (cpu_dual): the same files, more rows of MLQA
        "mlqa_r_shared",
    }
    for name, both in specs.items():
        assert ms.same_tables(name, both, full_files, REPO) == [], name
    print(f"\nsamples/: {sum(sizes.values()) / 1e6:.2f} MB, {len(ours)} files, tables identical to the full files'")


def test_slices_are_small_licensed_tracked_and_what_the_cpu_studies_read():
    files = [p for p in SAMPLES.rglob("*") if p.is_file()]
    assert sum(p.stat().st_size for p in files) <= 5e6
    for folder in (p for p in SAMPLES.iterdir() if p.is_dir()):
        note = (folder / "README.md").read_text()
        assert "Source:" in note and "Licence:" in note and "sha256" in note, folder
    tracked = subprocess.run(["git", "ls-files", "samples"], cwd=REPO, capture_output=True, text=True).stdout
    ignored = subprocess.run(
        ["git", "check-ignore", "--no-index", *map(str, files)], cwd=REPO, capture_output=True, text=True
    ).stdout
    assert not ignored and (not tracked or len(tracked.split()) == len(files))
    cfg = config.read(REPO / "config.yaml")
    read = {d for s in ("cpu", "cpu_qa", "cpu_tag", "cpu_xr", "cpu_dual") for d in datasets_of(cfg, s)}
    outside = sorted(d for d in read if not cfg["datasets"][d]["local"].startswith("samples/"))
    assert outside == ["umsab"]  # only the tweets, which are not ours to ship


def datasets_of(cfg: dict, study: str) -> set[str]:
    s = cfg["study"][study]
    out = {cfg["targets"][t]["dataset"] for t in s["targets"]}
    out |= {cfg["targets"][t].get("train_dataset") for t in s["targets"]} - {None}
    return out | {d for r in s["recipes"] for d in cfg["recipes"][r].get("datasets", [])}


def long_tiny(tiny_encoder: str, out) -> str:
    """The suite's tiny BERT with room for 256 positions (MLQA's contexts in a tiny vocabulary)."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertModel

    cfg = BertConfig.from_pretrained(tiny_encoder)
    cfg.max_position_embeddings = 256
    torch.manual_seed(0)
    BertModel(cfg).save_pretrained(out, safe_serialization=True)
    AutoTokenizer.from_pretrained(tiny_encoder).save_pretrained(out)
    return str(out)


def test_a_bare_clone_runs_every_formats_real_data_check_on_its_own_slices(tmp_path, tiny_encoder):
    """`git clone` into an empty folder, the suite's .venv linked in: prepare, a tiny fine-tune
    (or the retrieval path), predict and score of QA, tagging, multiple choice and retrieval on
    samples/, with the shared data pointed nowhere and every file opened or listed checked:
    nothing beside the clone (the original checkout, ../shared) may be read."""
    root = git_clone(tmp_path / "home" / "project")
    (root / ".venv").symlink_to(REPO / ".venv", target_is_directory=True)
    forbidden = [REPO.parent, SHARED_DATA.parent]
    env = {
        **os.environ,
        "XLROBUST_SHARED_DATA": str(tmp_path / "home" / "no-shared-data"),
        "XLROBUST_FORBIDDEN": os.pathsep.join(map(str, forbidden)),
        "XLROBUST_ALLOWED": str((REPO / ".venv").resolve()),
        "PYTHONPATH": str(root / "src"),  # the clone's package, not the editable install's
        "HF_HUB_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
    }
    r = subprocess.run(
        [
            str(root / ".venv/bin/python"),
            "tests/bare_clone_check.py",
            long_tiny(tiny_encoder, tmp_path / "enc"),
            "result.json",
        ],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    result = json.loads((root / "result.json").read_text())
    assert result["outside"] == [], f"the bare clone read outside itself: {result['outside'][:5]}"
    m = result["metrics"]
    targets = {k.split("/")[0] for k in m}
    assert targets == {"mlqa_dev_shared", "panx_local", "xcopa_real", "tatoeba_real"}, m
    assert all(0.0 <= v["mean"] <= 1.0 for v in m.values()), m
    assert m["mlqa_dev_shared/f1"]["languages"] >= 7 and m["tatoeba_real/accuracy"]["languages"] >= 6, m  # + pooled
    print(f"\nbare clone, tiny encoder, clean metrics: {json.dumps(m)}")


def test_the_bare_clone_check_records_what_is_read_beside_the_clone(tmp_path):
    """The audit hook of tests/bare_clone_check.py sees opening and listing under a forbidden
    root, not under an allowed one inside it, nor elsewhere."""
    beside, venv = tmp_path / "beside", tmp_path / "beside" / ".venv"
    venv.mkdir(parents=True)
    (beside / "data.txt").write_text("x")
    (venv / "lib.txt").write_text("x")
    (tmp_path / "clone.txt").write_text("x")
    code = (
        "import os, sys; sys.path.insert(0, 'tests'); import bare_clone_check as b; sys.addaudithook(b.watch); "
        f"open({str(beside / 'data.txt')!r}).read(); os.listdir({str(beside)!r}); "
        f"open({str(venv / 'lib.txt')!r}).read(); open({str(tmp_path / 'clone.txt')!r}).read(); "
        "print(sorted(b.OUTSIDE))"
    )
    env = {**os.environ, "XLROBUST_FORBIDDEN": str(beside), "XLROBUST_ALLOWED": str(venv)}
    r = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, check=True)
    assert r.stdout.strip() == str(sorted([str(beside.resolve()), str((beside / "data.txt").resolve())]))
