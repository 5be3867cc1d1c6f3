"""The fallback version (model/fallback.py): the main model's signature, counts only, never a blank answer,
personal frequency exactly without the category step, published and verified like the main version."""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import tempfile
from pathlib import Path

import numpy as np
import pytest

from tests.model import model_fixtures as fx

tf = pytest.importorskip("tensorflow")

from recsys_dr.model.baselines import PersonalFrequency  # noqa: E402
from recsys_dr.model.evaluate import evaluate_all  # noqa: E402
from recsys_dr.model.export import SIGNATURE, WARMUP_PATH, read_warmup  # noqa: E402
from recsys_dr.model.fallback import (METHOD, SMOOTHING, FallbackCounts, FallbackModule, export_fallback,  # noqa: E402
                                      fallback_metrics, select_categories)
from recsys_dr.model.manifest import MANIFEST_NAME, file_digest, load_manifest  # noqa: E402
from recsys_dr.model.split import leave_last_out, sequences_before  # noqa: E402
from recsys_dr.model.verify import verify_local, verify_remote  # noqa: E402

WIDE = 64  # longer than every past of the fixture's data: the request holds the whole past


@functools.lru_cache(maxsize=None)
def wide_split():
    split = leave_last_out(fx.dataset(), WIDE)
    assert max(len(p) for p in split.test.past) <= WIDE  # the premise of the equality tests
    return split


def _export(split, history_length: int, top_k: int, categories: bool, metrics: dict | None = None) -> Path:
    out = Path(tempfile.mkdtemp(prefix="fallback-test-"))
    version_dir, _ = export_fallback(
        FallbackCounts.for_split(split, fx.dataset().catalog), out, model_name="recommender", version=1,
        history_length=history_length, data_fingerprint="sha256:test", top_k=top_k, categories=categories,
        split=split, metrics=metrics, query_vocabulary=["shoes", "red"], titles=fx.dataset().catalog["title"].tolist())
    return version_dir


@functools.lru_cache(maxsize=None)
def exported_beside_main() -> Path:
    """The fallback of the shared tiny model's split, with the main export's L and top-k."""
    return _export(fx.split(), fx.HISTORY, 5, True, metrics=fx.metrics())


@functools.lru_cache(maxsize=None)
def exported_without_categories() -> Path:
    return _export(wide_split(), WIDE, 10, False, metrics=evaluate_all(None, wide_split(), fx.dataset().item_ids))


def _serve(version_dir: Path, histories: list[list[str]], length: int):
    fn = tf.saved_model.load(str(version_dir)).signatures[SIGNATURE]
    rows = [[""] * (length - len(h)) + h for h in histories]
    return fn(query=tf.constant(["red shoes"] * len(rows)), history=tf.constant(rows))


def _module(split, length: int, categories: bool, tmp_path: Path) -> FallbackModule:
    counts = FallbackCounts.for_split(split, fx.dataset().catalog)
    items_file = tmp_path / "items.txt"
    items_file.write_text("".join(f"{i}\n" for i in counts.items))
    return FallbackModule(counts, items_file, length, 10, categories=categories)


@pytest.mark.slow
def test_fallback_has_the_main_models_serving_signature():
    main, fallback = load_manifest(fx.exported() / MANIFEST_NAME), load_manifest(exported_beside_main() / MANIFEST_NAME)
    # Same SignatureDef map (names, input and output keys, dtypes, shapes): one request format for both tiers.
    assert fallback["signature"] == main["signature"] and list(fallback["signature"]) == [SIGNATURE]
    for key in ("signature_name", "top_k", "history_length", "history_padding", "num_items", "max_batch",
                "max_request_bytes"):
        assert fallback["serving"][key] == main["serving"][key], key
    assert fallback["model_name"] == "recommender-fallback" and fallback["serving"]["model_name"] == "recommender"


