"""The release's parts as tested invariants: ELB weights, CloudWatch windows and queries, kubectl's
rollout rule, the S3 compare-and-swap lock, the offline-quality comparison."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import botocore.session
import pytest
from botocore.validate import ParamValidator

from recsys_dr.operations.outputs import ModelPin, parse_outputs
from recsys_dr.operations.release import evidence, record, signals, weights
from recsys_dr.operations.release.rollout import rollout_state
from recsys_dr.operations.release.tier import TierError, gpu_tier, load_balancer_dimension, target_group_dimension
from tests.operations.ops_fixtures import PRIMARY_REGION, client
from tests.operations.release_fixtures import RELEASE, ReleaseEnvironment


def validate(service: str, operation: str, params: dict) -> None:
    """A request as botocore's service model accepts it (types, required members, enums)."""
    shape = botocore.session.get_session().get_service_model(service).operation_model(operation).input_shape
    report = ParamValidator().validate(params, shape)
    assert not report.has_errors(), report.generate_report()


# --- ELB weights ------------------------------------------------------------------------------------

@pytest.mark.parametrize("percent", [0, 1, 5, 25, 50, 99, 100])
def test_every_share_is_a_pair_of_weights_elb_accepts(percent):
    stable, canary = weights.share_weights(percent)
    assert 0 <= stable <= 999 and 0 <= canary <= 999 and stable + canary > 0
    assert weights.share_of(stable, canary) == percent


def test_a_share_outside_0_to_100_is_refused():
    with pytest.raises(weights.WeightsError):
        weights.share_weights(101)


@pytest.fixture
def stack(aws, tmp_path):
    environment = ReleaseEnvironment(tmp_path)
    yield environment
    environment.stop()


def test_a_share_is_written_to_every_route_rule_and_read_back(stack):
    tier = gpu_tier(parse_outputs(stack.outputs()))
    elbv2 = client("elbv2", PRIMARY_REGION)
    after = weights.set_share(elbv2, tier.regions["primary"], 25)
    assert [(s.stable_weight, s.canary_weight) for s in after] == [(75, 25), (75, 25)]
    assert weights.region_share(weights.read_shares(elbv2, tier.regions["primary"])) == 25


def test_a_rule_that_does_not_forward_to_both_groups_is_not_moved(stack):
    tier = gpu_tier(parse_outputs(stack.outputs()))
    region = tier.regions["primary"]
    elbv2 = client("elbv2", PRIMARY_REGION)
    elbv2.modify_rule(RuleArn=region.rule_arns[0], Actions=[{"Type": "forward", "TargetGroupArn": region.stable_group_arn}])
    with pytest.raises(weights.WeightsError, match="does not forward to the stable and the canary"):
        weights.set_share(elbv2, region, 5)


def test_the_manual_rollback_commands_carry_a_valid_modify_rule_request(stack):
    region = gpu_tier(parse_outputs(stack.outputs())).regions["standby"]
    for command in weights.manual_commands(region, 0):
        actions = json.loads(command.split("--actions ", 1)[1].strip("'"))
        validate("elbv2", "ModifyRule", {"RuleArn": "arn:aws:elasticloadbalancing:us-west-2:1:listener-rule/app/x/1/2/3",
                                         "Actions": actions})
        assert actions[0]["ForwardConfig"]["TargetGroups"][1]["Weight"] == 0


# --- CloudWatch ---------------------------------------------------------------------------------------

def at(minute: int, second: int = 0) -> datetime:
    return datetime(2026, 3, 2, 10, minute, second, tzinfo=timezone.utc)


def test_windows_are_the_complete_minutes_after_the_move():
    assert signals.whole_minutes(at(0, 20), at(3, 10)) == (at(1), at(3))
    assert signals.whole_minutes(at(0), at(1)) == (at(0), at(1))
    assert signals.whole_minutes(at(0, 20), at(1, 50)) is None  # no complete minute yet


def test_the_query_is_what_cloudwatch_accepts_with_the_balancers_dimensions(stack):
    tier = gpu_tier(parse_outputs(stack.outputs()))
    region = tier.regions["primary"]
    sent = {}

    class Recorder:
        def get_metric_data(self, **params):
            sent.update(params)
            return {"MetricDataResults": []}

    signals.read_groups(Recorder(), region, (at(1), at(4)))
    validate("cloudwatch", "GetMetricData", sent)
    for query in sent["MetricDataQueries"]:
        stat = query["MetricStat"]
        assert stat["Period"] == 180 and stat["Period"] % 60 == 0  # one period: the window's own p99
        dimensions = {d["Name"]: d["Value"] for d in stat["Metric"]["Dimensions"]}
        assert dimensions["LoadBalancer"].startswith("app/") and dimensions["TargetGroup"].startswith("targetgroup/")
        assert stat["Metric"]["Namespace"] == "AWS/ApplicationELB"
    assert {q["MetricStat"]["Metric"]["MetricName"] for q in sent["MetricDataQueries"]} == {
        "RequestCount", "HTTPCode_Target_5XX_Count", "TargetConnectionErrorCount", "TargetResponseTime"}


