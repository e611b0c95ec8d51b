"""A profile's runs reach only their profile's artifacts: a run of team-b that imports team-a's
artifact by its URI (or names team-a's folder as its pipeline root) does not get it, and the KFP
API does not read it back through team-b's run."""
import json

import yaml

from test_lineage import PIPELINE

# An importer of a URI given as a parameter, and a consumer that prints what it got.
IMPORTER = r"""
pipelineInfo: {name: importer}
schemaVersion: 2.1.0
root:
  inputDefinitions:
    parameters:
      uri: {parameterType: STRING}
  dag:
    tasks:
      importer:
        taskInfo: {name: importer}
        componentRef: {name: comp-importer}
        inputs:
          parameters:
            uri: {componentInputParameter: uri}
      reader:
        taskInfo: {name: reader}
        componentRef: {name: comp-reader}
        dependentTasks: [importer]
        inputs:
          artifacts:
            data:
              taskOutputArtifact: {producerTask: importer, outputArtifactKey: artifact}
components:
  comp-importer:
    executorLabel: exec-importer
    inputDefinitions:
      parameters:
        uri: {parameterType: STRING}
    outputDefinitions:
      artifacts:
        artifact: {artifactType: {schemaTitle: system.Dataset, schemaVersion: 0.0.1}}
  comp-reader:
    executorLabel: exec-reader
    inputDefinitions:
      artifacts:
        data: {artifactType: {schemaTitle: system.Dataset, schemaVersion: 0.0.1}}
deploymentSpec:
  executors:
    exec-importer:
      importer:
        artifactUri: {runtimeParameter: uri}
        reimport: true
        typeSchema: {schemaTitle: system.Dataset, schemaVersion: 0.0.1}
    exec-reader:
      container:
        image: busybox
        command: [sh, -c, 'echo "GOT:$(cat "$0")"', "{{$.inputs.artifacts['data'].path}}"]
"""


def run_state(skiff, ns, name):
    return json.loads(skiff.cli("get", "pipelineruns", name, "-n", ns, "-o", "json").stdout) \
        .get("status", {})


def test_a_run_cannot_import_another_profiles_artifact(skiff, tmp_path):
    # team-a (here: default) makes an artifact.
    ir = tmp_path / "lineage.yaml"
    ir.write_text(PIPELINE)
    skiff.cli("run", str(ir), "--name", "theirs", timeout=300)
    listed = json.loads(skiff.cli("get", "artifacts", "-o", "json").stdout)
    [artifact] = [a for a in listed["items"] if a["type"] == "system.Dataset"]
    uri = artifact["uri"]
    assert f"{skiff.home}/artifacts/namespaces/default/" in uri, uri

    # team-b's run imports it by URI: the reader is refused, and reads nothing.
    skiff.cli("user", "create", "bea")
    skiff.cli("profile", "create", "team-b", "--owner", "bea")
    bea = skiff.cli("token", "create", "--user", "bea").stdout.strip()
    importer = tmp_path / "importer.yaml"
    importer.write_text(IMPORTER)
    res = skiff.cli("--token", bea, "run", str(importer), "-n", "team-b", "--name", "mine",
                    "-p", f"uri={uri}", check=False, timeout=300)
    assert res.returncode != 0, res.stdout
    status = run_state(skiff, "team-b", "mine")
    assert status.get("state") == "FAILED", status
    text = json.dumps(status)
    assert "belongs to another profile's runs" in text, text
    assert "GOT:" not in skiff.cli("logs", "run", "mine", "reader", "-n", "team-b",
                                   check=False).stdout

    # Through the KFP API, team-b's run does not read it back either.
    # (a run's KFP id is its name)
    r = skiff.http("GET", "/apis/v2beta1/runs/mine/nodes/importer/artifacts/artifact:read",
                   token=bea)
    # (the pipeline is named as its importer task: the task is meant, not the pipeline)
    assert r.status_code == 403, r.text
    assert "hello" not in r.text

    # Nor does a pipeline root in team-a's folder give team-b's outputs a place there.
    run = {"apiVersion": "pipelines.kubeflow.org/v2beta1", "kind": "PipelineRun",
           "metadata": {"name": "rooted", "namespace": "team-b"},
           "spec": {"pipelineSpec": yaml.safe_load(PIPELINE),
                    "pipelineRoot": f"file://{skiff.home}/artifacts/namespaces/default"}}
    r = skiff.http("POST", "/apis/pipelines.kubeflow.org/v2beta1/namespaces/team-b/pipelineruns",
                   json=run, token=bea)
    assert r.status_code == 201, r.text
    done = skiff.wait_for(lambda: run_state(skiff, "team-b", "rooted").get("state") in
                          ("FAILED", "SUCCEEDED") and run_state(skiff, "team-b", "rooted"),
                          what="the rooted run to end")
    assert done["state"] == "FAILED", done
    assert "belongs to another profile's runs" in json.dumps(done), done
