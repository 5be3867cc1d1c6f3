"""`recsys-dr failover`: ARC endpoint rotation, refusal, --force, and "never both Off".

moto has no Route 53 ARC data plane (`route53-recovery-cluster`), so:
* endpoint retry is tested with real boto3 clients stubbed by botocore's `Stubber`, and a
  real EndpointConnectionError from a client pointed at a closed port on 127.0.0.1;
* the decision logic and the both-Off invariant use `FakeArcCluster` (in-memory data plane
  enforcing the "at least one On" safety rule), injected as the per-endpoint client.
"""

from __future__ import annotations

import argparse
import itertools
import json

import boto3
import pytest
from botocore.stub import Stubber

from recsys_dr.operations import cli as ops_cli
from recsys_dr.operations.arc import ArcController, ArcError
from recsys_dr.operations.clients import ClientFactory
from recsys_dr.operations.failover import EXIT_ARC_FAILED, EXIT_NO_ARC, EXIT_OK, EXIT_REFUSED, gate_reasons, run_failover
from recsys_dr.operations.outputs import ArcEndpoint, ArcOutputs, parse_outputs
from tests.operations.ops_fixtures import (
    RC_PRIMARY, RC_STANDBY, FakeArcCluster, Route53Status, client_factory, closed_port, status_report,
)

EP1 = ArcEndpoint(region="us-east-1", endpoint="https://aaa.route53-recovery-cluster.us-east-1.amazonaws.com/v1")
EP2 = ArcEndpoint(region="us-west-2", endpoint="https://bbb.route53-recovery-cluster.us-west-2.amazonaws.com/v1")


def arc_outputs(*endpoints: ArcEndpoint) -> ArcOutputs:
    return ArcOutputs(cluster_arn="arn:aws:route53-recovery-control::123456789012:cluster/c1",
                      cluster_endpoints=tuple(endpoints or (EP1, EP2)),
                      control_panel_arn="arn:aws:route53-recovery-control::123456789012:controlpanel/abc",
                      routing_controls={"primary": RC_PRIMARY, "standby": RC_STANDBY})


def stubbed(endpoint: ArcEndpoint):
    client = boto3.client("route53-recovery-cluster", region_name=endpoint.region, endpoint_url=endpoint.endpoint)
    stubber = Stubber(client)
    stubber.activate()
    return client, stubber


def add_states(stubber: Stubber, primary: str, standby: str) -> None:
    for arn, state in ((RC_PRIMARY, primary), (RC_STANDBY, standby)):
        stubber.add_response("get_routing_control_state",
                             {"RoutingControlArn": arn, "RoutingControlState": state},
                             {"RoutingControlArn": arn})


FLIP_TO_STANDBY = {"UpdateRoutingControlStateEntries": [
    {"RoutingControlArn": RC_STANDBY, "RoutingControlState": "On"},
    {"RoutingControlArn": RC_PRIMARY, "RoutingControlState": "Off"},
]}


# --------------------------------------------------------------------------- endpoint rotation (Stubber)


def test_5xx_on_first_endpoint_tries_the_second():
    c1, s1 = stubbed(EP1)
    c2, s2 = stubbed(EP2)
    s1.add_client_error("update_routing_control_states", service_error_code="InternalServerException",
                        service_message="try later", http_status_code=500, expected_params=FLIP_TO_STANDBY)
    s2.add_response("update_routing_control_states", {}, FLIP_TO_STANDBY)
    add_states(s2, "Off", "On")  # read-back sticks to the endpoint that answered
    clients = {EP1.endpoint: c1, EP2.endpoint: c2}
    arc = ArcController(arc=arc_outputs(), client_for=lambda region, url: clients[url])
    assert arc.activate("standby") == {"primary": "Off", "standby": "On"}
    s1.assert_no_pending_responses()
    s2.assert_no_pending_responses()
    assert arc.attempts[0]["endpoint"] == EP1.endpoint
    assert arc.attempts[0]["error"].startswith("InternalServerException (HTTP 500)")
    assert [a["error"] for a in arc.attempts[1:]] == [None, None, None]


