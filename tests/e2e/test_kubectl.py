"""The real kubectl (tools/kubectl: the upstream command at the release in its go.mod, built from
the Go module proxy) against `skiff up`, through the kubeconfig `skiff kubeconfig` writes: HTTPS
with the CA of the Skiff home, the token, a context per namespace."""
import base64
import json
import os
import subprocess

import pytest

from conftest import busybox_job_yaml

SOURCE = os.environ.get("SKIFF_SOURCE_DIR") or os.path.join(os.path.dirname(__file__), "..", "..")


@pytest.fixture(scope="module")
def kubectl_binary():
    built = subprocess.run([os.path.join(SOURCE, "tools", "kubectl", "build")],
                           capture_output=True, text=True, timeout=900)
    assert built.returncode == 0, "building kubectl (tools/kubectl/build):\n" + built.stderr
    return built.stdout.strip()


class Kubectl:
    def __init__(self, binary, skiff, kubeconfig):
        self.binary, self.skiff, self.kubeconfig = binary, skiff, kubeconfig

    def __call__(self, *args, input=None, check=True, token=None, timeout=60):
        cmd = [self.binary, "--kubeconfig", self.kubeconfig, *args]
        if token:
            cmd[3:3] = ["--token", token]
        res = subprocess.run(cmd, input=input, capture_output=True, text=True, timeout=timeout)
        if check and res.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed ({res.returncode}):\n"
                                 f"stdout: {res.stdout}\nstderr: {res.stderr}\n"
                                 f"server log:\n{self.skiff.server_log()}")
        return res


@pytest.fixture
def kubectl(kubectl_binary, skiff):
    return Kubectl(kubectl_binary, skiff, skiff.cli("kubeconfig", "--path").stdout.strip())


def test_the_kubeconfig_points_at_https_with_the_homes_ca(kubectl, skiff):
    config = json.loads(kubectl("config", "view", "--raw", "-o", "json").stdout)
    cluster = config["clusters"][0]["cluster"]
    assert cluster["server"].startswith("https://127.0.0.1:")
    with open(os.path.join(skiff.home, "tls", "ca.crt"), "rb") as f:
        assert base64.b64decode(cluster["certificate-authority-data"]) == f.read()
    assert "insecure-skip-tls-verify" not in cluster
    version = json.loads(kubectl("version", "-o", "json").stdout)
    assert version["serverVersion"]["gitVersion"].startswith("v1.")
    assert "version difference" not in kubectl("version").stderr, "no version skew to warn of"


def test_get_namespaces_and_api_resources(kubectl, tmp_path):
    assert kubectl("get", "ns", "-o", "name").stdout.split() == ["namespace/default"]
    # Aggregated discovery: with an empty cache, /api and /apis answer everything, and no group
    # version is asked for on its own.
    fresh = kubectl("api-resources", "--no-headers", "--cache-dir", str(tmp_path), "-v=6")
    asked = [line for line in fresh.stderr.splitlines() if "GET" in line and "/api" in line]
    assert any("/apis?" in line or "/apis\"" in line for line in asked), fresh.stderr
    assert not any("/apis/batch/v1" in line for line in asked), asked
    resources = kubectl("api-resources", "--no-headers").stdout
    rows = {line.split()[0]: line.split() for line in resources.splitlines()}
    assert {"pods", "jobs", "pipelineruns", "namespaces", "secrets"} <= set(rows), resources
    assert "batch/v1" in rows["jobs"] and "Job" in rows["jobs"]


def test_a_job_runs_and_logs_through_kubectl(kubectl):
    kubectl("create", "--validate=false", "-f", "-",
            input=busybox_job_yaml("hello", "echo hello from kubectl; echo second line"))
    kubectl("wait", "--for=condition=Complete", "job/hello", "--timeout=60s")
    assert kubectl("logs", "job/hello").stdout == "hello from kubectl\nsecond line\n"
    job = json.loads(kubectl("get", "job", "hello", "-o", "json").stdout)
    assert job["status"]["succeeded"] == 1
    described = kubectl("describe", "job", "hello").stdout
    assert "Pods Statuses:" in described
    # The job controller's events, as describe shows them (Type, Reason, Age, From, Message).
    events = described[described.index("Events:"):]
    assert "SuccessfulCreate" in events and "job-controller  Created pod: hello-" in events, events
    assert "Completed" in events and "Job completed" in events, events
    listed = kubectl("get", "events", "--field-selector", "involvedObject.name=hello").stdout
    assert "SuccessfulCreate" in listed and "job/hello" in listed, listed
    kubectl("delete", "job", "hello")
    assert "NotFound" in kubectl("get", "job", "hello", check=False).stderr