@pytest.mark.slow
def test_fallback_serves_through_the_saved_signature():
    items = fx.dataset().item_ids
    out = _serve(exported_beside_main(), [[items[3], items[7], items[3], items[9], items[7], items[3]]], fx.HISTORY)
    ids = [i.decode() for i in out["item_ids"].numpy()[0]]
    assert out["item_ids"].dtype == tf.string and out["scores"].dtype == tf.float32 and out["scores"].shape == (1, 5)
    assert ids[:3] == [items[3], items[7], items[9]]  # most bought first, then by count (ties by recency)
    assert (np.diff(out["scores"].numpy()[0]) <= 0).all()


@pytest.mark.slow
def test_fallback_never_answers_an_empty_or_padded_list():
    items = fx.dataset().item_ids
    histories = [[], ["not-in-the-catalog"], ["", "unknown-1", "unknown-2"], [items[0], "unknown"], items[:fx.HISTORY]]
    out = _serve(exported_beside_main(), histories, fx.HISTORY)["item_ids"].numpy()
    assert out.shape == (len(histories), 5)
    for row in out:
        answer = [i.decode() for i in row]
        assert len(set(answer)) == 5 and set(answer) <= set(items)  # five distinct real catalog ids, no ""
    popular = np.argsort(-FallbackCounts.for_split(fx.split(), fx.dataset().catalog).popularity, kind="stable")[:5]
    assert [i.decode() for i in out[0]] == [items[i] for i in popular]  # no history: the most popular items


def test_a_catalog_smaller_than_top_k_answers_the_whole_catalog(tmp_path):
    import pandas as pd

    catalog = pd.DataFrame({"item_id": ["a", "b", "c"], "title": ["A", "B", "C"], "category": ["x", "x", "y"]})
    counts = FallbackCounts.fit({"u": ["a", "b", "b"]}, catalog)
    (tmp_path / "items.txt").write_text("a\nb\nc\n")
    out = FallbackModule(counts, tmp_path / "items.txt", 4, 10).serve(tf.constant([""]), tf.constant([["", "", "", ""]]))
    assert sorted(i.decode() for i in out["item_ids"].numpy()[0]) == ["a", "b", "c"]


@pytest.mark.slow
def test_without_the_category_step_the_fallback_ranks_as_personal_frequency():
    # The honesty rule: category step off, same split, same tie rule -> the evaluation's own
    # personal-frequency figure, from the exported version's own score_catalog.
    split = wide_split()
    manifest = load_manifest(exported_without_categories() / MANIFEST_NAME)
    pf = evaluate_all(None, split, fx.dataset().item_ids)["personal-frequency"]
    assert manifest["metrics"][METHOD] == pf  # exactly: the same scores, so the same ties
    assert manifest["metrics"]["personal-frequency"] == pf  # beside it, from the same run
    loaded = tf.saved_model.load(str(exported_without_categories()))
    scores = loaded.score_catalog(tf.constant(split.test.query.astype(str)),
                                  tf.constant(np.asarray(split.test.history).astype(str)))["scores"].numpy()
    reference = PersonalFrequency(fx.dataset().item_ids).fit(sequences_before(split, "test")).scores(split.test.past)
    np.testing.assert_array_equal(scores, reference)  # every score, so every tie, is personal frequency's


def test_the_fallback_sees_the_request_window_only(tmp_path):
    # With L shorter than the pasts it is personal frequency over the request's last L items, as served.
    split = fx.split()
    assert max(len(p) for p in split.test.past) > fx.HISTORY
    module = _module(split, fx.HISTORY, False, tmp_path)
    history = np.asarray(split.test.history).astype(str)
    scores = module.score_catalog(tf.constant(split.test.query.astype(str)), tf.constant(history))["scores"].numpy()
    window = [[i for i in row if i] for row in history]
    reference = PersonalFrequency(fx.dataset().item_ids).fit(sequences_before(split, "test")).scores(window)
    np.testing.assert_array_equal(scores, reference)


