"""Loading and validating `pulumi stack output --json` for the operator commands."""

from __future__ import annotations

import copy
import io
import json

import pytest

from recsys_dr.operations.outputs import OutputsError, load_outputs, parse_outputs
from tests.operations.ops_fixtures import outputs_doc


def test_valid_outputs_parse_to_typed_values():
    out = parse_outputs(outputs_doc())
    assert (out.environment, out.model_name, out.model_version) == ("prod", "recommender", 3)
    assert out.standby.region == "us-west-2" and out.primary.gpu_scaling["maxSize"] == 4
    assert [ep.region for ep in out.arc.cluster_endpoints] == ["us-east-1", "us-west-2"]
    assert out.other("primary") is out.standby


def test_every_problem_is_listed_at_once():
    doc = outputs_doc()
    doc["standbyMode"] = "cold"
    del doc["regions"]["standby"]["bucket"]
    doc["dns"]["ttl"] = "30"
    doc["model"]["version"] = True
    with pytest.raises(OutputsError) as info:
        parse_outputs(doc, source="prod.json")
    assert info.value.problems == [
        "`model.version` must be int. Received: True",
        "`standbyMode` must be one of: warm, pilot-light. Received: 'cold'",
        "`dns.ttl` must be int. Received: '30'",
        "`regions.standby.bucket` is missing",
    ]
    assert str(info.value).startswith("stack outputs (prod.json) are not usable:\n  - ")


def test_arc_block_is_required_with_arc_control():
    doc = outputs_doc()
    del doc["arc"]
    with pytest.raises(OutputsError, match="`arc` is missing but `failoverControl` is 'arc'"):
        parse_outputs(doc)


def test_arc_endpoints_must_be_urls():
    doc = outputs_doc()
    doc["arc"]["clusterEndpoints"][1]["endpoint"] = "bbb.example"
    with pytest.raises(OutputsError, match=r"`arc.clusterEndpoints.1.endpoint` must be a URL. Received: 'bbb.example'"):
        parse_outputs(doc)


def test_same_region_twice_is_rejected():
    doc = outputs_doc()
    doc["regions"]["standby"]["region"] = "us-east-1"
    with pytest.raises(OutputsError, match="must differ. Received: both 'us-east-1'"):
        parse_outputs(doc)


def test_secret_placeholder_says_how_to_fix():
    doc = outputs_doc()
    doc["regions"]["primary"]["endpoint"] = "[secret]"
    with pytest.raises(OutputsError, match="--show-secrets"):
        parse_outputs(doc)


def test_health_check_outputs_without_arc_block():
    out = parse_outputs(outputs_doc("health-check"))
    assert out.arc is None and out.failover_control == "health-check"


def test_load_from_file_and_stdin(tmp_path):
    path = tmp_path / "prod.json"
    path.write_text(json.dumps(outputs_doc()))
    assert load_outputs(str(path)).environment == "prod"
    assert load_outputs("-", stdin=io.StringIO(json.dumps(outputs_doc()))).environment == "prod"


def test_load_errors_are_clear(tmp_path):
    with pytest.raises(OutputsError, match="cannot read file"):
        load_outputs(str(tmp_path / "missing.json"))
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(OutputsError, match="not valid JSON: .* at line 1 column 2"):
        load_outputs(str(bad))
    with pytest.raises(OutputsError, match="input is empty"):
        load_outputs(None, stdin=io.StringIO(""))


def test_terminal_stdin_is_refused_with_usage_hint():
    class Tty(io.StringIO):
        def isatty(self):
            return True

    with pytest.raises(OutputsError, match=r"pulumi stack output --json -s prod \| recsys-dr status"):
        load_outputs(None, stdin=Tty())


def test_parse_does_not_mutate_input():
    doc = outputs_doc()
    before = copy.deepcopy(doc)
    parse_outputs(doc)
    assert doc == before


def test_operations_never_import_tensorflow_or_pulumi():
    import subprocess
    import sys

    code = ("import sys, operations.cli, operations.status, operations.failover, operations.drill, "
            "operations.inversion, model.verify; "
            "bad = [m for m in ('tensorflow', 'pulumi', 'keras') if m in sys.modules]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.slow
@pytest.mark.parametrize("env, control", [("dev", None), ("prod", None), ("prod", "region-switch")])
def test_outputs_of_the_shipped_stacks_parse_with_every_key_failover_needs(tmp_path, env, control):
    """The documents `pulumi stack output --json` would print, rendered under the mock runtime."""
    from tests.review.shipped import mutated

    def change(document):
        if control:
            document["config"]["recsys-dr:failoverControl"] = control
            document["config"].pop("recsys-dr:fallback")  # the cascade needs failoverControl health-check

    plan = mutated(env, tmp_path, change)
    out = parse_outputs(json.loads(json.dumps(plan.document["outputs"])), source=env)
    if control is None:  # the shipped stacks have a fallback tier, in the standby region
        assert out.fallback.region == out.standby.region and out.fallback.bucket == out.standby.bucket
        assert out.fallback.model_name == "recommender-fallback" and out.fallback.served_as == out.model_name
        assert out.fallback.budget_seconds > out.failover_budget_seconds
        assert out.standby.cold_start["nodeSeconds"] > 0
    for region in out.regions.values():
        assert region.serving and region.active_gpu_scaling and region.pods_per_gpu_node and region.hpa_name
    if out.standby_mode == "pilot-light":
        assert out.standby.serving["replicas"] == 0 and out.standby.gpu_scaling["desiredSize"] == 0
    if control == "region-switch":
        assert out.region_switch.plan_arn.startswith("arn:aws:arc-region-switch::")
    # What status/failover check the buckets against, and whether they probe over HTTPS.
    assert out.manifest_sha256 == plan.document["config"]["recsys-dr:model"]["manifestSha256"]
    assert {region.front_door.scheme for region in out.regions.values()} == {"https" if env == "prod" else "http"}  # prod sets tlsCertificateArns


@pytest.mark.parametrize(("value", "problem"), [
    (None, "`model.manifestSha256` is missing"),
    ("ABC", "`model.manifestSha256` must be 64 lower-case hex digits. Received: 'ABC'"),
])
def test_the_pinned_manifest_digest_is_required(value, problem):
    doc = outputs_doc("health-check")
    if value is None:
        doc["model"].pop("manifestSha256")
    else:
        doc["model"]["manifestSha256"] = value
    with pytest.raises(OutputsError) as caught:
        parse_outputs(doc)
    assert caught.value.problems == [problem]
