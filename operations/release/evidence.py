"""What a release reads from the model buckets: verified manifests, golden requests, offline quality.

Everything is checked against the pin before it is believed: a manifest's sha256 must be the
pinned digest (what the serving init container checks), and a file named by the manifest must
have the sha256 the manifest lists.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from recsys_dr.model.golden import load_golden
from recsys_dr.operations.outputs import ModelPin

MANIFEST = "manifest.json"


class EvidenceError(RuntimeError):
    """A manifest or golden file is missing, not the pinned one, or malformed."""


def _get(s3: Any, bucket: str, key: str) -> bytes:
    from botocore.exceptions import ClientError

    try:
        return s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NotFound"):
            raise EvidenceError(f"s3://{bucket}/{key} is missing (not published, or replication not finished)") from None
        raise


def read_manifest(s3: Any, bucket: str, model: str, pin: ModelPin) -> dict:
    key = f"models/{model}/{pin.version}/{MANIFEST}"
    body = _get(s3, bucket, key)
    digest = hashlib.sha256(body).hexdigest()
    if digest != pin.manifest_sha256:
        raise EvidenceError(f"s3://{bucket}/{key} has sha256 {digest[:12]}…, pinned {pin.manifest_sha256[:12]}…: the pods refuse it")
    try:
        manifest = json.loads(body)
    except ValueError:
        raise EvidenceError(f"s3://{bucket}/{key} is not JSON") from None
    if not isinstance(manifest, dict):
        raise EvidenceError(f"s3://{bucket}/{key} is not a JSON object")
    return manifest


def read_golden(s3: Any, bucket: str, model: str, pin: ModelPin) -> dict:
    """The version's golden requests, verified against its pinned manifest."""
    manifest = read_manifest(s3, bucket, model, pin)
    entry = manifest.get("golden")
    if not isinstance(entry, dict) or not isinstance(entry.get("path"), str):
        raise EvidenceError(f"v{pin.version}'s manifest lists no golden requests (exported before they existed: "
                            "rebuild or re-export it with `python -m recsys_dr.model export`)")
    listed = {f.get("path"): f.get("sha256") for f in manifest.get("files", []) if isinstance(f, dict)}
    if entry["path"] not in listed:
        raise EvidenceError(f"v{pin.version}'s golden file {entry['path']} is not in its manifest's files")
    body = _get(s3, bucket, f"models/{model}/{pin.version}/{entry['path']}")
    if hashlib.sha256(body).hexdigest() != listed[entry["path"]]:
        raise EvidenceError(f"v{pin.version}'s golden file does not match its manifest")
    try:
        return load_golden(body)
    except ValueError as exc:
        raise EvidenceError(f"v{pin.version}'s golden file: {exc}") from None


@dataclass(frozen=True)
class QualityVerdict:
    """`ok`: within the threshold; `comparable`: same protocol and metric present on both sides."""

    ok: bool
    comparable: bool
    detail: str
    data: dict


def _protocol(manifest: dict) -> tuple:
    evaluation = manifest.get("evaluation") or {}
    return evaluation.get("protocol"), evaluation.get("exclude_seen")


def _metric(manifest: dict, metric: str) -> float | None:
    value = (((manifest.get("metrics") or {}).get("model") or {}).get("all") or {}).get(metric)
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def judge_quality(stable: dict, candidate: dict, *, metric: str, max_relative_drop: float) -> QualityVerdict:
    """The candidate's offline metric against the stable version's, under the same protocol."""
    before, after = _metric(stable, metric), _metric(candidate, metric)
    data = {"metric": metric, "stable": before, "candidate": after, "maxRelativeDrop": max_relative_drop,
            "stableProtocol": _protocol(stable), "candidateProtocol": _protocol(candidate)}
    if before is None or after is None:
        which = " and ".join(n for n, v in (("the stable", before), ("the candidate", after)) if v is None)
        return QualityVerdict(False, False, f"{metric} is missing in {which} manifest: nothing to compare", data)
    if _protocol(stable) != _protocol(candidate):
        return QualityVerdict(False, False, f"{metric} {before:.4f} -> {after:.4f} under another evaluation protocol "
                                            f"({_protocol(stable)} vs {_protocol(candidate)}): not comparable", data)
    change = 0.0 if before <= 0 else (after - before) / before
    drop = -change
    data["relativeDrop"] = drop
    text = f"{metric} {before:.4f} -> {after:.4f} ({change:+.1%}; at most -{max_relative_drop:.1%} allowed)"
    return QualityVerdict(drop <= max_relative_drop, True, text, data)