def test_the_category_step_scores_popularity_within_the_history_categories(tmp_path):
    split = wide_split()
    counts = FallbackCounts.for_split(split, fx.dataset().catalog)
    module = _module(split, WIDE, True, tmp_path)
    history = np.asarray(split.test.history[:16]).astype(str)
    scores = module.score_catalog(tf.constant([""] * 16), tf.constant(history))["scores"].numpy()
    index = {item: i for i, item in enumerate(counts.items)}
    pop = counts.popularity
    category_pop = np.bincount(counts.category, weights=pop)
    for row, hist in zip(scores, history):
        known = [index[i] for i in hist if i]
        in_category = np.bincount(counts.category[known], minlength=len(category_pop))
        share = (in_category + SMOOTHING * category_pop / pop.sum()) / (len(known) + SMOOTHING)
        expected = (share[counts.category] * pop / category_pop[counts.category]).astype(np.float32)
        unseen = np.ones(len(counts.items), bool)
        unseen[known] = False
        np.testing.assert_allclose(row[unseen], expected[unseen], rtol=1e-6)
        assert row[~unseen].min() >= 2.0 > 1.0 >= row[unseen].max()  # own items first, whatever their category


def test_build_keeps_the_category_step_only_when_it_ranks_the_validation_items_better():
    split = fx.split()
    chosen = select_categories(split, fx.dataset().catalog, fx.HISTORY)
    figures = chosen["validation_ndcg@10"]
    assert chosen["categories"] == (figures["on"] > figures["off"])
    assert set(figures) == {"on", "off"} and figures["on"] != figures["off"]
    no_validation = dataclasses.replace(split, validation=None)
    assert select_categories(no_validation, fx.dataset().catalog, fx.HISTORY) == {
        "categories": False, "reason": "no validation items to decide on"}


def test_fallback_refuses_more_rows_than_the_cap(tmp_path):
    module = _module(fx.split(), fx.HISTORY, True, tmp_path)
    rows = module.limit + 1
    with pytest.raises(tf.errors.InvalidArgumentError, match=f"at most {module.limit} rows"):
        module.serve(tf.constant([""] * rows), tf.constant([[""] * fx.HISTORY] * rows))


@pytest.mark.slow
def test_fallback_manifest_holds_both_evaluations_and_verifies():
    version_dir = exported_beside_main()
    manifest = load_manifest(version_dir / MANIFEST_NAME)
    assert set(manifest["metrics"]) == {"model", METHOD, "most-popular", "personal-frequency", "item-knn"}
    assert manifest["metrics"]["model"] == fx.metrics()["model"]  # the main model's figures, same split
    assert manifest["role"] == "fallback" and manifest["fallback"]["categories"] is True
    digest = file_digest(version_dir / MANIFEST_NAME)[0]
    assert verify_local(version_dir, expected_manifest_sha256=digest).ok
    assert not verify_local(version_dir, expected_manifest_sha256="0" * 64).ok
    assert {"saved_model.pb", "assets/items.txt", WARMUP_PATH} <= {f["path"] for f in manifest["files"]}
    # Warm-up records name the model the fallback is served under (TF Serving replays them by name).
    from tensorflow_serving.apis import prediction_log_pb2

    raw = next(iter(tf.data.TFRecordDataset(str(version_dir / WARMUP_PATH)).as_numpy_iterator()))
    assert prediction_log_pb2.PredictionLog.FromString(raw).predict_log.request.model_spec.name == "recommender"
    assert len(read_warmup(version_dir / WARMUP_PATH)) == manifest["serving"]["warmup_requests"]


