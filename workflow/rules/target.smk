rule finetune:
    """English target fine-tuning from the (intermediate) encoder; English dev selects.
    Formats used without fine-tuning (retrieval) have no such job."""
    input:
        encoder=lambda w: layout.encoder(w.model, w.recipe, w.seed),
        data=lambda w: layout.data_dir(xcfg.train_dataset(config, w.target)),
    output:
        directory(layout.target("{model}", "{recipe}", "{target}", "{seed}")),
    params:
        hp=lambda w: xcfg.train_flags(config, w.target),
    threads: xcfg.threads(config, "train")
    resources:
        **xcfg.resources(config, "train"),
    log:
        layout.log("finetune", "{model}", "{recipe}", "{target}", "seed{seed}"),
    benchmark:
        layout.benchmark("finetune", "{model}", "{recipe}", "{target}", "seed{seed}")
    conda:
        "../../envs/train.yaml"
    shell:
        "OMP_NUM_THREADS={threads} xlrobust finetune --init {input.encoder:q} --data {input.data:q}"
        " --seed {wildcards.seed:q} {params.hp} --out {output:q} > {log:q} 2>&1"