def test_logs_follow_a_running_pod_until_it_ends(kubectl):
    kubectl("create", "--validate=false", "-f", "-",
            input=busybox_job_yaml("ticker", "for i in 1 2 3; do echo tick $i; sleep 1; done"))
    kubectl("wait", "--for=jsonpath={.status.active}=1", "job/ticker", "--timeout=60s")
    # Started while the pod runs: kubectl returns once the pod has ended, with every line.
    followed = kubectl("logs", "-f", "job/ticker", timeout=60)
    assert followed.stdout == "tick 1\ntick 2\ntick 3\n", followed.stdout
    kubectl("wait", "--for=condition=Complete", "job/ticker", "--timeout=60s")
    assert kubectl("logs", "job/ticker", "--tail=1").stdout == "tick 3\n"


def test_another_users_token_sees_only_their_namespace_and_gets_403_elsewhere(kubectl, skiff):
    skiff.cli("user", "create", "kate")
    kate = skiff.cli("token", "create", "--user", "kate").stdout.strip()
    skiff.cli("profile", "create", "kates", "--owner", "kate")
    assert kubectl("get", "ns", "-o", "name", token=kate).stdout.split() == ["namespace/kates"]
    denied = kubectl("get", "pods", "-n", "default", token=kate, check=False)
    assert denied.returncode != 0
    assert "Error from server (Forbidden)" in denied.stderr, denied.stderr
    assert kubectl("get", "pods", "-n", "kates", token=kate).returncode == 0


def test_apply_creates_then_finds_nothing_to_change_and_the_server_checks_fields(kubectl):
    job = busybox_job_yaml("applied", "echo applied")
    assert kubectl("apply", "-f", "-", input=job).stdout.strip() == "job.batch/applied created"
    assert kubectl("apply", "-f", "-", input=job).stdout.strip() == "job.batch/applied unchanged"
    # kubectl leaves field checks to the server (fieldValidation=Strict): a misspelt field is
    # refused, naming it.
    wrong = busybox_job_yaml("misspelt", "true").replace("  backoffLimit: 0",
                                                          "  backofLimit: 0")
    refused = kubectl("apply", "-f", "-", input=wrong, check=False)
    assert refused.returncode != 0
    assert "spec.backofLimit" in refused.stderr, refused.stderr
    assert "NotFound" in kubectl("get", "job", "misspelt", check=False).stderr


def test_explain_reads_each_kinds_schema(kubectl):
    spec = kubectl("explain", "job.spec").stdout
    assert "KIND:       Job" in spec and "GROUP:      batch" in spec
    assert "backoffLimit\t<integer>" in spec and "template\t<Object>" in spec
    run = kubectl("explain", "pipelineruns").stdout
    assert "GROUP:      pipelines.kubeflow.org" in run and "spec\t<Object> -required-" in run
    missing = kubectl("explain", "job.spec.nothing", check=False)
    assert missing.returncode != 0 and 'field "nothing" does not exist' in missing.stderr


CONFIG_MAP = """
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  labels: {app: demo}
data:
  a: "1"
  b: "2"
"""


def test_apply_diff_and_patches_change_an_object_as_on_a_cluster(kubectl):
    kubectl("apply", "-f", "-", input=CONFIG_MAP)
    changed = CONFIG_MAP.replace('  b: "2"', '  c: "3"')
    diff = kubectl("diff", "-f", "-", input=changed, check=False)
    assert diff.returncode == 1, diff.stderr  # 1: differences found
    assert '-  b: "2"' in diff.stdout and '+  c: "3"' in diff.stdout
    # The second apply is a strategic merge patch computed from the last applied configuration:
    # b, which the file no longer has, goes.
    assert kubectl("apply", "-f", "-", input=changed).stdout.strip() == \
        "configmap/settings configured"
    assert kubectl("diff", "-f", "-", input=changed).returncode == 0
    kubectl("label", "configmap", "settings", "tier=back")
    kubectl("annotate", "configmap", "settings", "note=hi")
    kubectl("patch", "configmap", "settings", "--type=json",
            "-p", '[{"op": "add", "path": "/data/d", "value": "4"}]')
    kubectl("patch", "configmap", "settings", "--type=merge", "-p", '{"data": {"a": null}}')
    live = json.loads(kubectl("get", "configmap", "settings", "-o", "json").stdout)
    assert live["data"] == {"c": "3", "d": "4"}
    assert live["metadata"]["labels"] == {"app": "demo", "tier": "back"}
    assert live["metadata"]["annotations"]["note"] == "hi"
    failed = kubectl("patch", "configmap", "settings", "--type=json",
                     "-p", '[{"op": "test", "path": "/data/c", "value": "9"}]', check=False)
    assert failed.returncode != 0 and "the test failed" in failed.stderr, failed.stderr


