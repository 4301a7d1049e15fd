rule config_snapshot:
    """The config every later command reads: exactly what Snakemake resolved (config.yaml and config/,
    any --configfile merged over it, --config values applied), trimmed to what the
    selected studies use, kept with the results."""
    output:
        layout.CONFIG,
    params:
        resolved=lambda w: json.dumps(xcfg.used(config)),
    log:
        layout.log("config_snapshot"),
    conda:
        "../../envs/report.yaml"
    shell:
        "xlrobust snapshot-config --json {params.resolved:q} --out {output:q} > {log:q} 2>&1"


rule score:
    """Robustness scores (tidy parquet), paired recipe-vs-none comparisons, the
    metrics DVC shows, and plot data."""
    input:
        predictions=xcfg.all_predictions(config),
        attacks=xcfg.all_attacks(config),
        config=layout.CONFIG,
    output:
        scores=report(layout.SCORES, category="Scores"),
        comparisons=report(layout.COMPARISONS, category="Scores"),
        metrics=layout.METRICS,
        plots=layout.PLOTS,
    log:
        layout.log("score"),
    benchmark:
        layout.benchmark("score", "score")
    conda:
        "../../envs/report.yaml"
    shell:
        "xlrobust score --config {input.config:q} --predictions {input.predictions:q} --attacks {input.attacks:q}"
        " --out-scores {output.scores:q} --out-comparisons {output.comparisons:q} --out-metrics {output.metrics:q}"
        " --out-plots {output.plots:q} > {log:q} 2>&1"
