"""`recsys-dr status` against moto (S3, Route 53, EKS, CloudWatch) and fake TF Serving endpoints.

moto gaps, answered by `ops_fixtures.Route53Status` (a wrapper around the moto client):
`GetHealthCheckStatus` (moto always says healthy) and `TestDNSAnswer` (not implemented).
"""

from __future__ import annotations

import argparse
import json
from datetime import datetime, timezone

from botocore.exceptions import EndpointConnectionError

from recsys_dr.operations import cli as ops_cli
from recsys_dr.operations.checks import CheckContext
from recsys_dr.operations.outputs import parse_outputs
from recsys_dr.operations.status import build_report
from tests.operations.ops_fixtures import (
    MODEL, PRIMARY_REGION, STANDBY_REGION, VERSION, Route53Status, client, client_factory,
)

BASE = f"models/{MODEL}/{VERSION}/"


def make_report(env, *, require_warm=False, target="standby", unhealthy=(), clients=None):
    clients = clients or client_factory()
    r53 = Route53Status(clients.route53())
    r53.unhealthy = {env.health_check_ids[role] for role in unhealthy}
    clients.set_client("route53", "us-east-1", r53)
    ctx = CheckContext(outputs=parse_outputs(env.outputs), clients=clients, target=target,
                       require_warm=require_warm, http_timeout=2)
    return build_report(ctx)


def result(report, label):
    matches = [r for r in report.results if r.label == label]
    assert len(matches) == 1, [r.label for r in report.results]
    return matches[0]


def test_healthy_environment_is_ready(env):
    report = make_report(env)
    assert report.ready, report.reasons
    assert report.reasons == [] and report.warnings == []
    labels = {r.label for r in report.results}
    assert {"model[standby]", "model[primary]", "model.parity[standby]", "replication.rule[primary]",
            "replication.versioning[standby]", "replication.versioning[primary]", "replication.metrics[primary]",
            "health[standby]", "health[primary]", "serving[standby]", "serving[primary]",
            "capacity[standby]", "capacity[primary]", "dns.records", "budget"} <= labels
    assert "4 files match the manifest" in result(report, "model[standby]").detail
    assert result(report, "serving[standby]").detail == f"v{VERSION} AVAILABLE"
    assert result(report, "health[standby]").data["healthy"] == 4


class CallRecorder:
    """Wraps a client; appends (service, client region, operation, kwargs) for every call, paginators included."""

    def __init__(self, inner, service, region, calls):
        self._inner, self._service, self._region, self._calls = inner, service, region, calls

    def __getattr__(self, name):
        attr = getattr(self._inner, name)
        if not callable(attr):
            return attr

        def call(*args, **kwargs):
            if name == "get_paginator":
                paginator = attr(*args, **kwargs)
                return CallRecorder(paginator, self._service, self._region, self._calls)
            self._calls.append((self._service, self._region, name, kwargs))
            return attr(*args, **kwargs)
        return call


def test_every_call_goes_to_the_owning_region(env):
    """Each bucket / cluster is only ever addressed through the client of its own region.

    Every client is wrapped in a recorder, so sending, say, the standby bucket's calls to the
    primary region's S3 client fails here (not only the cache keys that exist).
    """
    clients = client_factory()
    calls: list[tuple] = []
    for (service, region), inner in list(clients._cache.items()):
        clients.set_client(service, region, CallRecorder(inner, service, region, calls))
    report = make_report(env, clients=clients)
    assert report.ready, report.reasons

    owner = {env.primary_bucket: PRIMARY_REGION, env.standby_bucket: STANDBY_REGION,
             "recsys-primary": PRIMARY_REGION, "recsys-standby": STANDBY_REGION}
    seen = {}
    for service, region, op, kwargs in calls:
        resource = kwargs.get("Bucket") or kwargs.get("clusterName")
        if service in ("s3", "eks"):
            assert resource in owner, (service, op, kwargs)
            assert region == owner[resource], f"{service}.{op} for {resource} sent to {region}"
            seen.setdefault((service, resource), set()).add(op)
        elif service == "cloudwatch":  # replication metrics live with the source (primary) bucket
            assert region == PRIMARY_REGION
            dims = {d["Name"]: d["Value"] for d in kwargs["Dimensions"]}
            assert dims["SourceBucket"] == env.primary_bucket
        else:
            assert (service, region) == ("route53", "us-east-1"), (service, region, op)
    for bucket in (env.primary_bucket, env.standby_bucket):
        assert {"get_object", "head_object", "paginate", "get_bucket_versioning"} <= seen[("s3", bucket)]
    assert "get_bucket_replication" in seen[("s3", env.primary_bucket)]
    assert seen[("eks", "recsys-primary")] == seen[("eks", "recsys-standby")] == {"describe_nodegroup"}
    assert {c[2] for c in calls if c[0] == "cloudwatch"} == {"get_metric_statistics"}


