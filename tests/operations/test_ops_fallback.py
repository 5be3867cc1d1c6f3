"""The fallback tier in the operator tools: `status` checks it every time, the DNS records check follows
the cascade, and `drill --scenario gpu-tiers-down` takes both GPU tiers out and measures until it answers.

Route 53's answer is computed by its own rules (`sandbox.route53.resolve`) over the records moto stores
and the health checks' Inverted flags (`Environment.answer`), so the drill moves traffic the way the
real cascade would.
"""

from __future__ import annotations

import json

import pytest

from recsys_dr.operations import cli as ops_cli
from recsys_dr.operations.checks import CheckContext, check_dns_records
from recsys_dr.operations.drill import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_NO_ARC, EXIT_PASSED
from recsys_dr.operations.outputs import parse_outputs
from recsys_dr.operations.status import build_report
from tests.operations.ops_fixtures import FALLBACK_HOST, FALLBACK_VERSION, Environment, Route53Status, client_factory
from tests.operations.test_ops_drill import parse


@pytest.fixture
def fallback_env(aws, tmp_path):
    environment = Environment(tmp_path, fallback=True)
    yield environment
    environment.stop()


@pytest.fixture
def fallback_pilot_env(aws, tmp_path):
    environment = Environment(tmp_path, standby_mode="pilot-light", fallback=True)
    yield environment
    environment.stop()


def report(environment, *, target="standby"):
    outputs = parse_outputs(environment.outputs)
    return build_report(CheckContext(outputs=outputs, clients=client_factory(), target=target, http_timeout=2))


def by_label(status) -> dict:
    return {r.label: r for r in status.results}


def test_status_checks_the_fallback_every_time_and_it_never_blocks(fallback_env):
    status = report(fallback_env)
    results = by_label(status)
    assert results["model[fallback]"].ok and f"v{FALLBACK_VERSION}:" in results["model[fallback]"].detail
    assert "models/recommender-fallback/5/" in results["model[fallback]"].detail
    assert results["health[fallback]"].ok
    serving = results["serving[fallback]"]
    assert serving.ok and "one prediction: 3 items" in serving.detail and serving.data["prediction"]["items"] == 3
    assert status.ready and status.to_dict()["fallback"]["model"] == {"name": "recommender-fallback", "version": 5}
    # A fallback that stops answering shows as warnings, not as a reason the standby cannot take traffic.
    fallback_env.serving["fallback"].versions = {"4": "AVAILABLE"}
    status = report(fallback_env)
    assert status.ready and any(w.startswith("serving[fallback]") for w in status.warnings)


def test_status_accepts_the_fallback_candidate_a_release_gave_the_traffic(fallback_env):
    # `recsys-dr release --tier fallback` gives its candidate the whole of the fallback's traffic.
    fallback_env.outputs["fallback"]["model"]["candidate"] = {"version": FALLBACK_VERSION + 1, "manifestSha256": "c" * 64}
    fallback_env.serving["fallback"].versions = {str(FALLBACK_VERSION + 1): "AVAILABLE"}
    serving = by_label(report(fallback_env))["serving[fallback]"]
    assert serving.ok and f"v{FALLBACK_VERSION + 1} (the candidate) AVAILABLE" in serving.detail
    fallback_env.outputs["fallback"]["model"]["candidate"] = None  # without a candidate it is not the pinned version
    assert not by_label(report(fallback_env))["serving[fallback]"].ok


def test_status_refuses_a_fallback_manifest_that_is_not_the_pinned_one(fallback_env):
    fallback_env.outputs["fallback"]["model"]["manifestSha256"] = "0" * 64
    result = by_label(report(fallback_env))["model[fallback]"]
    assert not result.ok and not result.blocking and "is not the pinned one" in result.detail


