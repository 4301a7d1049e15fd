rule attack:
    """One adaptive attack recipe on one target model, every language of the target, with
    one model load. Progress of a killed job is kept next to the output (layout.partial,
    which Snakemake does not delete) for the rerun."""
    input:
        model=lambda w: xcfg.prediction_model(config, w.model, w.recipe, w.target, w.seed),
        data=lambda w: layout.data_dir(config["targets"][w.target]["dataset"]),
    output:
        directory(layout.attacks("{model}", "{recipe}", "{target}", "{seed}", "{attack}")),
    params:
        langs=lambda w: xcfg.target_langs(config, w.target),
        outs=lambda w: [layout.attack(w.model, w.recipe, w.target, w.seed, lang, w.attack)
                        for lang in xcfg.target_langs(config, w.target)],
        settings=lambda w: S.flags(xcfg.attack_settings(config, w.model, w.recipe, w.target, w.seed, w.attack)),
        test=lambda w: layout.data(config["targets"][w.target]["dataset"], "test"),
        format=lambda w: xcfg.target_format(config, w.target).name,
        model_flags=lambda w: xcfg.model_flags(config, w.target),
        partial=lambda w, output: layout.partial(output[0]),
    threads: xcfg.threads(config, "attack")
    resources:
        **xcfg.rule_resources(config, "attack"),
    log:
        layout.log("attack", "{model}", "{recipe}", "{target}", "seed{seed}", "{attack}"),
    benchmark:
        layout.benchmark("attack", "{model}", "{recipe}", "{target}", "seed{seed}", "{attack}")
    conda:
        "../../envs/attack.yaml"
    shell:
        "OMP_NUM_THREADS={threads} xlrobust attack --model {input.model:q} --format {params.format:q}"
        " --run model={wildcards.model:q} recipe={wildcards.recipe:q} target={wildcards.target:q} seed={wildcards.seed:q}"
        " --data {params.test:q} --lang {params.langs:q} --recipe {wildcards.attack:q} {params.settings}{params.model_flags}"
        " --out {params.outs:q} --resume-dir {params.partial:q} > {log:q} 2>&1"