def test_missing_standby_object_fails(env):
    env.s3s.delete_object(Bucket=env.standby_bucket, Key=BASE + "variables/variables.index")
    report = make_report(env)
    assert not report.ready
    check = result(report, "model[standby]")
    assert check.blocks and "missing 1: variables/variables.index" in check.detail
    assert any(r.startswith("model[standby]") and "variables/variables.index" in r for r in report.reasons)


def test_corrupted_standby_object_fails(env):
    original = (env.version_dir / "variables" / "variables.index").read_bytes()
    corrupted = bytes([original[0] ^ 0xFF]) + original[1:]  # same size, different bytes
    env.s3s.put_object(Bucket=env.standby_bucket, Key=BASE + "variables/variables.index", Body=corrupted)
    report = make_report(env)
    assert not report.ready
    check = result(report, "model[standby]")
    assert "corrupt 1: variables/variables.index (sha256)" in check.detail
    assert check.data["mismatched"][0]["path"] == "variables/variables.index"


def test_standby_manifest_missing_fails(env):
    env.s3s.delete_object(Bucket=env.standby_bucket, Key=BASE + "manifest.json")
    report = make_report(env)
    assert not report.ready
    assert "manifest.json missing" in result(report, "model[standby]").detail
    assert "missing in standby bucket" in result(report, "model.parity[standby]").detail


def test_standby_manifest_differing_from_primary_fails(env):
    manifest = json.loads((env.version_dir / "manifest.json").read_text())
    manifest["files"] = [f for f in manifest["files"] if f["path"] != "assets.extra/tf_serving_warmup_requests"]
    env.s3s.put_object(Bucket=env.standby_bucket, Key=BASE + "manifest.json",
                       Body=json.dumps(manifest, indent=2, sort_keys=True).encode())
    report = make_report(env)
    parity = result(report, "model.parity[standby]")
    assert parity.blocks and "assets.extra/tf_serving_warmup_requests" in parity.detail


def test_replication_disabled_fails(env):
    env.s3p.put_bucket_replication(Bucket=env.primary_bucket,
                                   ReplicationConfiguration=env.replication(status="Disabled"))
    report = make_report(env)
    assert not report.ready
    check = result(report, "replication.rule[primary]")
    assert check.blocks and "rule status is Disabled" in check.detail


def test_replication_without_rtc_fails(env):
    env.s3p.put_bucket_replication(Bucket=env.primary_bucket,
                                   ReplicationConfiguration=env.replication(rtc="Disabled"))
    report = make_report(env)
    assert "Replication Time Control (RTC) is not enabled" in result(report, "replication.rule[primary]").detail
    assert not report.ready


def test_replication_rule_not_covering_models_fails(env):
    """The audit's case: a rule filtered to `logs/` used to pass. Through moto via `S3ReplicationEcho`
    (moto itself answers every filter as `Prefix: ""`); the Stubber tests are in test_ops_replication.py."""
    cfg = env.replication()
    cfg["Rules"][0]["Filter"] = {"Prefix": "logs/"}
    env.s3p.put_bucket_replication(Bucket=env.primary_bucket, ReplicationConfiguration=cfg)
    report = make_report(env)
    assert not report.ready
    check = result(report, "replication.rule[primary]")
    assert check.blocks and "does not cover 'models/'" in check.detail


def test_replication_configuration_removed_fails(env):
    env.s3p.delete_bucket_replication(Bucket=env.primary_bucket)
    report = make_report(env)
    assert not report.ready
    assert "no replication configuration" in result(report, "replication.rule[primary]").detail


def test_standby_versioning_suspended_fails(env):
    env.s3s.put_bucket_versioning(Bucket=env.standby_bucket, VersioningConfiguration={"Status": "Suspended"})
    report = make_report(env)
    check = result(report, "replication.versioning[standby]")
    assert check.blocks and "versioning Suspended" in check.detail


