rule report:
    """The self-contained HTML report answering each selected study's question."""
    input:
        scores=layout.SCORES,
        comparisons=layout.COMPARISONS,
        attacks=xcfg.all_attacks(config),
        meta=[layout.data_dir(d) for d in xcfg.used_datasets(config)],
        config=layout.CONFIG,
    output:
        report(layout.REPORT, category="Report"),
    params:
        meta=[layout.data_meta(d) for d in xcfg.used_datasets(config)],
        benchmarks=layout.BENCHMARKS,
    log:
        layout.log("report"),
    conda:
        "../../envs/report.yaml"
    shell:
        "xlrobust report --config {input.config:q} --scores {input.scores:q} --comparisons {input.comparisons:q}"
        " --attacks {input.attacks:q} --data-meta {params.meta:q} --benchmarks {params.benchmarks:q}"
        " --out {output:q} > {log:q} 2>&1"
