"""Model copies, bucket versioning and the S3 replication rule (`model`, `model.parity`, `replication.*`)."""

from __future__ import annotations

import json
from datetime import timedelta

from recsys_dr.operations.checks.base import (
    REPLICATION_PREFIX, REPLICATION_RULE_ID, RTC_MINUTES, RTC_THRESHOLD_SECONDS, CheckContext, CheckResult,
    failed_call,
)
from recsys_dr.operations.errors import is_unreachable
from recsys_dr.operations.outputs import FallbackOutputs, RegionOutputs, StackOutputs


def _manifest_key(outputs: StackOutputs) -> str:
    """The manifest of the version the standby would serve after a failover (its own pin)."""
    return f"models/{outputs.model_name}/{pinned(outputs, outputs.standby)[0]}/manifest.json"


def pinned(outputs: StackOutputs, region: RegionOutputs) -> tuple[int, str]:
    """(version, manifest sha256) the region's pods run: its own pin, else the model's."""
    if region.pin is not None:
        return region.pin.version, region.pin.manifest_sha256
    return outputs.model_version, outputs.manifest_sha256


# --------------------------------------------------------------------------- model


def check_model(ctx: CheckContext, region: RegionOutputs | FallbackOutputs) -> CheckResult:
    """The pinned version in the region's bucket: manifest present, every file verified. For the
    fallback tier, its own version (`models/<model>-fallback/<version>/`) in the standby's bucket."""
    o = ctx.outputs
    if isinstance(region, FallbackOutputs):
        model, version, digest = region.model_name, region.version, region.manifest_sha256
    else:
        model, (version, digest) = o.model_name, pinned(o, region)
    verify = ctx.verify
    if verify is None:
        from recsys_dr.model.verify import verify_remote as verify
    name = "model"
    try:
        # Against the pinned digest, as the pods' init container checks it: a manifest that is
        # not the pinned one is refused there, so it must not show green here.
        report = verify(region.bucket, model, version, s3_client=ctx.clients.s3(region.region),
                        expected_manifest_sha256=digest)
    except Exception as exc:  # botocore connection errors escape verify_remote
        return failed_call(name, region, ctx, exc, f"verify s3://{region.bucket}")
    where = f"s3://{region.bucket}/models/{model}/{version}/"
    return CheckResult(name=name, ok=report.ok, detail=_verify_detail(report, where, version, digest), region=region.region,
                       role=region.role, blocking=ctx.is_target(region.role), data=report.to_dict())


def _verify_detail(report, where: str, version: int, digest: str) -> str:
    if report.ok:
        return f"v{version}: {report.checked} files match the manifest ({where})"
    if not report.manifest_found and not report.errors:
        return f"v{version} manifest.json missing in {where} (not published, or replication not finished)"
    if report.manifest_sha256 and report.manifest_sha256 != digest:
        return (f"v{version} manifest.json in {where} is not the pinned one (sha256 "
                f"{report.manifest_sha256[:12]}…, pinned {digest[:12]}…): the pods refuse it")
    parts = []
    if report.missing:
        parts.append(f"missing {len(report.missing)}: {', '.join(report.missing[:5])}")
    if report.mismatched:
        paths = ", ".join(f"{m['path']} ({m['reason']})" for m in report.mismatched[:5])
        parts.append(f"corrupt {len(report.mismatched)}: {paths}")
    parts += report.errors[:3]
    return f"v{version} does not match its manifest in {where}: " + "; ".join(parts)


def _read_manifest(ctx: CheckContext, region: RegionOutputs) -> dict | None:
    from botocore.exceptions import ClientError

    s3 = ctx.clients.s3(region.region)
    try:
        body = s3.get_object(Bucket=region.bucket, Key=_manifest_key(ctx.outputs))["Body"]
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NotFound"):
            return None
        raise
    try:
        doc = json.loads(body.read())
    except (ValueError, RecursionError):
        raise ValueError(f"s3://{region.bucket}/{_manifest_key(ctx.outputs)} is not valid JSON") from None
    finally:
        body.close()
    if not isinstance(doc, dict):
        raise ValueError(f"s3://{region.bucket}/{_manifest_key(ctx.outputs)} is JSON but not an object "
                         f"(a {type(doc).__name__})")
    files = doc.get("files", [])
    if not isinstance(files, list) or not all(isinstance(f, dict) for f in files):
        raise ValueError(f"s3://{region.bucket}/{_manifest_key(ctx.outputs)}: `files` must be a list of objects")
    return doc


