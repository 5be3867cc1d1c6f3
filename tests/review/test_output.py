"""Output for people: 80 columns, colour only in a terminal, empty sections as one line, the RTO
budget and the DR flow as pictures."""

from __future__ import annotations

import copy
import re

from rich.console import Console

from recsys_dr.cli.main import main
from recsys_dr.review.diff import diff_plans
from recsys_dr.review.diff_markdown import render_markdown
from recsys_dr.review.diff_text import render_text, styled_lines
from recsys_dr.review.estimate import estimate
from recsys_dr.review.pictures import dr_flow, rto_gantt, rto_phases
from recsys_dr.review.summary import print_summary

from .conftest import FIXTURE_CONFIG, FIXTURE_PROGRAM

FIXTURE_ARGS = ["--program-dir", str(FIXTURE_PROGRAM), "--config-dir", str(FIXTURE_CONFIG)]
ANSI = "\x1b["
PILOT_LIGHT = {"dnsBudget": 150, "standbyActivation": 1380, "total": 1530,
               "activationSteps": {"capacityWait": 900, "gpuNodeProvisioning": 300, "imagePull": 120, "modelLoad": 60}}
DNS = {"healthCheckIntervalSeconds": 30, "failureThreshold": 3, "ttl": 60}


def _summary(document, width=80):
    console = Console(width=width, record=True, color_system=None, file=open("/dev/null", "w"))  # noqa: SIM115
    print_summary(document, console, warnings=["a warning long enough to need a second line at eighty columns, "
                                               "because it names a key and what to do about it"])
    return console.export_text()


def test_plan_summary_fits_80_columns(fixture_plan):
    assert max(len(line.rstrip()) for line in _summary(fixture_plan.document).splitlines()) <= 80


def test_a_policy_pack_without_violations_is_one_line(fixture_plan):
    lines = [line for line in _summary(fixture_plan.document).splitlines() if "Policy pack" in line]
    assert len(lines) == 1 and lines[0].rstrip().endswith("rules): no violations")
    assert "all rules" not in _summary(fixture_plan.document)


def test_each_violation_is_a_line_with_its_message_indented_under_it(insecure_plan):
    text = _summary(insecure_plan.document)
    violations = insecure_plan.document["policy"]["violations"]
    heads = [line for line in text.splitlines() if re.match(r"^  (mandatory|advisory) \S+ on ", line)]
    assert len(heads) == len(violations)


def test_the_plan_prints_no_colour_when_redirected_and_colour_in_a_terminal(tmp_path, capsys, monkeypatch):
    args = ["plan", "fixture", *FIXTURE_ARGS, "--out", str(tmp_path / "p.json")]
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")
    assert main(args) == 0
    assert ANSI not in capsys.readouterr().out
    monkeypatch.setenv("FORCE_COLOR", "1")  # what rich sees on a terminal
    assert main(args) == 0
    assert ANSI in capsys.readouterr().out


def test_the_rto_chart_draws_each_phase_in_order(fixture_plan):
    lines = _summary(fixture_plan.document).splitlines()
    start = lines.index(next(line for line in lines if line.startswith("RTO budget: 60 s")))
    detection, ttl = lines[start + 1], lines[start + 2]
    assert detection.startswith("detection 10 s x 3 checks") and ttl.startswith("TTL 30 s")
    assert detection.index("█") < ttl.index("█")  # the TTL runs after detection


def test_rto_phases_add_up_to_the_estimated_rto():
    e = {"rtoSeconds": PILOT_LIGHT, "standbyMode": "pilot-light"}
    phases = rto_phases(e, DNS)
    assert [p for _, p, _ in phases] == ["detection 30 s x 3 checks", "TTL 60 s", "capacity wait", "GPU node",
                                         "image pull", "model load"]
    assert sum(s for _, _, s in phases) == PILOT_LIGHT["total"]


def test_rto_gantt_tasks_run_back_to_back_to_the_total():
    gantt = rto_gantt({"rtoSeconds": PILOT_LIGHT, "standbyMode": "pilot-light", "fallbackSeconds": 240}, DNS)
    lines = gantt.splitlines()
    assert lines[:4] == ["gantt", "  title RTO budget 1530 s (pilot-light standby)", "  dateFormat X", "  axisFormat %M:%S"]
    tasks = [tuple(int(n) for n in line.split(",")[1:]) for line in lines if re.search(r":p\d+, ", line)]
    assert tasks[0][0] == 0 and tasks[-1][1] == 1530
    assert all(a[1] == b[0] for a, b in zip(tasks, tasks[1:]))
    assert "  both GPU tiers down 240 s :f0, 0, 240" in lines


def test_rto_gantt_of_no_standby_says_the_rto_is_unknown():
    gantt = rto_gantt({"rtoSeconds": {"dnsBudget": 60, "standbyActivation": None, "total": None}, "standbyMode": "none"})
    assert "title RTO budget unknown: no standby GPU pool to fail over to" in gantt


def _resource(type_token, name, region, **inputs):
    return {"urn": f"urn:x::{type_token}::{name}", "type": type_token, "name": name, "region": region,
            "custom": True, "inputs": inputs}


