"""DR hazards in the diff, on small plans and on mutations of the shipped environments."""

from __future__ import annotations

import copy
import json

from recsys_dr.cli.main import main
from recsys_dr.review.diff import diff_plans
from recsys_dr.review.diff_json import render_json
from recsys_dr.review.diff_markdown import render_markdown
from recsys_dr.review.diff_text import render_text

from .conftest import FIXTURE_CONFIG, FIXTURE_PROGRAM
from .shipped import fixture_mutated, mutated, setting

NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
ROLES = {"regions": {"primary": {"region": "us-east-1"}, "standby": {"region": "us-west-2"}}}


def res(type_token, name, region, **inputs):
    return {"urn": f"urn:x::{type_token}::{name}", "type": type_token, "name": name, "region": region,
            "custom": True, "inputs": inputs, "dependencies": {}}


def plan(*resources):
    return {"environment": "dev", "resources": list(resources), "outputs": ROLES, "policy": {}}


def kinds(result):
    return [h["kind"] for h in result.hazards]


def gpu(region, ami="AL2023_x86_64_NVIDIA"):
    return res(NODE_GROUP, f"gpu-{region}", region, amiType=ami, instanceTypes=["g5.xlarge"], nodeGroupName=f"gpu-{region}",
               scalingConfig={"minSize": 1, "desiredSize": 1, "maxSize": 2})


def test_both_regions_gpu_groups_replaced_deleting_first_is_a_high_hazard():
    base = plan(gpu("us-east-1"), gpu("us-west-2"))
    head = plan(gpu("us-east-1", "BOTTLEROCKET_x86_64_NVIDIA"), gpu("us-west-2", "BOTTLEROCKET_x86_64_NVIDIA"))
    result = diff_plans(base, head)
    (hazard,) = [h for h in result.hazards if h["kind"] == "both-regions"]
    assert hazard["severity"] == "high"
    assert "GPU node groups of both regions (us-east-1, us-west-2) are replaced" in hazard["message"]
    assert "no region keeps serving through the rollout" in hazard["message"]


def test_one_region_deleted_and_the_other_updated_is_a_high_hazard():
    # The deletion leaves one region without its GPU pool while the other is being changed.
    base = plan(gpu("us-east-1"), gpu("us-west-2"))
    grown = gpu("us-west-2")
    grown["inputs"]["scalingConfig"] = {"minSize": 1, "desiredSize": 1, "maxSize": 3}  # an in-place update
    (hazard,) = [h for h in diff_plans(base, plan(grown)).hazards if h["kind"] == "both-regions"]
    assert "GPU node groups of both regions (us-east-1, us-west-2) are deleted/updated" in hazard["message"]
    assert hazard["severity"] == "high"


def test_one_region_at_a_time_is_no_both_regions_hazard():
    base = plan(gpu("us-east-1"), gpu("us-west-2"))
    head = plan(gpu("us-east-1", "BOTTLEROCKET_x86_64_NVIDIA"), gpu("us-west-2"))
    assert "both-regions" not in kinds(diff_plans(base, head))


def test_replication_turned_off():
    rule = {"status": "Enabled", "destination": {"replicationTime": {"status": "Enabled", "time": {"minutes": 15}}}}
    base = plan(res("aws:s3/bucketReplicationConfig:BucketReplicationConfig", "r", "us-east-1", rules=[rule]))
    off = copy.deepcopy(base)
    off["resources"][0]["inputs"]["rules"][0]["status"] = "Disabled"
    no_rtc = copy.deepcopy(base)
    no_rtc["resources"][0]["inputs"]["rules"][0]["destination"]["replicationTime"]["status"] = "Disabled"
    assert "replication-off" in kinds(diff_plans(base, off))
    assert "replication-off" in kinds(diff_plans(base, plan()))
    assert "rtc-off" in kinds(diff_plans(base, no_rtc))


def test_versioning_suspended():
    base = plan(res("aws:s3/bucketVersioning:BucketVersioning", "v", "us-west-2", versioningConfiguration={"status": "Enabled"}))
    head = copy.deepcopy(base)
    head["resources"][0]["inputs"]["versioningConfiguration"]["status"] = "Suspended"
    (hazard,) = diff_plans(base, head).hazards
    assert hazard["kind"] == "versioning-off" and "(v)" in hazard["message"]


