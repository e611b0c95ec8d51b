"""Every field of every kind, the wrong type: the API refuses it with a 4xx naming the field and the
server stays up, across a restart. Generated from the kinds' schemas as the server serves them
(its CRDs), so a kind added later is covered without editing this file."""
import json
import sqlite3

import pytest

CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
MAX_DEPTH = 12          # how deep into a schema fields are mutated
MAX_FIELDS_PER_KIND = 400
# Metadata the client does not choose: checked against the URL or set by the server.
SERVER_SET = {"name", "namespace", "resourceVersion", "uid", "creationTimestamp", "generation",
              "deletionTimestamp"}
# The smallest pipeline: one container task, and an integer parameter `n`.
TINY_IR = {
    "pipelineInfo": {"name": "tiny"},
    "schemaVersion": "2.1.0", "sdkVersion": "kfp-2.14.3",
    "root": {"dag": {"tasks": {"echo": {"taskInfo": {"name": "echo"},
                                        "componentRef": {"name": "comp-echo"}}}},
             "inputDefinitions": {"parameters": {"n": {"parameterType": "NUMBER_INTEGER",
                                                       "defaultValue": 1}}}},
    "components": {"comp-echo": {"executorLabel": "exec-echo"}},
    "deploymentSpec": {"executors": {"exec-echo": {"container": {
        "image": "alpine", "command": ["echo", "hi"]}}}},
}


def wrong_values(schema):
    """Values of the wrong type for `schema` (none for a field that takes anything)."""
    if schema.get("x-kubernetes-int-or-string"):
        return [True, {"a": 1}]
    t = schema.get("type")
    if t == "string":
        return [5, {"a": "b"}] + (["not-one-of-them"] if "enum" in schema else [])
    if t == "integer":
        return ["x", 1.5, 9.9e30]
    if t == "number":
        return ["x"]
    if t == "boolean":
        return ["yes", 1]
    if t == "array":
        return ["x", {"a": 1}]
    if t == "object":
        return ["x", [1]]
    return []


def fields(schema, path=(), depth=0):
    """(path, schema) of every field under `schema`; a path step is a key, or 0 for an item."""
    if depth > MAX_DEPTH:
        return
    for name, sub in sorted(schema.get("properties", {}).items()):
        p = path + (name,)
        yield p, sub
        yield from fields(sub, p, depth + 1)
    if "items" in schema:
        p = path + (0,)
        yield p, schema["items"]
        yield from fields(schema["items"], p, depth + 1)
    extra = schema.get("additionalProperties")
    if isinstance(extra, dict):
        p = path + ("k",)
        yield p, extra
        yield from fields(extra, p, depth + 1)


def field_name(path):
    out = ""
    for step in path:
        if step == 0:
            out += "[0]"
        else:
            out += ("." if out else "") + step
    return out


def put_at(obj, path, value):
    """Sets obj[path] = value, creating objects (and one-item arrays) on the way."""
    def container(step):
        return [None] if step == 0 else {}

    cur = obj
    for i, step in enumerate(path[:-1]):
        nxt = path[i + 1]
        if step == 0:
            if not isinstance(cur[0], (dict, list)):
                cur[0] = container(nxt)
            cur = cur[0]
        else:
            if not isinstance(cur.get(step), (dict, list)):
                cur[step] = container(nxt)
            cur = cur[step]
    if path[-1] == 0:
        cur[0] = value
    else:
        cur[path[-1]] = value
    return obj


def base_object(crd, name):
    spec = crd["spec"]
    version = spec["versions"][0]["name"]
    api_version = f"{spec['group']}/{version}" if spec["group"] else version
    return {"apiVersion": api_version, "kind": spec["names"]["kind"], "metadata": {"name": name}}


def collection_path(crd, namespace):
    spec = crd["spec"]
    version = spec["versions"][0]["name"]
    prefix = f"/apis/{spec['group']}/{version}" if spec["group"] else f"/api/{version}"
    if spec["scope"] == "Namespaced":
        return f"{prefix}/namespaces/{namespace}/{spec['names']['plural']}"
    return f"{prefix}/{spec['names']['plural']}"