def test_server_side_apply_owns_fields_and_names_another_managers(kubectl, skiff):
    settings = CONFIG_MAP.replace("name: settings", "name: ssa-settings")
    applied = kubectl("apply", "--server-side", "-f", "-", input=settings)
    assert applied.stdout.strip() == "configmap/ssa-settings serverside-applied"
    version = kubectl("get", "cm", "ssa-settings", "-o", "jsonpath={.metadata.resourceVersion}")
    kubectl("apply", "--server-side", "-f", "-", input=settings)
    assert kubectl("get", "cm", "ssa-settings",
                   "-o", "jsonpath={.metadata.resourceVersion}").stdout == version.stdout, \
        "the second apply changes nothing"
    live = json.loads(kubectl("get", "cm", "ssa-settings", "-o", "json",
                              "--show-managed-fields").stdout)
    [entry] = live["metadata"]["managedFields"]
    assert (entry["manager"], entry["operation"]) == ("kubectl", "Apply")
    assert entry["fieldsV1"]["f:data"] == {".": {}, "f:a": {}, "f:b": {}}

    # Another manager takes a field; applying the old value again names the conflict.
    kubectl("patch", "cm", "ssa-settings", "--type=merge", "-p", '{"data": {"a": "9"}}')
    refused = kubectl("apply", "--server-side", "-f", "-", input=settings, check=False)
    assert refused.returncode != 0
    assert 'conflict with "kubectl-patch"' in refused.stderr and ".data.a" in refused.stderr, \
        refused.stderr
    kubectl("apply", "--server-side", "--force-conflicts", "-f", "-", input=settings)
    # A field the configuration no longer names goes.
    kubectl("apply", "--server-side", "-f", "-", input=settings.replace('  b: "2"\n', ""))
    live = json.loads(kubectl("get", "cm", "ssa-settings", "-o", "json").stdout)
    assert live["data"] == {"a": "1"}
    assert "managedFields" not in live["metadata"], "kubectl hides them unless asked"
    shown = json.loads(skiff.cli("get", "configmaps", "ssa-settings", "-o", "json",
                                 "--show-managed-fields").stdout)
    assert [e["manager"] for e in shown["metadata"]["managedFields"]] == ["kubectl"]
    hidden = json.loads(skiff.cli("get", "configmaps", "ssa-settings", "-o", "json").stdout)
    assert "managedFields" not in hidden["metadata"], "and so does skiff get"

    # The same Job YAML runs when applied server-side.
    job = busybox_job_yaml("ssa-job", "echo applied server-side")
    assert kubectl("apply", "--server-side", "-f", "-", input=job).stdout.strip() == \
        "job.batch/ssa-job serverside-applied"
    kubectl("wait", "--for=condition=Complete", "job/ssa-job", "--timeout=60s")
    assert kubectl("logs", "job/ssa-job").stdout == "applied server-side\n"
    kubectl("apply", "--server-side", "-f", "-", input=job)


def test_finalizers_hold_a_deleted_object_until_they_are_removed(kubectl):
    held = CONFIG_MAP.replace("name: settings", "name: held").replace(
        "  labels: {app: demo}", "  labels: {app: demo}\n  finalizers: [example.com/hold]")
    kubectl("apply", "-f", "-", input=held)
    assert 'configmap "held" deleted' in kubectl("delete", "cm", "held", "--wait=false").stdout
    live = json.loads(kubectl("get", "cm", "held", "-o", "json").stdout)
    assert live["metadata"]["deletionTimestamp"], live["metadata"]
    kubectl("patch", "cm", "held", "--type=json",
            "-p", '[{"op": "remove", "path": "/metadata/finalizers"}]')
    assert "NotFound" in kubectl("get", "cm", "held", check=False).stderr
    kubectl("apply", "-f", "-", input=CONFIG_MAP.replace("name: settings", "name: kept"))
    assert "(server dry run)" in kubectl("delete", "cm", "kept", "--dry-run=server").stdout
    kubectl("get", "cm", "kept")  # still there
    # Orphaning an object that has no dependents deletes it as any delete does.
    assert 'configmap "kept" deleted' in kubectl("delete", "cm", "kept", "--cascade=orphan").stdout
    assert "NotFound" in kubectl("get", "cm", "kept", check=False).stderr