def test_arn_tails_are_the_cloudwatch_dimensions():
    assert load_balancer_dimension("arn:aws:elasticloadbalancing:us-east-1:1:loadbalancer/app/rdr-1/abc") == "app/rdr-1/abc"
    assert target_group_dimension("arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/rdr-2/def") == "targetgroup/rdr-2/def"
    with pytest.raises(TierError):
        target_group_dimension("arn:aws:s3:::bucket")


def test_metrics_moto_stored_come_back_per_group_with_their_p99(stack):
    region = gpu_tier(parse_outputs(stack.outputs())).regions["primary"]
    found = signals.read_groups(stack.cloudwatch["primary"], region, (at(0) - (at(10) - at(0)), at(0)))
    assert found["stable"].requests == 4000 and found["canary"].requests == 0
    assert found["stable"].p99_seconds == pytest.approx(0.040) and found["canary"].p99_seconds is None


LIVE = RELEASE["live"]


def signal(requests, errors=0, p99_ms=40.0):
    return signals.GroupSignal(requests, errors, None if p99_ms is None else p99_ms / 1000)


def test_the_live_gate():
    stable = signal(1000, 2)  # 0.2 %
    assert signals.judge(signal(100, 0), stable, LIVE, reference_name="stable").ok is True
    assert signals.judge(signal(100, 1), stable, LIVE, reference_name="stable").ok is False  # 1 % > 0.2 % + 0.5 %
    assert signals.judge(signal(9, 0), stable, LIVE, reference_name="stable").ok is None  # below minRequests 10
    assert signals.judge(signal(100, 0, 60), stable, LIVE, reference_name="stable").ok is True  # 40 x 1.25 + 10 = 60
    assert signals.judge(signal(100, 0, 61), stable, LIVE, reference_name="stable").ok is False
    assert "not compared" in signals.judge(signal(100, 0, None), stable, LIVE, reference_name="stable").detail


# --- kubectl's rollout rule -----------------------------------------------------------------------------

DIGEST = "a" * 64


def deployment(generation=2, observed=2, replicas=2, updated=2, total=2, available=2, digest=DIGEST, conditions=()):
    return {"metadata": {"generation": generation},
            "spec": {"replicas": replicas, "template": {"metadata": {"annotations": {"recsys-dr/manifest-sha256": digest}}}},
            "status": {"observedGeneration": observed, "updatedReplicas": updated, "replicas": total,
                       "availableReplicas": available, "conditions": list(conditions)}}


@pytest.mark.parametrize("doc, reason", [
    (deployment(digest="b" * 64), "apply the stack change first"),
    (deployment(generation=3), "spec update to be observed"),
    (deployment(updated=1, total=3), "1 out of 2 new replicas have been updated"),
    (deployment(total=3), "1 old replicas are pending termination"),
    (deployment(available=1), "1 of 2 updated replicas are available"),
    (deployment(conditions=[{"type": "Progressing", "reason": "ProgressDeadlineExceeded", "message": "x"}]),
     "exceeded its progress deadline"),
])
def test_a_deployment_is_rolled_out_by_kubectls_rule_only(doc, reason):
    rolled, detail = rollout_state(doc, DIGEST)
    assert not rolled and reason in detail


def test_a_rolled_out_deployment_and_a_pilot_light_at_zero():
    assert rollout_state(deployment(), DIGEST)[0]
    assert rollout_state(deployment(replicas=0, updated=0, total=0, available=0), DIGEST)[0]


# --- the lock -----------------------------------------------------------------------------------------

def new_record(version=4) -> record.ReleaseRecord:
    return record.ReleaseRecord(id=f"r{version}", tier="gpu", environment="prod", model="recommender",
                                candidate={"version": version, "manifestSha256": DIGEST}, stable={})


