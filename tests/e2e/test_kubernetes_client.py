"""The `kubernetes` Python client (the one every Kubeflow SDK is built on) against `skiff up`:
discovery and version, CRUD and watch of a Job and of a PipelineRun, and another user's token
refused with the API server's 403. (kubectl sends a token only over TLS: it comes with HTTPS.)"""
import time

import pytest
from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException

from test_schemas import TINY_IR


def api_for(skiff, token=None):
    cfg = client.Configuration()
    cfg.host = skiff.url
    cfg.api_key = {"authorization": "Bearer " + (token or skiff.token)}
    return client.ApiClient(cfg)


def busybox_job(name, script):
    return client.V1Job(
        metadata=client.V1ObjectMeta(name=name),
        spec=client.V1JobSpec(template=client.V1PodTemplateSpec(spec=client.V1PodSpec(
            restart_policy="Never",
            containers=[client.V1Container(name="main", image="busybox",
                                           command=["sh", "-c", script])]))))


def test_discovery_finds_every_group_and_the_core_kinds(skiff):
    api = api_for(skiff)
    assert client.VersionApi(api).get_code().git_version.startswith("v1.")
    assert client.CoreApi(api).get_api_versions().versions == ["v1"]
    groups = {g.name: g for g in client.ApisApi(api).get_api_versions().groups}
    assert {"batch", "pipelines.kubeflow.org", "kubeflow.org"} <= set(groups), groups.keys()
    assert groups["batch"].preferred_version.group_version == "batch/v1"
    core = {r.name: r for r in client.CoreV1Api(api).get_api_resources().resources}
    assert core["pods"].kind == "Pod" and core["pods"].namespaced
    assert "pods/log" in core and "secrets" in core
    batch = {r.name: r for r in client.BatchV1Api(api).get_api_resources().resources}
    assert batch["jobs"].short_names == ["job"] and "watch" in batch["jobs"].verbs


def test_a_job_is_created_watched_read_and_deleted_through_the_client(skiff):
    api = api_for(skiff)
    batch = client.BatchV1Api(api)
    job = busybox_job("k8s-pi", "echo from-the-k8s-client")
    dry = batch.create_namespaced_job("default", job, dry_run="All")
    assert dry.spec.backoff_limit == 6
    assert batch.list_namespaced_job("default").items == [], "a dry run stores nothing"
    created = batch.create_namespaced_job("default", job)
    assert created.metadata.uid and created.spec.backoff_limit == 6  # defaulted as Kubernetes
    succeeded = None
    w = watch.Watch()
    for event in w.stream(batch.list_namespaced_job, "default", timeout_seconds=60):
        status = event["object"].status
        if event["object"].metadata.name == "k8s-pi" and status and status.succeeded:
            succeeded = event["type"]
            w.stop()
    assert succeeded == "MODIFIED"
    pods = client.CoreV1Api(api).list_namespaced_pod("default", label_selector="job-name=k8s-pi")
    [pod] = pods.items
    assert pod.status.phase == "Succeeded"
    assert pod.status.container_statuses[0].image == "busybox"
    log = client.CoreV1Api(api).read_namespaced_pod_log(pod.metadata.name, "default")
    assert "from-the-k8s-client" in log
    batch.delete_collection_namespaced_job("default", label_selector="nothing=selected")
    assert batch.read_namespaced_job("k8s-pi", "default").metadata.uid == created.metadata.uid
    batch.delete_namespaced_job("k8s-pi", "default")
    with pytest.raises(ApiException) as gone:
        batch.read_namespaced_job("k8s-pi", "default")
    assert gone.value.status == 404


def test_a_pipeline_run_is_a_custom_object_to_the_client(skiff):
    custom = client.CustomObjectsApi(api_for(skiff))
    group, version, plural = "pipelines.kubeflow.org", "v2beta1", "pipelineruns"
    run = {"apiVersion": f"{group}/{version}", "kind": "PipelineRun",
           "metadata": {"name": "from-k8s"}, "spec": {"pipelineSpec": TINY_IR}}
    created = custom.create_namespaced_custom_object(group, version, "default", plural, run)
    assert created["metadata"]["uid"]
    w = watch.Watch()
    state = None
    for event in w.stream(custom.list_namespaced_custom_object, group, version, "default",
                          plural, timeout_seconds=120):
        state = event["object"].get("status", {}).get("state")
        if state in ("SUCCEEDED", "FAILED"):
            w.stop()
    assert state == "SUCCEEDED"
    patched = custom.patch_namespaced_custom_object(
        group, version, "default", plural, "from-k8s", {"metadata": {"labels": {"by": "k8s"}}})
    assert patched["metadata"]["labels"] == {"by": "k8s"}
    custom.delete_namespaced_custom_object(group, version, "default", plural, "from-k8s")
    listed = custom.list_namespaced_custom_object(group, version, "default", plural)
    assert [o["metadata"]["name"] for o in listed["items"]] == []


