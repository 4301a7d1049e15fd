rule perturb:
    """Every static, model-independent, seeded perturbation of one language's test set
    (all probes of the selected studies, one process: seconds of work each), shared by
    every model so that comparisons are paired example by example."""
    input:
        data=lambda w: dataset_dir(target_dataset(w.target)),
    output:
        directory("perturbed/{target}/{lang}"),
    params:
        probes=lambda w: perturb_args(w.target, w.lang),
        test=lambda w: layout.data(target_dataset(w.target), "test"),
    log:
        "logs/perturb/{target}/{lang}.log",
    benchmark:
        "benchmarks/perturb/{target}.{lang}.tsv"
    conda:
        "../../envs/data.yaml"
    shell:
        "xlrobust perturb --data {params.test:q} --lang {wildcards.lang:q} {params.probes}"
        " > {log:q} 2>&1"
