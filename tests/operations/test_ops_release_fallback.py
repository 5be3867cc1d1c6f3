"""`recsys-dr release --tier fallback`: the CPU fallback tier's candidate goes through the same gates
as a GPU candidate (offline quality from its manifests, golden requests through its live endpoint by
header), then gets the whole of the fallback's traffic, then is pinned as `fallback.version`."""

from __future__ import annotations

import pytest

from recsys_dr.operations.release import record
from tests.operations.ops_fixtures import PRIMARY_REGION, STANDBY_REGION, client
from tests.operations.release_fixtures import FALLBACK_CANDIDATE, FALLBACK_MODEL, ReleaseEnvironment
from tests.operations.test_ops_release import release, steps


@pytest.fixture
def stack(aws, tmp_path):
    environment = ReleaseEnvironment(tmp_path, fallback=True)
    yield environment
    environment.stop()


def test_a_fallback_candidate_is_proven_by_its_own_golden_requests_then_pinned_as_the_fallback(stack, capsys):
    code, report = release(stack, capsys, "start", tier="fallback")
    [quality] = steps(report, "gate.quality")
    assert quality["result"] == "ok"
    [golden] = steps(report, "gate.golden")
    assert (golden["result"], golden["region"]) == ("ok", STANDBY_REGION)
    assert stack.fallback["serving"]["candidate"].predictions > 0  # the fallback candidate answered them
    assert [row["step"] for row in report["steps"] if row["step"].startswith("share")] == ["share 100 %"]
    assert stack.fallback_share() == 100
    # Promotion is the fallback's own pin, not the GPU model's.
    assert code == 6 and report["patch"]["stage"] == "pin-candidate", report["reasons"]
    assert any(f"fallback.version {FALLBACK_CANDIDATE}" in command for command in report["patch"]["commands"])
    assert not any("model.version" in command for command in report["patch"]["commands"])
    # Its record is its own lock: a GPU release is a separate one.
    assert record.ReleaseStore(client("s3", PRIMARY_REGION), stack.buckets["primary"], "fallback").read().active
    assert record.ReleaseStore(client("s3", PRIMARY_REGION), stack.buckets["primary"], "gpu").read() is None


def test_a_fallback_candidate_that_answers_differently_never_gets_traffic(stack, capsys):
    # The gate would be bypassed if the fallback tier were released without golden requests.
    stack.fallback["serving"]["candidate"].wrong = True
    code, report = release(stack, capsys, "start", tier="fallback")
    assert code == 1 and report["outcome"] == "rejected"
    [golden] = steps(report, "gate.golden")
    assert golden["result"] == "FAIL" and golden["region"] == STANDBY_REGION and "answered differently" in golden["detail"]
    assert not [row for row in report["steps"] if row["step"].startswith("share")]
    assert stack.fallback_share() == 0
    assert report["patch"]["commands"] == ["pulumi config rm --path fallback.candidate -s prod"]


def test_a_fallback_quality_drop_reads_the_fallback_manifests(stack, capsys):
    outputs = stack.outputs()
    outputs["fallback"]["model"]["candidate"]["manifestSha256"] = "0" * 64  # not the published manifest
    code, report = release(stack, capsys, "start", outputs=outputs, tier="fallback")
    assert code != 0 and report["outcome"] == "refused"
    assert f"models/{FALLBACK_MODEL}/{FALLBACK_CANDIDATE}/manifest.json" in report["reasons"][0]
