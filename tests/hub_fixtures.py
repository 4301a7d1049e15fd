"""Authored rows in each Hub dataset's own schema (column names, nesting, label
encoding as the Hub serves them), written as parquet like the Hub's files.

Each entry: task -> (config-less rows per split, expected normalised facts).
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

NLI_ROWS = [
    {"premise": "A man plays a guitar on stage.", "hypothesis": "A man is performing music.", "label": 0},
    {"premise": "A dog runs through the snow.", "hypothesis": "The dog is asleep indoors.", "label": 2},
    {"premise": "Two kids are at the beach.", "hypothesis": "The kids are siblings.", "label": 1},
]

ROWS: dict[str, dict[str, list[dict]]] = {
    "anli": {
        s: [{"uid": f"{s}-{i}", **r, "reason": ""} for i, r in enumerate(NLI_ROWS)]
        for s in ["train_r1", "train_r2", "train_r3", "dev_r1", "dev_r2", "dev_r3"]
    },
    "snli": {
        "train": NLI_ROWS + [{"premise": "No gold label here.", "hypothesis": "Annotators disagreed.", "label": -1}],
        "validation": NLI_ROWS,
    },
    "mnli": {
        "train": [{**r, "idx": i} for i, r in enumerate(NLI_ROWS)],
        "validation_matched": [{**r, "idx": i} for i, r in enumerate(NLI_ROWS)],
    },
    "qqp": {
        "train": [
            {
                "question1": "How do I learn Python?",
                "question2": "What is the best way to learn Python?",
                "label": 1,
                "idx": 0,
            },
            {"question1": "Why is the sky blue?", "question2": "How tall is Everest?", "label": 0, "idx": 1},
        ],
        "validation": [
            {"question1": "What is AI?", "question2": "What is artificial intelligence?", "label": 1, "idx": 0}
        ],
    },
    "imdb": {
        "train": [{"text": "A wonderful, moving film.", "label": 1}, {"text": "Dull and far too long.", "label": 0}],
        "test": [{"text": "I loved every minute.", "label": 1}],
    },
    "squad": {
        s: [
            {
                "id": "5733be284776f41900661182",
                "title": "University_of_Notre_Dame",
                "context": "Architecturally, the school has a Catholic character.",
                "question": "What character does the school have?",
                "answers": {"text": ["a Catholic character", "Catholic"], "answer_start": [32, 34]},
            },
            {
                "id": "5733be284776f4190066117f",
                "title": "University_of_Notre_Dame",
                "context": "The Grotto is a Marian place of prayer.",
                "question": "What is the Grotto?",
                "answers": {"text": ["a Marian place of prayer"], "answer_start": [14]},
            },
        ]
        for s in ["train", "validation"]
    },
    "squad_v2": {
        s: [
            {
                "id": "56be85543aeaaa14008c9063",
                "title": "Beyonce",
                "context": "Beyonce was born in Houston, Texas.",
                "question": "Where was Beyonce born?",
                "answers": {"text": ["Houston, Texas"], "answer_start": [20]},
            },
            {
                "id": "5a8d7bf7df8bba001a0f9ab1",
                "title": "Beyonce",
                "context": "Beyonce was born in Houston, Texas.",
                "question": "Where was Beyonce's dog born?",
                "answers": {"text": [], "answer_start": []},
            },
        ]
        for s in ["train", "validation"]
    },
    "hellaswag": {
        s: [
            {
                "ind": 4,
                "activity_label": "Removing ice from car",
                "ctx_a": "Then, the man writes over the snow.",
                "ctx_b": "then",
                "ctx": "Then, the man writes over the snow. then",
                "endings": [
                    ", the man adds wax to the windshield.",
                    ", a woman in a jacket walks by.",
                    ", the man continues removing the snow.",
                    ", the man puts on a hat.",
                ],
                "source_id": "activitynet~v_-1IBHYS3L-Y",
                "split": s,
                "split_type": "indomain",
                "label": "2",
            },
            {
                "ind": 8,
                "activity_label": "Baking cookies",
                "ctx_a": "A woman mixes flour and sugar.",
                "ctx_b": "she",
                "ctx": "A woman mixes flour and sugar. she",
                "endings": [
                    " pours the dough onto a tray.",
                    " swims in the lake.",
                    " paints the fence blue.",
                    " drives to work.",
                ],
                "source_id": "wikihow~1",
                "split": s,
                "split_type": "zeroshot",
                "label": "0",
            },
        ]
        for s in ["train", "validation"]
    },
    "cosmos_qa": {
        s: [
            {
                "id": "3Q9SPIIRWJKVQ8244310E8TUS6YWAC##34V1S5K3GTZMDUBNBIGY93FLDOB690##A1S1K7134S2VUC##Blog_1044056##q1_a1##3XU9MCX6VQQG7YPLCSAVIVHTFO8R2Q",
                "context": "Good Old War and person L : I saw both of these bands Wednesday night.",
                "question": "In the future , will this person go to see other bands play ?",
                "answer0": "None of the above choices .",
                "answer1": "This person likes music and likes to see the show .",
                "answer2": "This person only likes Good Old War .",
                "answer3": "Other Bands is not on tour .",
                "label": 1,
            },
            {
                "id": "cosmos-2",
                "context": "I missed the bus this morning so I walked to work in the rain.",
                "question": "Why did I walk to work ?",
                "answer0": "I like rain .",
                "answer1": "I missed the bus .",
                "answer2": "My car is new .",
                "answer3": "Work was closed .",
                "label": 1,
            },
        ]
        for s in ["train", "validation"]
    },
    "commonsense_qa": {
        s: [
            {
                "id": "075e483d21c29a511267ef62bedc0461",
                "question": "The sanctions against the school were a punishing blow, "
                "and they seemed to what the efforts the school had made to change?",
                "question_concept": "punishing",
                "choices": {
                    "label": ["A", "B", "C", "D", "E"],
                    "text": ["ignore", "enforce", "authoritarian", "yell at", "avoid"],
                },
                "answerKey": "A",
            },
            {
                "id": "61fe6e879ff18686d7552425a36344c8",
                "question": "Where would you find a seat on a bus?",
                "question_concept": "seat",
                "choices": {
                    "label": ["A", "B", "C", "D", "E"],
                    "text": ["theater", "bus", "kitchen", "office", "garden"],
                },
                "answerKey": "B",
            },
        ]
        for s in ["train", "validation"]
    },
    "ccg": {
        s: [
            {
                "tokens": ["Pierre", "Vinken", "will", "join", "the", "board", "."],
                "tags": ["N/N", "N", "(S[dcl]\\NP)/(S[b]\\NP)", "(S[b]\\NP)/NP", "NP[nb]/N", "N", "."],
            },
            {"tokens": ["He", "sleeps", "."], "tags": ["NP", "S[dcl]\\NP", "."]},
        ]
        for s in ["train", "validation", "test"]
    },
    "wikipedia": {
        "train": [
            {
                "id": "12",
                "url": "https://en.wikipedia.org/wiki/Anarchism",
                "title": "Anarchism",
                "text": "Anarchism is a political philosophy and movement.",
            },
            {
                "id": "25",
                "url": "https://en.wikipedia.org/wiki/Autism",
                "title": "Autism",
                "text": "Autism is a neurodevelopmental disorder.",
            },
        ]
    },
    # ---- XCOPA and retrieval (issue 19)
    "social_i_qa": {  # the Hub's parquet conversion: labels "1".."3" as strings (early versions kept "\n")
        s: [
            {
                "context": "Tracy didn't go home that evening and resisted Riley's attacks.",
                "question": "What does Tracy need to do before this?",
                "answerA": "make a new plan",
                "answerB": "Go home and see Riley",
                "answerC": "Find somewhere to go",
                "label": "3\n",
            },
            {
                "context": "Sydney walked past a homeless woman asking for change.",
                "question": "How would you describe Sydney?",
                "answerA": "sympathetic",
                "answerB": "like a person who was unable to help",
                "answerC": "incredulous",
                "label": "1",
            },
        ]
        for s in ["train", "validation"]
    },
}
# XCOPA / COPA rows (cambridgeltl/xcopa; aps/super_glue copa has the same columns but `changed`)
COPA_ROWS = [
    {
        "premise": "My body cast a shadow over the grass.",
        "choice1": "The sun was rising.",
        "choice2": "The grass was cut.",
        "question": "cause",
        "label": 0,
        "idx": 0,
        "changed": False,
    },
    {
        "premise": "The man turned on the faucet.",
        "choice1": "The toilet filled with water.",
        "choice2": "Water flowed from the spout.",
        "question": "effect",
        "label": 1,
        "idx": 1,
        "changed": False,
    },
]
# ---- extractive QA targets (issue 17): the Hub's flat SQuAD schema (answers: struct of lists)
QA_ROWS = [
    {
        "id": "56beace93aeaaa14008c91df",
        "context": "The Panthers beat the Arizona Cardinals 49-15 in the NFC Championship Game.",
        "question": "Who lost the NFC Championship Game?",
        "answers": {"text": ["the Arizona Cardinals", "Arizona Cardinals"], "answer_start": [18, 22]},
    },
    {
        "id": "56beace93aeaaa14008c91e0",
        "context": "Super Bowl 50 was played at Levi's Stadium in Santa Clara, California.",
        "question": "Where was Super Bowl 50 played?",
        "answers": {"text": ["Levi's Stadium"], "answer_start": [28]},
    },
]
# TyDiQA-GoldP: every language in one config; the id prefix names the language
TYDIQA_ROWS = {
    "train": [
        {**QA_ROWS[0], "id": "english-9017813441823713085-0", "title": "NFC"},
        {**QA_ROWS[1], "id": "english-3384291733815311716-1", "title": "Super Bowl"},
        {**QA_ROWS[1], "id": "arabic-2387335860751143628-0", "title": "Super Bowl"},
    ],
    "validation": [
        {**QA_ROWS[i % 2], "id": f"{name}-{1000 + i}-0", "title": "t"}
        for i, name in enumerate(
            ["arabic", "bengali", "english", "finnish", "indonesian", "korean", "russian", "swahili", "telugu"]
        )
    ],
}

# Per-language targets: the same rows in every configured language folder.
ROWS_BY_LANG = {
    "xcopa": {"train": COPA_ROWS, "validation": COPA_ROWS, "test": COPA_ROWS},
    "tatoeba": {  # mteb/tatoeba-bitext-mining: sentence1 in the language, sentence2 English
        "test": [
            {"sentence1": "Ich habe Hunger.\n", "sentence2": "I am hungry.\n"},
            {"sentence1": "Wo ist der Bahnhof?", "sentence2": "Where is the station?"},
            {"sentence1": "Tom schläft.", "sentence2": "Tom is sleeping."},
        ]
    },
    "bucc": {  # mteb/bucc-bitext-mining (one-row-per-pair copy): a language pair's corpora, 1-based gold
        "test": [
            {
                "sentence1": ["Ich habe Hunger.", "Es regnet.", "Wo ist der Bahnhof?", "Der Zug ist spät.", "Danke."],
                "sentence2": [
                    "The sky is blue.",
                    "I am hungry.",
                    "Where is the station?",
                    "It is late.",
                    "Thanks.",
                    "No.",
                ],
                "gold": [[1, 2], [3, 3], [5, 5]],
            }
        ]
    },
    "xquad": {"validation": QA_ROWS},
    "mlqa": {s: [{**r, "title": "Super_Bowl_50"} for r in QA_ROWS] for s in ["validation", "test"]},
    "tydiqa": TYDIQA_ROWS,
    "xnli": {"train": NLI_ROWS, "validation": NLI_ROWS, "test": NLI_ROWS},
    "paws-x": {
        s: [
            {
                "id": 1,
                "sentence1": "In Paris , in October 1560 , he met the English ambassador .",
                "sentence2": "In October 1560 , he met with the English ambassador in Paris .",
                "label": 1,
            },
            {
                "id": 2,
                "sentence1": "The NBA season of 1975 -- 76 was the 30th season .",
                "sentence2": "The 1975 -- 76 season of the National Basketball Association was the 30th season .",
                "label": 0,
            },
        ]
        for s in ["train", "validation", "test"]
    },
    "amazon_reviews": {
        s: [
            {"id": "en_0199937", "text": "Arrived broken. Manufacturer defect.", "label": 0, "label_text": "0"},
            {"id": "en_0863335", "text": "Great product, works as described.", "label": 4, "label_text": "4"},
        ]
        for s in ["train", "validation", "test"]
    },
    # (issue 18) wikiann: ner_tags ClassLabel ids (0 O, 1 B-PER, 2 I-PER, 3 B-ORG, 4 I-ORG, 5 B-LOC, 6 I-LOC)
    "panx": {
        s: [
            {
                "tokens": ["R.H.", "Saunders", "(", "St.", "Lawrence", ")"],
                "ner_tags": [3, 4, 0, 5, 6, 0],
                "langs": ["en"] * 6,
            },
            {"tokens": ["Anders", "Lindström"], "ner_tags": [1, 2], "langs": ["en"] * 2},
        ]
        for s in ["train", "validation", "test"]
    },
    # (issue 18) universal_dependencies rows as conllu.parse_incr gives them: the range line of "don't"
    # (upos 13 '_', head None) before its words, and an empty node (head None)
    "udpos": {
        s: [
            {
                "idx": "s1",
                "text": "I don't know.",
                "tokens": ["I", "don't", "do", "n't", "know", "know", "."],
                "lemmas": ["I", "_", "do", "not", "know", "know", "."],
                "upos": [11, 13, 17, 7, 16, 16, 1],
                "head": ["5", "None", "5", "5", "0", "None", "5"],
            },
            {"idx": "s2", "text": "Hi", "tokens": ["Hi"], "lemmas": ["hi"], "upos": [15], "head": ["0"]},
        ]
        for s in ["train", "validation", "test"]
    },
}


# LAReQA tasks (issue 27) read the same Hub data as the QA tasks they come from
ROWS["squad_r"] = ROWS["squad"]
ROWS_BY_LANG.update({f"{name}_r": ROWS_BY_LANG[name] for name in ("xquad", "mlqa", "tydiqa")})


# Mewsli-X (issue 27), izhx/mewsli-x's configs and columns (as izhx/nlu-evals reads them): a WikiNews
# language's mentions (test), the candidate entity set (candidate_entities/test), English Wikipedia
# pairs (wikipedia_pairs). Authored rows: no real Mewsli-X data is available offline.
MEWSLI_ENTITIES = [
    {"entity_id": "Q159741", "description": "The flag of Nepal is one of the official symbols of Nepal."},
    {"entity_id": "Q691", "description": "Papua New Guinea is a country in Oceania."},
    {"entity_id": "Q38768", "description": "The Richter scale measures the size of earthquakes."},
    {"entity_id": "Q90", "description": "Paris is the capital and largest city of France."},
]
ROWS_BY_LANG["mewsli_x"] = {
    "test": [
        {"mention": "Koirala hoisted the national flag where the royal flag had flown", "entity_id": "Q159741"},
        {"mention": "a plane crashed in Papua New Guinea on Wednesday", "entity_id": "Q691"},
    ]
}
ROWS["mewsli_x_entities"] = {"test": MEWSLI_ENTITIES}
ROWS["mewsli_x_pairs"] = {
    s: [
        {"mention": "the earthquake measured 6.8 on the Richter scale", "entity": MEWSLI_ENTITIES[2]["description"]},
        {"mention": "she moved to Paris in 1920", "entity": MEWSLI_ENTITIES[3]["description"]},
    ]
    for s in ("train", "validation")
}


def write(task, root: Path, langs: list[str]) -> str:
    """Write the fixture of `task` for `langs` as <root>/<config>/<split>.parquet; return
    the path template for datasets.<name>.local. A task with a candidate pool (Mewsli-X)
    gets its pool's fixture too (language 'mul')."""
    if task.pool:
        from xlrobust.tasks import get_task

        write(get_task(task.pool), root, ["mul"])
    rows = ROWS_BY_LANG.get(task.name) or ROWS[task.name]
    for lang in langs:
        configs = task.configs[lang] if isinstance(task.configs[lang], tuple) else (task.configs[lang],)
        for config in configs:  # a language merging several configs (UD treebanks) has each
            for split, split_rows in rows.items():
                if split not in task.config_splits.get(config, (split,)):
                    continue
                p = root / (config or "") / f"{split}.parquet"
                p.parent.mkdir(parents=True, exist_ok=True)
                pl.DataFrame(split_rows).write_parquet(p)
    return str(root / "{config}" / "{split}.parquet")
