rule intermediate:
    """English intermediate-task training (one task or a multi-task mix, optionally with MLM
    batches); the encoder is kept, the heads dropped."""
    input:
        encoder=lambda w: layout.pretrained(w.model),
        data=lambda w: [layout.data_dir(d) for d in xcfg.recipe_datasets(config, w.recipe)],
    output:
        directory(layout.intermediate("{model}", "{recipe}", "{seed}")),
    wildcard_constraints:
        recipe=r"(?!none$)[A-Za-z0-9][A-Za-z0-9_-]*",
    params:
        tasks=lambda w: [layout.data_dir(d) for d in config["recipes"][w.recipe]["datasets"]],
        flags=lambda w: xcfg.recipe_flags(config, w.recipe),
    threads: xcfg.threads(config, "train")
    resources:
        **xcfg.resources(config, "train"),
    log:
        layout.log("intermediate", "{model}", "{recipe}", "seed{seed}"),
    benchmark:
        layout.benchmark("intermediate", "{model}", "{recipe}", "seed{seed}")
    conda:
        "../../envs/train.yaml"
    shell:
        "OMP_NUM_THREADS={threads} xlrobust intermediate --init {input.encoder:q} --data {params.tasks:q}"
        " --seed {wildcards.seed:q} {params.flags} --out {output:q} > {log:q} 2>&1"
