"""Operator mistakes get one clear line and exit 2, never a traceback; `status` fits 80 columns.

Everything runs through `recsys-dr`'s own entry point (`cli.main.main`), as on-call would type it.
"""

from __future__ import annotations

import io
import json

import pytest
from rich.console import Console

from recsys_dr.cli.main import main
from recsys_dr.operations.outputs import parse_outputs
from tests.operations.ops_fixtures import MODEL, VERSION, Route53Status, client_factory, outputs_doc


def run(argv, capsys):
    """(exit code, stderr) of `recsys-dr <argv>`; argparse's own exit 2 included."""
    try:
        code = main(argv)
    except SystemExit as exc:
        code = exc.code
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, err


def write(tmp_path, data: bytes, name="out.json"):
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


def one_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, lines
    return lines[0]


@pytest.mark.parametrize("command", [["status"], ["failover", "--to", "standby"]])
@pytest.mark.parametrize("data, says", [
    (json.dumps(outputs_doc()).encode("utf-16"), "input is UTF-16; re-create it as plain UTF-8"),
    (json.dumps(outputs_doc()).encode("utf-16-le"), "input looks like UTF-16"),
    (b"\xef\xbb\xbf" + json.dumps(outputs_doc()).encode(), "UTF-8 with a byte-order mark"),
    (b"\xff" + json.dumps(outputs_doc()).encode(), "input is not UTF-8"),
    (b"[" * 200_000 + b"]" * 200_000, "JSON nested too deeply"),
    (json.dumps({"a": json.loads("[" * 40 + "]" * 40)}).encode(), "JSON nested too deeply (more than 32 levels)"),
    (json.dumps(outputs_doc()).replace('"ttl": 30', '"ttl": NaN').encode(), "not valid JSON: NaN is not a JSON number"),
    (json.dumps(outputs_doc()).replace('"failoverBudgetSeconds": 60', '"failoverBudgetSeconds": Infinity').encode(),
     "Infinity is not a JSON number"),
    (json.dumps(outputs_doc()).replace('"failoverBudgetSeconds": 60', '"failoverBudgetSeconds": 1e999').encode(),
     "1e999 overflows to inf"),
    (b"[1, 2]", "top level must be a JSON object. Received: list"),
])
def test_unusable_outputs_file_is_one_line_and_exit_2(tmp_path, capsys, command, data, says):
    code, err = run(command + ["--outputs", write(tmp_path, data)], capsys)
    assert code == 2
    assert says in one_line(err)


@pytest.mark.parametrize("key, value, says", [
    ("region", "us_east_1", "`regions.standby.region` must be an AWS Region such as us-east-1. Received: 'us_east_1'"),
    ("region", "US-WEST-2", "must be an AWS Region"),
    ("region", "us-west-9", "`regions.standby.region` is not a Region botocore knows"),
    ("endpoint", "https://standby-nlb.elb.us-west-2.amazonaws.com",
     "`regions.standby.endpoint` must be host[:port] without a scheme or path"),
    ("endpoint", ":8501", "`regions.standby.endpoint` has an empty host. Received: ':8501'"),
    ("endpoint", "standby-nlb:http", "port must be 1-65535"),
])
def test_bad_region_or_endpoint_in_outputs(tmp_path, capsys, key, value, says):
    doc = outputs_doc()
    doc["regions"]["standby"][key] = value
    code, err = run(["status", "--outputs", write(tmp_path, json.dumps(doc).encode())], capsys)
    assert code == 2 and says in one_line(err)


def test_bad_region_of_an_arc_endpoint(tmp_path, capsys):
    doc = outputs_doc()
    doc["arc"]["clusterEndpoints"][0]["region"] = "useast1"
    code, err = run(["status", "--outputs", write(tmp_path, json.dumps(doc).encode())], capsys)
    assert code == 2 and "`arc.clusterEndpoints.0.region` must be an AWS Region" in one_line(err)


def test_nan_given_directly_to_the_parser_is_refused():
    doc = outputs_doc()
    doc["failoverBudgetTargetSeconds"] = float("nan")
    with pytest.raises(ValueError, match="`failoverBudgetTargetSeconds` must be a finite number"):
        parse_outputs(doc)


def test_node_group_sizes_eks_would_refuse(tmp_path, capsys):
    doc = outputs_doc()
    doc["regions"]["standby"]["gpuScaling"] = {"minSize": 2, "desiredSize": 1, "maxSize": 4}
    code, err = run(["status", "--outputs", write(tmp_path, json.dumps(doc).encode())], capsys)
    assert code == 2 and "minSize <= desiredSize <= maxSize" in one_line(err)


