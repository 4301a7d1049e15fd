rule intermediate:
    """English intermediate-task training; the encoder is kept, the head dropped."""
    input:
        encoder=lambda w: layout.pretrained(w.model),
        data=lambda w: dataset_dir(config["recipes"][w.recipe]["dataset"]),
    output:
        directory("models/intermediate/{model}/{recipe}/seed{seed}"),
    wildcard_constraints:
        recipe=r"(?!none$)[A-Za-z0-9_.-]+",
    params:
        hp=lambda w: hp_flags(config["recipes"][w.recipe]),
        num_labels=lambda w: num_labels(config["recipes"][w.recipe]["dataset"]),
    threads: 2
    resources:
        **rule_resources("train"),
    log:
        "logs/intermediate/{model}/{recipe}/seed{seed}.log",
    benchmark:
        "benchmarks/intermediate/{model}.{recipe}.seed{seed}.tsv"
    conda:
        "../../envs/train.yaml"
    shell:
        "OMP_NUM_THREADS={threads} xlrobust intermediate --init {input.encoder} --train {input.data}/train.parquet"
        " --dev {input.data}/validation.parquet --num-labels {params.num_labels} --seed {wildcards.seed}"
        " {params.hp} --out {output} > {log} 2>&1"
