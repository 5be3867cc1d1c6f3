"""`recsys-dr drill`: bounded, always fails back, never both Off, reports time vs budget.

Fakes (moto has neither the ARC data plane nor `TestDNSAnswer`): `FakeArcCluster` for the
routing controls, `DnsFollower` for Route 53's answer (switches to whichever region's
control is On after a configurable delay), a fake clock whose `sleep` advances time, and
lambdas for the serving probes. One end-to-end CLI run uses moto + the fake TF Serving
endpoints with real (sub-second) timeouts.
"""

from __future__ import annotations

import argparse
import json

import pytest

from recsys_dr.operations import cli as ops_cli
from recsys_dr.operations.arc import ArcController
from recsys_dr.operations.drill import (
    EXIT_FAILBACK_FAILED, EXIT_FAILED, EXIT_INTERRUPTED, EXIT_NO_ARC, EXIT_PASSED, DrillSettings, run_drill,
)
from recsys_dr.operations.outputs import parse_outputs
from tests.operations.ops_fixtures import (
    PRIMARY_HOST, RC_PRIMARY, RC_STANDBY, STANDBY_HOST, FakeArcCluster, Route53Status, client_factory, outputs_doc, status_report,
)

class FakeTime:
    def __init__(self):
        self.now = 0.0
        self.interrupt_at: float | None = None

    def clock(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Time a call takes (a status check reads two clusters, two buckets and Route 53)."""
        self.now += seconds

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        self.now += seconds
        if self.interrupt_at is not None and self.now >= self.interrupt_at:
            self.interrupt_at = None
            raise KeyboardInterrupt()


class DnsFollower:
    """Route 53 stand-in: answers the region whose control is On, `delay` s after it changed."""

    def __init__(self, cluster: FakeArcCluster, clock, delay: float, hosts=(PRIMARY_HOST, STANDBY_HOST)):
        self.cluster, self.clock, self.delay = cluster, clock, delay
        self.hosts = dict(zip(("primary", "standby"), hosts))
        self.shown = "primary"
        self.pending: tuple[str, float] | None = None

    def test_dns_answer(self, **kwargs):
        states = self.cluster.role_states()
        active = "standby" if states["standby"] == "On" and states["primary"] == "Off" else "primary"
        if active != self.shown:
            if self.pending is None or self.pending[0] != active:
                self.pending = (active, self.clock())
            if self.clock() - self.pending[1] >= self.delay:
                self.shown, self.pending = active, None
        return {"RecordData": [self.hosts[self.shown]], "ResponseCode": "NOERROR"}


def Ready(ready=True):
    """The standby's status report: ready, or its serving check failing."""
    return status_report("standby", [] if ready else [("serving", "standby", "serves v2, pinned v3 not loaded")])


def drill(*, dns_delay=12.0, ready=True, cluster=None, settings=None, time_=None, standby_ok=lambda: (True, "v3 AVAILABLE"),
          control="arc", status_seconds=7.0):
    """A drill on the fake clock; the preflight status check takes `status_seconds`, so times measured
    from the flip differ from times measured from the start."""
    outputs = parse_outputs(outputs_doc(control))
    time_ = time_ or FakeTime()
    cluster = cluster or FakeArcCluster()
    arc = ArcController(arc=outputs.arc, client_for=lambda r, u: cluster) if outputs.arc else None
    route53 = DnsFollower(cluster, time_.clock, dns_delay)
    def build_status(target):
        time_.advance(status_seconds)
        return Ready(ready)

    result = run_drill(outputs, build_status=build_status, switcher=arc, route53=route53,
                       probe_standby=standby_ok, probe_primary=lambda: (True, "v3 AVAILABLE"),
                       settings=settings or DrillSettings(timeout=120, failback_timeout=120, poll_interval=5),
                       clock=time_.clock, sleep=time_.sleep)
    return result, cluster, time_


def never_both_off(cluster: FakeArcCluster) -> bool:
    return all("On" in states.values() for states in cluster.history)


def test_drill_passes_measures_switch_and_fails_back():
    result, cluster, _ = drill(dns_delay=12)
    assert result.exit_code == EXIT_PASSED and result.outcome == "passed"
    # Measured from the flip (7 s into the drill, after the status check): polls 0, 5, 10, 15 s after it.
    assert result.dns_seconds == 15 and result.switch_seconds == 15
    switch = next(s for s in result.steps if s["step"] == "switch")
    answers = next(s for s in result.steps if s["step"] == "standby.answers")
    assert switch["atSeconds"] == 7 and answers["atSeconds"] == 7 + 15 and answers["phaseSeconds"] == 15
    assert result.client_visible_seconds == 45  # + TTL 30
    assert result.failback_seconds == 15
    assert result.failed_back is True
    assert cluster.role_states() == {"primary": "On", "standby": "Off"}
    assert never_both_off(cluster)
    assert cluster.calls.count("update_routing_control_states") == 2
    assert [s["step"] for s in result.steps] == [
        "preflight.status", "preflight.control", "preflight.dns", "switch", "dns.standby", "standby.answers",
        "failback", "dns.primary"]


def test_drill_report_json_puts_measured_time_beside_the_budget():
    result, _, _ = drill(dns_delay=12)
    doc = json.loads(result.to_json())
    assert doc["measured"] == {"dnsSwitchSeconds": 15, "switchSeconds": 15, "clientVisibleSeconds": 45,
                               "failbackSeconds": 15, "polls": 4}
    assert doc["budget"] == {"seconds": 60, "targetSeconds": 60, "ttlSeconds": 30}


def test_switch_slower_than_target_fails_after_failing_back():
    result, cluster, _ = drill(dns_delay=40)
    assert result.exit_code == EXIT_FAILED and result.outcome == "over-target"
    assert "switch 40s + TTL 30s = 70s exceeds the target 60s" in result.reasons[0]
    assert cluster.role_states() == {"primary": "On", "standby": "Off"}


def test_standby_never_answering_times_out_and_fails_back():
    settings = DrillSettings(timeout=20, failback_timeout=30, poll_interval=5)
    result, cluster, t = drill(dns_delay=10_000, settings=settings)
    assert result.exit_code == EXIT_FAILED and result.outcome == "timeout"
    assert "standby did not answer within 20s" in result.reasons[0]
    assert result.switch_seconds is None and result.failed_back is True
    assert cluster.role_states() == {"primary": "On", "standby": "Off"}
    assert never_both_off(cluster)
    assert t.now <= settings.timeout + settings.failback_timeout  # bounded


def test_standby_dns_switches_but_serving_fails_times_out():
    settings = DrillSettings(timeout=15, failback_timeout=15, poll_interval=5)
    result, cluster, _ = drill(dns_delay=0, settings=settings, standby_ok=lambda: (False, "HTTP 503"))
    assert result.outcome == "timeout" and result.dns_seconds == 0 and result.switch_seconds is None
    assert "serving: HTTP 503" in result.reasons[0]
    assert cluster.role_states()["primary"] == "On"


def test_not_ready_standby_aborts_without_touching_anything():
    result, cluster, _ = drill(ready=False)
    assert result.exit_code == EXIT_FAILED and result.outcome == "not-ready"
    assert result.reasons == ["serving[standby]: serves v2, pinned v3 not loaded"]
    assert cluster.calls == []


def test_drill_refuses_to_start_outside_the_normal_state():
    cluster = FakeArcCluster({RC_PRIMARY: "Off", RC_STANDBY: "On"})
    result, cluster, _ = drill(cluster=cluster)
    assert result.exit_code == EXIT_FAILED and "expected traffic on the primary (primary On, standby Off)" in result.reasons[0]
    assert not [c for c in cluster.calls if c.startswith("update")]


def test_ctrl_c_while_polling_fails_back():
    t = FakeTime()
    t.interrupt_at = 7
    result, cluster, _ = drill(dns_delay=30, time_=t)
    assert result.exit_code == EXIT_INTERRUPTED and result.outcome == "interrupted"
    assert result.failed_back is True
    assert cluster.role_states() == {"primary": "On", "standby": "Off"}


def test_arc_error_during_switch_aborts_and_fails_back():
    from botocore.exceptions import ClientError

    cluster = FakeArcCluster()
    cluster.fail["update_routing_control_states"] = [ClientError(
        {"Error": {"Code": "AccessDeniedException", "Message": "no"}, "ResponseMetadata": {"HTTPStatusCode": 403}},
        "UpdateRoutingControlStates")]
    result, cluster, _ = drill(cluster=cluster)
    assert result.exit_code == EXIT_FAILED and result.outcome == "aborted"
    assert "AccessDeniedException" in result.reasons[0]
    assert result.failed_back is True and cluster.role_states() == {"primary": "On", "standby": "Off"}


def test_failback_failure_exits_5_with_manual_commands():
    from botocore.exceptions import EndpointConnectionError

    cluster = FakeArcCluster()
    settings = DrillSettings(timeout=60, failback_timeout=10, poll_interval=5)

    def lose_arc_after_switch():
        # Once traffic is on the standby, every ARC endpoint goes dark.
        cluster.fail["update_routing_control_states"] = [EndpointConnectionError(endpoint_url="x")] * 100
        return True, "v3 AVAILABLE"

    result, cluster, t = drill(dns_delay=0, cluster=cluster, settings=settings, standby_ok=lose_arc_after_switch)
    assert result.exit_code == EXIT_FAILBACK_FAILED and result.outcome == "failback-failed"
    assert result.failed_back is False and result.reasons[-1].startswith("FAIL-BACK FAILED")
    text = "\n".join(result.messages)
    assert text.startswith("MANUAL ACTION REQUIRED")
    assert "--endpoint-url https://a.example/v1" in text and "--endpoint-url https://b.example/v1" in text
    assert f"RoutingControlArn={RC_PRIMARY},RoutingControlState=On" in text
    assert t.now <= 60 + settings.failback_timeout + settings.poll_interval


def test_drill_without_arc_exits_3():
    result, _, _ = drill(control="health-check")
    assert result.exit_code == EXIT_NO_ARC
    assert "drill needs failoverControl: arc" in result.messages[0]
    assert "--via-health-check-inversion" in result.messages[0]


# --------------------------------------------------------------------------- CLI


def parse(argv):
    parser = argparse.ArgumentParser(prog="recsys-dr")
    ops_cli.register(parser.add_subparsers(dest="command"))
    return parser.parse_args(argv)


def test_cli_drill_requires_matching_confirm(tmp_path, capsys):
    path = tmp_path / "o.json"
    path.write_text(json.dumps(outputs_doc()))
    args = parse(["drill", "--outputs", str(path), "--confirm", "dev"])
    assert args.handler(args) == 2
    assert "does not match the outputs' environment 'prod'" in capsys.readouterr().err


def test_cli_drill_end_to_end_on_moto(arc_env, tmp_path, capsys):
    """Real wall clock, sub-second bounds: moto + fake TF Serving + FakeArcCluster + DNS stand-in."""
    path = tmp_path / "o.json"
    path.write_text(json.dumps(arc_env.outputs))
    cluster = FakeArcCluster()
    factory = client_factory()
    route53 = Route53Status(factory.route53())

    def answer():
        states = cluster.role_states()
        return [arc_env.hosts["standby" if states["standby"] == "On" else "primary"]]

    route53.answer = answer
    factory.set_client("route53", "us-east-1", route53)
    factory.arc_cluster = lambda region, url: cluster
    args = parse(["drill", "--outputs", str(path), "--confirm", "prod", "--json", "--timeout", "3",
                  "--failback-timeout", "3", "--poll-interval", "0.05", "--http-timeout", "2"])
    assert ops_cli.handle_drill(args, clients=factory) == EXIT_PASSED
    doc = json.loads(capsys.readouterr().out)
    assert doc["outcome"] == "passed" and doc["failedBack"] is True
    assert doc["measured"]["switchSeconds"] < 3
    assert cluster.role_states() == {"primary": "On", "standby": "Off"}
    assert never_both_off(cluster)
    assert arc_env.serving["standby"].requests >= 2  # preflight status + the poll


# --------------------------------------------------------------------------- health-check inversion


class InvertingRoute53:
    """Route 53 stand-in for the inversion drill: health-check config plus a DNS answer that
    follows the primary check's `Inverted` flag after `delay` s (detection + propagation)."""

    def __init__(self, clock, delay: float):
        self.clock, self.delay = clock, delay
        self.inverted = {"hc-primary": False, "hc-standby": False}
        self.changed_at = float("-inf")
        self.updates: list[tuple[str, bool]] = []

    def get_health_check(self, HealthCheckId):  # noqa: N803
        return {"HealthCheck": {"HealthCheckConfig": {"Type": "HTTP_STR_MATCH", "Inverted": self.inverted[HealthCheckId]}}}

    def update_health_check(self, HealthCheckId, Inverted):  # noqa: N803
        self.updates.append((HealthCheckId, Inverted))
        if self.inverted[HealthCheckId] != Inverted:
            self.inverted[HealthCheckId] = Inverted
            self.changed_at = self.clock()
        return {}

    def test_dns_answer(self, **kwargs):
        settled = self.clock() - self.changed_at >= self.delay
        standby = self.inverted["hc-primary"] if settled else not self.inverted["hc-primary"]
        return {"RecordData": [STANDBY_HOST if standby else PRIMARY_HOST]}


def inversion_drill(*, delay, settings=None):
    from recsys_dr.operations.inversion import HealthCheckInversion

    outputs = parse_outputs(outputs_doc("health-check"))
    t = FakeTime()
    route53 = InvertingRoute53(t.clock, delay)
    switcher = HealthCheckInversion(route53=route53, health_check_id="hc-primary")
    result = run_drill(outputs, build_status=lambda target: Ready(True), switcher=switcher, route53=route53,
                       probe_standby=lambda: (True, "v3 AVAILABLE"), probe_primary=lambda: (True, "v3 AVAILABLE"),
                       settings=settings or DrillSettings(timeout=120, failback_timeout=120, poll_interval=5),
                       clock=t.clock, sleep=t.sleep)
    return result, route53


def test_inversion_drill_prints_the_undo_command_before_inverting():
    """If the drill is killed -9 after the switch, the `--no-inverted` command is already on screen."""
    from recsys_dr.operations.inversion import HealthCheckInversion

    t = FakeTime()
    route53 = InvertingRoute53(t.clock, 22)
    logged_before_switch: list[str] = []

    def log(line):
        if not route53.updates:
            logged_before_switch.append(line)

    run_drill(parse_outputs(outputs_doc("health-check")), build_status=lambda target: Ready(True),
              switcher=HealthCheckInversion(route53=route53, health_check_id="hc-primary"), route53=route53,
              probe_standby=lambda: (True, ""), clock=t.clock, sleep=t.sleep, log=log)
    assert route53.updates == [("hc-primary", True), ("hc-primary", False)]
    assert any("killed before it fails back" in line for line in logged_before_switch)
    assert "  aws route53 update-health-check --health-check-id hc-primary --no-inverted" in logged_before_switch


def test_inversion_drill_measures_the_automatic_path_and_restores_the_check():
    result, route53 = inversion_drill(delay=22)  # detection (10 s x 2-3) + propagation
    assert result.exit_code == EXIT_PASSED and result.method == "health-check inversion"
    assert result.switch_seconds == 25 and result.client_visible_seconds == 55
    assert route53.updates == [("hc-primary", True), ("hc-primary", False)]  # the standby's check untouched
    assert route53.inverted == {"hc-primary": False, "hc-standby": False}


def test_inversion_drill_over_budget_is_reported_and_restored():
    result, route53 = inversion_drill(delay=40)
    assert result.exit_code == EXIT_FAILED and result.outcome == "over-target"
    assert route53.inverted["hc-primary"] is False


def test_inversion_drill_refuses_when_the_check_is_already_inverted():
    from recsys_dr.operations.inversion import HealthCheckInversion

    t = FakeTime()
    route53 = InvertingRoute53(t.clock, 0)
    route53.inverted["hc-primary"] = True
    result = run_drill(parse_outputs(outputs_doc("health-check")), build_status=lambda target: Ready(True),
                       switcher=HealthCheckInversion(route53=route53, health_check_id="hc-primary"),
                       route53=route53, probe_standby=lambda: (True, ""), clock=t.clock, sleep=t.sleep)
    assert result.exit_code == EXIT_FAILED and "not drilling outside the normal state" in result.reasons[0]
    assert route53.updates == []


def test_cli_inversion_flag_is_rejected_for_arc_environments(tmp_path, capsys):
    path = tmp_path / "o.json"
    path.write_text(json.dumps(outputs_doc("arc")))
    args = parse(["drill", "--outputs", str(path), "--confirm", "prod", "--via-health-check-inversion"])
    assert args.handler(args) == 2
    assert "uses ARC routing controls" in capsys.readouterr().err


def test_cli_inversion_drill_end_to_end_on_moto(env, tmp_path, capsys):
    """moto keeps the health checks (and the Inverted flag); Route53Status answers DNS from that flag."""
    path = tmp_path / "o.json"
    path.write_text(json.dumps(env.outputs))
    factory = client_factory()
    route53 = Route53Status(factory.route53())
    primary_check = env.health_check_ids["primary"]

    def answer():
        config = route53.get_health_check(HealthCheckId=primary_check)["HealthCheck"]["HealthCheckConfig"]
        return [env.hosts["standby" if config.get("Inverted") else "primary"]]

    route53.answer = answer
    factory.set_client("route53", "us-east-1", route53)
    args = parse(["drill", "--outputs", str(path), "--confirm", "prod", "--json", "--timeout", "3",
                  "--failback-timeout", "3", "--poll-interval", "0.05", "--http-timeout", "2",
                  "--via-health-check-inversion"])
    assert ops_cli.handle_drill(args, clients=factory) == EXIT_PASSED
    doc = json.loads(capsys.readouterr().out)
    assert doc["outcome"] == "passed" and doc["method"] == "health-check inversion"
    for role in ("primary", "standby"):
        config = route53.get_health_check(HealthCheckId=env.health_check_ids[role])["HealthCheck"]["HealthCheckConfig"]
        assert not config.get("Inverted")


def test_drill_refuses_when_the_primary_is_unhealthy(arc_env, tmp_path, capsys):
    """Nothing to fail back to: the drill must not start."""
    arc_env.serving["primary"].versions = {"2": "AVAILABLE"}
    path = tmp_path / "o.json"
    path.write_text(json.dumps(arc_env.outputs))
    cluster = FakeArcCluster()
    factory = client_factory()
    factory.set_client("route53", "us-east-1", Route53Status(factory.route53()))
    factory.arc_cluster = lambda region, url: cluster
    args = parse(["drill", "--outputs", str(path), "--confirm", "prod", "--json", "--timeout", "1",
                  "--failback-timeout", "1", "--poll-interval", "0.05", "--http-timeout", "2"])
    assert ops_cli.handle_drill(args, clients=factory) == EXIT_FAILED
    doc = json.loads(capsys.readouterr().out)
    assert doc["outcome"] == "not-ready"
    assert doc["reasons"] == ["the primary must be healthy to drill (the drill fails back to it)",
                              "serving[primary]: serves v2, pinned v3 not loaded"]
    assert cluster.calls == ["get_routing_control_state", "get_routing_control_state"]  # status read only


# --------------------------------------------------------------------------- interrupts during fail-back


def interrupted_drill(failback_activate, *, settings=None, control="arc", route53=None):
    """First Ctrl-C while polling (fake clock, t=7 s); `failback_activate(orig)` runs for activate("primary")."""
    outputs = parse_outputs(outputs_doc(control))
    t = FakeTime()
    t.interrupt_at = 7
    cluster = FakeArcCluster()
    arc = ArcController(arc=outputs.arc, client_for=lambda r, u: cluster)
    orig = arc.activate

    def activate(target):
        return orig(target) if target == "standby" else failback_activate(orig)

    arc.activate = activate
    logs: list[str] = []
    result = run_drill(outputs, build_status=lambda _t: Ready(True), switcher=arc,
                       route53=route53 or DnsFollower(cluster, t.clock, 30),
                       probe_standby=lambda: (True, "v3 AVAILABLE"), probe_primary=lambda: (True, "v3 AVAILABLE"),
                       settings=settings or DrillSettings(timeout=120, failback_timeout=60, poll_interval=5),
                       clock=t.clock, sleep=t.sleep, log=logs.append)
    return result, cluster, t, logs


def test_second_ctrl_c_inside_the_failback_call_is_retried_not_fatal():
    """The audit's case: a KeyboardInterrupt raised inside activate("primary") used to escape run_drill."""
    calls = []

    def failback(orig):
        calls.append(1)
        if len(calls) == 1:
            raise KeyboardInterrupt("second Ctrl-C")
        return orig("primary")

    result, cluster, _, logs = interrupted_drill(failback)
    assert len(calls) == 2
    assert result.failed_back is True and cluster.role_states() == {"primary": "On", "standby": "Off"}
    assert result.exit_code == EXIT_INTERRUPTED and result.outcome == "interrupted"
    assert any("interrupt during fail-back: retrying" in line for line in logs)
    assert never_both_off(cluster)


def test_failback_never_confirmed_exits_5_never_130():
    """Every fail-back attempt is interrupted: bounded by failback_timeout, exit 5, commands printed."""
    def failback(orig):
        raise KeyboardInterrupt("Ctrl-C again")

    settings = DrillSettings(timeout=120, failback_timeout=20, poll_interval=5)
    result, cluster, t, logs = interrupted_drill(failback, settings=settings)
    assert result.exit_code == EXIT_FAILBACK_FAILED and result.outcome == "failback-failed"
    assert result.failed_back is False
    assert cluster.role_states() == {"primary": "Off", "standby": "On"}
    assert t.now <= 7 + settings.failback_timeout + settings.poll_interval
    manual = [line for line in logs if "update-routing-control-states" in line]
    # logged before the switch, and again when the fail-back failed (stderr, even if rendering never happens)
    assert len(manual) == 4
    assert "MANUAL ACTION REQUIRED: traffic may still go to the standby." in logs
    assert result.messages[0].startswith("MANUAL ACTION REQUIRED")
    assert f"RoutingControlArn={RC_PRIMARY},RoutingControlState=On" in result.messages[-1]


@pytest.mark.parametrize("signame", ["SIGINT", "SIGTERM"])
def test_real_signal_during_failback_is_deferred_until_it_finishes(signame):
    """A real signal sent to this process while the fail-back call runs: deferred, not raised.

    SIGTERM gets the CLI's handler (raise KeyboardInterrupt) outside the fail-back, as in `handle_drill`.
    """
    import os
    import signal

    from recsys_dr.operations.shield import sigterm_as_interrupt

    class StuckDns:
        """Answers the primary until the fail-back starts, then keeps answering the standby."""
        stuck = False

        def test_dns_answer(self, **kwargs):
            return {"RecordData": [STANDBY_HOST if self.stuck else PRIMARY_HOST]}

    sig = getattr(signal, signame)
    calls = []
    dns = StuckDns()

    def failback(orig):
        calls.append(1)
        dns.stuck = True
        os.kill(os.getpid(), sig)  # delivered to the Python handler before the next bytecode
        for _ in range(1000):
            pass
        return orig("primary")

    # Python's own SIGINT handler, as in an interactive run (a runner started with `nohup … &`
    # inherits SIGINT ignored, and Python then keeps SIG_IGN).
    previous_int = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with sigterm_as_interrupt():
            as_interrupt = signal.getsignal(signal.SIGTERM)
            result, cluster, t, logs = interrupted_drill(failback, route53=dns)
            assert signal.getsignal(signal.SIGTERM) is as_interrupt  # the shield restored the CLI's handler
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    finally:
        signal.signal(signal.SIGINT, previous_int)
    assert calls == [1]
    assert any(f"{signame} received: deferred until fail-back finishes (at most 60s)" in line for line in logs)
    assert result.failed_back is True and cluster.role_states() == {"primary": "On", "standby": "Off"}
    assert result.exit_code == EXIT_INTERRUPTED
    # The switch back is confirmed; the operator asked to stop, so the DNS wait ends at once.
    assert result.steps[-1]["step"] == "dns.primary" and result.steps[-1]["detail"].startswith("not awaited")
    assert t.now == 10  # the first Ctrl-C came with the poll sleep ending at 10 s; no fail-back time spent
    assert f"interrupted during fail-back ({signame}; deferred until it finished)" not in result.reasons
    assert result.reasons[0] == "interrupted (Ctrl-C)"


def test_signal_during_failback_after_a_timeout_is_reported_as_interrupted():
    import os
    import signal

    def failback(orig):
        os.kill(os.getpid(), signal.SIGINT)
        return orig("primary")

    outputs = parse_outputs(outputs_doc("arc"))
    t = FakeTime()
    cluster = FakeArcCluster()
    arc = ArcController(arc=outputs.arc, client_for=lambda r, u: cluster)
    orig = arc.activate
    arc.activate = lambda target: orig(target) if target == "standby" else failback(orig)
    result = run_drill(outputs, build_status=lambda _t: Ready(True), switcher=arc,
                       route53=DnsFollower(cluster, t.clock, 10_000), probe_standby=lambda: (True, ""),
                       settings=DrillSettings(timeout=10, failback_timeout=10, poll_interval=5),
                       clock=t.clock, sleep=t.sleep)
    assert result.exit_code == EXIT_INTERRUPTED and result.failed_back is True
    assert "standby did not answer within 10s" in result.reasons[0]
    assert "interrupted during fail-back (SIGINT; deferred until it finished)" in result.reasons