def test_unhealthy_standby_health_check_fails(env):
    report = make_report(env, unhealthy=["standby"])
    assert not report.ready
    check = result(report, "health[standby]")
    assert check.blocks
    assert f"{env.health_check_ids['standby']}: 0/4 checkers healthy" in check.detail
    assert "HTTP Status Code 503" in check.detail


def test_standby_serving_older_version_fails(env):
    env.serving["standby"].versions = {"2": "AVAILABLE"}
    report = make_report(env)
    assert not report.ready
    check = result(report, "serving[standby]")
    assert check.blocks and check.detail == f"serves v2, pinned v{VERSION} not loaded"


def test_standby_still_loading_pinned_version_fails(env):
    env.serving["standby"].versions = {"2": "AVAILABLE", "3": "LOADING"}
    report = make_report(env)
    assert result(report, "serving[standby]").detail == "pinned v3 is LOADING, not AVAILABLE"


def test_pilot_light_standby_fails_when_warm_is_required(pilot_env):
    report = make_report(pilot_env, require_warm=True)
    assert not report.ready
    check = result(report, "capacity[standby]")
    assert check.blocks
    assert "standby is pilot-light (desiredSize=0) but warm is required (--require-warm)" in check.detail


def test_pilot_light_standby_passes_when_warm_is_not_required(pilot_env):
    report = make_report(pilot_env)
    assert report.ready, report.reasons
    detail = result(report, "capacity[standby]").detail
    assert "min 0 / desired 0 / max 4" in detail and "RTO adds node provisioning" in detail


def test_declared_warm_standby_scaled_to_zero_fails(env):
    client("eks", STANDBY_REGION).update_nodegroup_config(
        clusterName="recsys-standby", nodegroupName="gpu-standby",
        scalingConfig={"minSize": 0, "desiredSize": 0, "maxSize": 4})
    report = make_report(env)
    check = result(report, "capacity[standby]")
    assert check.blocks and "standbyMode is warm but desiredSize=0" in check.detail


def test_primary_outage_does_not_block_the_standby(env):
    """During a regional outage the primary is down; status must still say the standby is ready."""
    env.serving["primary"].stop()
    clients = client_factory()

    class Unreachable:
        def __getattr__(self, name):
            def call(*args, **kwargs):
                raise EndpointConnectionError(endpoint_url=f"https://s3.{PRIMARY_REGION}.amazonaws.com")
            return call

    clients.set_client("s3", PRIMARY_REGION, Unreachable())
    report = make_report(env, unhealthy=["primary"], clients=clients)
    assert report.ready, report.reasons
    warned = {w.split(":")[0] for w in report.warnings}
    assert {"serving[primary]", "health[primary]", "model[primary]", "model.parity[primary]",
            "replication.rule[primary]", "replication.versioning[primary]"} <= warned
    assert "unreachable" in result(report, "replication.rule[primary]").detail


def test_failback_target_primary_blocks_on_the_primary(env):
    env.serving["primary"].versions = {"2": "AVAILABLE"}
    report = make_report(env, target="primary")
    assert not report.ready
    assert [r.split(":")[0] for r in report.reasons] == ["serving[primary]"]


def test_replication_metrics_are_reported_and_lag_warns(env):
    cw = client("cloudwatch", PRIMARY_REGION)
    dims = [{"Name": "SourceBucket", "Value": env.primary_bucket},
            {"Name": "DestinationBucket", "Value": env.standby_bucket},
            {"Name": "RuleId", "Value": "models-to-standby"}]
    now = datetime.now(timezone.utc)
    cw.put_metric_data(Namespace="AWS/S3", MetricData=[
        {"MetricName": "ReplicationLatency", "Dimensions": dims, "Value": 1200.0, "Unit": "Seconds", "Timestamp": now},
        {"MetricName": "OperationsPendingReplication", "Dimensions": dims, "Value": 7.0, "Unit": "Count",
         "Timestamp": now}])
    report = make_report(env)
    check = result(report, "replication.metrics[primary]")
    assert not check.ok and not check.blocking
    assert check.detail == "latency 1200s, 7 operations pending (above the 15 min RTC threshold)"
    assert report.ready  # lag is a warning: the pinned version is verified in the standby


def test_budget_over_target_warns_but_does_not_block(env):
    env.outputs["failoverBudgetTargetSeconds"] = 30
    report = make_report(env)
    check = result(report, "budget")
    assert not check.ok and not check.blocking and "over target" in check.detail
    assert report.ready