def check_model_parity(ctx: CheckContext) -> CheckResult:
    """The standby's manifest lists the same files (sha256, size) as the primary's."""
    o = ctx.outputs
    name = "model.parity"
    blocking = ctx.target == "standby"
    try:
        primary = _read_manifest(ctx, o.primary)
    except Exception as exc:
        res = failed_call(name, o.primary, ctx, exc, "read the primary manifest", blocking=False)
        res.detail += "; the standby copy is checked against its own manifest only"
        return res
    try:
        standby = _read_manifest(ctx, o.standby)
    except Exception as exc:
        return failed_call(name, o.standby, ctx, exc, "read the standby manifest", blocking=blocking)
    if primary is None or standby is None:
        which = " and ".join(r for r, m in (("primary", primary), ("standby", standby)) if m is None)
        return CheckResult(name=name, ok=False, role="standby", region=o.standby.region,
                           blocking=blocking and standby is None,
                           detail=f"v{pinned(o, o.standby)[0]} manifest missing in {which} bucket")
    p_files = {f.get("path"): (f.get("sha256"), f.get("size")) for f in primary.get("files", [])}
    s_files = {f.get("path"): (f.get("sha256"), f.get("size")) for f in standby.get("files", [])}
    differ = sorted(path for path in set(p_files) | set(s_files) if p_files.get(path) != s_files.get(path))
    if differ:
        return CheckResult(name=name, ok=False, role="standby", region=o.standby.region, blocking=blocking,
                           detail=f"standby manifest differs from primary for {len(differ)} file(s): "
                                  f"{', '.join(differ[:5])}",
                           data={"differing": differ})
    return CheckResult(name=name, ok=True, role="standby", region=o.standby.region, blocking=blocking,
                       detail=f"standby manifest equals primary manifest ({len(p_files)} files)")


# --------------------------------------------------------------------------- replication


def check_versioning(ctx: CheckContext, region: RegionOutputs) -> CheckResult:
    name = "replication.versioning"
    blocking = ctx.target == "standby"
    try:
        status = ctx.clients.s3(region.region).get_bucket_versioning(Bucket=region.bucket).get("Status")
    except Exception as exc:
        return failed_call(name, region, ctx, exc, f"read versioning of {region.bucket}",
                            blocking=blocking and (region.role == "standby" or not is_unreachable(exc)))
    ok = status == "Enabled"
    return CheckResult(name=name, ok=ok, region=region.region, role=region.role, blocking=blocking,
                       detail=f"versioning {status or 'never enabled'} on {region.bucket}"
                              + ("" if ok else " (replication requires Enabled)"),
                       data={"status": status})


def _rule_prefix(rule: dict) -> str | None:
    """The rule's key prefix: `Filter.Prefix`, `Filter.And.Prefix`, or the legacy top-level `Prefix`."""
    flt = rule.get("Filter")
    if isinstance(flt, dict):
        if "Prefix" in flt:
            return flt["Prefix"]
        if isinstance(flt.get("And"), dict):  # prefix AND tags: only tagged objects replicate
            return None if flt["And"].get("Tags") else flt["And"].get("Prefix", "")
        return "" if not flt else None  # e.g. a tag-only filter: not every models/ object
    return rule.get("Prefix", "")


def replication_rule_problems(rule: dict, ctx: CheckContext) -> tuple[list[str], dict]:
    """What differs between `rule` and the rule the stacks create (see components/storage/policies.py).

    Returns:
        (problems, data): one operator-facing line per difference, and the facts read.
    """
    o = ctx.outputs
    dest = rule.get("Destination") or {}
    rtc = dest.get("ReplicationTime") or {}
    metrics = dest.get("Metrics") or {}
    sse_kms = ((rule.get("SourceSelectionCriteria") or {}).get("SseKmsEncryptedObjects") or {}).get("Status")
    replica_key = (dest.get("EncryptionConfiguration") or {}).get("ReplicaKmsKeyID")
    prefix = _rule_prefix(rule)
    rtc_minutes = (rtc.get("Time") or {}).get("Minutes")
    problems = []
    if rule.get("Status") != "Enabled":
        problems.append(f"rule status is {rule.get('Status')}")
    if prefix is None or not REPLICATION_PREFIX.startswith(prefix):
        problems.append(f"filter {rule.get('Filter')} does not cover {REPLICATION_PREFIX!r}")
    if dest.get("Bucket") != f"arn:aws:s3:::{o.standby.bucket}":
        problems.append(f"destination is {dest.get('Bucket')}, expected arn:aws:s3:::{o.standby.bucket}")
    if rtc.get("Status") != "Enabled":
        problems.append("Replication Time Control (RTC) is not enabled")
    elif rtc_minutes != RTC_MINUTES:
        problems.append(f"RTC time is {rtc_minutes} min, expected {RTC_MINUTES}")
    if metrics.get("Status") != "Enabled":
        problems.append("replication metrics are not enabled")
    if sse_kms != "Enabled":
        problems.append("SSE-KMS encrypted objects are not selected (SourceSelectionCriteria."
                        "SseKmsEncryptedObjects is not Enabled): KMS-encrypted model files would not replicate")
    if not replica_key:
        problems.append("no replica KMS key (Destination.EncryptionConfiguration.ReplicaKmsKeyID)")
    elif o.standby.kms_key_arn and replica_key != o.standby.kms_key_arn:
        problems.append(f"replica KMS key is {replica_key}, expected the standby key {o.standby.kms_key_arn}")
    data = {"status": rule.get("Status"), "prefix": prefix, "destination": dest.get("Bucket"),
            "rtc": rtc.get("Status"), "rtcMinutes": rtc_minutes, "metrics": metrics.get("Status"),
            "sseKmsEncryptedObjects": sse_kms, "replicaKmsKeyId": replica_key}
    return problems, data