def test_connection_error_on_first_endpoint_tries_the_second():
    dead = ArcEndpoint(region="us-east-1", endpoint=f"http://127.0.0.1:{closed_port()}")
    c2, s2 = stubbed(EP2)
    add_states(s2, "On", "Off")
    factory = ClientFactory(connect_timeout=1, read_timeout=1)

    def client_for(region, url):
        return c2 if url == EP2.endpoint else factory.arc_cluster(region, url)

    arc = ArcController(arc=arc_outputs(dead, EP2), client_for=client_for)
    assert arc.states() == {"primary": "On", "standby": "Off"}
    s2.assert_no_pending_responses()
    assert "EndpointConnectionError" in arc.attempts[0]["error"]
    assert arc.attempts[0]["region"] == "us-east-1"


def test_each_endpoint_client_is_signed_for_its_own_region():
    factory = ClientFactory()
    c1 = factory.arc_cluster(EP1.region, EP1.endpoint)
    c2 = factory.arc_cluster(EP2.region, EP2.endpoint)
    assert (c1.meta.region_name, c1.meta.endpoint_url) == ("us-east-1", EP1.endpoint)
    assert (c2.meta.region_name, c2.meta.endpoint_url) == ("us-west-2", EP2.endpoint)
    assert c1.meta.config.retries["total_max_attempts"] == 1


def test_definitive_error_is_not_retried_on_other_endpoints():
    c1, s1 = stubbed(EP1)
    c2, s2 = stubbed(EP2)
    s1.add_client_error("update_routing_control_states", service_error_code="AccessDeniedException",
                        http_status_code=403)
    clients = {EP1.endpoint: c1, EP2.endpoint: c2}
    arc = ArcController(arc=arc_outputs(), client_for=lambda region, url: clients[url])
    with pytest.raises(ArcError, match="refused by .*aaa.*AccessDeniedException") as info:
        arc.activate("standby")
    assert info.value.definitive and len(info.value.attempts) == 1


def test_all_endpoints_failing_names_each_one():
    c1, s1 = stubbed(EP1)
    c2, s2 = stubbed(EP2)
    s1.add_client_error("get_routing_control_state", service_error_code="EndpointTemporarilyUnavailableException",
                        http_status_code=503)
    s2.add_client_error("get_routing_control_state", service_error_code="ThrottlingException",
                        http_status_code=429)
    clients = {EP1.endpoint: c1, EP2.endpoint: c2}
    arc = ArcController(arc=arc_outputs(), client_for=lambda region, url: clients[url])
    with pytest.raises(ArcError, match="failed on all 2 ARC cluster endpoints") as info:
        arc.states()
    assert not info.value.definitive
    assert [a["endpoint"] for a in info.value.attempts] == [EP1.endpoint, EP2.endpoint]


# --------------------------------------------------------------------------- never both Off


@pytest.mark.parametrize("batch_supported", [True, False])
def test_flips_never_leave_both_controls_off(batch_supported):
    """Every start state x target x failing-endpoint pattern: after every call one control is On."""
    for primary, standby, target, first_fails in itertools.product(("On", "Off"), ("On", "Off"),
                                                                  ("standby", "primary"), (False, True)):
        if primary == standby == "Off":
            continue  # the safety rule makes this state unreachable
        cluster = FakeArcCluster({RC_PRIMARY: primary, RC_STANDBY: standby}, batch_supported=batch_supported)
        calls = {"n": 0}

        def client_for(region, url, cluster=cluster, first_fails=first_fails):
            from botocore.exceptions import EndpointConnectionError

            calls["n"] += 1
            if first_fails and url == EP1.endpoint:
                class Dead:
                    def __getattr__(self, name):
                        def fail(**kwargs):
                            raise EndpointConnectionError(endpoint_url=url)
                        return fail
                return Dead()
            return cluster

        after = ArcController(arc=arc_outputs(), client_for=client_for).activate(target)
        other = "primary" if target == "standby" else "standby"
        assert after == {target: "On", other: "Off"} or after == {other: "Off", target: "On"}
        assert all("On" in states.values() for states in cluster.history), cluster.history
        if not batch_supported:
            updates = [c for c in cluster.calls if c.startswith("update_routing_control_state")]
            assert updates[0] == "update_routing_control_states"  # tried the atomic call first


