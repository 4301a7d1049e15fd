rule predict:
    """Zero-shot prediction of one target model: clean test set (every language) and
    every perturbed file, with one model load."""
    input:
        model=lambda w: layout.target(w.model, w.recipe, w.target, w.seed),
        data=lambda w: dataset_dir(target_dataset(w.target)),
        perturbed=lambda w: perturbed_dirs(w.target),
    output:
        directory("predictions/{model}/{recipe}/{target}/seed{seed}"),
    params:
        ins=lambda w: [i for i, _ in probe_files(w)],
        outs=lambda w: [o for _, o in probe_files(w)],
        test=lambda w: layout.data(target_dataset(w.target), "test"),
        clean=lambda w: layout.clean_prediction(w.model, w.recipe, w.target, w.seed),
    threads: rule_threads("predict")
    resources:
        **rule_resources("predict"),
    log:
        "logs/predict/{model}/{recipe}/{target}/seed{seed}.log",
    benchmark:
        "benchmarks/predict/{model}.{recipe}.{target}.seed{seed}.tsv"
    conda:
        "../../envs/train.yaml"
    shell:
        "OMP_NUM_THREADS={threads} xlrobust predict --model {input.model:q} --data {params.test:q} {params.ins:q}"
        " --out {params.clean:q} {params.outs:q} > {log:q} 2>&1"
