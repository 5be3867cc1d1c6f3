"""`recsys-dr release` end to end against moto (ELBv2, CloudWatch, S3, Route 53, EKS), the sandbox's
Kubernetes API and TF Serving stand-ins, and a front door on 127.0.0.x that routes by moto's rules.

Time is virtual (`VirtualClock`): each minute the release sleeps is a minute of client traffic
through the primary's front door, reported to CloudWatch as ELB would.
"""

from __future__ import annotations

import argparse
import json
from datetime import timedelta

import pytest

from recsys_dr.operations.release import record
from recsys_dr.operations.release.cli import handle_release
from tests.operations.ops_fixtures import PRIMARY_REGION, client
from tests.operations.release_fixtures import CANDIDATE, STABLE, ReleaseEnvironment


@pytest.fixture
def stack(aws, tmp_path):
    environment = ReleaseEnvironment(tmp_path)
    yield environment
    environment.stop()


def release(stack, capsys, action: str, outputs: dict | None = None, **options) -> tuple[int, dict]:
    """Run `recsys-dr release <action> --json` through its handler; (exit code, report)."""
    path = stack.versions[STABLE].parents[2] / f"outputs-{action}.json"
    path.write_text(json.dumps(outputs or stack.outputs()))
    args = argparse.Namespace(command="release", action=action, outputs=str(path), json=True,
                              tier=options.get("tier", "gpu"), stack_file=None,
                              patch_out=options.get("patch_out"), endpoint_url=None, profile=None, http_timeout=5.0,
                              aws_timeout=5.0, accept_quality_drop=options.get("accept_quality_drop", False),
                              one_step=options.get("one_step", False))
    capsys.readouterr()
    code = handle_release(args, clients=options.get("clients") or stack.clients(), clock=stack.clock)
    return code, json.loads(capsys.readouterr().out)


def stored(stack) -> record.ReleaseRecord | None:
    return record.ReleaseStore(client("s3", PRIMARY_REGION), stack.buckets["primary"], "gpu").read()


def steps(report: dict, name: str) -> list[dict]:
    return [row for row in report["steps"] if row["step"] == name]


def promote(stack, capsys) -> dict:
    """Apply the two stack changes the release asks for, as `pulumi up` would, advancing after each."""
    code, report = release(stack, capsys, "advance", stack.outputs(stable=CANDIDATE, candidate=CANDIDATE))
    assert code == 6 and report["patch"]["stage"] == "remove-candidate", report["reasons"]
    code, report = release(stack, capsys, "advance", stack.outputs(stable=CANDIDATE, candidate=None))
    assert code == 0, report["reasons"]
    return report


def test_a_clean_release_goes_standby_first_then_the_primarys_shares_then_promotion(stack, capsys):
    code, report = release(stack, capsys, "start")
    assert code == 6 and report["outcome"] == "waiting"
    moves = [(row["region"], row["share"]) for row in report["steps"] if row["step"].startswith("share")]
    assert moves == [("us-west-2", 100), ("us-east-1", 5), ("us-east-1", 25), ("us-east-1", 50), ("us-east-1", 100)]
    assert [row["result"] for row in steps(report, "gate.live")] == ["ok"] * 4
    golden = steps(report, "gate.golden")
    assert [row["region"] for row in golden] == ["us-west-2", "us-east-1"] and all(r["result"] == "ok" for r in golden)
    assert stack.shares() == {"primary": 100, "standby": 100}
    # Promotion is the stack file's: the candidate becomes every region's stable pin.
    assert report["patch"]["commands"] == [
        "pulumi config set --path model.version 4 -s prod",
        f"pulumi config set --path model.manifestSha256 {stack.digests[CANDIDATE]} -s prod"]
    assert stored(stack).state == "awaiting-stable-pin"
    stack.kube["primary"].digest = stack.kube["standby"].digest = stack.digests[CANDIDATE]  # `pulumi up` rolled them
    done = promote(stack, capsys)
    assert done["outcome"] == "promoted" and stored(stack).state == "promoted"
    assert stack.shares() == {"primary": 0, "standby": 0}  # the stable pods carry everything again
    # The lock is free: the next release may start (refused here only because no candidate is pinned).
    code, report = release(stack, capsys, "start", stack.outputs(stable=CANDIDATE, candidate=None))
    assert code == 3 and "no candidate is pinned" in report["reasons"][0]