def test_dns_records_check_follows_the_cascade(fallback_env):
    outputs = parse_outputs(fallback_env.outputs)
    result = check_dns_records(CheckContext(outputs=outputs, clients=client_factory()))
    assert result.ok and "SECONDARY -> cascade (standby, then fallback)" in result.detail
    # The nested pair pointing the standby's record elsewhere is a reason the standby cannot take traffic.
    wrong = json.loads(json.dumps(fallback_env.outputs))
    wrong["regions"]["standby"]["endpoint"] = "elsewhere.example.com:80"
    result = check_dns_records(CheckContext(outputs=parse_outputs(wrong), clients=client_factory()))
    assert not result.ok and result.blocking and "cascade PRIMARY points to localhost, expected elsewhere.example.com" in result.detail


def drill(environment, tmp_path, *extra, sleep=None) -> tuple[int, Route53Status, object]:
    path = tmp_path / "o.json"
    path.write_text(json.dumps(environment.outputs))
    factory = client_factory()
    route53 = Route53Status(factory.route53())
    route53.answer = environment.answer(route53)
    factory.set_client("route53", "us-east-1", route53)
    args = parse(["drill", "--outputs", str(path), "--confirm", "prod", "--json", "--scenario", "gpu-tiers-down",
                  "--timeout", "3", "--failback-timeout", "3", "--poll-interval", "0.05", "--http-timeout", "2", *extra])
    return ops_cli.handle_drill(args, clients=factory, sleep=sleep), route53, args


def inverted(route53, environment) -> dict[str, bool]:
    return {role: bool(route53.get_health_check(HealthCheckId=environment.health_check_ids[role])["HealthCheck"]
                       ["HealthCheckConfig"].get("Inverted")) for role in ("primary", "standby", "fallback")}


def test_both_gpu_tiers_down_the_fallback_answers_and_the_drill_measures_it(fallback_env, tmp_path, capsys):
    code, route53, _ = drill(fallback_env, tmp_path, "--via-health-check-inversion")
    doc = json.loads(capsys.readouterr().out)
    assert code == EXIT_PASSED, json.dumps(doc["steps"], indent=1)
    assert doc["scenario"] == "gpu-tiers-down" and doc["outcome"] == "passed" and doc["failedBack"] is True
    assert doc["measured"]["dnsSwitchSeconds"] is not None and doc["measured"]["switchSeconds"] < 3
    assert doc["budget"]["seconds"] == 90
    assert [p["phase"] for p in doc["phases"]] == ["DNS answer (two hops)", "fallback answers"]
    steps = [s["step"] for s in doc["steps"]]
    assert steps[:3] == ["preflight.fallback", "preflight.primary", "preflight.dns"]
    assert {"switch", "dns.fallback", "fallback.answers", "failback", "dns.primary"} <= set(steps)
    # The fallback was asked for a prediction; everything is as before the drill.
    assert fallback_env.serving["fallback"].predictions >= 2
    assert inverted(route53, fallback_env) == {"primary": False, "standby": False, "fallback": False}
    assert route53.answer() == [fallback_env.hosts["primary"]]


def test_sigterm_during_the_drill_fails_back_before_it_exits(fallback_env, tmp_path, capsys):
    """A CI runner or orchestrator cancelling the job sends SIGTERM: the drill must still put both GPU
    tiers back in DNS (as the standby drill does), not leave them inverted."""
    import os
    import signal
    import time

    sent, reached_here = [], []

    def sleep(seconds):
        if not sent:  # the drill sleeps only after the flip (polling, hold, fail-back)
            sent.append(1)
            os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(min(seconds, 0.05))

    previous = signal.signal(signal.SIGTERM, lambda signum, _frame: reached_here.append(signum))
    try:
        code, route53, _ = drill(fallback_env, tmp_path, "--hold", "2", "--via-health-check-inversion", sleep=sleep)
    finally:
        signal.signal(signal.SIGTERM, previous)
    doc = json.loads(capsys.readouterr().out)
    assert sent and not reached_here  # the drill's own handler took it
    assert code == EXIT_INTERRUPTED and doc["outcome"] == "interrupted" and doc["failedBack"] is True
    assert inverted(route53, fallback_env) == {"primary": False, "standby": False, "fallback": False}


