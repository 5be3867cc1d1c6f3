"""Golden requests: written by the export, listed in the manifest, answered the same by the session path
TF Serving runs, and compared with ties allowed only where the scores tie."""

from __future__ import annotations

import json

import pytest

from recsys_dr.model import golden
from recsys_dr.model.manifest import MANIFEST_NAME, file_digest, load_manifest
from tests.model import model_fixtures as fx

IDS, SCORES = ["a", "b", "c", "d"], [0.4, 0.3, 0.3, 0.1]


def row(ids=IDS, scores=SCORES):
    return {"item_ids": list(ids), "scores": list(scores)}


def test_the_same_answer_passes_and_a_tie_may_swap():
    assert golden.compare(row(), row(), tolerance=1e-3) is None
    assert golden.compare(row(), row(["a", "c", "b", "d"], [0.4, 0.3, 0.3, 0.1]), tolerance=1e-3) is None
    # Within the tolerance the scores are a tie too (GPU and CPU sums differ in the last bits).
    assert golden.compare(row(), row(["a", "c", "b", "d"], [0.4, 0.30002, 0.29999, 0.1]), tolerance=1e-3) is None


def test_other_ids_or_scores_fail():
    assert "positions 1-1" in golden.compare(row(), row(["b", "a", "c", "d"]), tolerance=1e-3)
    assert "position 2" in golden.compare(row(), row(scores=[0.4, 0.31, 0.3, 0.1]), tolerance=1e-3)
    assert "3 ids" in golden.compare(row(), row(IDS[:3], SCORES[:3]), tolerance=1e-3)
    assert "outputs" in golden.compare(row(), {"item_ids": IDS}, tolerance=1e-3)
    assert "not TF Serving's" in golden.compare(row(), None, tolerance=1e-3)


def test_only_the_last_tie_may_admit_another_item():
    """An item beyond the cut-off with the cut-off's score may take the last place."""
    expected = row(["a", "b", "c"], [0.5, 0.25, 0.25])
    assert golden.compare(expected, row(["a", "b", "z"], [0.5, 0.25, 0.25]), tolerance=1e-3) is None
    assert golden.compare(expected, row(["z", "b", "c"], [0.5, 0.25, 0.25]), tolerance=1e-3) is not None


def test_a_signature_without_ranked_outputs_compares_each_output():
    assert golden.compare({"label": "x", "p": [0.5, 0.5]}, {"label": "x", "p": [0.5, 0.5004]}, tolerance=1e-3) is None
    assert golden.compare({"label": "x", "p": [0.5, 0.5]}, {"label": "y", "p": [0.5, 0.5]}, tolerance=1e-3) is not None


def test_tf_servings_response_forms_are_read():
    expected = row()
    assert golden.served_outputs({"outputs": {k: [v] for k, v in expected.items()}}, expected) == expected
    single = {"scores": [0.1]}
    assert golden.served_outputs({"outputs": [[0.1]]}, single) == {"scores": [0.1]}  # one output: no name
    assert golden.served_outputs({"error": "Servable not found"}, expected) is None


@pytest.fixture(scope="module")
def version_dir():
    return fx.exported()


@pytest.mark.slow
def test_the_export_writes_golden_rows_listed_in_the_manifest(version_dir):
    manifest = load_manifest(version_dir / MANIFEST_NAME)
    assert manifest["golden"] == {"path": golden.GOLDEN_PATH, "rows": golden.GOLDEN_ROWS, "signature_name": "serving_default"}
    [entry] = [f for f in manifest["files"] if f["path"] == golden.GOLDEN_PATH]
    assert entry["sha256"] == file_digest(version_dir / golden.GOLDEN_PATH)[0]
    document = golden.load_golden((version_dir / golden.GOLDEN_PATH).read_bytes())
    assert len(document["rows"]) == golden.GOLDEN_ROWS
    first = document["rows"][0]
    assert set(first["inputs"]) == {"query", "history"} and len(first["inputs"]["history"]) == fx.HISTORY
    assert len(first["outputs"]["item_ids"]) == manifest["serving"]["top_k"]


@pytest.mark.slow
def test_tf_servings_session_path_answers_every_golden_row_the_same(version_dir):
    """TF Serving runs the signature through a Session over the MetaGraph (tensorflow/cc/saved_model/
    loader.cc); tf.compat.v1's loader does the same. Its answers must pass the release's comparison."""
    import numpy as np
    import tensorflow as tf

    document = golden.load_golden((version_dir / golden.GOLDEN_PATH).read_bytes())
    with tf.compat.v1.Session(graph=tf.Graph()) as sess:
        meta = tf.compat.v1.saved_model.loader.load(sess, ["serve"], str(version_dir))
        sig = meta.signature_def[document["signature_name"]]
        for entry in document["rows"]:
            body = golden.predict_body(document, entry)
            json.dumps(body)  # what the release tool sends is JSON
            feed = {sig.inputs[name].name: np.asarray(values, dtype=object) for name, values in body["inputs"].items()}
            outputs = sess.run({name: tensor.name for name, tensor in sig.outputs.items()}, feed)
            answer = {"outputs": {name: golden._plain(value) for name, value in outputs.items()}}
            assert golden.compare(entry["outputs"], golden.served_outputs(answer, entry["outputs"]), tolerance=1e-6) is None


@pytest.mark.slow
def test_a_golden_request_is_never_larger_than_a_clients(version_dir):
    """One row per request: the front door's body limit (sized for `model.maxBatch` rows) admits it."""
    from recsys_dr.components.serving.request_size import request_body_bytes

    document = golden.load_golden((version_dir / golden.GOLDEN_PATH).read_bytes())
    longest_id = max(len(json.dumps(i)) - 2 for e in document["rows"] for i in e["inputs"]["history"])
    bound = request_body_bytes(rows=1, history_length=fx.HISTORY, item_id_bytes=max(longest_id, 1), query_bytes=256)
    for entry in document["rows"]:
        assert len(json.dumps(golden.predict_body(document, entry), separators=(",", ":")).encode()) <= bound