def test_cost_moving_more_than_ten_percent(tmp_path):
    base = plan(gpu("us-east-1"), gpu("us-west-2"))
    for group in base["resources"]:
        group["inputs"]["instanceTypes"] = ["g5.2xlarge"]
    head = copy.deepcopy(base)
    head["resources"][1]["inputs"]["instanceTypes"] = ["g6.4xlarge"]  # +$81/month on $1,770: under 10 %
    assert "cost-up" not in kinds(diff_plans(base, head))
    head["resources"][1]["inputs"]["instanceTypes"] = ["g5.8xlarge"]
    result = diff_plans(base, head)
    assert "cost-up" in kinds(result)
    assert result.hazards[-1]["message"].startswith("the monthly estimate moves +$")


def test_shipped_prod_to_pilot_light(tmp_path):
    base = mutated("prod", tmp_path / "base", lambda d: None)
    head = mutated("prod", tmp_path / "head", lambda d: d["config"].update({"recsys-dr:standbyMode": "pilot-light"}))
    result = diff_plans(base.document, head.document)
    assert {"rto-up", "standby-capacity-down", "cost-down"} <= set(kinds(result))
    markdown = render_markdown(result)
    base_rto = result.base_estimate["rtoSeconds"]["total"]
    head_rto = result.head_estimate["rtoSeconds"]["total"]
    assert f"RTO {base_rto} s -> {head_rto} s" in markdown.splitlines()[3]  # the line under the heading
    assert "/month (-" in markdown.splitlines()[3]


def test_shipped_prod_to_pilot_light_without_a_reservation_says_capacity_is_not_guaranteed(tmp_path):
    base = mutated("prod", tmp_path / "base", lambda d: None)
    head = mutated("prod", tmp_path / "head", lambda d: d["config"].update({"recsys-dr:standbyMode": "pilot-light"}))
    (hazard,) = [h for h in diff_plans(base.document, head.document).hazards if h["kind"] == "capacity-unguaranteed"]
    assert hazard["severity"] == "high" and "capacity not guaranteed" in hazard["message"]
    # The same change with the standby's pool reserved: no such hazard, and a shorter recovery than without.
    reserved = mutated("prod", tmp_path / "reserved", lambda d: (
        d["config"].update({"recsys-dr:standbyMode": "pilot-light"}),
        setting(d, "gpu").update(instanceTypes=["g5.2xlarge"],
                                 capacityReservations={"standby": {"availabilityZone": "us-west-2a"}})))
    result = diff_plans(base.document, reserved.document)
    assert "capacity-unguaranteed" not in kinds(result)
    assert result.head_estimate["rtoSeconds"]["total"] < diff_plans(base.document, head.document).head_estimate["rtoSeconds"]["total"]


def test_removing_the_fallback_tier_is_a_high_hazard(tmp_path):
    base = mutated("prod", tmp_path / "base", lambda d: None)
    head = mutated("prod", tmp_path / "head", lambda d: d["config"].pop("recsys-dr:fallback"))
    (hazard,) = [h for h in diff_plans(base.document, head.document).hazards if h["kind"] == "fallback-off"]
    assert hazard["severity"] == "high" and "recommendations go blank" in hazard["message"]


def test_shipped_prod_slower_detection_grows_the_failover_budget(tmp_path):
    base = mutated("prod", tmp_path / "base", lambda d: None)
    head = mutated("prod", tmp_path / "head", lambda d: setting(d, "dns").update(failureThreshold=5, failoverBudgetTarget=120))
    # The second hop to the fallback has its own detection: it grows too.
    assert {"failover-budget-up", "rto-up", "fallback-budget-up"} <= set(kinds(diff_plans(base.document, head.document)))


def test_shipped_prod_gpu_type_change_in_both_regions(tmp_path):
    base = mutated("prod", tmp_path / "base", lambda d: None)
    head = mutated("prod", tmp_path / "head", lambda d: setting(d, "gpu").update(instanceTypes=["g6.2xlarge"]))
    result = diff_plans(base.document, head.document)
    both = [h for h in result.hazards if h["kind"] == "both-regions"]
    assert both and "GPU node groups of both regions" in both[0]["message"]
    assert "DR HAZARDS:" in render_text(result)


