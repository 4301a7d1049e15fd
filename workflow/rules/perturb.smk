rule perturb:
    """Static, model-independent, seeded perturbation of one language's test set,
    shared by every model so that comparisons are paired example by example."""
    input:
        data=lambda w: dataset_dir(target_dataset(w.target)),
    output:
        "perturbed/{target}/{lang}/{perturbation}/r{rate}_s{pseed}.parquet",
    params:
        sides=lambda w: perturbation_sides(w.target, w.perturbation),
    log:
        "logs/perturb/{target}/{lang}/{perturbation}/r{rate}_s{pseed}.log",
    benchmark:
        "benchmarks/perturb/{target}.{lang}.{perturbation}.r{rate}_s{pseed}.tsv"
    conda:
        "../../envs/data.yaml"
    shell:
        "xlrobust perturb --data {input.data}/test.parquet --lang {wildcards.lang}"
        " --perturbation {wildcards.perturbation} --rate {wildcards.rate} --seed {wildcards.pseed}"
        " --sides {params.sides}"
        " --out {output} > {log} 2>&1"