def test_another_users_token_gets_the_api_servers_403(skiff):
    skiff.cli("user", "create", "kate")
    kate = skiff.cli("token", "create", "--user", "kate").stdout.strip()
    api = api_for(skiff, kate)
    with pytest.raises(ApiException) as denied:
        client.CoreV1Api(api).list_namespaced_pod("default")
    assert denied.value.status == 403
    assert '"reason":"Forbidden"' in denied.value.body.replace(" ", "")
    with pytest.raises(ApiException) as unauthenticated:
        client.CoreV1Api(api_for(skiff, "skf_not_a_token")).list_namespaced_pod("default")
    assert unauthenticated.value.status == 401

    # Profiles are namespaces: each user lists the ones they have a role in.
    skiff.cli("profile", "create", "kates", "--owner", "kate")
    mine = client.CoreV1Api(api).list_namespace()
    assert [n.metadata.name for n in mine.items] == ["kates"]
    assert mine.items[0].status.phase == "Active"
    everything = client.CoreV1Api(api_for(skiff)).list_namespace()
    assert {"default", "kates"} <= {n.metadata.name for n in everything.items}
    with pytest.raises(ApiException) as hidden:
        client.CoreV1Api(api).read_namespace("default")
    assert hidden.value.status == 403


def test_skiff_kubeconfig_is_what_load_kube_config_reads(skiff):
    path = skiff.cli("kubeconfig", "--path").stdout.strip()
    assert path == f"{skiff.home}/kubeconfig"
    assert oct(__import__("os").stat(path).st_mode & 0o777) == "0o600"
    contexts, current = config.list_kube_config_contexts(config_file=path)
    assert current["name"] == "skiff-default" and current["context"]["namespace"] == "default"
    api = config.new_client_from_config(config_file=path)
    assert client.CoreV1Api(api).list_namespaced_pod("default").items == []
    printed = skiff.cli("kubeconfig").stdout
    assert "current-context: skiff-default" in printed and "kind: Config" in printed


def test_a_watch_resumes_across_a_restart_from_its_last_version(skiff):
    client.BatchV1Api(api_for(skiff)).create_namespaced_job("default",
                                                            busybox_job("before", "true"))
    version = client.BatchV1Api(api_for(skiff)).list_namespaced_job(
        "default").metadata.resource_version
    skiff.stop()
    skiff.start()
    batch = client.BatchV1Api(api_for(skiff))
    batch.create_namespaced_job("default", busybox_job("after", "true"))
    seen = []
    for event in watch.Watch().stream(batch.list_namespaced_job, "default",
                                      resource_version=version, timeout_seconds=3):
        seen.append((event["type"], event["object"].metadata.name))
    assert ("ADDED", "after") in seen, seen
    assert ("ADDED", "before") not in seen, "changes up to the version are not sent again"


def test_a_watch_from_a_compacted_version_gets_410_and_the_client_lists_afresh(skiff):
    # A second of change history (the default keeps five minutes, as the API server keeps etcd's).
    skiff.stop()
    skiff.extra_args += ["--watch-history", "1"]
    skiff.start()
    batch = client.BatchV1Api(api_for(skiff))
    batch.create_namespaced_job("default", busybox_job("old", "true"))
    version = batch.list_namespaced_job("default").metadata.resource_version
    batch.create_namespaced_job("default", busybox_job("newer", "true"))
    deadline = time.monotonic() + 30
    while True:
        try:
            seen = [e["object"].metadata.name for e in watch.Watch().stream(
                batch.list_namespaced_job, "default", resource_version=version,
                timeout_seconds=1)]
            assert "newer" in seen, "every change, while the history has it"
        except ApiException as e:
            assert e.status == 410, e
            assert "Expired: too old resource version: " + version in e.reason, e.reason
            break
        assert time.monotonic() < deadline, "the history was never compacted"
        time.sleep(0.5)
    # As client-go's reflector does: list afresh, then watch from the list's version.
    listed = batch.list_namespaced_job("default")
    assert {"old", "newer"} <= {j.metadata.name for j in listed.items}
    batch.create_namespaced_job("default", busybox_job("latest", "true"))
    seen = [e["object"].metadata.name for e in watch.Watch().stream(
        batch.list_namespaced_job, "default", resource_version=listed.metadata.resource_version,
        timeout_seconds=2)]
    assert "latest" in seen, seen


def test_a_pods_log_follows_tails_and_limits_as_the_api_server_serves_it(skiff):
    api = api_for(skiff)
    core = client.CoreV1Api(api)
    client.BatchV1Api(api).create_namespaced_job("default", busybox_job(
        "talker", "for i in 1 2 3 4 5; do echo line-$i; sleep 0.3; done"))
    pod = skiff.wait_for(lambda: core.list_namespaced_pod(
        "default", label_selector="job-name=talker").items, what="the pod")[0].metadata.name
    followed = core.read_namespaced_pod_log(pod, "default", follow=True,
                                            _preload_content=False).data.decode()
    assert followed == "".join(f"line-{i}\n" for i in range(1, 6)), followed
    assert core.read_namespaced_pod_log(pod, "default", tail_lines=2) == "line-4\nline-5\n"
    assert core.read_namespaced_pod_log(pod, "default", limit_bytes=6) == "line-1"
    with pytest.raises(ApiException) as unkept:
        core.read_namespaced_pod_log(pod, "default", timestamps=True)
    assert unkept.value.status == 400