def test_fallback_turns_target_on_before_turning_the_other_off():
    cluster = FakeArcCluster(batch_supported=False)
    ArcController(arc=arc_outputs(), client_for=lambda r, u: cluster).activate("standby")
    assert cluster.history == [
        {RC_PRIMARY: "On", RC_STANDBY: "Off"},
        {RC_PRIMARY: "On", RC_STANDBY: "On"},
        {RC_PRIMARY: "Off", RC_STANDBY: "On"},
    ]


# --------------------------------------------------------------------------- run_failover decisions


@pytest.fixture
def arc_outputs_doc(arc_env):
    return arc_env.outputs


def decide(outputs_doc, *, ready, target="standby", cluster=None, **kwargs):
    outputs = parse_outputs(outputs_doc)
    cluster = cluster or FakeArcCluster()
    arc = ArcController(arc=outputs.arc, client_for=lambda r, u: cluster) if outputs.arc else None
    failing = [] if ready else [("serving", target, "serves v2, pinned v3 not loaded")]
    result = run_failover(outputs, target=target, build_status=lambda t: status_report(t, failing),
                          arc_controller=arc, **kwargs)
    return result, cluster


def test_the_gate_reads_check_records_not_their_wording():
    """What blocks is decided by each result's check name; the detail is free text (here with the
    brackets and colons a parser of "name[role]: detail" lines would trip on)."""
    report = status_report("standby", [
        ("arc.routing", None, "cannot read routing controls: [Errno 111] refused"),
        ("serving", "standby", "v3 [AVAILABLE: no] not loaded"),
        ("model", "standby", "manifest.json missing: [s3] NoSuchKey"),
    ])
    assert gate_reasons(report) == ["serving[standby]: v3 [AVAILABLE: no] not loaded",
                                    "model[standby]: manifest.json missing: [s3] NoSuchKey"]
    assert gate_reasons(report, activation=True) == ["model[standby]: manifest.json missing: [s3] NoSuchKey"]


def test_refuses_when_the_target_fails_its_checks(arc_outputs_doc):
    result, cluster = decide(arc_outputs_doc, ready=False)
    assert result.exit_code == EXIT_REFUSED and result.outcome == "refused"
    assert result.reasons == ["serving[standby]: serves v2, pinned v3 not loaded"]
    assert "--force" in result.messages[0]
    assert not [c for c in cluster.calls if c.startswith("update")]
    assert cluster.role_states() == {"primary": "On", "standby": "Off"}


def test_force_fails_over_despite_failing_checks(arc_outputs_doc):
    result, cluster = decide(arc_outputs_doc, ready=False, force=True)
    assert result.exit_code == EXIT_OK and result.outcome == "switched" and result.forced
    assert cluster.role_states() == {"primary": "Off", "standby": "On"}
    assert cluster.calls.count("update_routing_control_states") == 1
    assert result.before == {"primary": "On", "standby": "Off"}
    assert result.after == {"primary": "Off", "standby": "On"}


def test_healthy_target_fails_over_without_force(arc_outputs_doc):
    result, cluster = decide(arc_outputs_doc, ready=True)
    assert result.exit_code == EXIT_OK and cluster.role_states() == {"primary": "Off", "standby": "On"}


def test_failback_to_primary(arc_outputs_doc):
    cluster = FakeArcCluster({RC_PRIMARY: "Off", RC_STANDBY: "On"})
    result, cluster = decide(arc_outputs_doc, ready=True, target="primary", cluster=cluster)
    assert result.exit_code == EXIT_OK and cluster.role_states() == {"primary": "On", "standby": "Off"}


