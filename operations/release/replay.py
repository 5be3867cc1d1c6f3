"""The golden gate: the candidate's own requests through a region's live endpoint, with the header
that sends them to the candidate's pods only.

First the model status through the same route must name the candidate's version AVAILABLE (so
the answers come from the candidate's pods, not the stable ones), then each golden row is
posted as TF Serving's columnar predict request and its answer compared (`model.golden.compare`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Callable

from recsys_dr.model.golden import compare, predict_body, served_outputs
from recsys_dr.operations.checks.serving import http_request, serving_url
from recsys_dr.operations.release.tier import TierRegion

Request = Callable[..., tuple[int, bytes]]


@dataclass(frozen=True)
class GoldenVerdict:
    ok: bool
    detail: str
    data: dict


def replay_golden(region: TierRegion, model: str, document: dict, *, tolerance: float, server_name: str,
                  timeout: float = 5.0, request: Request = http_request) -> GoldenVerdict:
    """Replay `document` (a golden file) against `region`'s candidate through its front door."""
    candidate = region.candidate
    headers = {region.candidate_header: str(candidate.version)}
    url = serving_url(region.endpoint, model, region.scheme)
    try:
        status, body = request("GET", url, timeout=timeout, headers=headers, server_name=server_name)
        versions = {str(e.get("version")): e.get("state") for e in json.loads(body or b"{}").get("model_version_status", [])}
    except Exception as exc:  # connection refused, TLS, not JSON: the endpoint does not serve it
        return GoldenVerdict(False, f"{url}: no model status through the candidate route ({type(exc).__name__}: {exc})",
                             {"url": url})
    if status != 200 or versions.get(str(candidate.version)) != "AVAILABLE":
        return GoldenVerdict(False, f"the candidate route answers HTTP {status}, versions {versions or 'none'}: "
                                    f"v{candidate.version} is not AVAILABLE behind the canary target group",
                             {"url": url, "http": status, "versions": versions})
    failures = []
    rows = document["rows"]
    for index, row in enumerate(rows):
        body = json.dumps(predict_body(document, row)).encode()
        try:
            status, answer = request("POST", f"{url}:predict", timeout=timeout, body=body, headers=headers,
                                     server_name=server_name)
            served = served_outputs(json.loads(answer or b"{}"), row["outputs"]) if status == 200 else None
            problem = compare(row["outputs"], served, tolerance=tolerance) if status == 200 else f"HTTP {status}"
        except Exception as exc:
            problem = f"{type(exc).__name__}: {exc}"
        if problem:
            failures.append({"row": index, "problem": problem})
    data = {"rows": len(rows), "failed": failures, "tolerance": tolerance}
    if failures:
        first = failures[0]
        return GoldenVerdict(False, f"{len(failures)} of {len(rows)} golden requests answered differently "
                                    f"(row {first['row']}: {first['problem']})", data)
    return GoldenVerdict(True, f"{len(rows)} golden requests answered as exported (scores within {tolerance:g})", data)