def test_two_starters_cannot_both_hold_the_lock(stack):
    s3 = client("s3", PRIMARY_REGION)
    first, second = (record.ReleaseStore(s3, stack.buckets["primary"], "gpu") for _ in range(2))
    assert second.read() is None
    second.read = lambda: None  # the second starter read before the first one wrote
    first.acquire(new_record())
    with pytest.raises(record.LockLost):
        second.acquire(new_record(5))  # its create carries If-None-Match: *, which S3 answers 412
    with pytest.raises(record.LockHeld):
        record.ReleaseStore(s3, stack.buckets["primary"], "gpu").acquire(new_record(5))


def test_a_stale_writer_cannot_move_the_release(stack):
    s3 = client("s3", PRIMARY_REGION)
    one, two = (record.ReleaseStore(s3, stack.buckets["primary"], "gpu") for _ in range(2))
    one.acquire(new_record())
    mine = two.read()
    theirs = one.read()
    theirs.step = 3
    one.save(theirs)
    mine.step = 1
    with pytest.raises(record.LockLost):
        two.save(mine)
    theirs.state = "aborted"
    one.save(theirs)
    record.ReleaseStore(s3, stack.buckets["primary"], "gpu").acquire(new_record(5))  # a finished record frees the lock


# --- offline quality and the evidence in the buckets ---------------------------------------------------

def manifest(metric, protocol="leave-last-out", exclude_seen=False):
    return {"metrics": {"model": {"all": {"ndcg@10": metric}}}, "evaluation": {"protocol": protocol, "exclude_seen": exclude_seen}}


def test_the_quality_gate_compares_the_same_protocol_only():
    ok = evidence.judge_quality(manifest(0.110), manifest(0.109), metric="ndcg@10", max_relative_drop=0.02)
    assert ok.ok and ok.comparable
    drop = evidence.judge_quality(manifest(0.110), manifest(0.100), metric="ndcg@10", max_relative_drop=0.02)
    assert not drop.ok and drop.comparable and "-9.1%" in drop.detail
    other = evidence.judge_quality(manifest(0.110), manifest(0.200, exclude_seen=True), metric="ndcg@10", max_relative_drop=0.02)
    assert not other.ok and not other.comparable
    missing = evidence.judge_quality(manifest(0.110), {"metrics": {}}, metric="ndcg@10", max_relative_drop=0.02)
    assert not missing.ok and "missing in the candidate" in missing.detail


def test_a_manifest_that_is_not_the_pinned_one_is_not_believed(stack):
    s3 = client("s3", PRIMARY_REGION)
    with pytest.raises(evidence.EvidenceError, match="pinned"):
        evidence.read_manifest(s3, stack.buckets["primary"], "recommender", ModelPin(version=4, manifest_sha256="0" * 64))
    with pytest.raises(evidence.EvidenceError, match="missing"):
        evidence.read_golden(s3, stack.buckets["primary"], "recommender", ModelPin(version=9, manifest_sha256="0" * 64))


def test_outputs_without_a_canary_group_are_no_tier_to_release(stack):
    doc = stack.outputs()
    del doc["regions"]["primary"]["frontDoor"]["canaryTargetGroupArn"]
    with pytest.raises(TierError, match="frontDoor.canaryTargetGroupArn"):
        gpu_tier(parse_outputs(doc))


# --- status and failover know a region's own pin and its candidate ---------------------------------------

def test_outputs_carry_each_regions_pins(stack):
    outputs = parse_outputs(stack.outputs())
    assert outputs.primary.pin == ModelPin(version=3, manifest_sha256=stack.digests[3], image="tensorflow/serving:2.21.0-gpu")
    assert outputs.standby.candidate.version == 4
    doc = stack.outputs()
    doc["regions"]["standby"]["model"]["candidate"]["manifestSha256"] = "nope"
    with pytest.raises(Exception, match=r"`regions.standby.model.candidate.manifestSha256` must be 64 lower-case hex digits"):
        parse_outputs(doc)
    del doc["regions"]["standby"]["model"]
    assert parse_outputs(doc).standby.pin.version == 3  # outputs without per-region pins: the model's


def test_a_status_probe_answered_by_the_candidate_passes_while_a_release_gives_it_a_share():
    from recsys_dr.operations.checks.serving import probe_serving

    def answered_by(version):
        body = json.dumps({"model_version_status": [{"version": str(version), "state": "AVAILABLE"}]}).encode()
        return lambda url, timeout: (200, body)

    ok, detail, _ = probe_serving("h", "recommender", 3, http_get=answered_by(4), candidate=4)
    assert ok and "the candidate" in detail
    assert not probe_serving("h", "recommender", 3, http_get=answered_by(4))[0]  # no candidate pinned: a wrong version
    assert not probe_serving("h", "recommender", 3, http_get=answered_by(5), candidate=4)[0]