def test_dry_run_changes_nothing(arc_outputs_doc):
    result, cluster = decide(arc_outputs_doc, ready=True, dry_run=True)
    assert result.exit_code == EXIT_OK and result.outcome == "dry-run"
    assert result.change == [{"role": "standby", "state": "On"}, {"role": "primary", "state": "Off"}]
    assert cluster.history == [{RC_PRIMARY: "On", RC_STANDBY: "Off"}]


def test_already_on_target_is_a_no_op(arc_outputs_doc):
    cluster = FakeArcCluster({RC_PRIMARY: "Off", RC_STANDBY: "On"})
    result, cluster = decide(arc_outputs_doc, ready=True, cluster=cluster)
    assert result.outcome == "already" and result.exit_code == EXIT_OK
    assert not [c for c in cluster.calls if c.startswith("update")]


def test_arc_unreachable_exits_4(arc_outputs_doc):
    from botocore.exceptions import EndpointConnectionError

    cluster = FakeArcCluster()
    cluster.fail["get_routing_control_state"] = [EndpointConnectionError(endpoint_url=EP1.endpoint),
                                                 EndpointConnectionError(endpoint_url=EP2.endpoint)]
    result, cluster = decide(arc_outputs_doc, ready=True, cluster=cluster)
    assert result.exit_code == EXIT_ARC_FAILED
    assert "failed on all 2 ARC cluster endpoints" in result.messages[0]
    assert cluster.role_states() == {"primary": "On", "standby": "Off"}


def test_without_arc_says_what_it_can_and_cannot_do(env):
    result, _ = decide(env.outputs, ready=True)
    assert result.exit_code == EXIT_NO_ARC and result.outcome == "no-arc"
    text = "\n".join(result.messages)
    assert "recsys-dr cannot move traffic itself" in text
    assert f"aws route53 update-health-check --health-check-id {env.health_check_ids['primary']} --inverted" in text
    assert "--no-inverted" in text and "disabled check as healthy" in text


# --------------------------------------------------------------------------- CLI, end to end on moto


def parse(argv):
    parser = argparse.ArgumentParser(prog="recsys-dr")
    ops_cli.register(parser.add_subparsers(dest="command"))
    return parser.parse_args(argv)


def cli_factory(cluster):
    factory = client_factory()
    factory.set_client("route53", "us-east-1", Route53Status(factory.route53()))
    factory.arc_cluster = lambda region, url: cluster
    return factory


def test_cli_failover_refuses_unhealthy_standby_then_force_proceeds(arc_env, tmp_path, capsys):
    arc_env.serving["standby"].versions = {"2": "AVAILABLE"}
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps(arc_env.outputs))
    cluster = FakeArcCluster()
    args = parse(["failover", "--to", "standby", "--outputs", str(path), "--json", "--http-timeout", "2"])
    assert ops_cli.handle_failover(args, clients=cli_factory(cluster)) == EXIT_REFUSED
    doc = json.loads(capsys.readouterr().out)
    assert doc["outcome"] == "refused"
    assert doc["reasons"] == ["serving[standby]: serves v2, pinned v3 not loaded"]
    assert cluster.role_states() == {"primary": "On", "standby": "Off"}

    args = parse(["failover", "--to", "standby", "--force", "--outputs", str(path)])
    assert ops_cli.handle_failover(args, clients=cli_factory(cluster)) == EXIT_OK
    out = capsys.readouterr().out
    assert "switched" in out and "routing controls after:  primary Off, standby On" in out
    assert cluster.role_states() == {"primary": "Off", "standby": "On"}


def test_cli_failover_without_arc_exits_3(env, tmp_path, capsys):
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps(env.outputs))
    args = parse(["failover", "--to", "standby", "--outputs", str(path), "--http-timeout", "2"])
    assert ops_cli.handle_failover(args, clients=cli_factory(FakeArcCluster())) == EXIT_NO_ARC
    assert "--inverted" in capsys.readouterr().out


# --------------------------------------------------------------------------- Route 53 API (us-east-1) unreachable


