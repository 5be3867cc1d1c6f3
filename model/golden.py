"""Golden requests: a few requests a version ships with, each with the answer the exporter got.

`export` writes `assets.extra/golden_requests.json` into the version before its manifest, so the
file is listed (and its sha256 checked) like every other file, and the manifest names it
(`golden`). A release replays the requests through a region's live endpoint and requires the same
answer (`compare`): the version TF Serving loaded there behaves as the one that was evaluated.

Generic over the signature: the requests are rows of the warmup requests (synthetic: catalog ids
and query-vocabulary tokens only, no user's data), the answers whatever the signature returns.
String outputs must be equal; numeric ones within a relative tolerance; when the signature
returns one string output and one numeric output of the same shape (ids and their scores, best
first) the ids may swap places only between positions whose expected scores are within the
tolerance of each other (a tie the serving hardware may break the other way), and at the end of
the list an id may differ only if its score is that of the tie at the cut-off.

Each row is sent as its own request (TF Serving's columnar JSON form, one row): a golden request
is never larger than a client's, so the front door's body limit admits it.

No TensorFlow or numpy at import: the release tool imports `compare` and `predict_body`.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Callable

GOLDEN_PATH = "assets.extra/golden_requests.json"
GOLDEN_ROWS = 16
FORMAT = 1
_TINY = 1e-30  # a relative tolerance of an exact zero score


def select_rows(requests: list[dict[str, Any]], rows: int = GOLDEN_ROWS) -> list[dict[str, Any]]:
    """The first `rows` rows over `requests` (each `{input name: array [batch, ...]}`), one row each."""
    picked = []
    for request in requests:
        batch = len(next(iter(request.values())))
        for index in range(batch):
            picked.append({name: values[index] for name, values in request.items()})
            if len(picked) == rows:
                return picked
    return picked


def _plain(value: Any) -> Any:
    """A tensor or array value as JSON: bytes decoded as UTF-8 (what TF Serving's REST API does)."""
    if hasattr(value, "numpy"):
        value = value.numpy()
    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def write_golden(version_dir: Path, signature: Callable[..., dict], requests: list[dict[str, Any]], *,
                 signature_name: str, rows: int = GOLDEN_ROWS) -> dict:
    """Answer `rows` rows of `requests` with `signature` and write them to `GOLDEN_PATH`.

    Args:
        version_dir: the version directory being exported (before its manifest is written).
        signature: the exported serving signature, called with one row as a batch of one
            (`signature(**{name: tf.Tensor [1, ...]})` -> `{output name: tensor [1, ...]}`).
        requests: the warmup requests, `{input name: numpy array [batch, ...]}` each.
        signature_name: the signature's name in the SavedModel (what a REST request names).
        rows: how many rows. Default `GOLDEN_ROWS`.

    Returns:
        The manifest's `golden` entry: `{"path", "rows", "signature_name"}`.
    """
    import numpy as np
    import tensorflow as tf

    documents = []
    for row in select_rows(requests, rows):
        inputs = {name: tf.constant(np.asarray(value)[None, ...]) for name, value in row.items()}
        answer = signature(**inputs)
        documents.append({"inputs": {name: _plain(value) for name, value in row.items()},
                          "outputs": {name: _plain(tensor)[0] for name, tensor in sorted(answer.items())}})
    path = Path(version_dir) / GOLDEN_PATH
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {"format": FORMAT, "signature_name": signature_name, "rows": documents}
    path.write_text(json.dumps(document, sort_keys=True, separators=(",", ":")) + "\n", encoding="utf-8")
    return {"path": GOLDEN_PATH, "rows": len(documents), "signature_name": signature_name}


def load_golden(text: str | bytes) -> dict:
    """Parse a golden file and check its shape; raises ValueError naming what is wrong."""
    document = json.loads(text)
    if not isinstance(document, dict) or document.get("format") != FORMAT or not isinstance(document.get("rows"), list):
        raise ValueError(f"not a golden-requests file of format {FORMAT}")
    for index, row in enumerate(document["rows"]):
        if not isinstance(row, dict) or not isinstance(row.get("inputs"), dict) or not isinstance(row.get("outputs"), dict):
            raise ValueError(f"golden row {index} lacks its inputs or outputs")
    return document


def predict_body(document: dict, row: dict) -> dict:
    """TF Serving's REST predict request for one golden row (columnar form, a batch of one)."""
    return {"signature_name": document.get("signature_name", "serving_default"),
            "inputs": {name: [value] for name, value in row["inputs"].items()}}


def served_outputs(answer: Any, expected: dict) -> dict | None:
    """The answer of a columnar predict request as `{output name: row value}`, or None.

    TF Serving answers `{"outputs": {name: [row, ...]}}`, or `{"outputs": [row, ...]}` when the
    signature has one output (tensorflow_serving/g3doc/api_rest.md, "Response format").
    """
    outputs = answer.get("outputs") if isinstance(answer, dict) else None
    if isinstance(outputs, list) and len(expected) == 1:
        outputs = {next(iter(expected)): outputs}
    if not isinstance(outputs, dict):
        return None
    found = {}
    for name, value in outputs.items():
        if not isinstance(value, list) or len(value) != 1:
            return None
        found[name] = value[0]
    return found


def _flat(value: Any) -> list:
    if isinstance(value, list):
        return [leaf for item in value for leaf in _flat(item)]
    return [value]


def _close(served: Any, expected: Any, tolerance: float) -> bool:
    if not isinstance(served, (int, float)) or isinstance(served, bool) or not math.isfinite(served):
        return False
    return abs(served - expected) <= tolerance * max(abs(expected), _TINY)


def _ranked(ids: list, scores: list, served_ids: list, served_scores: list, tolerance: float) -> str | None:
    """Why a ranked answer (ids best first, with scores) differs beyond ties, or None."""
    if len(served_ids) != len(ids) or len(served_scores) != len(scores):
        return f"{len(served_ids)} ids, expected {len(ids)}"
    for position, (score, got) in enumerate(zip(scores, served_scores)):
        if not _close(got, score, tolerance):
            return f"score at position {position + 1} is {got!r}, expected {score!r}"
    start = 0
    while start < len(ids):
        end = start + 1
        while end < len(ids) and _close(scores[end], scores[start], tolerance):
            end += 1
        expected_run, served_run = sorted(map(str, ids[start:end])), sorted(map(str, served_ids[start:end]))
        last_run = end == len(ids)  # a tie at the cut-off may admit another item of the same score
        if expected_run != served_run and not last_run:
            return f"ids at positions {start + 1}-{end} are {served_ids[start:end]}, expected {ids[start:end]}"
        start = end
    return None


def compare(expected: dict, served: dict | None, *, tolerance: float) -> str | None:
    """Why `served` (one row's outputs) is not `expected`'s answer, or None when it is."""
    if served is None:
        return "the answer is not TF Serving's predict response for one row"
    if set(served) != set(expected):
        return f"outputs {sorted(served)}, expected {sorted(expected)}"
    strings = [n for n, v in expected.items() if all(isinstance(x, str) for x in _flat(v))]
    numbers = [n for n in expected if n not in strings]
    if len(strings) == 1 and len(numbers) == 1:
        ids, scores = _flat(expected[strings[0]]), _flat(expected[numbers[0]])
        if len(ids) == len(scores):
            return _ranked(ids, scores, _flat(served[strings[0]]), _flat(served[numbers[0]]), tolerance)
    for name in strings:
        if _flat(served[name]) != _flat(expected[name]):
            return f"{name} is {served[name]!r}, expected {expected[name]!r}"
    for name in numbers:
        got, want = _flat(served[name]), _flat(expected[name])
        if len(got) != len(want) or not all(_close(g, w, tolerance) for g, w in zip(got, want)):
            return f"{name} differs beyond the tolerance {tolerance}"
    return None