def test_report_json_lists_reasons_and_every_check(env):
    env.serving["standby"].versions = {"2": "AVAILABLE"}
    doc = json.loads(make_report(env).to_json())
    assert doc["ready"] is False and doc["target"] == "standby"
    assert doc["reasons"] == [f"serving[standby]: serves v2, pinned v{VERSION} not loaded"]
    statuses = {(c["name"], c["role"]): c["status"] for c in doc["checks"]}
    assert statuses[("serving", "standby")] == "FAIL" and statuses[("model", "standby")] == "ok"
    assert doc["budget"] == {"seconds": 60, "targetSeconds": 60, "computedSeconds": 60}


# --------------------------------------------------------------------------- CLI


def parse(argv):
    parser = argparse.ArgumentParser(prog="recsys-dr")
    ops_cli.register(parser.add_subparsers(dest="command"))
    return parser.parse_args(argv)


def write_outputs(tmp_path, outputs):
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps(outputs))
    return str(path)


def test_cli_status_json_exit_0_when_ready(env, tmp_path, capsys):
    args = parse(["status", "--outputs", write_outputs(tmp_path, env.outputs), "--json", "--http-timeout", "2"])
    assert args.handler(args, clients=client_factory()) == 0  # shared clients: S3ReplicationEcho (moto gap)
    doc = json.loads(capsys.readouterr().out)
    assert doc["ready"] is True and doc["environment"] == "prod"


def test_cli_status_table_exit_1_with_reasons(env, tmp_path, capsys):
    env.s3p.put_bucket_replication(Bucket=env.primary_bucket,
                                   ReplicationConfiguration=env.replication(status="Disabled"))
    args = parse(["status", "--outputs", write_outputs(tmp_path, env.outputs)])
    assert args.handler(args) == 1
    out = capsys.readouterr().out
    assert "NOT READY" in out and "rule status is Disabled" in out


def test_cli_status_bad_outputs_exit_2(tmp_path, capsys):
    path = tmp_path / "bad.json"
    path.write_text('{"environment": "prod", "standbyMode": "cold"}')
    args = parse(["status", "--outputs", str(path)])
    assert args.handler(args) == 2
    err = capsys.readouterr().err
    assert "`standbyMode` must be one of: warm, pilot-light. Received: 'cold'" in err
    assert "`regions` is missing" in err


def test_target_only_scope_never_calls_the_other_region(env):
    """`failover` gates on the target's own resources; a dead primary must cost nothing."""
    clients = client_factory()

    class Forbidden:
        def __getattr__(self, name):
            raise AssertionError(f"called the primary region: {name}")

    clients.set_client("s3", PRIMARY_REGION, Forbidden())
    clients.set_client("eks", PRIMARY_REGION, Forbidden())
    clients.set_client("cloudwatch", PRIMARY_REGION, Forbidden())
    env.serving["primary"].stop()
    r53 = Route53Status(clients.route53())
    clients.set_client("route53", "us-east-1", r53)
    ctx = CheckContext(outputs=parse_outputs(env.outputs), clients=clients, http_timeout=2)
    report = build_report(ctx, target_only=True)
    assert report.ready, report.reasons
    assert {r.label for r in report.results} == {
        "model[standby]", "health[standby]", "serving[standby]", "capacity[standby]", "dns.records", "budget"}
    assert env.serving["primary"].requests == 0


def republished_unpinned(env) -> None:
    """The standby's version re-published with a manifest whose files all match but that is not the
    pinned one (other metadata): what a role able to write the bucket could leave there."""
    manifest = json.loads((env.version_dir / "manifest.json").read_text())
    manifest["metadata"] = {**manifest.get("metadata", {}), "note": "not the pinned release"}
    env.s3s.put_object(Bucket=env.standby_bucket, Key=BASE + "manifest.json",
                       Body=json.dumps(manifest, indent=2, sort_keys=True).encode())


def test_standby_manifest_that_is_not_the_pinned_one_fails(env):
    # The pods' init container refuses any manifest but MANIFEST_SHA256 (fetch_and_verify.sh), so a
    # self-consistent but unpinned manifest must not show green.
    republished_unpinned(env)
    report = make_report(env)
    assert not report.ready
    check = result(report, "model[standby]")
    assert check.blocks and "is not the pinned one" in check.detail and "the pods refuse it" in check.detail