class Route53Unreachable:
    """Every Route 53 control-plane call fails as when us-east-1 cannot be reached."""

    def __init__(self):
        self.calls = []

    def __getattr__(self, name):
        from botocore.exceptions import EndpointConnectionError

        def call(*args, **kwargs):
            self.calls.append(name)
            raise EndpointConnectionError(endpoint_url="https://route53.amazonaws.com/2013-04-01/healthcheck")
        return call


def test_failover_proceeds_when_the_route53_api_is_unreachable(arc_env, tmp_path, capsys):
    """us-east-1 down takes the Route 53 API with it; ARC does not need it, so it must not block."""
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps(arc_env.outputs))
    cluster = FakeArcCluster()
    factory = cli_factory(cluster)
    route53 = Route53Unreachable()
    factory.set_client("route53", "us-east-1", route53)
    args = parse(["failover", "--to", "standby", "--outputs", str(path), "--json", "--http-timeout", "2"])
    assert ops_cli.handle_failover(args, clients=factory) == EXIT_OK
    doc = json.loads(capsys.readouterr().out)
    assert doc["outcome"] == "switched" and doc["reasons"] == []
    warnings = doc["status"]["warnings"]
    assert {w.split(":")[0] for w in warnings} == {"health[standby]", "dns.records"}
    assert all("Route 53 API unreachable" in w for w in warnings)
    assert {"get_health_check", "list_resource_record_sets", "test_dns_answer"} <= set(route53.calls)
    assert cluster.role_states() == {"primary": "Off", "standby": "On"}


def test_reachable_route53_reporting_the_target_unhealthy_still_refuses(arc_env, tmp_path, capsys):
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps(arc_env.outputs))
    cluster = FakeArcCluster()
    factory = client_factory()
    route53 = Route53Status(factory.route53())
    route53.unhealthy = {arc_env.health_check_ids["standby"]}
    factory.set_client("route53", "us-east-1", route53)
    factory.arc_cluster = lambda region, url: cluster
    args = parse(["failover", "--to", "standby", "--outputs", str(path), "--json", "--http-timeout", "2"])
    assert ops_cli.handle_failover(args, clients=factory) == EXIT_REFUSED
    doc = json.loads(capsys.readouterr().out)
    assert [r.split(":")[0] for r in doc["reasons"]] == ["health[standby]"]
    assert "0/4 checkers healthy" in doc["reasons"][0]
    assert cluster.role_states() == {"primary": "On", "standby": "Off"}


def test_route53_access_denied_still_blocks(arc_env):
    """Only "cannot reach Route 53" is advisory; a definitive refusal is not."""
    from botocore.exceptions import ClientError

    from recsys_dr.operations.checks import CheckContext
    from recsys_dr.operations.status import build_report

    class Denied:
        def __getattr__(self, name):
            def call(*args, **kwargs):
                raise ClientError({"Error": {"Code": "AccessDenied", "Message": "no"},
                                   "ResponseMetadata": {"HTTPStatusCode": 403}}, name)
            return call

    factory = client_factory()
    factory.set_client("route53", "us-east-1", Denied())
    report = build_report(CheckContext(outputs=parse_outputs(arc_env.outputs), clients=factory, http_timeout=2),
                          target_only=True)
    assert not report.ready
    assert {r.split(":")[0] for r in report.reasons} == {"health[standby]", "dns.records"}


def test_cli_failover_refuses_a_standby_whose_manifest_is_not_the_pinned_one(arc_env, tmp_path, capsys):
    from tests.operations.test_ops_status import republished_unpinned

    republished_unpinned(arc_env)
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps(arc_env.outputs))
    cluster = FakeArcCluster()
    args = parse(["failover", "--to", "standby", "--outputs", str(path), "--json", "--http-timeout", "2"])
    assert ops_cli.handle_failover(args, clients=cli_factory(cluster)) == EXIT_REFUSED
    (reason,) = json.loads(capsys.readouterr().out)["reasons"]
    assert reason.startswith("model[standby]: v3 manifest.json in s3://") and "is not the pinned one" in reason
    assert cluster.role_states() == {"primary": "On", "standby": "Off"}
