rule attack:
    """One adaptive attack recipe (TextAttack) on one target model, every language of
    the target, with one model load. Progress of a killed job is kept next to the
    output ({output}.partial, which Snakemake does not delete) for the rerun."""
    input:
        model=lambda w: layout.target(w.model, w.recipe, w.target, w.seed),
        data=lambda w: dataset_dir(target_dataset(w.target)),
    output:
        directory("attacks/{model}/{recipe}/{target}/seed{seed}/{attack}"),
    params:
        langs=lambda w: xcfg.target_langs(config, w.target),
        outs=lambda w: [layout.attack(w.model, w.recipe, w.target, w.seed, lang, w.attack)
                        for lang in xcfg.target_langs(config, w.target)],
        max_examples=lambda w: run_attack_spec(w).get("max_examples", 100),
        budget=lambda w: run_attack_spec(w).get("query_budget", 2000),
        seed=lambda w: run_attack_spec(w).get("seed", 765),
        test=lambda w: layout.data(target_dataset(w.target), "test"),
        partial=lambda w, output: f"{output}.partial",
    threads: rule_threads("attack")
    resources:
        **rule_resources("attack"),
    log:
        "logs/attack/{model}/{recipe}/{target}/seed{seed}/{attack}.log",
    benchmark:
        "benchmarks/attack/{model}.{recipe}.{target}.seed{seed}.{attack}.tsv"
    conda:
        "../../envs/attack.yaml"
    shell:
        "OMP_NUM_THREADS={threads} xlrobust attack --model {input.model:q} --data {params.test:q} --lang {params.langs:q}"
        " --recipe {wildcards.attack:q} --max-examples {params.max_examples} --query-budget {params.budget}"
        " --seed {params.seed} --out {params.outs:q} --resume-dir {params.partial:q} > {log:q} 2>&1"