def valid_value(schema, depth=0):
    """A value `schema` accepts, with every required field filled (None when it cannot say)."""
    if "default" in schema:
        return schema["default"]
    if schema.get("x-kubernetes-int-or-string"):
        return 1
    t = schema.get("type")
    if t == "string":
        return schema["enum"][0] if "enum" in schema else "x"
    if t == "integer":
        return max(1, schema.get("minimum", 1))
    if t == "number":
        return 1
    if t == "boolean":
        return False
    if t == "array":
        return []
    if t == "object" or "properties" in schema:
        if depth > MAX_DEPTH:
            return None
        out = {}
        for name in schema.get("required", []):
            sub = schema.get("properties", {}).get(name, {})
            value = valid_value(sub, depth + 1)
            if value is None:
                return None
            out[name] = value
        return out
    if schema.get("x-kubernetes-preserve-unknown-fields"):
        return {}
    return None


def creatable(skiff, crds, name):
    """(crd, url of the object) for each kind of which an object made of its schema's required
    fields alone is accepted; kinds whose rules ask for more (a pipeline spec, a user that exists)
    are left out."""
    out = []
    for crd in crds:
        schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
        obj = valid_value(schema)
        if obj is None:
            continue
        obj.update(base_object(crd, name))
        url = collection_path(crd, "default")
        r = skiff.http("POST", url, json=obj)
        if r.status_code == 201:
            out.append((crd, f"{url}/{name}"))
    return out


def expect_refused(failures, what, name, r):
    """A 4xx, and a 422 names `name` (or a field under it) among its causes."""
    if not 400 <= r.status_code < 500:
        failures.append(f"{what}: {r.status_code} {r.text[:200]}")
        return
    causes = r.json().get("details", {}).get("causes", [])
    if r.status_code == 422 and not any(c.get("field", "").startswith(name) for c in causes):
        failures.append(f"{what}: 422 without the field: {r.text[:300]}")


def test_every_registered_kind_declares_its_fields(skiff):
    """A kind registered without a schema is served as 'anything goes'; none may be."""
    crds = skiff.http("GET", CRDS).json()["items"]
    assert len(crds) >= 12
    for crd in crds:
        schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
        declared = set(schema.get("properties", {})) - {"apiVersion", "kind", "metadata"}
        assert declared and not schema.get("x-kubernetes-preserve-unknown-fields"), (
            f"{crd['metadata']['name']} is registered without a schema of its fields")


def test_wrong_types_through_status_and_patches_are_refused(skiff):
    """Every field of every kind that can be created from its schema alone, the wrong type, sent
    three more ways: a merge patch of the object, a JSON patch of it, and a merge patch of its
    /status (status fields); each is refused naming the field, and the object is unchanged.
    (JSON patch is answered 415 for now; once it is implemented, this holds it to the schema.)"""
    crds = skiff.http("GET", CRDS).json()["items"]
    made = creatable(skiff, crds, "target")
    assert len(made) >= 5, [c["metadata"]["name"] for c, _ in made]
    tried = 0
    failures = []
    for crd, url in made:
        kind = crd["spec"]["names"]["kind"]
        schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
        before = skiff.http("GET", url).json()
        count = 0
        for path, sub in fields(schema):
            if path[0] in ("apiVersion", "kind", "metadata") or 0 in path or "k" in path:
                continue  # identity and metadata: the create test; into lists and maps: below
            for value in wrong_values(sub)[:1]:
                if count >= MAX_FIELDS_PER_KIND // 4:
                    break
                count += 1
                tried += 1
                name = field_name(path)
                patch = put_at({}, path, value)
                if path[0] == "status":
                    r = skiff.http("PATCH", url + "/status", data=json.dumps(patch),
                                   headers={"Content-Type": "application/merge-patch+json"})
                    expect_refused(failures, f"{kind} /status {name}={value!r}", name, r)
                    continue
                r = skiff.http("PATCH", url, data=json.dumps(patch),
                               headers={"Content-Type": "application/merge-patch+json"})
                expect_refused(failures, f"{kind} merge patch {name}={value!r}", name, r)
                ops = []
                for i in range(1, len(path)):  # make the parents, then the wrong value
                    if not isinstance(get_at(before, path[:i]), dict):
                        ops.append({"op": "add", "path": pointer(path[:i]), "value": {}})
                ops.append({"op": "add", "path": pointer(path), "value": value})
                r = skiff.http("PATCH", url, data=json.dumps(ops),
                               headers={"Content-Type": "application/json-patch+json"})
                expect_refused(failures, f"{kind} JSON patch {name}={value!r}", name, r)
        after = skiff.http("GET", url).json()
        # What users own is unchanged (its controller may have written its status meanwhile).
        mine = lambda o: {k: v for k, v in o.items() if k not in ("metadata", "status")}
        if mine(after) != mine(before):
            failures.append(f"{kind}: a refused patch changed the object: {mine(after)}")
    assert tried > 50, tried
    assert not failures, "\n".join(failures[:40])
    assert skiff.http("GET", "/healthz").status_code == 200


