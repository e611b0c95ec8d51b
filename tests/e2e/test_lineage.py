"""Lineage across runs: `skiff get artifacts`, `skiff describe artifact URI` and `skiff get
executions TASK` over two runs of a producer/consumer pipeline on `skiff up` (the second run
comes from the cache)."""
import json

# producer writes a Dataset; consumer reads it. busybox images run on busybox's ash.
PIPELINE = r"""
pipelineInfo: {name: lineage}
schemaVersion: 2.1.0
root:
  dag:
    tasks:
      producer:
        taskInfo: {name: producer}
        componentRef: {name: comp-producer}
        cachingOptions: {enableCache: true}
      consumer:
        taskInfo: {name: consumer}
        componentRef: {name: comp-consumer}
        cachingOptions: {enableCache: true}
        dependentTasks: [producer]
        inputs:
          artifacts:
            data:
              taskOutputArtifact: {producerTask: producer, outputArtifactKey: out}
components:
  comp-producer:
    executorLabel: exec-producer
    outputDefinitions:
      artifacts:
        out: {artifactType: {schemaTitle: system.Dataset, schemaVersion: 0.0.1}}
  comp-consumer:
    executorLabel: exec-consumer
    inputDefinitions:
      artifacts:
        data: {artifactType: {schemaTitle: system.Dataset, schemaVersion: 0.0.1}}
    outputDefinitions:
      parameters:
        Output: {parameterType: STRING}
deploymentSpec:
  executors:
    exec-producer:
      container:
        image: busybox
        command: [sh, -c, 'mkdir -p "$(dirname "$0")" && echo hello > "$0"',
                  "{{$.outputs.artifacts['out'].path}}"]
    exec-consumer:
      container:
        image: busybox
        command: [sh, -c, 'cat "$0" > "$1"', "{{$.inputs.artifacts['data'].path}}",
                  "{{$.outputs.parameters['Output'].output_file}}"]
"""


def test_describe_artifact_shows_its_producer_and_consumers_across_two_runs(skiff, tmp_path):
    ir = tmp_path / "lineage.yaml"
    ir.write_text(PIPELINE)
    skiff.cli("run", str(ir), "--name", "lin-1", timeout=300)
    second = skiff.cli("run", str(ir), "--name", "lin-2", timeout=300)
    assert "CACHED" in second.stdout, second.stdout

    listed = json.loads(skiff.cli("get", "artifacts", "-o", "json").stdout)
    [artifact] = [a for a in listed["items"] if a["type"] == "system.Dataset"]
    uri = artifact["uri"]
    assert artifact["producer"]["run"] == "lin-1", artifact
    assert artifact["producer"]["task"] == "root.producer", artifact
    assert [(c["run"], c["task"], c["state"]) for c in artifact["consumers"]] == [
        ("lin-1", "root.consumer", "SUCCEEDED"), ("lin-2", "root.consumer", "CACHED")], artifact

    table = skiff.cli("get", "artifacts").stdout
    assert table.splitlines()[0].split() == ["URI", "TYPE", "PRODUCER", "CREATED", "CONSUMERS"]
    assert uri in table and "lin-1/producer" in table, table

    described = skiff.cli("describe", "artifact", uri).stdout
    assert "Type:       system.Dataset (0.0.1)" in described, described
    assert "Producer:   run lin-1, task producer, output out (SUCCEEDED)" in described, described
    assert "  run lin-1, task consumer, input data (SUCCEEDED)" in described, described
    assert "  run lin-2, task consumer, input data (CACHED)" in described, described
    assert "Executions of producer:" in described, described

    executions = skiff.cli("get", "executions", "consumer").stdout.splitlines()
    assert executions[0].split() == ["RUN", "TASK", "STATE", "STARTED", "FINISHED"]
    assert [row.split()[:3] for row in executions[1:]] == [
        ["lin-1", "consumer", "SUCCEEDED"], ["lin-2", "consumer", "CACHED"]], executions

    missing = skiff.cli("describe", "artifact", "file:///nowhere", check=False)
    assert missing.returncode != 0 and "not found" in missing.stderr, missing.stderr
