"""`recsys-dr plan` from a wheel install: the installed program, any stack file, no checkout."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from .conftest import REPO

pytestmark = pytest.mark.slow


# 0 or 1: the plan rendered (1 = a mandatory policy violation, which the shipped-plan tests judge);
# 2 or 3 would mean the wheel could not find or run the program or the stack file.
RENDERED = (0, 1)


def run(installed_wheel, *args, cwd):
    return subprocess.run([installed_wheel.bin / "recsys-dr", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300)


def test_default_program_is_the_installed_package(installed_wheel, tmp_path):
    code = "from recsys_dr.review.plan import default_program_dir; print(default_program_dir())"
    result = subprocess.run([installed_wheel.python, "-c", code], cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    program = result.stdout.strip()
    assert program.endswith("/site-packages/recsys_dr/stacks") and not program.startswith(str(REPO) + "/")


def test_plan_a_stack_file_outside_the_checkout(installed_wheel, tmp_path):
    shutil.copy(REPO / "stacks" / "Pulumi.dev.yaml", tmp_path / "Pulumi.dev.yaml")
    result = run(installed_wheel, "plan", "--stack-file", "Pulumi.dev.yaml", "--out", "plan.json", cwd=tmp_path)
    assert result.returncode in RENDERED, result.stderr
    document = json.loads((tmp_path / "plan.json").read_text())
    assert document["environment"] == "dev"
    assert document["stackConfig"] == "Pulumi.dev.yaml"
    assert {"aws:eks/cluster:Cluster", "aws:s3/bucket:Bucket"} <= {r["type"] for r in document["resources"]}
    assert document["estimate"]["monthlyCostUsd"]["total"] > 0
    assert "DR estimate" in result.stdout


def test_plan_with_a_config_dir_and_an_environment(installed_wheel, tmp_path):
    config = tmp_path / "envs"
    config.mkdir()
    shutil.copy(REPO / "stacks" / "Pulumi.prod.yaml", config / "Pulumi.eu.yaml")
    result = run(installed_wheel, "plan", "eu", "--config-dir", str(config), "--out", "plan.json", "--quiet", cwd=tmp_path)
    assert result.returncode in RENDERED, result.stderr
    assert json.loads((tmp_path / "plan.json").read_text())["environment"] == "eu"


def test_shipped_stack_files_plan_from_the_package_data(installed_wheel, tmp_path):
    result = run(installed_wheel, "plan", "prod", "--out", "plan.json", "--quiet", cwd=tmp_path)
    assert result.returncode in RENDERED, result.stderr
    assert json.loads((tmp_path / "plan.json").read_text())["stackConfig"] == "Pulumi.prod.yaml"


def test_version_still_works(installed_wheel, tmp_path):
    result = run(installed_wheel, "--version", cwd=tmp_path)
    assert result.returncode == 0 and result.stdout.startswith("recsys-dr ")
