rule predict:
    """Zero-shot prediction of one target model: clean test set (every language) and
    every perturbed file, with one model load. Rows carry the run keys."""
    input:
        model=lambda w: xcfg.prediction_model(config, w.model, w.recipe, w.target, w.seed),
        data=lambda w: layout.data_dir(config["targets"][w.target]["dataset"]),
        perturbed=lambda w: xcfg.perturbed_dirs(config, w.target),
    output:
        directory(layout.predictions("{model}", "{recipe}", "{target}", "{seed}")),
    params:
        ins=lambda w: [i for i, _ in xcfg.probe_files(config, w.model, w.recipe, w.target, w.seed)],
        outs=lambda w: [o for _, o in xcfg.probe_files(config, w.model, w.recipe, w.target, w.seed)],
        test=lambda w: layout.data(config["targets"][w.target]["dataset"], "test"),
        clean=lambda w: layout.clean_prediction(w.model, w.recipe, w.target, w.seed),
        format=lambda w: xcfg.target_format(config, w.target).name,
        flags=lambda w: xcfg.predict_flags(config, w.target),
    threads: xcfg.threads(config, "predict")
    resources:
        **xcfg.rule_resources(config, "predict"),
    log:
        layout.log("predict", "{model}", "{recipe}", "{target}", "seed{seed}"),
    benchmark:
        layout.benchmark("predict", "{model}", "{recipe}", "{target}", "seed{seed}")
    conda:
        "../../envs/train.yaml"
    shell:
        "OMP_NUM_THREADS={threads} xlrobust predict --model {input.model:q} --format {params.format:q}"
        " --run model={wildcards.model:q} recipe={wildcards.recipe:q} target={wildcards.target:q} seed={wildcards.seed:q}"
        "{params.flags} --data {params.test:q} {params.ins:q} --out {params.clean:q} {params.outs:q} > {log:q} 2>&1"