def test_the_default_bakes_take_the_time_they_say(stack, capsys):
    release(stack, capsys, "start")
    # Four primary shares of 180 s each; the golden requests and the standby take no virtual time.
    assert stack.clock.slept == 4 * 180


def test_a_canary_whose_error_rate_rises_is_rolled_back_by_itself(stack, capsys):
    stack.behaviour("primary", "candidate").error_rate = 0.10
    code, report = release(stack, capsys, "start")
    assert code == 1 and report["outcome"] == "rolled-back"
    [failed] = [row for row in steps(report, "gate.live") if row["result"] == "FAIL"]
    assert failed["share"] == 5 and "error rate 10.00%" in failed["detail"]
    # The failing region first, then every region the release had moved; each read back at 0.
    assert [(row["region"], row["share"]) for row in steps(report, "rollback")] == [("us-east-1", 0), ("us-west-2", 0)]
    assert stack.shares() == {"primary": 0, "standby": 0}
    assert stored(stack).state == "rolled-back"
    assert report["patch"]["stage"] == "remove-candidate"
    # Caught at the first check with a complete minute, well before the bake window ends.
    assert failed["atSeconds"] - steps(report, "share 5 %")[0]["atSeconds"] <= 120


def test_a_slower_canary_is_rolled_back_too(stack, capsys):
    stack.behaviour("primary", "candidate").p99_ms = 90
    code, report = release(stack, capsys, "start")
    assert code == 1 and "p99 90 ms" in steps(report, "gate.live")[-1]["detail"]
    assert stack.shares() == {"primary": 0, "standby": 0}


def test_golden_answers_that_differ_are_refused_before_any_traffic(stack, capsys):
    stack.serving["standby"]["candidate"].wrong = True
    code, report = release(stack, capsys, "start")
    assert code == 1 and report["outcome"] == "rejected"
    [golden] = steps(report, "gate.golden")
    assert golden["result"] == "FAIL" and "answered differently" in golden["detail"]
    assert not [row for row in report["steps"] if row["step"].startswith("share")]
    assert stack.shares() == {"primary": 0, "standby": 0}
    # No client request ever reached the candidate: only the header-routed golden requests did.
    canary = stack.doors["standby"]["canaryTargetGroupArn"]
    assert stack.front["standby"].routed.get(canary) == stack.serving["standby"]["candidate"].requests


def test_a_quality_drop_is_refused_then_accepted_explicitly(aws, tmp_path, capsys):
    stack = ReleaseEnvironment(tmp_path, candidate_metric=0.100)  # NDCG@10 0.110 -> 0.100: -9.1 %
    try:
        code, report = release(stack, capsys, "start")
        assert code == 3 and "--accept-quality-drop" in report["reasons"][0]
        assert "-9.1%" in steps(report, "gate.quality")[0]["detail"]
        assert stored(stack) is None and stack.shares() == {"primary": 0, "standby": 0}
        code, report = release(stack, capsys, "start", accept_quality_drop=True, one_step=True)
        assert code == 0 and report["outcome"] == "advanced"
        assert steps(report, "gate.quality")[0]["gate"]["accepted"] is True
        assert stored(stack).accepted_quality_drop is True
    finally:
        stack.stop()