def process_running(marker):
    return subprocess.run(["pgrep", "-f", marker], capture_output=True).returncode == 0


def start_sleeper(kubectl, name):
    """A Job whose pod sleeps, its process found by the marker returned; waits until it runs."""
    marker = f"skiff-e2e-gc-{name}-{os.getpid()}"
    kubectl("create", "--validate=false", "-f", "-",
            input=busybox_job_yaml(name, f"sleep 300 # {marker}"))
    kubectl("wait", "--for=jsonpath={.status.ready}=1", f"job/{name}", "--timeout=60s")
    assert process_running(marker)
    return marker


def pods_of(kubectl, job):
    return json.loads(kubectl("get", "pods", "-l", f"job-name={job}", "-o", "json").stdout)["items"]


def test_deleting_an_owner_reaches_its_dependents_as_the_propagation_policy_says(kubectl, skiff):
    # Background, kubectl's default: the Job goes, then what names it its owner (its pod, and a
    # ConfigMap made its dependent by hand), and the pod's process stops.
    marker = start_sleeper(kubectl, "bg")
    uid = kubectl("get", "job", "bg", "-o", "jsonpath={.metadata.uid}").stdout
    kubectl("apply", "-f", "-", input=f"""
apiVersion: v1
kind: ConfigMap
metadata:
  name: bg-settings
  ownerReferences: [{{apiVersion: batch/v1, kind: Job, name: bg, uid: {uid}}}]
data: {{a: "1"}}
""")
    kubectl("delete", "job", "bg")
    skiff.wait_for(lambda: not pods_of(kubectl, "bg") and
                   "NotFound" in kubectl("get", "cm", "bg-settings", check=False).stderr,
                   what="the Job's dependents to be deleted")
    skiff.wait_for(lambda: not process_running(marker), what="the deleted pod's process to stop")

    # Orphan: the Job goes; its pod stays, runs on, and names no owner.
    marker = start_sleeper(kubectl, "orphaning")
    kubectl("delete", "job", "orphaning", "--cascade=orphan")
    assert "NotFound" in kubectl("get", "job", "orphaning", check=False).stderr
    pods = pods_of(kubectl, "orphaning")
    assert len(pods) == 1 and "ownerReferences" not in pods[0]["metadata"], pods
    assert process_running(marker)
    kubectl("delete", "pod", pods[0]["metadata"]["name"])
    skiff.wait_for(lambda: not process_running(marker), what="the orphan's process to stop")

    # Foreground: the pod goes first, the Job after it; kubectl waits for the Job to be gone.
    marker = start_sleeper(kubectl, "fg")
    kubectl("delete", "job", "fg", "--cascade=foreground")
    assert "NotFound" in kubectl("get", "job", "fg", check=False).stderr
    assert not pods_of(kubectl, "fg")
    skiff.wait_for(lambda: not process_running(marker), what="the pod's process to stop")


def test_a_pod_of_its_own_runs_and_an_orphaned_pod_is_followed_to_its_end(kubectl):
    kubectl("apply", "-f", "-", input="""
apiVersion: v1
kind: Pod
metadata:
  name: solo
spec:
  restartPolicy: Never
  containers:
  - name: main
    image: busybox
    command: ["sh", "-c", "echo hello from a pod of its own"]
""")
    kubectl("wait", "--for=jsonpath={.status.phase}=Succeeded", "pod/solo", "--timeout=60s")
    assert kubectl("logs", "solo").stdout == "hello from a pod of its own\n"
    empty = kubectl("apply", "-f", "-", check=False,
                    input="{apiVersion: v1, kind: Pod, metadata: {name: empty}, spec: {}}")
    assert empty.returncode != 0 and "spec.containers" in empty.stderr, empty.stderr

    kubectl("create", "--validate=false", "-f", "-",
            input=busybox_job_yaml("left", "sleep 2; echo finished alone"))
    kubectl("wait", "--for=jsonpath={.status.ready}=1", "job/left", "--timeout=60s")
    kubectl("delete", "job", "left", "--cascade=orphan")
    name = pods_of(kubectl, "left")[0]["metadata"]["name"]
    kubectl("wait", "--for=jsonpath={.status.phase}=Succeeded", f"pod/{name}", "--timeout=60s")
    assert kubectl("logs", name).stdout == "finished alone\n"


