"""`recsys-dr sandbox up|down` and the operator commands against it, as a newcomer types them.

One sandbox of the dev stack (pilot-light standby, health-check failover) serves the module; every
command runs as its own `recsys-dr` process with the environment `<dir>/env` exports.
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from recsys_dr.operations.outputs import load_outputs
from recsys_dr.sandbox.cli import is_sandbox_process

pytestmark = pytest.mark.slow
RECSYS_DR = str(Path(sys.executable).with_name("recsys-dr"))


def recsys_dr(*argv: str, env: dict | None = None, cwd: Path | None = None, timeout: float = 240):
    result = subprocess.run([RECSYS_DR, *argv], env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout,
                            stdin=subprocess.DEVNULL)
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout, result.stderr
    return result


def sourced(env_file: Path) -> dict:
    """The environment after `source <env_file>` (its `unset` and `export` lines)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    for line in env_file.read_text().splitlines():
        words = shlex.split(line, comments=True)
        if words[:1] == ["export"]:
            key, _, value = words[1].partition("=")
            env[key] = value
        elif words[:1] == ["unset"]:
            for key in words[1:]:
                env.pop(key, None)
    return env


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    cwd = tmp_path_factory.mktemp("newcomer")
    up = recsys_dr("sandbox", "up", cwd=cwd)
    state = json.loads((cwd / ".sandbox" / "sandbox.json").read_text())
    yield {"cwd": cwd, "up": up, "state": state, "env": sourced(cwd / ".sandbox" / "env"),
           "outputs": cwd / ".sandbox" / "outputs.json"}
    recsys_dr("sandbox", "down", cwd=cwd)


def port_open(url: str) -> bool:
    host, port = url.split("://")[1].split(":")
    with socket.socket() as sock:
        return sock.connect_ex((host, int(port))) == 0


def test_up_prints_what_to_run_next(sandbox):
    up = sandbox["up"]
    assert up.returncode == 0, up.stderr
    first, *rest = up.stdout.splitlines()
    assert first.startswith("recsys-dr sandbox: dev stand-ins up on the loopback interface in ")
    assert "  source .sandbox/env" in rest and "  recsys-dr status --outputs .sandbox/outputs.json" in rest
    assert "  recsys-dr sandbox down" in rest


def test_outputs_are_the_stacks_outputs_with_local_endpoints(sandbox):
    from recsys_dr.review.plan import render

    written = json.loads(sandbox["outputs"].read_text())
    planned = render("dev").document["outputs"]

    def shape(node):
        return {k: shape(v) for k, v in node.items()} if isinstance(node, dict) else type(node).__name__

    # Exactly what `pulumi stack output --json -s dev` holds, the fallback tier included.
    assert shape(written) == shape(planned)
    outputs = load_outputs(str(sandbox["outputs"]))
    # One loopback address per tier: Route 53 answers the front doors' aliases with addresses.
    assert outputs.primary.endpoint.startswith("127.0.0.1:") and outputs.standby.endpoint.startswith("127.0.0.2:")
    assert outputs.fallback.endpoint.startswith("127.0.0.3:")
    assert {k: written["fallback"][k] for k in ("namespace", "nodeGroupName", "serving", "cascadeRecordName")} == \
        {k: planned["fallback"][k] for k in ("namespace", "nodeGroupName", "serving", "cascadeRecordName")}
    unchanged = ("bucket", "clusterName", "gpuNodeGroupName", "gpuScaling", "serving", "scaledObjectName")
    for role in ("primary", "standby"):
        assert {k: written["regions"][role][k] for k in unchanged} == {k: planned["regions"][role][k] for k in unchanged}
    assert sandbox["env"]["AWS_ENDPOINT_URL"] == sandbox["state"]["endpointUrl"]
    assert sandbox["env"]["AWS_ENDPOINT_URL"].startswith("http://127.0.0.1:")