class InterruptAt:
    """A clock whose sleep raises KeyboardInterrupt once, when virtual time reaches `at` seconds."""

    def __init__(self, stack, at: float):
        self.stack, self.at, self.sleep_inner = stack, stack.clock.t + timedelta(seconds=at), stack.clock.sleep

    def __call__(self, seconds: float) -> None:
        if self.at is not None and self.stack.clock.t + timedelta(seconds=seconds) >= self.at:
            self.at = None
            raise KeyboardInterrupt
        self.sleep_inner(seconds)


def interrupted(stack, capsys) -> dict:
    stack.clock.sleep = InterruptAt(stack, 240)  # during the 25 % bake
    code, report = release(stack, capsys, "start")
    assert code == 130 and report["outcome"] == "interrupted"
    del stack.clock.sleep
    return report


def test_an_interrupted_release_keeps_its_shares_and_resumes(stack, capsys):
    interrupted(stack, capsys)
    saved = stored(stack)
    assert saved.state == "running" and saved.shares == {"primary": 25, "standby": 100}
    assert stack.shares() == {"primary": 25, "standby": 100}
    code, report = release(stack, capsys, "start")  # a second release cannot start over it
    assert code == 3 and "`recsys-dr release advance` resumes it" in report["reasons"][0]
    code, report = release(stack, capsys, "advance")
    assert code == 6, report["reasons"]
    assert [row["share"] for row in report["steps"] if row["step"].startswith("share")] == [25, 50, 100]


def test_an_interrupted_release_is_aborted(stack, capsys):
    interrupted(stack, capsys)
    code, report = release(stack, capsys, "abort")
    assert code == 0 and report["outcome"] == "aborted"
    assert stack.shares() == {"primary": 0, "standby": 0} and stored(stack).state == "aborted"
    assert report["patch"]["commands"] == ["pulumi config rm --path model.candidate -s prod"]
    code, report = release(stack, capsys, "start", one_step=True)  # the lock is free again
    assert code == 0, report["reasons"]


def test_a_release_is_refused_while_the_primary_is_failed_over(stack, capsys):
    stack.route53.answer = ["127.0.0.2"]  # Route 53 answers the standby's balancer
    code, report = release(stack, capsys, "start")
    assert code == 3 and "not the primary" in report["reasons"][0]
    assert stored(stack) is None and stack.shares() == {"primary": 0, "standby": 0}


def test_a_release_holds_where_it_is_when_the_primary_fails_over_midway(stack, capsys):
    release(stack, capsys, "start", one_step=True)  # the standby's golden requests
    release(stack, capsys, "advance", one_step=True)  # the standby takes the candidate
    stack.route53.answer = ["127.0.0.2"]
    code, report = release(stack, capsys, "advance")
    assert code == 3 and stack.shares() == {"primary": 0, "standby": 100}
    assert stored(stack).state == "running"


def test_too_little_traffic_holds_the_share_without_rolling_back(aws, tmp_path, capsys):
    stack = ReleaseEnvironment(tmp_path, requests_per_minute=40)  # 5 % of it: 2 a minute
    try:
        code, report = release(stack, capsys, "start")
        assert code == 4 and report["outcome"] == "held"
        assert "fewer than the 10" in steps(report, "gate.live")[-1]["detail"]
        assert stack.shares() == {"primary": 5, "standby": 100}
        stack.requests_per_minute = 400
        code, report = release(stack, capsys, "advance")
        assert code == 6, report["reasons"]
    finally:
        stack.stop()


def test_a_pilot_light_standby_is_checked_in_its_bucket_and_gets_no_share(aws, tmp_path, capsys):
    stack = ReleaseEnvironment(tmp_path, standby_mode="pilot-light")
    try:
        stack.clock.t  # noqa: B018
        code, report = release(stack, capsys, "start")
        assert code == 6, report["reasons"]
        [files] = steps(report, "files")
        assert files["region"] == "us-west-2" and "holds v4 as pinned" in files["detail"]
        assert [row["region"] for row in steps(report, "gate.golden")] == ["us-east-1"]
        assert stack.shares() == {"primary": 100, "standby": 0}
    finally:
        stack.stop()


