rule report:
    """The self-contained HTML report answering each selected study's question."""
    input:
        scores="results/scores.parquet",
        comparisons="results/comparisons.parquet",
        attacks=all_attacks(),
        meta=lambda w: [dataset_dir(d) for d in xcfg.used_datasets(config)],
        config="results/config.yaml",
    output:
        report("results/report.html", category="Report"),
    params:
        meta=lambda w: [f"{dataset_dir(d)}/meta.json" for d in xcfg.used_datasets(config)],
    log:
        "logs/report.log",
    conda:
        "../../envs/report.yaml"
    shell:
        "xlrobust report --config {input.config:q} --scores {input.scores:q} --comparisons {input.comparisons:q}"
        " --attacks {input.attacks:q} --data-meta {params.meta:q} --benchmarks benchmarks --out {output:q} > {log:q} 2>&1"
