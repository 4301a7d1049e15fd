rule intermediate:
    """English intermediate-task training (one task or a multi-task mix, optionally with MLM
    batches); the encoder is kept, the heads dropped."""
    input:
        encoder=lambda w: layout.pretrained(w.model),
        data=lambda w: recipe_data(w.recipe),
    output:
        directory("models/intermediate/{model}/{recipe}/seed{seed}"),
    wildcard_constraints:
        recipe=r"(?!none$)[A-Za-z0-9][A-Za-z0-9_-]*",
    params:
        tasks=lambda w: [dataset_dir(d) for d in config["recipes"][w.recipe]["datasets"]],
        flags=lambda w: recipe_flags(w.recipe),
    threads: rule_threads("train")
    resources:
        **rule_resources("train"),
    log:
        "logs/intermediate/{model}/{recipe}/seed{seed}.log",
    benchmark:
        "benchmarks/intermediate/{model}.{recipe}.seed{seed}.tsv"
    conda:
        "../../envs/train.yaml"
    shell:
        "OMP_NUM_THREADS={threads} xlrobust intermediate --init {input.encoder:q} --data {params.tasks:q}"
        " --seed {wildcards.seed:q} {params.flags} --out {output:q} > {log:q} 2>&1"
