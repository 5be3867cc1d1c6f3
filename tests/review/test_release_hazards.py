"""The plan diff knows releases: both regions' pins, image or serving settings moving at once is a
high DR hazard; a candidate beside the stable pods and its promotion are not; a pin change shows
the versions' offline metrics side by side."""

from __future__ import annotations

import hashlib

import pytest

from recsys_dr.review.diff import diff_plans
from recsys_dr.review.diff_json import render_json
from recsys_dr.review.diff_markdown import render_markdown
from recsys_dr.review.diff_text import render_text
from recsys_dr.sandbox.release import release_version

from .shipped import mutated, setting

NEW = "b" * 64


def digest(version_dir) -> str:
    return hashlib.sha256((version_dir / "manifest.json").read_bytes()).hexdigest()


def plan_of(tmp_path, name, change):
    return mutated("prod", tmp_path / name, change).document


@pytest.fixture(scope="module")
def base_prod(tmp_path_factory):
    return mutated("prod", tmp_path_factory.mktemp("base"), lambda d: None).document


@pytest.fixture(scope="module")
def with_candidate(tmp_path_factory):
    def change(document):
        setting(document, "model")["candidate"] = {"version": 2, "manifestSha256": NEW}
        setting(document, "gpu")["maxSize"] = 11
    return mutated("prod", tmp_path_factory.mktemp("candidate"), change).document


def kinds(diff):
    return {h["kind"]: h for h in diff.hazards}


def test_a_pin_moved_in_both_regions_is_a_high_hazard_said_once(base_prod, tmp_path):
    head = plan_of(tmp_path, "both", lambda d: setting(d, "model").update(version=2, manifestSha256=NEW))
    diff = diff_plans(base_prod, head)
    hazard = kinds(diff)["release-both-regions"]
    assert hazard["severity"] == "high" and "the model pin of both regions (us-east-1, us-west-2)" in hazard["message"]
    assert "or use `recsys-dr release`" in hazard["message"]
    assert not any("serving Deployments" in h["message"] for h in diff.hazards)  # not twice
    assert [(p["role"], p["slot"], p["base"], p["head"]) for p in diff.pins] == [("primary", "stable", 1, 2), ("standby", "stable", 1, 2)]


def test_one_region_per_change_is_no_release_hazard(base_prod, tmp_path):
    head = plan_of(tmp_path, "one", lambda d: setting(d, "model").update(pins={"standby": {"version": 2, "manifestSha256": NEW}}))
    diff = diff_plans(base_prod, head)
    assert "release-both-regions" not in kinds(diff)
    assert [(p["role"], p["head"]) for p in diff.pins] == [("standby", 2)]


@pytest.mark.parametrize("section, values, what", [
    ("serving", {"image": "tensorflow/serving:2.22.0-gpu"}, "the serving image"),
    ("serving", {"cpu": "5"}, "the serving settings"),
])
def test_the_serving_image_or_settings_in_both_regions_is_a_high_hazard(base_prod, tmp_path, section, values, what):
    head = plan_of(tmp_path, "serving", lambda d: setting(d, section).update(values))
    hazard = kinds(diff_plans(base_prod, head))["release-both-regions"]
    assert hazard["severity"] == "high" and what in hazard["message"]


def test_a_candidate_beside_the_stable_pods_is_no_release_hazard(base_prod, with_candidate):
    diff = diff_plans(base_prod, with_candidate)
    assert "release-both-regions" not in kinds(diff)
    assert [(p["role"], p["slot"], p["base"], p["head"]) for p in diff.pins] == [
        ("primary", "candidate", None, 2), ("standby", "candidate", None, 2)]


def test_promoting_the_candidate_it_ran_is_no_release_hazard(with_candidate, tmp_path):
    def promote(document):
        setting(document, "model").update(version=2, manifestSha256=NEW, candidate={"version": 2, "manifestSha256": NEW})
        setting(document, "gpu")["maxSize"] = 11
    diff = diff_plans(with_candidate, plan_of(tmp_path, "promote", promote))
    assert "release-both-regions" not in kinds(diff)
    # Another version than the candidate in both regions is no promotion.
    def other(document):
        setting(document, "model").update(version=3, manifestSha256="c" * 64, candidate={"version": 2, "manifestSha256": NEW})
        setting(document, "gpu")["maxSize"] = 11
    assert "release-both-regions" in kinds(diff_plans(with_candidate, plan_of(tmp_path, "other", other)))


def test_removing_the_candidate_is_flagged_but_is_no_outage(with_candidate, base_prod):
    diff = diff_plans(with_candidate, base_prod)
    found = kinds(diff)
    assert found["candidate-removed"]["severity"] == "medium" and "release status" in found["candidate-removed"]["message"]
    # The stable pods are untouched: no serving Deployment of either region is flagged (only the pool size moves).
    assert "region-outage" not in found and not any("serving Deployments" in h["message"] for h in diff.hazards)


def test_a_pin_change_shows_both_versions_offline_metrics(tmp_path):
    old = release_version(tmp_path / "built", model="recommender", version=1, metric=0.110)
    new = release_version(tmp_path / "built", model="recommender", version=2, metric=0.115)
    base = plan_of(tmp_path, "base", lambda d: setting(d, "model").update(artifactDir=str(old), manifestSha256=digest(old)))
    head = plan_of(tmp_path, "head", lambda d: setting(d, "model").update(
        version=2, artifactDir=str(new), manifestSha256=digest(new)))
    diff = diff_plans(base, head)
    assert diff.pins[0]["baseMetrics"]["ndcg@10"] == 0.110 and diff.pins[0]["headMetrics"]["ndcg@10"] == 0.115
    assert "primary stable: v1 -> v2: ndcg@10 0.1100 -> 0.1150 +4.5%" in render_text(diff)
    assert "| primary | stable | v1 | v2 | 0.1100 → 0.1150 +4.5% |" in render_markdown(diff)
    assert '"pins"' in render_json(diff)


def test_without_manifests_the_pins_say_where_the_metrics_would_come_from(base_prod, tmp_path):
    head = plan_of(tmp_path, "nometrics", lambda d: setting(d, "model").update(pins={"standby": {"version": 2, "manifestSha256": NEW}}))
    assert "set `model.artifactDir`" in render_text(diff_plans(base_prod, head))


def test_the_fallback_moved_with_both_gpu_regions_is_a_release_of_every_tier(base_prod, tmp_path):
    def change(document):
        setting(document, "model").update(version=2, manifestSha256=NEW)
        setting(document, "fallback").update(version=9, manifestSha256="c" * 64)
    diff = diff_plans(base_prod, plan_of(tmp_path, "every", change))
    hazard = kinds(diff)["release-every-tier"]
    assert hazard["severity"] == "high" and "--tier fallback" in hazard["message"]
    assert ("fallback", "stable", 9) in [(p["role"], p["slot"], p["head"]) for p in diff.pins]


def test_the_fallback_released_on_its_own_is_no_release_hazard(base_prod, tmp_path):
    diff = diff_plans(base_prod, plan_of(tmp_path, "alone", lambda d: setting(d, "fallback").update(
        version=9, manifestSha256="c" * 64)))
    assert not {"release-every-tier", "release-both-regions"} & set(kinds(diff))
    assert [(p["role"], p["slot"], p["head"]) for p in diff.pins] == [("fallback", "stable", 9)]