def get_at(obj, path):
    for step in path:
        if not isinstance(obj, dict) or step not in obj:
            return None
        obj = obj[step]
    return obj


def pointer(path):
    return "".join("/" + str(step).replace("~", "~0").replace("/", "~1") for step in path)


def test_every_kind_is_served_with_a_schema(skiff):
    r = skiff.http("GET", CRDS)
    assert r.status_code == 200, r.text
    kinds = {c["spec"]["names"]["kind"]: c for c in r.json()["items"]}
    for kind in ["Job", "Pod", "Secret", "ConfigMap", "Profile", "PipelineRun", "RecurringRun",
                 "Experiment", "Pipeline", "PipelineVersion", "User", "RoleBinding"]:
        assert kind in kinds, sorted(kinds)
        schema = kinds[kind]["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
        assert schema["type"] == "object" and "metadata" in schema["properties"], kind
    one = skiff.http("GET", CRDS + "/recurringruns.pipelines.kubeflow.org")
    assert one.status_code == 200
    assert one.json()["spec"]["names"]["plural"] == "recurringruns"
    assert skiff.http("GET", CRDS + "/nope.example.com").status_code == 404


def test_a_wrong_type_in_any_field_of_any_kind_is_refused_and_the_server_survives(skiff):
    crds = skiff.http("GET", CRDS).json()["items"]
    tried = 0
    failures = []
    for crd in crds:
        schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
        url = collection_path(crd, "default")
        kind = crd["spec"]["names"]["kind"]
        count = 0
        for path, sub in fields(schema):
            if path[0] in ("apiVersion", "kind") or (
                    path[0] == "metadata" and len(path) == 2 and path[1] in SERVER_SET):
                continue  # identity fields are checked against the URL; the server sets others
            if path[0] == "status":
                continue  # a create drops the status (see the status test below)
            for value in wrong_values(sub):
                if count >= MAX_FIELDS_PER_KIND:
                    break
                obj = base_object(crd, f"wrong-{tried}")
                try:
                    put_at(obj, path, value)
                except (ValueError, TypeError, IndexError):
                    continue
                count += 1
                tried += 1
                r = skiff.http("POST", url, data=json.dumps(obj),
                               headers={"Content-Type": "application/json"})
                name = field_name(path)
                if not 400 <= r.status_code < 500:
                    failures.append(f"{kind} {name}={value!r}: {r.status_code} {r.text[:200]}")
                    continue
                causes = r.json().get("details", {}).get("causes", [])
                named = [c for c in causes if c.get("field", "").startswith(name)]
                if r.status_code == 422 and not named:
                    failures.append(f"{kind} {name}={value!r}: 422 without the field: {r.text[:300]}")
    assert tried > 200, tried
    assert not failures, "\n".join(failures[:40])
    assert skiff.http("GET", "/healthz").status_code == 200
    skiff.stop()
    skiff.start()
    assert skiff.http("GET", "/healthz").status_code == 200


def test_a_forged_status_is_refused(skiff):
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
              "stringData": {"k": "v"}}
    assert skiff.http("POST", "/api/v1/namespaces/default/secrets", json=secret).status_code == 201
    rr = {"apiVersion": "pipelines.kubeflow.org/v2beta1", "kind": "RecurringRun",
          "metadata": {"name": "nightly"},
          "spec": {"pipelineSpec": TINY_IR, "trigger": {"intervalSecond": 3600}, "enabled": False}}
    url = "/apis/pipelines.kubeflow.org/v2beta1/namespaces/default/recurringruns"
    assert skiff.http("POST", url, json=rr).status_code == 201
    for status in ({"firedRuns": "x"}, {"conditions": "x"}, {"lastScheduledAt": 5}):
        r = skiff.http("PATCH", url + "/nightly/status", json={"status": status},
                       headers={"Content-Type": "application/merge-patch+json"})
        assert r.status_code == 422, (status, r.text)
        assert r.json()["details"]["causes"][0]["field"].startswith("status."), r.text