def check_replication_rule(ctx: CheckContext) -> CheckResult:
    """Rule `models-to-standby` on the primary bucket, as the stacks create it.

    Enabled; filter prefix `models/`; destination the standby bucket; RTC on with 15 min;
    metrics on; SSE-KMS encrypted objects selected; the replica KMS key set to the
    standby's `kmsKeyArn`.
    """
    from botocore.exceptions import ClientError

    o = ctx.outputs
    name = "replication.rule"
    blocking = ctx.target == "standby"
    try:
        cfg = ctx.clients.s3(o.primary.region).get_bucket_replication(Bucket=o.primary.bucket)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ReplicationConfigurationNotFoundError":
            return CheckResult(name=name, ok=False, region=o.primary.region, role="primary",
                               blocking=blocking,
                               detail=f"no replication configuration on {o.primary.bucket}")
        return failed_call(name, o.primary, ctx, exc, "read the replication configuration",
                           blocking=blocking and not is_unreachable(exc))
    except Exception as exc:
        return failed_call(name, o.primary, ctx, exc, "read the replication configuration",
                           blocking=blocking and not is_unreachable(exc))
    rules = cfg.get("ReplicationConfiguration", {}).get("Rules", [])
    rule = next((r for r in rules if r.get("ID") == REPLICATION_RULE_ID), None)
    if rule is None:
        return CheckResult(name=name, ok=False, region=o.primary.region, role="primary", blocking=blocking,
                           detail=f"rule {REPLICATION_RULE_ID!r} not found on {o.primary.bucket} "
                                  f"(rules: {', '.join(r.get('ID', '?') for r in rules) or 'none'})")
    problems, data = replication_rule_problems(rule, ctx)
    if problems:
        return CheckResult(name=name, ok=False, region=o.primary.region, role="primary", blocking=blocking,
                           detail=f"replication {REPLICATION_RULE_ID!r}: " + "; ".join(problems), data=data)
    return CheckResult(name=name, ok=True, region=o.primary.region, role="primary", blocking=blocking,
                       detail=f"{REPLICATION_RULE_ID!r} Enabled, {data['prefix'] or '(whole bucket)'} -> "
                              f"{o.standby.bucket}, RTC {data['rtcMinutes']} min, metrics on, "
                              "SSE-KMS replicated with the standby key",
                       data=data)


def check_replication_metrics(ctx: CheckContext, *, window_minutes: int = 15) -> CheckResult:
    """Latest ReplicationLatency / OperationsPendingReplication (source region's CloudWatch)."""
    o = ctx.outputs
    name = "replication.metrics"
    dims = [
        {"Name": "SourceBucket", "Value": o.primary.bucket},
        {"Name": "DestinationBucket", "Value": o.standby.bucket},
        {"Name": "RuleId", "Value": REPLICATION_RULE_ID},
    ]
    end = ctx.now()
    start = end - timedelta(minutes=window_minutes)
    cw = ctx.clients.cloudwatch(o.primary.region)
    found: dict[str, float | None] = {}
    try:
        for metric in ("ReplicationLatency", "OperationsPendingReplication"):
            points = cw.get_metric_statistics(
                Namespace="AWS/S3", MetricName=metric, Dimensions=dims,
                StartTime=start, EndTime=end + timedelta(minutes=1), Period=60, Statistics=["Maximum"],
            ).get("Datapoints", [])
            latest = max(points, key=lambda p: p["Timestamp"]) if points else None
            found[metric] = latest["Maximum"] if latest else None
    except Exception as exc:
        return failed_call(name, o.primary, ctx, exc, "read replication metrics", blocking=False)
    latency, pending = found["ReplicationLatency"], found["OperationsPendingReplication"]
    if latency is None and pending is None:
        return CheckResult(name=name, ok=True, region=o.primary.region, role="primary", blocking=False,
                           detail=f"no datapoints in the last {window_minutes} min (nothing replicated recently)",
                           data=found)
    parts = []
    if latency is not None:
        parts.append(f"latency {latency:.0f}s")
    if pending is not None:
        parts.append(f"{pending:.0f} operations pending")
    ok = latency is None or latency <= RTC_THRESHOLD_SECONDS
    detail = ", ".join(parts)
    if not ok:
        detail += f" (above the {RTC_THRESHOLD_SECONDS // 60} min RTC threshold)"
    return CheckResult(name=name, ok=ok, region=o.primary.region, role="primary", blocking=False,
                       detail=detail, data=found)


