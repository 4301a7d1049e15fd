rule config_snapshot:
    """The config every later command reads: exactly what Snakemake resolved (config.yaml,
    any --configfile merged over it, --config values applied), kept with the results."""
    output:
        "results/config.yaml",
    params:
        resolved=lambda w: json.dumps(xcfg.used(config)),
    log:
        "logs/config_snapshot.log",
    conda:
        "../../envs/report.yaml"
    shell:
        "xlrobust snapshot-config --json {params.resolved:q} --out {output:q} > {log:q} 2>&1"


rule score:
    """Robustness scores (tidy parquet), paired recipe-vs-none comparisons, the
    metrics DVC shows, and plot data."""
    input:
        predictions=all_predictions(),
        attacks=all_attacks(),
        config="results/config.yaml",
    output:
        scores=report("results/scores.parquet", category="Scores"),
        comparisons=report("results/comparisons.parquet", category="Scores"),
        metrics="results/metrics.json",
        plots="results/plots/accuracy_by_rate.csv",
    log:
        "logs/score.log",
    benchmark:
        "benchmarks/score/score.tsv"
    conda:
        "../../envs/report.yaml"
    shell:
        "xlrobust score --config {input.config:q} --predictions {input.predictions:q} --attacks {input.attacks:q}"
        " --out-scores {output.scores:q} --out-comparisons {output.comparisons:q} --out-metrics {output.metrics:q}"
        " --out-plots {output.plots:q} > {log:q} 2>&1"