def test_unknown_profile_is_one_line(tmp_path, capsys, monkeypatch):
    config = tmp_path / "config"
    config.write_text("[profile oncall]\nregion = us-west-2\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    path = write(tmp_path, json.dumps(outputs_doc()).encode())
    code, err = run(["status", "--outputs", path, "--profile", "on-call"], capsys)
    assert code == 2
    assert one_line(err) == ("recsys-dr status: --profile 'on-call' is not in your AWS config or credentials files; "
                             "known profiles: oncall")


@pytest.mark.parametrize("argv, says", [
    (["--http-timeout", "nan"], "argument --http-timeout: must be a finite number > 0. Received: 'nan'"),
    (["--aws-timeout", "inf"], "argument --aws-timeout: must be a finite number > 0. Received: 'inf'"),
    (["--aws-timeout", "-1"], "must be a finite number > 0"),
    (["--endpoint-url", "http://"], "argument --endpoint-url: must be http(s)://host[:port]. Received: 'http://'"),
    (["--endpoint-url", "127.0.0.1:5000"], "must be http(s)://host[:port]"),
    (["--endpoint-url", "http://127.0.0.1:99999"], "has an invalid port"),
])
def test_bad_numbers_and_endpoints_on_the_command_line(tmp_path, capsys, argv, says):
    code, err = run(["status", "--outputs", write(tmp_path, b"{}")] + argv, capsys)
    assert code == 2 and says in err.strip().splitlines()[-1]


def test_drill_timeouts_must_be_finite(tmp_path, capsys):
    code, err = run(["drill", "--confirm", "prod", "--outputs", write(tmp_path, b"{}"), "--timeout", "NaN"], capsys)
    assert code == 2 and "--timeout: must be a finite number > 0" in err


def test_stdin_with_a_bom_is_refused(capsys, monkeypatch):
    class Stdin(io.TextIOWrapper):
        def isatty(self):
            return False

    monkeypatch.setattr("sys.stdin", Stdin(io.BytesIO(json.dumps(outputs_doc()).encode("utf-16"))))
    code, err = run(["status"], capsys)
    assert code == 2 and "<stdin>" in one_line(err) and "UTF-16" in err


# --------------------------------------------------------------------------- a manifest that is JSON but not an object


def test_manifest_that_is_not_an_object_is_one_finding(env, capsys):
    from recsys_dr.operations.checks import CheckContext
    from recsys_dr.operations.status import build_report

    env.s3s.put_object(Bucket=env.standby_bucket, Key=f"models/{MODEL}/{VERSION}/manifest.json", Body=b"[]")
    clients = client_factory()
    clients.set_client("route53", "us-east-1", Route53Status(clients.route53()))
    report = build_report(CheckContext(outputs=parse_outputs(env.outputs), clients=clients, http_timeout=2))
    assert not [r for r in report.results if r.name == "internal"], "a check crashed"
    parity = next(r for r in report.results if r.name == "model.parity")
    assert parity.blocks and "is JSON but not an object (a list)" in parity.detail


# --------------------------------------------------------------------------- status output


def test_status_fits_80_columns_and_prints_each_finding_once(env):
    from recsys_dr.operations.checks import CheckContext
    from recsys_dr.operations.status import build_report, render_table

    env.serving["standby"].versions = {"2": "AVAILABLE"}
    clients = client_factory()
    r53 = Route53Status(clients.route53())
    r53.unhealthy = {env.health_check_ids["primary"]}
    clients.set_client("route53", "us-east-1", r53)
    report = build_report(CheckContext(outputs=parse_outputs(env.outputs), clients=clients, http_timeout=2))
    assert report.reasons and report.warnings
    console = Console(width=80, record=True, file=io.StringIO(), color_system=None)
    render_table(report, console=console)
    text = console.export_text()
    assert max(len(line) for line in text.splitlines()) <= 80
    flat = " ".join(text.split())
    for finding in [r.detail for r in report.results if not r.ok]:
        assert flat.count(" ".join(finding.split())) == 1, finding
    assert "NOT READY: the standby cannot take traffic now: 1 blocking finding (FAIL); 1 warning" in flat


def test_unreachable_arc_endpoints_give_the_documented_exit_codes(arc_env, tmp_path, capsys):
    """docs/runbook.md: `status` exits 1 (arc.routing fails), `failover` exits 4, when no cluster endpoint answers."""
    from recsys_dr.operations import cli as ops_cli
    from tests.operations.ops_fixtures import closed_port

    doc = json.loads(json.dumps(arc_env.outputs))
    for endpoint in doc["arc"]["clusterEndpoints"]:
        endpoint["endpoint"] = f"http://127.0.0.1:{closed_port()}/v1"
    path = write(tmp_path, json.dumps(doc).encode())

    def factory():
        clients = client_factory()
        clients.set_client("route53", "us-east-1", Route53Status(clients.route53()))
        return clients

    import argparse

    parser = argparse.ArgumentParser(prog="recsys-dr")
    ops_cli.register(parser.add_subparsers(dest="command"))
    code = ops_cli.handle_status(parser.parse_args(["status", "--outputs", path, "--json", "--http-timeout", "2"]),
                                 clients=factory())
    out = json.loads(capsys.readouterr().out)
    routing = next(c for c in out["checks"] if c["name"] == "arc.routing")
    assert code == 1 and routing["status"] == "FAIL" and "failed on all 2 ARC cluster endpoints" in routing["detail"]
    code = ops_cli.handle_failover(parser.parse_args(["failover", "--to", "standby", "--outputs", path, "--json",
                                                      "--http-timeout", "2"]), clients=factory())
    assert code == 4 and "Traceback" not in capsys.readouterr().err
