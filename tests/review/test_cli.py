"""`recsys-dr plan` / `recsys-dr diff` through the real argument parser."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from recsys_dr.cli.main import main

from .conftest import FIXTURE_CONFIG, FIXTURE_PROGRAM, REPO

FIXTURE_ARGS = ["--program-dir", str(FIXTURE_PROGRAM), "--config-dir", str(FIXTURE_CONFIG)]


def test_plan_writes_json_and_prints_summary(tmp_path, capsys):
    out = tmp_path / "plan.json"
    assert main(["plan", "fixture", *FIXTURE_ARGS, "--out", str(out)]) == 0
    document = json.loads(out.read_text())
    assert document["environment"] == "fixture"
    printed = capsys.readouterr().out
    for expected in ("recommender v3", "warm", "60 s (10 s x 3 checks + TTL 30 s); within the 90 s target",
                     "us-east-1", "us-west-2", "aws:s3:Bucket", "rules): no violations"):
        assert expected in printed


def test_plan_twice_gives_identical_files(tmp_path):
    first, second = tmp_path / "a.json", tmp_path / "b.json"
    assert main(["plan", "fixture", *FIXTURE_ARGS, "--out", str(first), "--quiet"]) == 0
    assert main(["plan", "fixture", *FIXTURE_ARGS, "--out", str(second), "--quiet"]) == 0
    assert first.read_bytes() == second.read_bytes()


def test_plan_to_stdout_keeps_stdout_pure_json(capsys):
    assert main(["plan", "fixture", *FIXTURE_ARGS, "--out", "-"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["environment"] == "fixture"
    assert "Deployment" in captured.err


def test_plan_default_out_is_plan_env_json(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["plan", "fixture", *FIXTURE_ARGS, "--quiet"]) == 0
    assert json.loads((tmp_path / "plan-fixture.json").read_text())["environment"] == "fixture"


def test_mandatory_violation_exits_1(tmp_path, capsys):
    assert main(["plan", "insecure", *FIXTURE_ARGS, "--out", str(tmp_path / "p.json"), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "recsys-dr: error: policy eks-gpu-tainted on primary-gpu:" in err
    assert "mandatory policy violations" in err
    assert (tmp_path / "p.json").exists()  # the plan is still written for review


def test_configuration_error_exits_2_with_one_line_per_problem(tmp_path, capsys):
    assert main(["plan", "badconfig", *FIXTURE_ARGS, "--out", str(tmp_path / "p.json")]) == 2
    err = capsys.readouterr().err
    assert err.splitlines() == [
        "recsys-dr: error: configuration of 'badconfig' is invalid (2 problems):",
        "  - tests/review/fixtures/config/Pulumi.badconfig.yaml: `recsys-dr:standbyMode` must be one of: warm, pilot-light. Received: 'cold'",
        "  - tests/review/fixtures/config/Pulumi.badconfig.yaml: `recsys-dr:dns.ttl` must be <= 60. Received: 300",
    ]
    assert not (tmp_path / "p.json").exists()


def test_unknown_environment_exits_2(capsys):
    assert main(["plan", "staging", "--quiet"]) == 2
    assert "stacks/Pulumi.staging.yaml: no such stack file; environments with a stack file: dev, prod" in capsys.readouterr().err


def test_shipped_config_error_through_the_console_script_has_no_traceback(tmp_path):
    bad = (REPO / "stacks" / "Pulumi.dev.yaml").read_text().replace("standbyMode: pilot-light", "standbyMode: lukewarm")
    (tmp_path / "Pulumi.broken.yaml").write_text(bad)
    result = subprocess.run(
        [sys.executable, "-m", "recsys_dr.cli", "plan", "broken", "--config-dir", str(tmp_path), "--out", str(tmp_path / "p.json")],
        capture_output=True, text=True, cwd=tmp_path, timeout=120,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "recsys-dr: error: configuration of 'broken' is invalid (1 problem):" in result.stderr
    assert "`recsys-dr:standbyMode`" in result.stderr and "lukewarm" in result.stderr


def test_component_argument_error_is_reported_as_its_reason(tmp_path, capsys):
    """Components raise InputPropertiesError whose details are dicts; the reason is printed, not the dict."""
    (tmp_path / "__main__.py").write_text(
        "from components import ArcControl, ArcControlArgs\nArcControl('arc', ArcControlArgs(safety_wait_ms=0))\n"
    )
    (tmp_path / "Pulumi.x.yaml").write_text("config: {}\n")
    assert main(["plan", "x", "--program-dir", str(tmp_path), "--quiet", "--out", str(tmp_path / "p.json")]) == 2
    err = capsys.readouterr().err
    assert "`safety_wait_ms` must be a positive integer of milliseconds. Received: 0" in err
    assert "property_path" not in err


def test_program_failure_exits_3(tmp_path, capsys):
    (tmp_path / "__main__.py").write_text("import json\njson.loads('{')\n")
    (tmp_path / "Pulumi.x.yaml").write_text("config: {}\n")
    # json.JSONDecodeError is a ValueError: reported as configuration, like a bad JSON config value
    assert main(["plan", "x", "--program-dir", str(tmp_path), "--quiet", "--out", str(tmp_path / "p.json")]) == 2
    (tmp_path / "__main__.py").write_text("raise KeyError('gone')\n")
    assert main(["plan", "x", "--program-dir", str(tmp_path), "--quiet", "--out", str(tmp_path / "p.json")]) == 3
    assert "the program failed: KeyError: 'gone'" in capsys.readouterr().err


@pytest.fixture(scope="module")
def two_plans(tmp_path_factory):
    """Base: the good fixture; head: the same stack name with the insecure config (a bad PR)."""
    folder = tmp_path_factory.mktemp("plans")
    head_config = folder / "head-config"
    head_config.mkdir()
    (head_config / "Pulumi.fixture.yaml").write_text((FIXTURE_CONFIG / "Pulumi.insecure.yaml").read_text())
    assert main(["plan", "fixture", *FIXTURE_ARGS, "--out", str(folder / "base.json"), "--quiet"]) == 0
    assert main(["plan", "fixture", "--program-dir", str(FIXTURE_PROGRAM), "--config-dir", str(head_config),
                 "--out", str(folder / "head.json"), "--quiet"]) == 1
    return folder / "base.json", folder / "head.json"


def test_diff_markdown(two_plans, capsys):
    base, head = two_plans
    assert main(["diff", str(base), str(head), "--format", "markdown"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("<!-- recsys-dr-plan-diff:fixture -->")
    assert "> [!CAUTION]" in out  # amiType change replaces both GPU node groups
    assert "| `amiType` | `\"AL2023_x86_64_NVIDIA\"` | `\"AL2023_x86_64_STANDARD\"` | forces replacement |" in out
    assert "| 🔴 | delete | `kubernetes:autoscaling/v2:HorizontalPodAutoscaler` | primary-hpa | us-east-1 |  |" in out
    assert "new: [mandatory] `eks-gpu-tainted` on primary-gpu" in out


def test_diff_text_to_file_and_fail_on_stateful(two_plans, tmp_path, capsys):
    base, head = two_plans
    out = tmp_path / "diff.txt"
    assert main(["diff", str(base), str(head), "--out", str(out), "--fail-on-stateful"]) == 1
    assert out.read_text().startswith("Plan diff for fixture: 0 to create, 8 to update, 2 to replace, 2 to delete")
    text = out.read_text()
    assert "WARNING: stateful or expensive resources" in text
    assert '      policy{}.Statement[1].Action[0]: "s3:ReplicateObject" -> "s3:*"' in text
    assert main(["diff", str(base), str(base), "--fail-on-stateful"]) == 0


def test_diff_of_missing_or_invalid_file_exits_2(tmp_path, capsys):
    (tmp_path / "x.json").write_text("{not json")
    (tmp_path / "y.json").write_text('{"a": 1}')
    assert main(["diff", str(tmp_path / "none.json"), str(tmp_path / "x.json")]) == 2
    assert main(["diff", str(tmp_path / "x.json"), str(tmp_path / "x.json")]) == 2
    assert main(["diff", str(tmp_path / "y.json"), str(tmp_path / "y.json")]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0].endswith("none.json: no such file")
    assert "not JSON (line 1, column 2" in err[1]
    assert err[2].endswith("y.json: not a recsys-dr plan (no `resources` list)")


def test_two_processes_with_different_hash_seeds_write_identical_plans(tmp_path):
    """`recsys-dr plan dev` run twice on the same commit: byte-identical files (set order,
    registration order and the working directory must not leak into the plan)."""
    outputs = []
    for seed, cwd in (("1", tmp_path), ("2", REPO)):
        out = tmp_path / f"plan-{seed}.json"
        result = subprocess.run(
            [sys.executable, "-m", "recsys_dr.cli", "plan", "dev", "--quiet", "--out", str(out)],
            capture_output=True, text=True, cwd=cwd, timeout=180, env={**os.environ, "PYTHONHASHSEED": seed},
        )
        assert result.returncode == 0, result.stderr
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1]


def forged(head: Path, folder: Path) -> Path:
    """The insecure head plan after its own code claimed no violations and no cost (a forged PR plan)."""
    document = json.loads(head.read_text())
    document["policy"].update(violations=[], mandatoryViolations=0, advisoryViolations=0)
    document["estimate"] = {}
    path = folder / "forged.json"
    path.write_text(json.dumps(document))
    return path


def test_check_recomputes_what_a_plan_says_about_itself(two_plans, tmp_path, capsys):
    base, head = two_plans
    out = tmp_path / "checked.json"
    assert main(["check", str(forged(head, tmp_path)), "--out", str(out)]) == 1
    printed = capsys.readouterr().out
    assert "mandatory: policy eks-gpu-tainted on primary-gpu:" in printed
    checked, original = json.loads(out.read_text()), json.loads(head.read_text())
    # The rules rebuild each resource from the plan's inputs and computed outputs as the program saw it.
    assert checked["policy"] == original["policy"] and checked["policy"]["mandatoryViolations"] > 0
    assert checked["estimate"] == original["estimate"]
    assert main(["check", str(base)]) == 0


def test_check_of_a_file_that_is_not_a_plan_exits_2(tmp_path, capsys):
    (tmp_path / "bad.json").write_text(json.dumps({"resources": [{"custom": True, "type": "aws:s3/bucket:Bucket"}]}))
    assert main(["check", str(tmp_path / "bad.json")]) == 2
    assert main(["check", str(tmp_path / "none.json")]) == 2
    err = capsys.readouterr().err
    assert "bad.json: not a recsys-dr plan (KeyError: 'urn')" in err
    assert "none.json: no such file" in err
