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
    log:
        "logs/perturb/{target}/{lang}.log",
    benchmark:
        "benchmarks/perturb/{target}.{lang}.tsv"
    conda:
        "../../envs/data.yaml"
    shell:
        "xlrobust perturb --data {input.data}/test.parquet --lang {wildcards.lang} {params.probes}"
        " > {log} 2>&1"