def test_recurring_run_enabled_yes_is_a_422_naming_the_field(skiff):
    doc = """apiVersion: pipelines.kubeflow.org/v2beta1
kind: RecurringRun
metadata: {name: rr}
spec:
  pipelineSpec: """ + json.dumps(TINY_IR) + """
  trigger: {intervalSecond: 60}
  enabled: "yes"
"""
    path = skiff.home + "/rr.yaml"
    with open(path, "w") as f:
        f.write(doc)
    res = skiff.cli("apply", "-f", path, check=False)
    assert res.returncode != 0
    assert "spec.enabled: expected boolean, got string" in res.stderr + res.stdout, res.stderr
    r = skiff.http("POST", "/apis/pipelines.kubeflow.org/v2beta1/namespaces/default/recurringruns",
                   data=doc, headers={"Content-Type": "application/yaml"})
    assert r.status_code == 422
    assert r.json()["details"]["causes"][0]["field"] == "spec.enabled"
    assert skiff.http("GET", "/healthz").status_code == 200


def test_an_object_stored_before_its_schema_is_reported_and_the_server_stays_up(skiff):
    url = "/apis/pipelines.kubeflow.org/v2beta1/namespaces/default/recurringruns"
    rr = {"apiVersion": "pipelines.kubeflow.org/v2beta1", "kind": "RecurringRun",
          "metadata": {"name": "old"},
          "spec": {"pipelineSpec": TINY_IR, "trigger": {"intervalSecond": 60}, "enabled": False}}
    assert skiff.http("POST", url, json=rr).status_code == 201
    skiff.stop()
    # Written straight to the store, as an older Skiff without the schema would have kept it.
    db = sqlite3.connect(skiff.home + "/skiff.db")
    (data,) = db.execute("SELECT data FROM objects WHERE type = ? AND name = 'old'",
                         ("recurringruns.pipelines.kubeflow.org",)).fetchone()
    obj = json.loads(data)
    obj["spec"]["enabled"] = "yes"
    obj["spec"]["noCatchup"] = "yes"
    db.execute("UPDATE objects SET data = ? WHERE type = ? AND name = 'old'",
               (json.dumps(obj), "recurringruns.pipelines.kubeflow.org"))
    db.commit()
    db.close()
    for _ in range(2):  # and again after a restart
        skiff.start()

        def reported():
            got = skiff.http("GET", url + "/old").json()
            for c in got.get("status", {}).get("conditions", []):
                if c.get("type") == "Invalid":
                    return c
            return None

        c = skiff.wait_for(reported, timeout=30, what="the Invalid condition")
        assert c["reason"] == "SchemaViolation"
        assert "spec.enabled: expected boolean, got string" in c["message"], c
        assert "spec.noCatchup" in c["message"], c
        metrics = skiff.http("GET", "/metrics").text
        assert 'skiff_invalid_objects{controller="recurringruns"} 1' in metrics
        assert skiff.http("GET", "/healthz").status_code == 200
        described = skiff.cli("describe", "recurringrun", "old").stdout
        assert "Invalid" in described and "spec.enabled" in described, described
        skiff.stop()
    skiff.start()
    # Fixed through the API: reconciled again, the condition goes once the loop looks at it.
    fixed = skiff.http("PATCH", url + "/old", json={"spec": {"enabled": False, "noCatchup": False}},
                       headers={"Content-Type": "application/merge-patch+json"})
    assert fixed.status_code == 200, fixed.text


