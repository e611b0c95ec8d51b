"""A kind registered from a test module (tests/modules/widgets.cc: `Widget`, with a schema, a
rule, printer columns and a controller) is served, printed, reconciled and covered by the
generated schema and tenancy tests, with nothing in the product naming it."""
import json
import os

import pytest

from conftest import Skiff
# The generated tests, collected again here against the binary with the Widget kind.
from test_schemas import (  # noqa: F401
    test_a_wrong_type_in_any_field_of_any_kind_is_refused_and_the_server_survives,
    test_every_namespaced_kind_keeps_its_tenants_apart,
    test_wrong_types_through_status_and_patches_are_refused, CRDS, creatable)

WIDGETS_BINARY = os.environ.get("SKIFF_WIDGETS_BINARY") or os.path.join(
    os.path.dirname(__file__), "..", "..", "build", "asan", "skiff-with-widgets")
URL = "/apis/test.skiff.dev/v1/namespaces/default/widgets"


@pytest.fixture
def skiff(tmp_path):
    if not os.path.exists(WIDGETS_BINARY):
        pytest.skip(f"{WIDGETS_BINARY} is not built (cmake target skiff-with-widgets)")
    server = Skiff(tmp_path / "home", binary=WIDGETS_BINARY)
    os.makedirs(server.home, exist_ok=True)
    server.start()
    yield server
    server.stop()


def widget(name, **spec):
    return {"apiVersion": "test.skiff.dev/v1", "kind": "Widget", "metadata": {"name": name},
            "spec": spec}


def test_the_module_kind_is_served_printed_and_reconciled(skiff, tmp_path):
    crd = skiff.http("GET", CRDS + "/widgets.test.skiff.dev")
    assert crd.status_code == 200, crd.text
    assert crd.json()["spec"]["names"]["shortNames"] == ["wd"]
    assert [c["metadata"]["name"] for c, _ in creatable(skiff, [crd.json()], "probe")] == \
        ["widgets.test.skiff.dev"], "the generated tests can make one from its schema"

    r = skiff.http("POST", URL, json=widget("w1", size=7, color="blue"))
    assert r.status_code == 201, r.text
    done = skiff.wait_for(
        lambda: skiff.http("GET", URL + "/w1").json().get("status", {}).get("phase") == "Ready",
        timeout=30, what="the widget controller")
    assert done
    assert skiff.http("GET", URL + "/w1").json()["status"]["observedSize"] == 7

    # Its schema and its rule, at the edge.
    r = skiff.http("POST", URL, json=widget("w2", size=500))
    assert r.status_code == 422 and r.json()["details"]["causes"][0]["field"] == "spec.size", r.text
    r = skiff.http("POST", URL, json=widget("w3", size=60, fragile=True))
    assert r.status_code == 422 and "fragile" in r.json()["message"], r.text

    # Printed by its columns, found by its plural, short name and qualified name.
    for name in ("widgets", "wd", "widget", "widgets.test.skiff.dev"):
        out = skiff.cli("get", name).stdout
        lines = out.splitlines()
        assert lines[0].split()[:3] == ["NAME", "SIZE", "PHASE"], out
        rows = [line.split()[:3] for line in lines[1:]]
        assert ["w1", "7", "Ready"] in rows, out
    path = tmp_path / "w4.yaml"
    path.write_text(json.dumps(widget("w4", size=3)))
    skiff.cli("apply", "-f", str(path))
    assert "w4" in skiff.cli("get", "wd", "w4").stdout
    skiff.cli("delete", "widget", "w4")
    assert skiff.http("GET", URL + "/w4").status_code == 404


def test_the_module_route_setting_and_metric_are_the_platforms(tmp_path):
    if not os.path.exists(WIDGETS_BINARY):
        pytest.skip(f"{WIDGETS_BINARY} is not built (cmake target skiff-with-widgets)")
    server = Skiff(tmp_path / "home", binary=WIDGETS_BINARY,
                   extra_args=["--widget-phase", "Shiny"])
    os.makedirs(server.home, exist_ok=True)
    server.start()
    try:
        assert "--widget-phase" in server.cli("up", "--help").stdout
        assert server.http("POST", URL, json=widget("w1", size=9)).status_code == 201
        assert server.wait_for(
            lambda: server.http("GET", URL + "/w1").json().get("status", {}).get("phase")
            == "Shiny", timeout=30, what="the widget controller, with its setting")

        # The module's route: authenticated, authorized as a get of the widget, 404 by name.
        r = server.http("GET", URL + "/w1/size")
        assert r.status_code == 200 and r.text == "9", r.text
        assert server.http("GET", URL + "/w1/size", token=None).status_code == 401
        server.cli("user", "create", "mallory")
        mallory = server.cli("token", "create", "--user", "mallory").stdout.strip()
        r = server.http("GET", URL + "/w1/size", token=mallory)
        assert r.status_code == 403 and r.json()["kind"] == "Status", r.text
        assert server.http("GET", URL + "/nope/size").status_code == 404

        # The controller's metric, served at /metrics.
        metrics = server.http("GET", "/metrics").text
        marked = [line for line in metrics.splitlines()
                  if line.startswith("skiff_widgets_marked_total")]
        assert marked and float(marked[0].split()[-1]) >= 1, metrics
    finally:
        server.stop()
