"""What a change does to the versions each region serves: pins, the serving image, the serving settings.

A change that moves the model pin, the serving image or the serving settings of the stable pods
of both regions at once leaves no untouched region to fail over to if the new version is bad:
`release-both-regions`, a high DR hazard. Two changes are releases done right and are not flagged:
a candidate added beside the stable pods (it gets no traffic until `recsys-dr release` moves
it), and a promotion (each region's new stable pin is the candidate that region already ran,
which the release proved). A candidate removed while it may still carry a share is flagged
(`candidate-removed`, medium): its pods go at the end of the update. The fallback tier's pin
(`fallback.model`) is shown beside the regions' and, moved in the same change as both GPU regions,
is `release-every-tier` (high): nothing would still serve a proven version.

The pins and the built versions' offline evaluations come from the plans' stack outputs
(`regions.<role>.model`, `modelEvaluations`); the classification of the serving Deployment's
changes from the diff of its inputs.
"""

from __future__ import annotations

from typing import Any

DEPLOYMENT = "kubernetes:apps/v1:Deployment"
CANDIDATE_SUFFIX = "-candidate"  # the candidate slot's pod label (components.serving.manifests.slot_instance)
# Where a pin lives in the serving Deployment's inputs (components.serving.manifests.deployment_spec).
PIN_MARKS = ("recsys-dr/model-version", "recsys-dr/manifest-sha256", "MODEL_VERSION", "MANIFEST_SHA256")
IMAGE_PATH = "spec.template.spec.containers[0].image"
METRICS = ("ndcg@10", "hit_rate@10", "mrr")
FALLBACK = "fallback"  # the fallback tier's row among the regions' pins


