"""`recsys-dr:fallback` and `recsys-dr:gpu.capacityReservations` in a stack file: every bad value named."""

from __future__ import annotations

import copy

import pytest

from recsys_dr.stacks.settings import ConfigError, load_settings
from tests.stacks.test_settings import shipped


def problems_of(env: str, change) -> list[str]:
    raw = copy.deepcopy(shipped(env))
    change(raw)
    with pytest.raises(ConfigError) as error:
        load_settings(raw, env)
    return error.value.problems


def fallback(raw: dict, **values) -> None:
    raw["fallback"].update(values)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda raw: raw.update(failoverControl="arc"),
         "`recsys-dr:fallback` needs `recsys-dr:failoverControl` health-check: the DNS cascade to the fallback follows "
         "health checks, while with arc only the operator's switch moves traffic. Use health-check, or remove "
         "`recsys-dr:fallback`. Received: failoverControl=arc"),
        (lambda raw: raw.update(failoverControl="region-switch"), "Received: failoverControl=region-switch"),
        (lambda raw: raw["model"].update(name="r" * 55),
         "`recsys-dr:model.name` must be at most 54 characters with `recsys-dr:fallback`"),
        (lambda raw: fallback(raw, instanceTypes=["g5.xlarge"]),
         "`recsys-dr:fallback.instanceTypes` must list x86_64 CPU instance types among: c6i.large"),
        (lambda raw: fallback(raw, cpu="4"),
         "`recsys-dr:fallback.cpu`/`recsys-dr:fallback.memory` must fit one c6i.large node (1630m CPU, 2067Mi"),
        (lambda raw: fallback(raw, minReplicas=2, maxReplicas=2),
         "`recsys-dr:fallback.minReplicas` must fit `recsys-dr:fallback.minSize` nodes (1 pod(s) each)"),
        (lambda raw: fallback(raw, minSize=3, maxSize=2), "`recsys-dr:fallback.minSize` must be <= `recsys-dr:fallback.maxSize`"),
        (lambda raw: raw["fallback"].pop("manifestSha256"), "`recsys-dr:fallback.manifestSha256` is required and missing"),
        (lambda raw: fallback(raw, manifestSha256="ABC"), "`recsys-dr:fallback.manifestSha256` must be 64 lower-case hexadecimal digits"),
        (lambda raw: raw["gpu"].update(capacityReservations={"standby": {"availabilityZone": "us-east-1a"}}),
         "`recsys-dr:gpu.capacityReservations.standby.availabilityZone` must be a zone of us-west-2 (reservations are zonal). "
         "Received: us-east-1a"),
        (lambda raw: raw["gpu"].update(capacityReservations={"standby": {"availabilityZone": "us-west-2a", "instanceCount": 1}}),
         "`recsys-dr:gpu.capacityReservations.standby.instanceCount` must be >= `recsys-dr:gpu.maxSize`"),
    ],
)
def test_bad_fallback_and_capacity_settings_are_named(change, message):
    assert any(message in p for p in problems_of("dev", change)), problems_of("dev", change)


def test_fallback_is_optional_and_reported_missing_only_by_the_plan():
    raw = copy.deepcopy(shipped("dev"))
    raw.pop("fallback")
    assert load_settings(raw, "dev").args.fallback is None


def test_shipped_fallbacks_fit_their_nodes_and_surge():
    for env in ("dev", "prod"):
        fallback = load_settings(shipped(env), env).args.fallback
        # One pod a node; the pool holds maxReplicas + 1 pods, so a rollout surges instead of dipping.
        assert fallback.pods_per_node == 1 and fallback.max_size >= fallback.max_replicas + 1
