"""`failoverControl: region-switch`: plan executions and evaluation status through boto3 `arc-region-switch`.

moto has no Region switch, so every call goes to a real boto3 client under botocore's Stubber (which
validates requests and responses against the service model), or to a client pointed at a closed
port on 127.0.0.1 for "unreachable".
"""

from __future__ import annotations

import argparse
import datetime as dt
import json

import boto3
import pytest
from botocore.config import Config
from botocore.stub import ANY, Stubber

from recsys_dr.operations import cli as ops_cli
from recsys_dr.operations.arc import ArcError
from recsys_dr.operations.failover import EXIT_ARC_FAILED, EXIT_OK, EXIT_REFUSED, run_failover
from recsys_dr.operations.outputs import OutputsError, RegionSwitchOutputs, parse_outputs
from recsys_dr.operations.region_switch import RegionSwitch
from tests.operations.ops_fixtures import closed_port, outputs_doc, status_report

PLAN = "arn:aws:arc-region-switch::123456789012:plan/recsys-prod:abc123"
REGIONS = {"primary": "us-east-1", "standby": "us-west-2"}
T0 = dt.datetime(2026, 12, 1, 3, 0, 0, tzinfo=dt.timezone.utc)


def rs_doc(**extra):
    doc = outputs_doc("health-check")
    doc["failoverControl"] = "region-switch"
    doc["regionSwitch"] = {"planArn": PLAN, "executionRoleArn": "arn:aws:iam::123456789012:role/rs",
                           "approvalStepName": None, "recoveryTimeObjectiveMinutes": 30, **extra}
    return doc


def stubbed(region):
    client = boto3.client("arc-region-switch", region_name=region)
    stub = Stubber(client)
    stub.activate()
    return client, stub


def dead(region):
    return boto3.client("arc-region-switch", region_name=region, endpoint_url=f"http://127.0.0.1:{closed_port()}",
                        config=Config(retries={"total_max_attempts": 1}, connect_timeout=1))


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def sleep(self, s):
        self.now += s


def switch(clients: dict, **kwargs) -> RegionSwitch:
    clock = Clock()
    return RegionSwitch(plan=RegionSwitchOutputs(plan_arn=PLAN, approval_step_name=kwargs.pop("approval", None)),
                        regions=REGIONS, client_for=clients.__getitem__, clock=clock, sleep=clock.sleep, **kwargs)


def event(eid, type_, step=None, **more):
    return {"eventId": eid, "type": type_, "timestamp": T0, **({"stepName": step} if step else {}), **more}


def execution(state, **more):
    return {"planArn": PLAN, "executionId": "ex-1", "startTime": T0, "mode": "graceful", "executionState": state,
            "executionAction": "activate", "executionRegion": "us-west-2", **more}


def add_follow(stub, events_pages, states):
    for events, state in zip(events_pages, states):
        stub.add_response("list_plan_execution_events", {"items": events},
                          {"planArn": PLAN, "executionId": "ex-1", "maxResults": 100})
        stub.add_response("get_plan_execution", execution(state),
                          {"planArn": PLAN, "executionId": "ex-1", "maxResults": 100})


# --------------------------------------------------------------------------- outputs


def test_region_switch_outputs_parse():
    out = parse_outputs(rs_doc())
    assert out.region_switch.plan_arn == PLAN and out.arc is None
    assert out.region_switch.recovery_time_objective_minutes == 30


def test_plan_arn_must_match_the_api_pattern():
    with pytest.raises(OutputsError, match=r"`regionSwitch.planArn` must be a Region switch plan ARN"):
        parse_outputs(rs_doc(planArn="arn:aws:arc-region-switch:us-east-1:123456789012:plan/x:abc123"))


# --------------------------------------------------------------------------- execution


def test_start_goes_to_the_region_being_activated_and_events_are_followed():
    west, stub = stubbed("us-west-2")
    stub.add_response("start_plan_execution", {"executionId": "ex-1", "plan": PLAN},
                      {"planArn": PLAN, "targetRegion": "us-west-2", "action": "activate", "mode": "ungraceful",
                       "comment": "drill", "clientToken": ANY})
    add_follow(stub, [[event("e1", "executionStarted")],
                      [event("e1", "executionStarted"), event("e2", "stepStarted", "scale-eks",
                                                              executionBlockType="EKSResourceScaling")],
                      [event("e3", "stepSucceeded", "scale-eks"), event("e4", "executionSucceeded")]],
               ["inProgress", "inProgress", "completed"])
    lines = []
    rs = switch({"us-west-2": west}, log=lines.append)
    execution_id, region = rs.start("us-west-2", ungraceful=True, comment="drill")
    result = rs.follow(execution_id, region, timeout=600, poll_interval=15)
    stub.assert_no_pending_responses()
    assert result.succeeded and result.state == "completed" and result.seconds == 30
    assert [e["type"] for e in result.events] == ["executionStarted", "stepStarted", "stepSucceeded",
                                                  "executionSucceeded"]  # each event once
    assert any("stepStarted [scale-eks]" in line for line in lines)


