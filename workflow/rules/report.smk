rule report:
    """The self-contained HTML report answering each selected study's question."""
    input:
        scores="results/scores.parquet",
        comparisons="results/comparisons.parquet",
        attacks=all_attacks(),
        meta=lambda w: sorted({f"{dataset_dir(d)}" for d in used_datasets()}),
    output:
        report("results/report.html", category="Report"),
    params:
        config=workflow.configfiles[0] if workflow.configfiles else "config.yaml",
        meta=lambda w: [f"{dataset_dir(d)}/meta.json" for d in sorted(used_datasets())],
    log:
        "logs/report.log",
    conda:
        "../../envs/report.yaml"
    shell:
        "xlrobust report --config {params.config:q} --scores {input.scores} --comparisons {input.comparisons} --attacks {input.attacks}"
        " --data-meta {params.meta} --benchmarks benchmarks --out {output} > {log} 2>&1"