def test_each_kinds_crd_lists_the_columns_that_show_a_field(kubectl):
    names = kubectl("get", "crd", "-o", "name").stdout.split()
    assert "customresourcedefinition.apiextensions.k8s.io/pipelineruns.pipelines.kubeflow.org" \
        in names, names
    crd = json.loads(kubectl("get", "crd", "profiles.kubeflow.org", "-o", "json").stdout)
    columns = crd["spec"]["versions"][0]["additionalPrinterColumns"]
    assert columns == [{"name": "Owner", "type": "string", "jsonPath": ".spec.owner.name"},
                       {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}]


def test_a_custom_kind_is_applied_and_patched_with_merge_patches(kubectl):
    run = """
apiVersion: kubeflow.org/v1
kind: Profile
metadata:
  name: team-x
spec:
  owner: {kind: User, name: admin}
"""
    assert kubectl("apply", "-f", "-", input=run).stdout.strip() == \
        "profile.kubeflow.org/team-x created"
    assert kubectl("apply", "-f", "-", input=run).stdout.strip() == \
        "profile.kubeflow.org/team-x unchanged"
    kubectl("label", "profile", "team-x", "cost-center=42")
    smp = kubectl("patch", "profile", "team-x", "--type=strategic", "-p", '{"metadata": {}}',
                  check=False)
    assert smp.returncode != 0
    assert "accepted media types are application/merge-patch+json" in smp.stderr, smp.stderr
    assert "team-x" in kubectl("get", "ns", "-o", "name").stdout


def test_auth_can_i_tells_what_each_users_role_allows(kubectl, skiff):
    assert kubectl("auth", "can-i", "create", "jobs").stdout.strip() == "yes"  # the admin
    skiff.cli("user", "create", "kate")
    kate = skiff.cli("token", "create", "--user", "kate").stdout.strip()
    skiff.cli("profile", "create", "kates", "--owner", "kate")
    skiff.cli("user", "create", "vic")
    vic = skiff.cli("token", "create", "--user", "vic").stdout.strip()
    skiff.cli("role", "grant", "vic", "--role", "view", "-n", "kates")

    def can(token, *args):
        res = kubectl("auth", "can-i", *args, token=token, check=False)
        assert res.returncode in (0, 1), res.stderr
        return res.stdout.strip().split(" ")[0]

    assert can(kate, "create", "jobs", "-n", "kates") == "yes"
    assert can(kate, "create", "jobs", "-n", "default") == "no"
    assert can(vic, "get", "pods", "-n", "kates") == "yes"
    assert can(vic, "get", "secrets", "-n", "kates") == "no"  # view reads no Secrets
    assert can(vic, "delete", "pipelineruns", "-n", "kates") == "no"
    # What can-i says is what the server does.
    assert can(vic, "create", "configmaps", "-n", "kates") == "no"
    refused = kubectl("create", "configmap", "x", "-n", "kates", token=vic, check=False)
    assert refused.returncode != 0 and 'user "vic" may not create' in refused.stderr
    rules = kubectl("auth", "can-i", "--list", "-n", "kates", token=vic).stdout
    assert "pods" in rules and "[get list watch]" in rules and "secrets" not in rules


def test_typed_creates_arrive_in_protobuf_and_are_read(kubectl):
    kubectl("create", "configmap", "made", "--from-literal=k=v", "--from-literal=x=y")
    kubectl("create", "secret", "generic", "sec", "--from-literal=pw=hunter2")
    assert json.loads(kubectl("get", "cm", "made", "-o", "jsonpath={.data}").stdout) == \
        {"k": "v", "x": "y"}
    data = json.loads(kubectl("get", "secret", "sec", "-o", "jsonpath={.data}").stdout)
    assert base64.b64decode(data["pw"]) == b"hunter2"


def test_get_prints_each_kinds_columns_and_watches_rows(kubectl):
    kubectl("apply", "-f", "-", input=busybox_job_yaml("slow", "sleep 2"))
    header = kubectl("get", "jobs").stdout.splitlines()[0].split()
    assert header == ["NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE"]
    watched = kubectl("get", "jobs", "-w", "--request-timeout=8s", check=False, timeout=30)
    rows = [line.split() for line in watched.stdout.splitlines()[1:]]
    assert rows and rows[-1][:3] == ["slow", "Complete", "1/1"], watched.stdout
    wide = kubectl("get", "pods", "-o", "wide", "--show-labels").stdout.splitlines()
    assert wide[0].split()[-1] == "LABELS" and "job-name=slow" in wide[1]
    assert kubectl("get", "jobs", "-A", "--no-headers").stdout.split()[:2] == ["default", "slow"]
