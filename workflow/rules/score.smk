rule score:
    """Robustness scores (tidy parquet), paired recipe-vs-none comparisons, the
    metrics DVC shows, and plot data."""
    input:
        predictions=all_predictions(),
        attacks=all_attacks(),
    output:
        scores=report("results/scores.parquet", category="Scores"),
        comparisons=report("results/comparisons.parquet", category="Scores"),
        metrics="results/metrics.json",
        plots="results/plots/accuracy_by_rate.csv",
    params:
        config=workflow.configfiles[0] if workflow.configfiles else "config.yaml",
    log:
        "logs/score.log",
    benchmark:
        "benchmarks/score/score.tsv"
    conda:
        "../../envs/report.yaml"
    shell:
        "xlrobust score --config {params.config:q} --predictions {input.predictions} --attacks {input.attacks}"
        " --out-scores {output.scores} --out-comparisons {output.comparisons} --out-metrics {output.metrics}"
        " --out-plots {output.plots} > {log} 2>&1"