def test_every_writer_admits_a_pipeline_run_the_same_way(skiff, tmp_path):
    """A parameter of the wrong type, written by each writer of PipelineRuns: the generic API and
    the KFP API answer 422 naming it, `skiff run --local` refuses it (and a name that is no name),
    and a RecurringRun that would fire such runs is refused when it is created. (A run the
    RecurringRun controller fires passes the same admission: see kfp_api_test.cc.)"""
    ns_url = "/apis/pipelines.kubeflow.org/v2beta1/namespaces/default"
    run = {"apiVersion": "pipelines.kubeflow.org/v2beta1", "kind": "PipelineRun",
           "metadata": {"name": "bad"},
           "spec": {"pipelineSpec": TINY_IR, "parameters": {"n": "seven"}}}
    r = skiff.http("POST", ns_url + "/pipelineruns", json=run)
    assert r.status_code == 422, r.text
    assert "parameter 'n'" in r.json()["message"], r.text

    r = skiff.http("POST", "/apis/v2beta1/runs",
                   json={"display_name": "bad", "pipeline_spec": TINY_IR,
                         "runtime_config": {"parameters": {"n": "seven"}}})
    assert r.status_code == 422, r.text
    assert "parameter 'n'" in r.json()["message"], r.text

    rr = {"apiVersion": "pipelines.kubeflow.org/v2beta1", "kind": "RecurringRun",
          "metadata": {"name": "bad"},
          "spec": {"pipelineSpec": TINY_IR, "parameters": {"n": "seven"},
                   "trigger": {"intervalSecond": 60}}}
    r = skiff.http("POST", ns_url + "/recurringruns", json=rr)
    assert r.status_code == 422, r.text
    assert "parameter 'n'" in r.json()["message"], r.text

    ir = tmp_path / "tiny.json"
    ir.write_text(json.dumps(TINY_IR))
    res = skiff.cli("run", str(ir), "--local", "-p", "n=seven", check=False)
    assert res.returncode != 0
    assert "parameter 'n'" in res.stderr, res.stderr
    # A name that is no name reaches the store only through admission: refused there.
    res = skiff.cli("run", str(ir), "--local", "--name", "../evil", check=False)
    assert res.returncode != 0
    assert "metadata.name" in res.stderr and "not a valid name" in res.stderr, res.stderr
    assert skiff.http("GET", ns_url + "/pipelineruns").json()["items"] == []


def test_strict_field_validation_refuses_unknown_fields_at_every_depth(skiff):
    """?fieldValidation=Strict refuses an unknown field wherever it is, naming it; the default
    prunes it with a Warning header. A field Kubernetes has and Skiff does not act on is kept."""
    jobs = "/apis/batch/v1/namespaces/default/jobs"
    runs = "/apis/pipelines.kubeflow.org/v2beta1/namespaces/default/pipelineruns"

    def job(name, container_extra):
        container = {"name": "c", "image": "busybox", "command": ["true"], **container_extra}
        return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name},
                "spec": {"template": {"spec": {"containers": [container],
                                               "restartPolicy": "Never",
                                               "tolerations": [{"key": "gpu"}]}}}}

    def run(name, spec_extra):
        return {"apiVersion": "pipelines.kubeflow.org/v2beta1", "kind": "PipelineRun",
                "metadata": {"name": name}, "spec": {"pipelineSpec": TINY_IR, **spec_extra}}

    cases = [(jobs, job, {"bogus": 1}, "spec.template.spec.containers[0].bogus"),
             (jobs, job, {"resources": {"limits": {"cpu": "1"}, "bogus": 1}},
              "spec.template.spec.containers[0].resources.bogus"),
             (runs, run, {"bogus": 1}, "spec.bogus"),
             (runs, run, {"pipelineVersionReference": {"bogus": "x"}},
              "spec.pipelineVersionReference.bogus")]
    for i, (url, make, extra, field) in enumerate(cases):
        r = skiff.http("POST", url + "?fieldValidation=Strict", json=make(f"strict-{i}", extra))
        assert r.status_code == 422, (field, r.text)
        assert [c["field"] for c in r.json()["details"]["causes"]] == [field], r.text
        r = skiff.http("POST", url, json=make(f"warned-{i}", extra))
        assert r.status_code == 201, (field, r.text)
        assert field in r.headers.get("Warning", ""), (field, r.headers)
        assert "bogus" not in json.dumps(r.json()["spec"]), r.text
    kept = skiff.http("GET", jobs + "/warned-0").json()
    assert kept["spec"]["template"]["spec"]["tolerations"] == [{"key": "gpu"}]


