rule score:
    """Robustness scores (tidy parquet) and the metrics DVC shows."""
    input:
        predictions=all_predictions(),
        attacks=all_attacks(),
    output:
        scores=report("results/scores.parquet", category="Scores"),
        metrics="results/metrics.json",
    log:
        "logs/score.log",
    benchmark:
        "benchmarks/score/score.tsv"
    conda:
        "../../envs/report.yaml"
    shell:
        "xlrobust score --predictions {input.predictions} --attacks {input.attacks}"
        " --out-scores {output.scores} --out-metrics {output.metrics} > {log} 2>&1"