def aws_client(sandbox, service: str, region: str):
    import boto3

    env = sandbox["env"]
    return boto3.client(service, region_name=region, endpoint_url=env["AWS_ENDPOINT_URL"],
                        aws_access_key_id=env["AWS_ACCESS_KEY_ID"], aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"])


def test_outputs_pin_the_digest_of_the_version_the_sandbox_published(sandbox):
    # A deployer pins the manifest digest of its own publish (status and failover refuse any other).
    written = json.loads(sandbox["outputs"].read_text())
    model = written["model"]
    for region in written["regions"].values():
        manifest = aws_client(sandbox, "s3", region["region"]).get_object(
            Bucket=region["bucket"], Key=f"models/{model['name']}/{model['version']}/manifest.json")["Body"].read()
        assert hashlib.sha256(manifest).hexdigest() == model["manifestSha256"]
    fallback = written["fallback"]  # the fallback's own version, in the standby's bucket where its pods read it
    manifest = aws_client(sandbox, "s3", fallback["region"]).get_object(
        Bucket=fallback["bucket"], Key=f"models/{fallback['model']['name']}/{fallback['model']['version']}/manifest.json")
    assert hashlib.sha256(manifest["Body"].read()).hexdigest() == fallback["model"]["manifestSha256"]


def test_outputs_name_the_front_door_the_sandbox_stands_up(sandbox):
    written = json.loads(sandbox["outputs"].read_text())
    for role, region in {**written["regions"], "fallback": written["fallback"]}.items():
        door = region["frontDoor"]
        elbv2 = aws_client(sandbox, "elbv2", region["region"])
        group = elbv2.describe_target_groups(TargetGroupArns=[door["targetGroupArn"]])["TargetGroups"][0]
        # Listener rules forward to it (moto lists the balancer once per rule).
        assert set(group["LoadBalancerArns"]) == {door["loadBalancerArn"]}
        assert (group["TargetType"], group["Port"], group["HealthCheckPath"]) == ("ip", 8501, "/v1/models/recommender")
        acl = aws_client(sandbox, "wafv2", region["region"]).get_web_acl_for_resource(ResourceArn=door["loadBalancerArn"])
        assert acl["WebACL"]["ARN"] == door["webAclArn"], role
        assert [rule["Name"] for rule in acl["WebACL"]["Rules"]] == ["status-check", "body-size", "rate-per-ip", "aws-common"]


def test_status_reports_the_pilot_light_standby_not_ready(sandbox):
    result = recsys_dr("status", "--outputs", str(sandbox["outputs"]), "--json", env=sandbox["env"])
    report = json.loads(result.stdout)
    assert result.returncode == 1
    # dev's standby is pilot-light: no pod runs, so its endpoint, its health check and its front door's
    # target group (no registered target) fail; all else passes.
    assert [r.split(":")[0] for r in report["reasons"]] == ["health[standby]", "serving[standby]", "targets[standby]"]
    assert report["warnings"] == []  # the fallback tier answers: its checks pass
    fallback = {c["name"]: c["ok"] for c in report["checks"] if c["role"] == "fallback"}
    assert fallback == {"model": True, "health": True, "serving": True, "targets": True}
    targets = {c["role"]: c for c in report["checks"] if c["name"] == "targets"}
    assert targets["primary"]["data"]["states"] == {"healthy": 1} and targets["standby"]["data"]["states"] == {}
    # Every fallback pod the outputs size it at is a healthy target of its balancer.
    fallback_pods = json.loads(sandbox["outputs"].read_text())["fallback"]["serving"]["replicas"]
    assert targets["fallback"]["data"]["states"] == {"healthy": fallback_pods}


def test_failover_dry_run_sizes_the_standby_and_changes_nothing(sandbox):
    result = recsys_dr("failover", "--to", "standby", "--dry-run", "--outputs", str(sandbox["outputs"]), "--json",
                       env=sandbox["env"])
    doc = json.loads(result.stdout)
    assert result.returncode == 3 and doc["outcome"] == "no-arc"  # dev fails over through health checks
    assert doc["activation"] == {"dryRun": True, "replicas": 1, "source": "primary us-east-1 runs 1 now",
                                 "nodeGroup": {"minSize": 1, "desiredSize": 1, "maxSize": 2},
                                 "hpa": {"minReplicas": 1, "maxReplicas": 1}, "notes": []}
    assert doc["dnsAnswer"]["role"] == "primary"
    again = json.loads(recsys_dr("status", "--outputs", str(sandbox["outputs"]), "--json",
                                 env=sandbox["env"]).stdout)
    capacity = next(c for c in again["checks"] if c["name"] == "capacity" and c["role"] == "standby")
    assert capacity["data"]["desiredSize"] == 0


def test_drill_activates_switches_fails_back_and_restores(sandbox):
    result = recsys_dr("drill", "--confirm", "dev", "--via-health-check-inversion", "--poll-interval", "0.2",
                       "--drain-seconds", "0", "--outputs", str(sandbox["outputs"]), "--json", env=sandbox["env"])
    doc = json.loads(result.stdout)
    assert result.returncode == 0 and doc["outcome"] == "passed", doc
    steps = [s["step"] for s in doc["steps"]]
    assert steps == ["preflight.status", "preflight.control", "preflight.dns", "activate", "switch", "dns.standby",
                     "standby.answers", "failback", "dns.primary", "restore"]
    after = json.loads(recsys_dr("status", "--outputs", str(sandbox["outputs"]), "--json", env=sandbox["env"]).stdout)
    capacity = next(c for c in after["checks"] if c["name"] == "capacity" and c["role"] == "standby")
    assert capacity["data"]["desiredSize"] == 0  # back at rest: the drill restored the pilot light
    targets = next(c for c in after["checks"] if c["name"] == "targets" and c["role"] == "standby")
    assert targets["data"]["states"] == {}  # its pod left the target group with it


def test_gpu_tiers_down_drill_reaches_the_fallback_through_the_cascade(sandbox):
    result = recsys_dr("drill", "--confirm", "dev", "--scenario", "gpu-tiers-down", "--via-health-check-inversion",
                       "--poll-interval", "0.2", "--drain-seconds", "0", "--outputs", str(sandbox["outputs"]), "--json",
                       env=sandbox["env"])
    doc = json.loads(result.stdout)
    assert result.returncode == 0 and doc["outcome"] == "passed", doc
    # Route 53's answer walked the cascade to the fallback's balancer, and back to the primary's.
    steps = [s["step"] for s in doc["steps"]]
    assert steps == ["preflight.fallback", "preflight.primary", "preflight.dns", "switch", "dns.fallback",
                     "fallback.answers", "failback", "dns.primary"]
    after = json.loads(recsys_dr("status", "--outputs", str(sandbox["outputs"]), "--json", env=sandbox["env"]).stdout)
    # Failed back: the primary's check is no longer inverted, only the pilot light's gaps remain.
    assert [r.split(":")[0] for r in after["reasons"]] == ["health[standby]", "serving[standby]", "targets[standby]"]


def test_aws_unreachable_is_reported_per_check_not_a_traceback(sandbox):
    env = {**sandbox["env"], "AWS_ENDPOINT_URL": "http://127.0.0.1:9"}
    result = recsys_dr("status", "--outputs", str(sandbox["outputs"]), "--aws-timeout", "1", env=env)
    assert result.returncode == 1 and result.stderr == ""
    assert "NOT READY: the standby cannot take traffic now" in result.stdout
    assert "EndpointConnectionError" in result.stdout


def test_up_again_reuses_the_running_sandbox(sandbox):
    again = recsys_dr("sandbox", "up", cwd=sandbox["cwd"])
    assert again.returncode == 0
    assert again.stdout.splitlines()[0] == f"recsys-dr sandbox: already up for dev (pid {sandbox['state']['pid']})"


def test_unknown_stack_is_one_line_and_exit_2(tmp_path):
    result = recsys_dr("sandbox", "up", "--stack", "nope", cwd=tmp_path)
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("recsys-dr sandbox: cannot render stack 'nope': ")
    assert not (tmp_path / ".sandbox" / "sandbox.json").exists()


def test_down_stops_every_stand_in(tmp_path):
    up = recsys_dr("sandbox", "up", "--dir", "box", cwd=tmp_path)
    assert up.returncode == 0, up.stderr
    state = json.loads((tmp_path / "box" / "sandbox.json").read_text())
    outputs = json.loads((tmp_path / "box" / "outputs.json").read_text())
    urls = [state["endpointUrl"]] + [f"http://{r['endpoint']}" for r in outputs["regions"].values()]
    assert all(port_open(url) for url in urls)
    down = recsys_dr("sandbox", "down", "--dir", "box", cwd=tmp_path)
    assert down.returncode == 0 and down.stdout.strip() == f"recsys-dr sandbox: stopped (pid {state['pid']})"
    assert not is_sandbox_process(state["pid"])
    assert not any(port_open(url) for url in urls)
    assert sorted(p.name for p in (tmp_path / "box").iterdir()) == ["sandbox.log", "work"]
    again = recsys_dr("sandbox", "down", "--dir", "box", cwd=tmp_path)
    assert again.returncode == 0 and again.stdout.strip() == "recsys-dr sandbox: none running in box"


def test_prod_stands_in_warm_and_behind_https(tmp_path):
    # prod's front doors have certificates: the endpoints speak TLS for the record name, from a CA
    # the env file makes trusted (SSL_CERT_FILE), and its standby is warm, so it is ready at once.
    up = recsys_dr("sandbox", "up", "--stack", "prod", cwd=tmp_path)
    try:
        assert up.returncode == 0, up.stderr
        env = sourced(tmp_path / ".sandbox" / "env")
        assert Path(env["SSL_CERT_FILE"]).is_file()
        result = recsys_dr("status", "--outputs", str(tmp_path / ".sandbox" / "outputs.json"), "--json", env=env)
        report = json.loads(result.stdout)
        assert result.returncode == 0 and report["reasons"] == [] and report["warnings"] == [], report
        serving = [c for c in report["checks"] if c["name"] == "serving"]
        assert all(c["data"]["url"].startswith("https://127.0.0.") for c in serving)
        untrusted = {k: v for k, v in env.items() if k != "SSL_CERT_FILE"}
        result = recsys_dr("status", "--outputs", str(tmp_path / ".sandbox" / "outputs.json"), "--json", env=untrusted)
        assert "CERTIFICATE_VERIFY_FAILED" in json.dumps(json.loads(result.stdout)["checks"])
    finally:
        recsys_dr("sandbox", "down", cwd=tmp_path)