def test_every_namespaced_kind_keeps_its_tenants_apart(skiff):
    """Generated from the served kinds, so a kind added later is covered: for each namespaced kind
    whose object can be made from its schema alone, a user without a role in the namespace is
    refused every verb with 403 and learns nothing of the object; a viewer reads (but Secrets and
    role bindings) and cannot write; the object is unchanged at the end."""
    skiff.cli("user", "create", "outsider")
    skiff.cli("user", "create", "viewer")
    outsider = skiff.cli("token", "create", "--user", "outsider").stdout.strip()
    viewer = skiff.cli("token", "create", "--user", "viewer").stdout.strip()
    skiff.cli("role", "grant", "viewer", "--role", "view", "-n", "default")
    crds = skiff.http("GET", CRDS).json()["items"]
    made = [(crd, url) for crd, url in creatable(skiff, crds, "tenant-target")
            if crd["spec"]["scope"] == "Namespaced"]
    assert len(made) >= 5, [c["metadata"]["name"] for c, _ in made]
    failures = []
    for crd, url in made:
        kind = crd["spec"]["names"]["kind"]
        collection = url.rsplit("/", 1)[0]
        before = skiff.http("GET", url).json()
        body = json.dumps(before)
        fresh = dict(base_object(crd, "tenant-new"), spec=before.get("spec", {}))
        patch = json.dumps({"metadata": {"labels": {"by": "someone"}}})
        writes = [("POST", collection, json.dumps(fresh)), ("PUT", url, body),
                  ("PATCH", url, patch), ("PUT", url + "/status", body),
                  ("PATCH", url + "/status", patch), ("DELETE", url, None),
                  ("DELETE", collection, None)]
        reads = [("GET", collection, None), ("GET", url, None), ("GET", url + "/status", None)]
        for method, path, data in reads + writes + [("GET", collection + "?watch=true", None)]:
            headers = {"Content-Type": "application/merge-patch+json"} if method == "PATCH" else {}
            r = skiff.http(method, path, token=outsider, data=data, headers=headers)
            if r.status_code != 403 or "tenant-target" in r.text:
                failures.append(f"{kind} outsider {method} {path}: {r.status_code} {r.text[:120]}")
        for method, path, data in reads:
            r = skiff.http(method, path, token=viewer)
            # As Kubernetes' view role: Secrets and role bindings are not the viewer's to read.
            if r.status_code != (403 if kind in ("Secret", "RoleBinding") else 200):
                failures.append(f"{kind} viewer {method} {path}: {r.status_code} {r.text[:120]}")
        for method, path, data in writes:
            headers = {"Content-Type": "application/merge-patch+json"} if method == "PATCH" else {}
            r = skiff.http(method, path, token=viewer, data=data, headers=headers)
            if r.status_code != 403:
                failures.append(f"{kind} viewer {method} {path}: {r.status_code} {r.text[:120]}")
        after = skiff.http("GET", url)
        if after.status_code != 200 or after.json().get("spec") != before.get("spec") or \
                "by" in after.json()["metadata"].get("labels", {}):
            failures.append(f"{kind}: changed by a refused writer: {after.text[:200]}")
    assert not failures, "\n".join(failures[:40])