def test_fallback_ships_golden_requests_the_release_gate_replays():
    # `recsys-dr release --tier fallback` refuses a version without them (operations.release.evidence).
    from recsys_dr.model import golden

    version_dir = exported_beside_main()
    manifest = load_manifest(version_dir / MANIFEST_NAME)
    assert manifest["golden"] == {"path": golden.GOLDEN_PATH, "rows": golden.GOLDEN_ROWS, "signature_name": "serving_default"}
    [entry] = [f for f in manifest["files"] if f["path"] == golden.GOLDEN_PATH]
    assert entry["sha256"] == file_digest(version_dir / golden.GOLDEN_PATH)[0]
    document = golden.load_golden((version_dir / golden.GOLDEN_PATH).read_bytes())
    serve = tf.saved_model.load(str(version_dir)).signatures["serving_default"]
    for row in document["rows"]:
        answer = serve(**{name: tf.constant([value]) for name, value in row["inputs"].items()})
        served = {name: tensor.numpy()[0].tolist() for name, tensor in answer.items()}
        served = {name: [v.decode() if isinstance(v, bytes) else v for v in values] for name, values in served.items()}
        assert golden.compare(row["outputs"], served, tolerance=1e-6) is None


def test_fallback_metrics_match_the_in_memory_module(tmp_path):
    split = wide_split()
    module = _module(split, WIDE, False, tmp_path)
    pf = evaluate_all(None, split, fx.dataset().item_ids)["personal-frequency"]
    assert fallback_metrics(module, split.test, fx.dataset().item_ids) == pf


@pytest.mark.slow
def test_fallback_publishes_and_verifies_like_the_main_version(capsys, monkeypatch):
    from moto import mock_aws

    from recsys_dr.model.cli import main

    version_dir = exported_beside_main()
    digest = file_digest(version_dir / MANIFEST_NAME)[0]
    for k, v in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": "us-east-1"}.items():
        monkeypatch.setenv(k, v)
    with mock_aws():
        import boto3

        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="models-primary")
        capsys.readouterr()
        assert main(["publish", str(version_dir), "--bucket", "models-primary", "--no-progress"]) == 0
        out = capsys.readouterr().out
        assert "published s3://models-primary/models/recommender-fallback/1/" in out
        assert f"pin in the stack file: fallback.version: 1, fallback.manifestSha256: {digest}\n" in out
        committed = s3.get_object(Bucket="models-primary", Key="models/recommender-fallback/1/manifest.json")["Body"].read()
        assert hashlib.sha256(committed).hexdigest() == digest
        report = verify_remote("models-primary", "recommender-fallback", 1, s3_client=s3, expected_manifest_sha256=digest)
        assert report.ok and report.manifest_sha256 == digest
        assert not verify_remote("models-primary", "recommender-fallback", 1, s3_client=s3,
                                 expected_manifest_sha256="0" * 64).ok
        # Immutable like any version: the same files again upload nothing, other files are refused.
        assert main(["publish", str(version_dir), "--bucket", "models-primary", "--no-progress", "--json"]) == 0
        assert json.loads(capsys.readouterr().out)["uploaded"] == []


@pytest.mark.slow
def test_fallback_runs_through_the_session_loader_tf_serving_uses():
    # TF Serving loads a SavedModel with the C++ loader (tensorflow/cc/saved_model/loader.cc: tag "serve",
    # the init op fills the tables from the assets) and runs the SignatureDef's tensors by name
    # (tensorflow_serving/servables/tensorflow/predict_util.cc). The benchmark's Session client does the same.
    from benchmarks.model_benchmark import _session_client

    version_dir = exported_beside_main()
    session = _session_client(tf, version_dir, 1, 2)
    python = tf.saved_model.load(str(version_dir)).signatures[SIGNATURE]
    for request in read_warmup(version_dir / WARMUP_PATH):
        ids, scores = session(request)  # outputs in sorted-name order: item_ids, scores
        expected = python(**{k: tf.constant(v) for k, v in request.items()})
        assert ids.tolist() == expected["item_ids"].numpy().tolist() and (ids != b"").all()
        np.testing.assert_array_equal(scores, expected["scores"].numpy())