def _dr_plan():
    gpu = {"amiType": "AL2023_x86_64_NVIDIA", "instanceTypes": ["g5.xlarge"]}
    resources = [
        _resource("aws:eks/nodeGroup:NodeGroup", "p-gpu", "us-east-1", **gpu,
                  scalingConfig={"minSize": 1, "desiredSize": 2, "maxSize": 4}),
        _resource("aws:eks/nodeGroup:NodeGroup", "s-gpu", "us-west-2", **gpu,
                  scalingConfig={"minSize": 0, "desiredSize": 0, "maxSize": 4}),
        _resource("aws:lb/loadBalancer:LoadBalancer", "p-alb", "us-east-1"),
        _resource("aws:wafv2/webAcl:WebAcl", "p-acl", "us-east-1"),
        _resource("aws:lb/loadBalancer:LoadBalancer", "s-alb", "us-west-2"),
        _resource("aws:lb/loadBalancer:LoadBalancer", "f-alb", "us-west-2", tags={"recsys-dr:role": "fallback"}),
        _resource("aws:s3/bucketReplicationConfig:BucketReplicationConfig", "r", "us-east-1", rules=[
            {"status": "Enabled", "destination": {"replicationTime": {"status": "Enabled", "time": {"minutes": 15}}}}]),
    ]
    outputs = {"regions": {"primary": {"region": "us-east-1", "bucket": "b1"},
                           "standby": {"region": "us-west-2", "bucket": "b2"}},
               "fallback": {"region": "us-west-2", "bucket": "b2", "model": {"name": "fallback", "version": 1},
                            "serving": {"minReplicas": 2, "maxReplicas": 3}},
               "dns": {"recordName": "recs.example.com"}, "failoverControl": "health-check"}
    return {"environment": "dev", "resources": resources, "outputs": outputs, "policy": {}}


def test_dr_flow_draws_the_dns_cascade_front_doors_pools_and_replication():
    flow = dr_flow(_dr_plan())
    lines = flow.splitlines()
    assert lines[0] == "flowchart LR"
    assert '  dns -->|"1 healthy"| primary_door' in lines
    assert '  dns -->|"2 primary down"| standby_door' in lines
    assert '  dns -->|"3 both GPU tiers down"| fallback_door' in lines
    assert '    primary_door["ALB + WAF"]' in lines and '    standby_door["ALB"]' in lines
    assert '    standby_gpu["GPU pool<br/>0 of max 4 x g5.xlarge (scales from 0)"]' in lines
    assert '    fallback_cpu["CPU fallback<br/>fallback v1, 2-3 pods"]' in lines
    assert "  standby_bucket -. model .-> fallback_cpu" in lines
    assert '  primary_bucket == "S3 replication (RTC, 15 min)" ==> standby_bucket' in lines
    # Every edge joins declared nodes; subgraphs are closed.
    declared = {m.group(1) for m in re.finditer(r"^\s+(\w+)[\[({]", flow, re.M)}
    for a, b in re.findall(r"^  (\w+) .*?(?:-->|==>|\.->)(?:\|[^|]*\|)? ?(\w+)$", flow, re.M):
        assert {a, b} <= declared, (a, b)
    assert flow.count("subgraph ") == flow.count("\n  end")


def test_the_pr_comment_shows_the_rto_gantt_and_the_dr_flow(tmp_path, capsys):
    out = tmp_path / "p.json"
    assert main(["plan", "fixture", *FIXTURE_ARGS, "--out", str(out), "--quiet"]) == 0
    assert main(["diff", str(out), str(out), "--format", "markdown"]) == 0
    markdown = capsys.readouterr().out
    assert "```mermaid\ngantt\n  title RTO budget 60 s (warm standby)" in markdown
    assert "<details><summary>DR flow (head): clients, DNS, front doors, pools, replication</summary>" in markdown
    assert "Resource graph" not in markdown  # only with --graph


def test_diff_text_wraps_to_80_columns_with_continuations_indented():
    base = _dr_plan()
    head = copy.deepcopy(base)
    for group in head["resources"][:2]:
        group["inputs"]["amiType"] = "BOTTLEROCKET_x86_64_NVIDIA"
    diff = diff_plans({**base, "estimate": estimate(base)}, {**head, "estimate": estimate(head)})
    text = render_text(diff)
    hazard = text.split("DR HAZARDS:\n")[1].splitlines()
    assert hazard[0].startswith("  ! [high] GPU node groups of both regions") and len(hazard[0]) <= 80
    assert hazard[1].startswith("      ") and len(hazard[1]) <= 80
    assert dict(styled_lines(diff))["DR HAZARDS:"] == "bold red"


def test_the_diff_text_is_coloured_in_a_terminal_only(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    out = tmp_path / "p.json"
    assert main(["plan", "fixture", *FIXTURE_ARGS, "--out", str(out), "--quiet"]) == 0
    assert main(["diff", str(out), str(out)]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("Plan diff for fixture") and ANSI not in printed
    monkeypatch.setenv("FORCE_COLOR", "1")  # what rich sees on a terminal
    assert main(["diff", str(out), str(out)]) == 0
    assert ANSI in capsys.readouterr().out


def test_markdown_without_pictures_is_unchanged_by_them(fixture_plan):
    diff = diff_plans(fixture_plan.document, fixture_plan.document)
    assert "```mermaid" not in render_markdown(diff)


def test_the_plan_command_sizes_its_summary_to_the_terminal(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("COLUMNS", raising=False)  # redirected: rich's default of 80 columns
    assert main(["plan", "fixture", *FIXTURE_ARGS, "--out", str(tmp_path / "p.json")]) == 0
    assert max(len(line.rstrip()) for line in capsys.readouterr().out.splitlines()) <= 80
    monkeypatch.setenv("COLUMNS", "100")
    assert main(["plan", "fixture", *FIXTURE_ARGS, "--out", str(tmp_path / "p.json")]) == 0
    assert max(len(line.rstrip()) for line in capsys.readouterr().out.splitlines()) > 80
