rule finetune:
    """English target fine-tuning from the (intermediate) encoder; English dev selects."""
    input:
        encoder=lambda w: layout.encoder(w.model, w.recipe, w.seed),
        data=lambda w: dataset_dir(target_dataset(w.target)),
    output:
        directory("models/target/{model}/{recipe}/{target}/seed{seed}"),
    params:
        hp=lambda w: hp_flags(config["targets"][w.target]),
        num_labels=lambda w: num_labels(target_dataset(w.target)),
        train=lambda w: layout.data(target_dataset(w.target), "train"),
        dev=lambda w: layout.data(target_dataset(w.target), "validation"),
    threads: rule_threads("train")
    resources:
        **rule_resources("train"),
    log:
        "logs/finetune/{model}/{recipe}/{target}/seed{seed}.log",
    benchmark:
        "benchmarks/finetune/{model}.{recipe}.{target}.seed{seed}.tsv"
    conda:
        "../../envs/train.yaml"
    shell:
        "OMP_NUM_THREADS={threads} xlrobust finetune --init {input.encoder:q} --train {params.train:q}"
        " --dev {params.dev:q} --num-labels {params.num_labels} --seed {wildcards.seed:q}"
        " {params.hp} --out {output:q} > {log:q} 2>&1"