def test_diff_json_has_summary_changes_and_hazards(tmp_path, capsys):
    base_out, head_out = tmp_path / "base.json", tmp_path / "head.json"
    assert main(["plan", "fixture", "--program-dir", str(FIXTURE_PROGRAM), "--config-dir", str(FIXTURE_CONFIG),
                 "--out", str(base_out), "--quiet"]) == 0
    head = fixture_mutated(tmp_path / "head", lambda d: d["config"].update({"recsys-dr:gpu": {"instanceType": "g6.xlarge"}}))
    head_out.write_text(head.to_json())
    assert main(["diff", str(base_out), str(head_out), "--format", "json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["summary"] == {"create": 0, "update": 0, "replace": 2, "delete": 0}
    assert [c["replacement"] for c in document["changes"]] == ["delete-first", "delete-first"]
    assert [h["kind"] for h in document["hazards"] if h["severity"] == "high"] == ["both-regions"]
    assert document["estimate"]["change"].startswith("-$")  # g6 is cheaper than g5


def test_render_json_is_deterministic():
    base = plan(gpu("us-east-1"), gpu("us-west-2"))
    head = plan(gpu("us-east-1", "X_NVIDIA"), gpu("us-west-2", "X_NVIDIA"))
    assert render_json(diff_plans(base, head)) == render_json(diff_plans(base, head))


def test_fail_on_hazard_exits_1_at_or_above_the_level(tmp_path, capsys):
    base = plan(gpu("us-east-1"), gpu("us-west-2"))
    head = plan(gpu("us-east-1", "X_NVIDIA"), gpu("us-west-2", "X_NVIDIA"))
    (tmp_path / "b.json").write_text(json.dumps(base))
    (tmp_path / "h.json").write_text(json.dumps(head))
    assert main(["diff", str(tmp_path / "b.json"), str(tmp_path / "h.json"), "--fail-on-hazard", "high"]) == 1
    assert "DR hazard(s) at high or above: both-regions" in capsys.readouterr().err
    assert main(["diff", str(tmp_path / "b.json"), str(tmp_path / "b.json"), "--fail-on-hazard", "medium"]) == 0


def test_replacing_a_protected_resource_is_a_high_hazard():
    bucket = res("aws:s3/bucket:Bucket", "models", "us-east-1", bucket="models-a")
    bucket["options"] = {"protect": True}
    renamed = copy.deepcopy(bucket)
    renamed["inputs"]["bucket"] = "models-b"
    (hazard,) = [h for h in diff_plans(plan(bucket), plan(renamed)).hazards if h["kind"] == "protected"]
    assert hazard["severity"] == "high" and "models (replace)" in hazard["message"]


def test_deleting_first_in_one_region_is_an_outage_there():
    base = plan(gpu("us-east-1"), gpu("us-west-2"))
    head = plan(gpu("us-east-1", "X_NVIDIA"), gpu("us-west-2"))  # nodeGroupName is fixed: delete-first
    (hazard,) = [h for h in diff_plans(base, head).hazards if h["kind"] == "region-outage"]
    assert hazard["message"].startswith("us-east-1 (primary) stops serving during the rollout: GPU node group gpu-us-east-1 is deleted")
    assert "the standby (warm, 100 % of the primary's GPUs) must carry the traffic" in hazard["message"]
    assert hazard["severity"] == "medium"


def test_an_outage_of_the_standby_leaves_no_failover_target():
    base = plan(gpu("us-east-1"), gpu("us-west-2"))
    head = plan(gpu("us-east-1"), gpu("us-west-2", "X_NVIDIA"))
    (hazard,) = [h for h in diff_plans(base, head).hazards if h["kind"] == "region-outage"]
    assert hazard["severity"] == "high" and "no failover target" in hazard["message"]


def test_create_before_delete_in_one_region_is_no_outage():
    autonamed = [gpu("us-east-1"), gpu("us-west-2")]
    for group in autonamed:
        del group["inputs"]["nodeGroupName"]
    head = copy.deepcopy(autonamed)
    head[0]["inputs"]["amiType"] = "X_NVIDIA"
    assert "region-outage" not in kinds(diff_plans(plan(*autonamed), plan(*head)))


def test_moving_from_the_services_nlb_to_the_front_door_says_the_endpoint_changes():
    def service(region, kind):
        return res("kubernetes:core/v1:Service", f"svc-{region}", region, metadata={"name": "tf"}, spec={"type": kind})

    base = plan(service("us-east-1", "LoadBalancer"), service("us-west-2", "LoadBalancer"))
    alb = [res("aws:lb/loadBalancer:LoadBalancer", f"alb-{r}", r) for r in ("us-east-1", "us-west-2")]
    https = [res("aws:lb/listener:Listener", f"https-{r}", r, protocol="HTTPS", port=443) for r in ("us-east-1", "us-west-2")]
    head = plan(service("us-east-1", "ClusterIP"), service("us-west-2", "ClusterIP"), *alb, *https)
    (hazard,) = [h for h in diff_plans(base, head).hazards if h["kind"] == "endpoint-moves"]
    assert hazard["severity"] == "high"
    assert "us-east-1 (primary), us-west-2 (standby)" in hazard["message"] and "point them at the record name" in hazard["message"]
    assert "port 80 closes" in hazard["message"]
    # Once moved, a later change to the front door is no move.
    assert "endpoint-moves" not in kinds(diff_plans(head, head))