def test_unreachable_region_falls_over_to_the_plans_other_region():
    east, stub = stubbed("us-east-1")
    stub.add_response("get_plan_evaluation_status", {"planArn": PLAN, "evaluationState": "passed"},
                      {"planArn": PLAN})
    rs = switch({"us-west-2": dead("us-west-2"), "us-east-1": east})
    assert rs.evaluation("us-west-2")["region"] == "us-east-1"
    assert [a["region"] for a in rs.attempts] == ["us-west-2", "us-east-1"]
    assert rs.attempts[0]["error"].startswith("EndpointConnectionError")


def test_access_denied_stops_at_once():
    west, stub = stubbed("us-west-2")
    stub.add_client_error("get_plan_evaluation_status", "AccessDeniedException", "no", 403)
    rs = switch({"us-west-2": west, "us-east-1": dead("us-east-1")})
    with pytest.raises(ArcError, match="refused in us-west-2") as info:
        rs.evaluation("us-west-2")
    assert info.value.definitive and len(rs.attempts) == 1


def test_follow_is_bounded_and_prints_the_approval_command():
    west, stub = stubbed("us-west-2")
    add_follow(stub, [[event("e1", "stepPendingApproval", "approve")]] * 3, ["pendingManualApproval"] * 3)
    lines = []
    rs = switch({"us-west-2": west}, log=lines.append, approval="approve")
    result = rs.follow("ex-1", "us-west-2", timeout=30, poll_interval=15)
    assert result.state == "pendingManualApproval" and not result.succeeded and result.seconds == 30
    assert sum("approve-plan-execution-step" in line for line in lines) == 1
    assert "--step-name approve --approval approve" in next(line for line in lines if "approve-plan" in line)


# --------------------------------------------------------------------------- failover decisions


def Report(failing=()):
    """The standby's status report with these blocking failures `(name, role, detail)`."""
    return status_report("standby", failing)


def test_failover_runs_the_plan_and_exits_0():
    west, stub = stubbed("us-west-2")
    stub.add_response("get_plan_evaluation_status", {"planArn": PLAN, "evaluationState": "passed"},
                      {"planArn": PLAN})
    stub.add_response("start_plan_execution", {"executionId": "ex-1"},
                      {"planArn": PLAN, "targetRegion": "us-west-2", "action": "activate", "mode": "graceful",
                       "comment": ANY, "clientToken": ANY})
    add_follow(stub, [[event("e1", "executionSucceeded")]], ["completed"])
    result = run_failover(parse_outputs(rs_doc()), target="standby",
                          build_status=lambda t: Report([("serving", "standby", "no answer")]),
                          region_switch=switch({"us-west-2": west}))
    assert result.exit_code == EXIT_OK and result.execution["state"] == "completed"


def test_failover_refuses_what_the_plan_cannot_fix():
    result = run_failover(parse_outputs(rs_doc()), target="standby",
                          build_status=lambda t: Report([("model", "standby", "manifest.json missing")]),
                          region_switch=switch({"us-west-2": _passing("us-west-2")}))
    assert result.exit_code == EXIT_REFUSED and result.reasons == ["model[standby]: manifest.json missing"]


def _passing(region):
    client, stub = stubbed(region)
    stub.add_response("get_plan_evaluation_status", {"planArn": PLAN, "evaluationState": "passed"},
                      {"planArn": PLAN})
    return client


def test_failed_execution_exits_1_and_unreachable_exits_4():
    west, stub = stubbed("us-west-2")
    stub.add_response("get_plan_evaluation_status", {"planArn": PLAN, "evaluationState": "passed"},
                      {"planArn": PLAN})
    stub.add_response("start_plan_execution", {"executionId": "ex-1"})
    add_follow(stub, [[event("e1", "stepFailed", "scale-eks", error="AccessDenied on deployments/scale")]],
               ["failed"])
    result = run_failover(parse_outputs(rs_doc()), target="standby", build_status=lambda t: Report(),
                          region_switch=switch({"us-west-2": west}))
    assert result.exit_code == EXIT_REFUSED and result.execution["events"][0]["error"].startswith("AccessDenied")

    rs = switch({"us-west-2": dead("us-west-2"), "us-east-1": dead("us-east-1")})
    result = run_failover(parse_outputs(rs_doc()), target="standby", build_status=lambda t: Report(),
                          region_switch=rs)
    assert result.exit_code == EXIT_ARC_FAILED
    assert "failed in every Region" in result.messages[-1]


# --------------------------------------------------------------------------- status


def parse(argv):
    parser = argparse.ArgumentParser(prog="recsys-dr")
    ops_cli.register(parser.add_subparsers(dest="command"))
    return parser.parse_args(argv)