class RefusingElb:
    """An ELBv2 client whose ModifyRule fails (throttled, an outage): a rollback that cannot be confirmed."""

    def __init__(self, inner):
        self._inner = inner

    def __getattr__(self, name):
        return getattr(self._inner, name)

    def modify_rule(self, **_kwargs):
        from botocore.exceptions import ClientError

        raise ClientError({"Error": {"Code": "ServiceUnavailable", "Message": "try again"},
                           "ResponseMetadata": {"HTTPStatusCode": 503}}, "ModifyRule")


def test_a_rollback_that_cannot_be_read_back_says_act_now(stack, capsys):
    interrupted(stack, capsys)
    clients = stack.clients()
    clients.set_client("elbv2", "us-west-2", RefusingElb(client("elbv2", "us-west-2")))
    code, report = release(stack, capsys, "abort", clients=clients)
    assert code == 5 and report["outcome"] == "rollback-unconfirmed"
    assert any(m.startswith("aws elbv2 modify-rule --region us-west-2") for m in report["messages"])
    assert stack.shares() == {"primary": 0, "standby": 100}  # the primary was put back all the same


def test_status_says_whether_the_live_shares_agree_with_the_release(stack, capsys):
    code, report = release(stack, capsys, "status")
    assert code == 0 and report["shares"] == {"standby": 0.0, "primary": 0.0}
    interrupted(stack, capsys)
    code, report = release(stack, capsys, "status")
    assert code == 0 and report["shares"] == {"standby": 100.0, "primary": 25.0}
    release(stack, capsys, "abort")
    elbv2 = client("elbv2", PRIMARY_REGION)
    door = stack.doors["primary"]
    for rule in door["ruleArns"]:  # someone moves a share by hand
        elbv2.modify_rule(RuleArn=rule, Actions=[{"Type": "forward", "ForwardConfig": {"TargetGroups": [
            {"TargetGroupArn": door["targetGroupArn"], "Weight": 90}, {"TargetGroupArn": door["canaryTargetGroupArn"], "Weight": 10}]}}])
    code, report = release(stack, capsys, "status")
    assert code == 1 and "10 % of the traffic; no release is active" in report["reasons"][0]
    code, report = release(stack, capsys, "start")
    assert code == 3 and "abort` first" in report["reasons"][0]


def test_the_plan_lists_every_step_and_changes_nothing(stack, capsys):
    code, report = release(stack, capsys, "plan")
    assert code == 0 and report["outcome"] == "planned"
    assert [row["step"] for row in report["plan"]] == [
        "offline quality", "golden requests", "share 100 %", "golden requests", "share 5 %", "share 25 %", "share 50 %",
        "share 100 %", "pin the candidate as stable", "traffic back to the stable pods", "remove the candidate"]
    assert stored(stack) is None and stack.shares() == {"primary": 0, "standby": 0}


def test_the_stable_pods_must_have_rolled_out_before_the_traffic_goes_back(stack, capsys):
    release(stack, capsys, "start")
    stack.kube["primary"].digest = stack.kube["standby"].digest = stack.digests[CANDIDATE]
    stack.kube["standby"].rolled = False
    code, report = release(stack, capsys, "advance", stack.outputs(stable=CANDIDATE, candidate=CANDIDATE))
    assert code == 4 and "1 out of 2 new replicas have been updated" in report["reasons"][0]
    assert stack.shares() == {"primary": 100, "standby": 100}  # nothing moved back onto a half-rolled Deployment
    stack.kube["standby"].rolled = True
    assert promote(stack, capsys)["outcome"] == "promoted"


def test_the_patch_can_be_written_as_a_script(stack, capsys, tmp_path):
    script = tmp_path / "promote.sh"
    release(stack, capsys, "start", patch_out=script)
    assert script.read_text().splitlines()[3] == "pulumi config set --path model.version 4 -s prod"
