rule perturb:
    """Every static, model-independent, seeded perturbation of one language's test set
    (all probes of the selected studies, one process: seconds of work each), shared by
    every model so that comparisons are paired example by example."""
    input:
        data=lambda w: layout.data_dir(config["targets"][w.target]["dataset"]),
    output:
        directory(layout.perturbed_dir("{target}", "{lang}")),
    params:
        probes=lambda w: xcfg.perturb_args(config, w.target, w.lang),
        test=lambda w: layout.data(config["targets"][w.target]["dataset"], "test"),
    log:
        layout.log("perturb", "{target}", "{lang}"),
    benchmark:
        layout.benchmark("perturb", "{target}", "{lang}")
    conda:
        "../../envs/data.yaml"
    shell:
        "xlrobust perturb --data {params.test:q} --lang {wildcards.lang:q} {params.probes} > {log:q} 2>&1"