def test_status_shows_the_plan_evaluation():
    """actionRequired blocks: Region switch expects the execution to fail (permissions, capacity)."""
    from recsys_dr.operations.checks import CheckContext
    from recsys_dr.operations.status import build_report
    west, stub = stubbed("us-west-2")
    stub.add_response("get_plan_evaluation_status", {
        "planArn": PLAN, "evaluationState": "actionRequired", "region": "us-west-2",
        "warnings": [{"version": "1", "warningStatus": "active", "warningUpdatedTime": T0, "stepName": "scale-eks",
                      "warningMessage": "execution role has no access entry in c-standby"},
                     {"version": "1", "warningStatus": "resolved", "warningUpdatedTime": T0,
                      "warningMessage": "old"}]}, {"planArn": PLAN})
    out = parse_outputs(rs_doc())
    ctx = CheckContext(outputs=out, clients=_Unreachable(), http_timeout=0.2)
    report = build_report(ctx, target_only=True, region_switch=switch({"us-west-2": west}))
    plan = next(r for r in report.results if r.name == "arc.plan")
    assert plan.blocks and "actionRequired: scale-eks: execution role has no access entry" in plan.detail
    assert "old" not in plan.detail


class _Unreachable:
    """A ClientFactory whose every AWS client fails to connect (fast)."""

    def __getattr__(self, name):
        port = closed_port()

        def make(*args, **kwargs):
            service = {"s3": "s3", "eks": "eks", "cloudwatch": "cloudwatch", "route53": "route53"}[name]
            region = args[0] if args else "us-east-1"
            return boto3.client(service, region_name=region, endpoint_url=f"http://127.0.0.1:{port}",
                                config=Config(retries={"total_max_attempts": 1}, connect_timeout=1))
        return make


def test_cli_status_exit_code_when_region_switch_is_unreachable(tmp_path, capsys, monkeypatch):
    """docs/runbook.md: status exits 1 (not ready) when the plan cannot be read in either Region."""
    path = tmp_path / "out.json"
    path.write_text(json.dumps(rs_doc()))
    factory = _Unreachable()
    monkeypatch.setattr(ops_cli, "build_region_switch",
                        lambda outputs, clients, log: switch({"us-west-2": dead("us-west-2"),
                                                              "us-east-1": dead("us-east-1")}))
    args = parse(["status", "--outputs", str(path), "--json", "--http-timeout", "0.2"])
    assert ops_cli.handle_status(args, clients=factory) == 1
    doc = json.loads(capsys.readouterr().out)
    plan = next(c for c in doc["checks"] if c["name"] == "arc.plan")
    assert plan["status"] == "FAIL" and "failed in every Region" in plan["detail"]


# --------------------------------------------------------------------------- drill


def test_drill_runs_the_plan_both_ways_and_times_the_execution():
    from recsys_dr.operations.drill import run_drill
    from recsys_dr.operations.region_switch import PlanSwitcher

    west, stub = stubbed("us-west-2")
    east, east_stub = stubbed("us-east-1")
    stub.add_response("get_plan_evaluation_status", {"planArn": PLAN, "evaluationState": "passed"},
                      {"planArn": PLAN})
    stub.add_response("start_plan_execution", {"executionId": "ex-1"})
    add_follow(stub, [[event("e1", "executionStarted")], [event("e2", "executionSucceeded")]],
               ["inProgress", "completed"])
    east_stub.add_response("start_plan_execution", {"executionId": "ex-1"},
                           {"planArn": PLAN, "targetRegion": "us-east-1", "action": "activate", "mode": "graceful",
                            "comment": ANY, "clientToken": ANY})
    add_follow(east_stub, [[event("e9", "executionSucceeded")]], ["completed"])
    clock = Clock()
    rs = RegionSwitch(plan=RegionSwitchOutputs(plan_arn=PLAN, recovery_time_objective_minutes=30),
                      regions=REGIONS, client_for={"us-west-2": west, "us-east-1": east}.__getitem__,
                      clock=clock, sleep=clock.sleep)
    out = parse_outputs(rs_doc())
    hosts = {"primary": out.primary.endpoint, "standby": out.standby.endpoint}
    where = {"role": "primary"}

    class Route53:
        def test_dns_answer(self, **_kwargs):
            return {"RecordData": [hosts[where["role"]]], "ResponseCode": "NOERROR"}

    switcher = PlanSwitcher(switch=rs, regions=REGIONS, timeout=600, poll_interval=15)
    original = switcher.activate

    def activate(target):
        states = original(target)
        where["role"] = target  # Route 53 follows the completed plan
        return states

    switcher.activate = activate
    result = run_drill(out, build_status=lambda t: Report(), switcher=switcher, route53=Route53(),
                       probe_standby=lambda: (True, "v3 AVAILABLE"), probe_primary=lambda: (True, "v3 AVAILABLE"),
                       clock=clock, sleep=clock.sleep)
    stub.assert_no_pending_responses()
    east_stub.assert_no_pending_responses()
    assert result.exit_code == 0, result.reasons
    assert result.method == "Region switch plan" and result.failed_back
    plan_phase = next(p for p in result.phases if p["phase"] == "plan execution (standby)")
    assert plan_phase == {"phase": "plan execution (standby)", "ok": True, "seconds": 15, "budgetSeconds": 1800,
                          "detail": "ex-1 completed"}