def test_a_pilot_light_standbys_failing_check_is_not_inverted(fallback_pilot_env, tmp_path, capsys):
    """Inverting a check that fails would make Route 53 count the dead standby healthy."""
    fallback_pilot_env.outputs["regions"]["standby"]["gpuScaling"] = {"minSize": 0, "desiredSize": 0, "maxSize": 4}
    path = tmp_path / "o.json"
    path.write_text(json.dumps(fallback_pilot_env.outputs))
    factory = client_factory()
    route53 = Route53Status(factory.route53())
    route53.unhealthy.add(fallback_pilot_env.health_check_ids["standby"])  # a pilot light at rest fails its check
    route53.answer = fallback_pilot_env.answer(route53)
    factory.set_client("route53", "us-east-1", route53)
    calls = []
    update = route53._inner.update_health_check

    def recording(**kwargs):
        calls.append(kwargs)
        return update(**kwargs)

    route53._inner.update_health_check = recording
    args = parse(["drill", "--outputs", str(path), "--confirm", "prod", "--json", "--scenario", "gpu-tiers-down",
                  "--timeout", "3", "--failback-timeout", "3", "--poll-interval", "0.05", "--http-timeout", "2",
                  "--via-health-check-inversion"])
    assert ops_cli.handle_drill(args, clients=factory) == EXIT_PASSED
    capsys.readouterr()
    primary = fallback_pilot_env.health_check_ids["primary"]
    assert calls == [{"HealthCheckId": primary, "Inverted": True}, {"HealthCheckId": primary, "Inverted": False}]


def test_the_scenario_needs_a_way_to_move_traffic(fallback_env, tmp_path, capsys):
    code, route53, _ = drill(fallback_env, tmp_path)
    doc = json.loads(capsys.readouterr().out)
    assert code == EXIT_NO_ARC and "--via-health-check-inversion" in doc["messages"][0]
    assert inverted(route53, fallback_env) == {"primary": False, "standby": False, "fallback": False}


def test_a_fallback_that_does_not_answer_stops_the_drill_before_any_change(fallback_env, tmp_path, capsys):
    fallback_env.serving["fallback"].http_status = 503
    code, route53, _ = drill(fallback_env, tmp_path, "--via-health-check-inversion")
    doc = json.loads(capsys.readouterr().out)
    assert code == EXIT_FAILED and doc["outcome"] == "not-ready" and doc["steps"][0]["step"] == "preflight.fallback"
    assert inverted(route53, fallback_env) == {"primary": False, "standby": False, "fallback": False}


def test_a_cascade_that_never_reaches_the_fallback_times_out_and_fails_back(fallback_env, tmp_path, capsys):
    # The fallback's own check fails: the nested pair answers the (inverted) standby, never the fallback.
    path = tmp_path / "o.json"
    path.write_text(json.dumps(fallback_env.outputs))
    factory = client_factory()
    route53 = Route53Status(factory.route53())
    route53.unhealthy.add(fallback_env.health_check_ids["fallback"])
    route53.answer = fallback_env.answer(route53)
    factory.set_client("route53", "us-east-1", route53)
    args = parse(["drill", "--outputs", str(path), "--confirm", "prod", "--json", "--scenario", "gpu-tiers-down",
                  "--timeout", "0.5", "--failback-timeout", "3", "--poll-interval", "0.05", "--http-timeout", "2",
                  "--via-health-check-inversion"])
    assert ops_cli.handle_drill(args, clients=factory) == EXIT_FAILED
    doc = json.loads(capsys.readouterr().out)
    assert doc["outcome"] == "timeout" and doc["failedBack"] is True
    assert inverted(route53, fallback_env) == {"primary": False, "standby": False, "fallback": False}
    assert FALLBACK_HOST not in route53.answer()


def test_the_scenario_needs_a_fallback_tier(env, tmp_path, capsys):
    path = tmp_path / "o.json"
    path.write_text(json.dumps(env.outputs))
    args = parse(["drill", "--outputs", str(path), "--confirm", "prod", "--scenario", "gpu-tiers-down",
                  "--via-health-check-inversion"])
    assert args.handler(args) == 2
    assert "needs a fallback tier" in capsys.readouterr().err
