"""The release benchmark runs and its figures are what the settings make of a release."""

from __future__ import annotations

import json

import pytest

from benchmarks import release_benchmark


@pytest.mark.slow
def test_the_benchmark_times_a_release_and_a_rollback(capsys, monkeypatch):
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION", "AWS_EC2_METADATA_DISABLED",
                "MOTO_EC2_LOAD_DEFAULT_AMIS", "AWS_PROFILE"):
        monkeypatch.delenv(key, raising=False)  # restored after the test: the benchmark sets its own
    monkeypatch.setattr(release_benchmark, "_credentials", lambda: [monkeypatch.setenv(k, v) for k, v in (
        ("AWS_ACCESS_KEY_ID", "bench"), ("AWS_SECRET_ACCESS_KEY", "bench"), ("AWS_DEFAULT_REGION", "us-east-1"),
        ("AWS_EC2_METADATA_DISABLED", "true"), ("MOTO_EC2_LOAD_DEFAULT_AMIS", "false"))])
    assert release_benchmark.main(["--bake-seconds", "120", "--json"]) == 0
    figures = json.loads(capsys.readouterr().out)
    release, rollback = figures["release"], figures["rollback"]
    assert release["outcome"] == "promoted" and release["virtualSeconds"] == 4 * 120  # four shares, one bake each
    # The first check with a complete minute of metrics, one minute late, fails the gate.
    assert rollback["outcome"] == "rolled-back" and rollback["detectSeconds"] == 120
    assert rollback["regionsRolledBack"] == 2 and 0 <= rollback["rollbackRealSeconds"] < 5