def is_candidate_slot(resource: dict[str, Any]) -> bool:
    labels = (((resource.get("inputs") or {}).get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
    return str(labels.get("app.kubernetes.io/instance", "")).endswith(CANDIDATE_SUFFIX)


def _pins(document: dict[str, Any]) -> dict[str, dict]:
    """Per region, and for the fallback tier (`fallback.model`), the stable pin and its candidate."""
    outputs = document.get("outputs") or {}
    regions = outputs.get("regions") or {}
    found = {role: (value or {}).get("model") or {} for role, value in regions.items() if isinstance(value, dict)}
    fallback = (outputs.get("fallback") or {}).get("model") if isinstance(outputs.get("fallback"), dict) else None
    if isinstance(fallback, dict):
        found[FALLBACK] = fallback
    return found


def _fallback_moves(base: dict[str, Any], head: dict[str, Any]) -> bool:
    """The fallback tier's pin changes, other than to the candidate it already ran (a promotion)."""
    before, after = _pins(base).get(FALLBACK), _pins(head).get(FALLBACK)
    if not before or not after:
        return False
    key = lambda pin: (pin.get("version"), pin.get("manifestSha256"))  # noqa: E731
    return key(before) != key(after) and key(after) != key(before.get("candidate") or {})


def _roles(document: dict[str, Any]) -> dict[str, str]:
    regions = (document.get("outputs") or {}).get("regions") or {}
    return {value["region"]: role for role, value in regions.items() if isinstance(value, dict) and value.get("region")}


def _env_pin_path(path: str, inputs: dict[str, Any]) -> bool:
    """`spec.template.spec.initContainers[0].env[i].value` of MODEL_VERSION or MANIFEST_SHA256."""
    if not path.startswith("spec.template.spec.initContainers[0].env[") or not path.endswith("].value"):
        return False
    index = int(path.split("env[", 1)[1].split("]", 1)[0])
    env = ((((inputs.get("spec") or {}).get("template") or {}).get("spec") or {}).get("initContainers") or [{}])[0].get("env") or []
    return index < len(env) and env[index].get("name") in PIN_MARKS


def serving_moves(diff: Any, base: dict[str, Any], head: dict[str, Any]) -> dict[str, dict]:
    """Per region of a stable serving Deployment the change updates: what moves (`pin`, `image`,
    `settings` paths) and the resources."""
    from recsys_dr.review.hazards import serves_on_gpu

    documents = {r["urn"]: r for r in base["resources"]} | {r["urn"]: r for r in head["resources"]}
    moves: dict[str, dict] = {}
    for change in diff.resources:
        resource = documents[change.urn]
        if change.action not in ("update", "replace") or not serves_on_gpu(resource) or is_candidate_slot(resource):
            continue
        found = moves.setdefault(change.region, {"pin": False, "image": False, "settings": [], "urns": []})
        found["urns"].append(change.urn)
        for prop in change.properties:
            path = prop.path
            if any(mark in path for mark in PIN_MARKS[:2]) or _env_pin_path(path, resource.get("inputs") or {}):
                found["pin"] = True
            elif path == IMAGE_PATH:
                found["image"] = True
            elif path.startswith("spec.") and not path.startswith("spec.replicas"):
                found["settings"].append(path)
    return moves


def _promotes(role: str | None, base: dict[str, Any], head: dict[str, Any], move: dict) -> bool:
    """The region's new stable pin (and image) is the candidate it already ran, and nothing else moves."""
    if role is None or move["settings"]:
        return False
    before, after = _pins(base).get(role, {}), _pins(head).get(role, {})
    candidate = before.get("candidate") or {}
    if not candidate:
        return False
    same_pin = (after.get("version"), after.get("manifestSha256")) == (candidate.get("version"), candidate.get("manifestSha256"))
    same_image = not move["image"] or after.get("image") == candidate.get("image")
    return (same_pin or not move["pin"]) and same_image


def release_hazards(diff: Any, base: dict[str, Any], head: dict[str, Any]) -> list[dict[str, Any]]:
    roles = _roles(head) or _roles(base)
    moves = serving_moves(diff, base, head)
    moving = {region: move for region, move in moves.items()
              if (move["pin"] or move["image"] or move["settings"]) and not _promotes(roles.get(region), base, head, move)}
    hazards = []
    if len(roles) >= 2 and set(roles) <= set(moving):
        what = sorted({kind for move in moving.values() for kind, on in
                       (("the model pin", move["pin"]), ("the serving image", move["image"]),
                        ("the serving settings", bool(move["settings"]))) if on})
        hazards.append({"kind": "release-both-regions", "severity": "high", "resources": sorted(u for m in moving.values() for u in m["urns"]),
                        "message": f"{' and '.join(what)} of both regions ({', '.join(sorted(moving))}) change in one change: a bad "
                                   "version or setting would be live everywhere, with no untouched region to fail over to. "
                                   "Change one region per pull request, or use `recsys-dr release`"})
        if _fallback_moves(base, head):
            hazards.append({"kind": "release-every-tier", "severity": "high", "resources": [],
                            "message": "the fallback tier's pin moves in the same change as both GPU regions: the tier "
                                       "that answers when both are down would run an unproven version too. Release the "
                                       "fallback on its own (`recsys-dr release --tier fallback`)"})
    removed = [role for role, pin in _pins(base).items() if pin.get("candidate") and role in _pins(head)
               and not _pins(head)[role].get("candidate")]
    if removed:
        hazards.append({"kind": "candidate-removed", "severity": "medium", "resources": [],
                        "message": f"the candidate of {', '.join(sorted(removed))} is removed: its pods go at the end of the update, "
                                   "so no share may still send traffic to them. Check `recsys-dr release status` first (or "
                                   "`recsys-dr release abort`)"})
    return hazards


def pin_changes(base: dict[str, Any], head: dict[str, Any]) -> list[dict[str, Any]]:
    """Per region whose stable pin or candidate changes: before, after, and each version's offline metrics."""
    evaluations = {**((base.get("outputs") or {}).get("modelEvaluations") or {}),
                   **((head.get("outputs") or {}).get("modelEvaluations") or {})}
    before, after = _pins(base), _pins(head)
    rows = []
    for role in sorted(set(before) | set(after)):
        old, new = before.get(role, {}), after.get(role, {})
        for slot, read in (("stable", lambda p: p), ("candidate", lambda p: p.get("candidate") or {})):
            was, now = read(old), read(new)
            if (was.get("version"), was.get("manifestSha256")) == (now.get("version"), now.get("manifestSha256")):
                continue
            rows.append({"role": role, "slot": slot, "base": was.get("version"), "head": now.get("version"),
                         "baseMetrics": (evaluations.get(str(was.get("version"))) or {}).get("metrics"),
                         "headMetrics": (evaluations.get(str(now.get("version"))) or {}).get("metrics")})
    return rows


def _number(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, (int, float)) else "n/a"


def metric_cells(row: dict[str, Any], metric: str) -> tuple[str, str, str]:
    old, new = (row.get("baseMetrics") or {}).get(metric), (row.get("headMetrics") or {}).get(metric)
    change = f"{(new - old) / old:+.1%}" if isinstance(old, (int, float)) and isinstance(new, (int, float)) and old else ""
    return _number(old), _number(new), change


def render_pins(rows: list[dict[str, Any]], *, markdown: bool) -> list[str]:
    """The pins that change, with the old and new versions' offline metrics side by side."""
    if not rows:
        return []
    def version(value: Any) -> str:
        return f"v{value}" if value is not None else "(none)"
    lines = ["", "**Model pins**" if markdown else "Model pins (offline metrics from the versions' manifests):"]
    if markdown:
        lines += ["", "| region | slot | base | head | " + " | ".join(METRICS) + " |", "|---|---|---|---|" + "---|" * len(METRICS)]
    for row in rows:
        cells = [metric_cells(row, metric) for metric in METRICS]
        if markdown:
            shown = [f"{a} → {b} {c}".rstrip() for a, b, c in cells]
            lines.append(f"| {row['role']} | {row['slot']} | {version(row['base'])} | {version(row['head'])} | " + " | ".join(shown) + " |")
        else:
            metrics = ", ".join(f"{m} {a} -> {b}{(' ' + c) if c else ''}" for m, (a, b, c) in zip(METRICS, cells))
            lines.append(f"  {row['role']} {row['slot']}: {version(row['base'])} -> {version(row['head'])}: {metrics}")
    if all(not (r.get("baseMetrics") or r.get("headMetrics")) for r in rows):
        note = "no manifest in the plans: set `model.artifactDir` (and the candidate's) to show the versions' offline metrics"
        lines.append(f"_{note}_" if markdown else f"  ({note})")
    return lines
