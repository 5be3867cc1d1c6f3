"""Export -> reload -> serving signature with raw strings; warmup file; manifest of a real export."""

from __future__ import annotations

import gzip
import hashlib
import json

import numpy as np
import pytest

from tests.model import model_fixtures as fx

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def version_dir():
    return fx.exported()


@pytest.fixture(scope="module")
def serving(version_dir):
    import tensorflow as tf

    return tf.saved_model.load(str(version_dir)).signatures["serving_default"]


def call(serving, queries, histories):
    import tensorflow as tf

    out = serving(query=tf.constant(queries), history=tf.constant(histories))
    return out["item_ids"].numpy().astype(str), out["scores"].numpy()


def test_layout_is_model_name_slash_version(version_dir):
    assert version_dir.name == "1" and version_dir.parent.name == "recommender"
    for rel in ("saved_model.pb", "variables/variables.index", "assets.extra/tf_serving_warmup_requests", "manifest.json"):
        assert (version_dir / rel).is_file(), rel
    assert not [p for p in version_dir.parent.iterdir() if p.name.startswith(".staging")]


def test_signature_spec(serving):
    ins = serving.structured_input_signature[1]
    assert ins["query"].dtype.name == "string" and ins["query"].shape.as_list() == [None]
    assert ins["history"].dtype.name == "string" and ins["history"].shape.as_list() == [None, fx.HISTORY]
    outs = serving.structured_outputs
    assert outs["item_ids"].shape.as_list() == [None, 5] and outs["item_ids"].dtype.name == "string"
    assert outs["scores"].shape.as_list() == [None, 5] and outs["scores"].dtype.name == "float32"


def test_batch_round_trip_matches_the_keras_model(serving):
    test = fx.split().test
    ids, scores = call(serving, test.query[:16].astype(str), test.history[:16].astype(str))
    assert ids.shape == (16, 5) and scores.shape == (16, 5)
    probs = fx.trained().scores(test.subset(np.arange(16)))
    items = np.array(fx.dataset().item_ids)
    expected = items[np.argsort(-probs, axis=1, kind="stable")[:, :5]]
    assert (ids[:, 0] == expected[:, 0]).all()
    np.testing.assert_allclose(scores, -np.sort(-probs, axis=1)[:, :5], rtol=1e-4, atol=1e-6)
    assert (np.diff(scores, axis=1) <= 0).all()


def test_score_catalog_is_a_distribution_over_the_catalog(version_dir):
    import tensorflow as tf

    loaded = tf.saved_model.load(str(version_dir))  # a saved function's variables live on this object
    fn = loaded.score_catalog
    test = fx.split().test
    s = fn(query=tf.constant(test.query[:4].astype(str)), history=tf.constant(test.history[:4].astype(str)))["scores"].numpy()
    assert s.shape == (4, len(fx.dataset().item_ids))
    np.testing.assert_allclose(s.sum(axis=1), 1.0, rtol=1e-5)


def test_tf_serving_can_run_only_the_top_k_signature(version_dir):
    """TF Serving answers a request only with a SignatureDef of the MetaGraph it loads (tags
    "serve"; servables/tensorflow/predict_util.cc looks the name up in signature_def), so the
    whole-catalog scorer, kept for offline evaluation as a saved function, is out of its reach."""
    import tensorflow as tf

    with tf.compat.v1.Session(graph=tf.Graph()) as sess:
        meta = tf.compat.v1.saved_model.loader.load(sess, ["serve"], str(version_dir))
    # The init op (table loading) is stored as a SignatureDef too (tensorflow/python/saved_model/constants.py).
    served = set(meta.signature_def) - {"__saved_model_init_op"}
    assert served == {"serving_default"}
    assert all(o.tensor_shape.dim[-1].size == 5 for o in meta.signature_def["serving_default"].outputs.values())
    manifest = json.loads((version_dir / "manifest.json").read_text())
    assert set(manifest["signature"]) == served
    offline = manifest["offline_functions"]["score_catalog"]
    assert offline["outputs"]["scores"] == {"dtype": "float32", "shape": [-1, len(fx.dataset().item_ids)]}
    assert offline["inputs"] == manifest["signature"]["serving_default"]["inputs"]


def test_evaluation_reads_score_catalog_from_either_layout():
    from types import SimpleNamespace

    from recsys_dr.model.export import catalog_scorer

    def fn():
        return None

    assert catalog_scorer(SimpleNamespace(score_catalog=fn, signatures={})) is fn
    assert catalog_scorer(SimpleNamespace(signatures={"score_catalog": fn})) is fn  # exported by recsys-dr 0.3


def test_each_weight_is_stored_once(version_dir):
    import tensorflow as tf

    # Keras' ExportArchive used to checkpoint every variable twice (variables/N and _all_variables/N).
    reader = tf.train.load_checkpoint(str(version_dir / "variables" / "variables"))
    dtypes = reader.get_variable_to_dtype_map()
    stored = sum(reader.get_tensor(k).nbytes for k, d in dtypes.items() if d == tf.float32)
    assert stored == sum(w.numpy().nbytes for w in fx.trained().model.weights)


def test_catalog_ids_are_stored_once_as_the_asset_serving_reads(version_dir, tmp_path):
    import shutil

    import tensorflow as tf

    from recsys_dr.model.manifest import ITEMS_PATH

    ids = fx.dataset().item_ids
    # The lookups read assets/items.txt; no other copy in the graph (it used to hold two).
    graph = (version_dir / "saved_model.pb").read_bytes()
    assert [i for i in ids if i.encode() in graph] == []
    # Proof that the asset is the source: rename the top item in a copy and serving follows
    # (an empty history, so the forward lookup's input does not change).
    copy = tmp_path / "1"
    shutil.copytree(version_dir, copy)
    empty = [[""] * fx.HISTORY]
    top = call(tf.saved_model.load(str(version_dir)).signatures["serving_default"], ["shoes"], empty)[0][0, 0]
    (copy / ITEMS_PATH).write_text("".join(f"renamed-{i}\n" if i == top else f"{i}\n" for i in ids))
    assert call(tf.saved_model.load(str(copy)).signatures["serving_default"], ["shoes"], empty)[0][0, 0] == "renamed-" + top


def test_the_session_loader_tf_serving_uses_feeds_the_asset_to_the_tables(version_dir, serving):
    """TF Serving's C++ loader runs the MetaGraph in a Session and feeds each asset_file_def's path
    to the init op (tensorflow/cc/saved_model/loader.cc, RunInitOp); tf.compat.v1's loader does
    the same, so the tables must fill from assets/items.txt there too, not only in eager TF 2."""
    import tensorflow as tf

    test = fx.split().test
    q, h = test.query[:8].astype(str), test.history[:8].astype(str)
    with tf.compat.v1.Session(graph=tf.Graph()) as sess:
        meta = tf.compat.v1.saved_model.loader.load(sess, ["serve"], str(version_dir))
        assert {a.filename for a in meta.asset_file_def} == {"items.txt"}
        sig = meta.signature_def["serving_default"]
        ids = sess.run(sig.outputs["item_ids"].name, {sig.inputs["query"].name: q, sig.inputs["history"].name: h})
    assert ids.astype(str).tolist() == call(serving, q, h)[0].tolist()


def test_the_row_cap_keeps_each_score_tensor_within_the_budget():
    from recsys_dr.model.evaluate import SCORE_BUDGET
    from recsys_dr.model.export import WARMUP_BATCHES, max_batch

    assert max_batch(1_682) == 1024 and max_batch(100_008) == 167 and max_batch(10_000_000) == max(WARMUP_BATCHES)
    for n in (1, 1_682, 16_384, 100_008, 262_144, 10_000_000):
        cap = max_batch(n)
        assert max(WARMUP_BATCHES) <= cap <= 1024  # the warmup's own batches are always served
        assert cap * n <= SCORE_BUDGET or cap == max(WARMUP_BATCHES)


def test_the_manifest_records_the_largest_one_row_request(version_dir):
    from recsys_dr.model.export import MAX_QUERY_BYTES, SIGNATURE, request_bytes

    serving = json.loads((version_dir / "manifest.json").read_text())["serving"]
    items = fx.dataset().item_ids
    assert serving["max_request_bytes"] == request_bytes(serving["history_length"], items)
    longest = max(items, key=len)
    for body in ({"signature_name": SIGNATURE, "inputs": {"query": ["q" * MAX_QUERY_BYTES],
                                                           "history": [[longest] * serving["history_length"]]}},
                 {"signature_name": SIGNATURE, "instances": [{"query": "q" * MAX_QUERY_BYTES,
                                                              "history": [longest] * serving["history_length"]}]}):
        assert len(json.dumps(body).encode()) <= serving["max_request_bytes"]
    assert request_bytes(4, ["é" * 3]) > request_bytes(4, ["e" * 3])  # ids measured as JSON escapes them


def test_a_full_history_row_fits_well_under_what_waf_inspects_on_an_alb():
    """AWS WAF inspects at most the first 8,192 bytes of a body on an Application Load Balancer
    (docs.aws.amazon.com/waf/latest/developerguide/web-acl-setting-body-inspection-limit.html):
    one row at the default history length, 12-character ids and a full query stays far below."""
    from recsys_dr.model.config import TrainConfig
    from recsys_dr.model.export import request_bytes

    length = TrainConfig().history_length
    assert request_bytes(length, ["sku-00012345"]) < 8_192 * 0.6
    assert request_bytes(length, ["x" * 26]) < 8_192  # ids up to 26 characters still fit


def test_a_request_over_the_row_cap_is_refused_by_both_endpoints_and_the_session_path(version_dir):
    """TF Serving takes gRPC messages up to 2 GiB (model_servers/server.cc); the graph itself must
    refuse a batch whose [rows, num_items] tensors could OOM the pod, on the Session path TF
    Serving runs (tensorflow/cc/saved_model/loader.cc) as in eager TF 2."""
    import tensorflow as tf

    from recsys_dr.model.export import max_batch

    manifest = json.loads((version_dir / "manifest.json").read_text())
    cap = manifest["serving"]["max_batch"]
    assert cap == max_batch(len(fx.dataset().item_ids))
    q = np.array(["shoes"] * (cap + 1), object)
    h = np.full((cap + 1, fx.HISTORY), "", object)
    loaded = tf.saved_model.load(str(version_dir))
    for fn in (loaded.signatures["serving_default"], loaded.score_catalog):
        assert next(iter(fn(query=tf.constant(q[:cap]), history=tf.constant(h[:cap])).values())).shape[0] == cap
        with pytest.raises(tf.errors.InvalidArgumentError, match=f"at most {cap} rows"):
            fn(query=tf.constant(q), history=tf.constant(h))
        with pytest.raises(tf.errors.InvalidArgumentError, match="same number of rows"):
            fn(query=tf.constant(q[:2]), history=tf.constant(h[:3]))
    with tf.compat.v1.Session(graph=tf.Graph()) as sess:
        sig = tf.compat.v1.saved_model.loader.load(sess, ["serve"], str(version_dir)).signature_def["serving_default"]
        feed = {sig.inputs["query"].name: q, sig.inputs["history"].name: h}
        with pytest.raises(tf.errors.InvalidArgumentError, match=f"at most {cap} rows"):
            sess.run(sig.outputs["item_ids"].name, feed)


def test_no_catalog_sized_op_runs_before_the_row_checks(tmp_path):
    """An Assert in a tf.function is only a control output: without an ordering edge the catalog
    matmul may run (and allocate rows x num_items floats) before the cap refuses the request."""
    import tensorflow as tf

    from recsys_dr.model.export import serving_functions

    trained = fx.trained()
    items = tmp_path / "items.txt"
    items.write_text("".join(f"{i}\n" for i in trained.preprocessor.items))
    serve, score_catalog, signature, _ = serving_functions(trained, 5, items)

    def ancestors(op):
        seen, todo = set(), [op]
        while todo:
            current = todo.pop()
            for parent in [t.op for t in current.inputs] + list(current.control_inputs):
                if parent.name not in seen:
                    seen.add(parent.name)
                    todo.append(parent)
        return seen

    for body in (serve, score_catalog):
        graph = tf.function(body).get_concrete_function(*signature).graph
        asserts = {op.name for op in graph.get_operations() if op.type == "Assert"}
        matmuls = [op for op in graph.get_operations() if op.type in ("MatMul", "BatchMatMulV2")
                   and op.outputs[0].shape[-1] in (trained.preprocessor.num_items, trained.preprocessor.num_items + 2)]
        assert len(asserts) == 2 and matmuls
        for op in matmuls:
            assert asserts <= ancestors(op), op.name


def test_titles_are_aligned_with_the_item_ids(version_dir):
    from recsys_dr.model.manifest import ITEMS_PATH, TITLES_PATH

    ids = (version_dir / ITEMS_PATH).read_text().splitlines()
    titles = gzip.decompress((version_dir / TITLES_PATH).read_bytes()).decode().splitlines()
    catalog = fx.dataset().catalog.set_index("item_id")["title"]
    assert ids == fx.dataset().item_ids and titles == [catalog[i] for i in ids]


def test_empty_history_and_unknown_ids_are_served(serving):
    empty = [""] * fx.HISTORY
    unknown = [""] * (fx.HISTORY - 2) + ["no-such-item", "also-unknown"]
    ids, scores = call(serving, ["", "shoes"], [empty, unknown])
    assert set(ids.ravel()) <= set(fx.dataset().item_ids)
    assert np.isfinite(scores).all() and (scores > 0).all()
    # unknown ids are ignored: same answer as an empty history
    ids2, scores2 = call(serving, ["shoes"], [empty])
    assert ids2[0].tolist() == ids[1].tolist()
    np.testing.assert_allclose(scores2[0], scores[1], rtol=1e-5)


def test_warmup_records_parse_and_are_accepted(version_dir, serving):
    import tensorflow as tf
    from tensorflow_serving.apis import prediction_log_pb2

    raw = list(tf.data.TFRecordDataset(str(version_dir / "assets.extra/tf_serving_warmup_requests")).as_numpy_iterator())
    assert len(raw) == 5
    for record in raw:
        log = prediction_log_pb2.PredictionLog.FromString(record)
        req = log.predict_log.request
        assert req.model_spec.name == "recommender" and req.model_spec.signature_name == "serving_default"
        inputs = {k: tf.make_ndarray(v) for k, v in req.inputs.items()}
        assert set(inputs) == {"query", "history"}
        out = serving(query=tf.constant(inputs["query"]), history=tf.constant(inputs["history"]))
        assert out["item_ids"].shape[0] == inputs["query"].shape[0]


def test_warmup_is_synthetic_not_user_rows(version_dir):
    from recsys_dr.model.export import WARMUP_PATH, WARMUP_UNKNOWN_ITEM, WARMUP_UNKNOWN_WORD, read_warmup, warmup_requests
    from recsys_dr.model.features import standardize

    requests = read_warmup(version_dir / WARMUP_PATH)
    assert [r["query"].shape[0] for r in requests] == [1, 1, 1, 8, 64]
    histories = [tuple(row) for r in requests for row in r["history"].astype(str).tolist()]
    queries = [q for r in requests for q in r["query"].astype(str).tolist()]
    split = fx.split()
    data_rows = {tuple(row) for ex in (split.train, split.test) for row in ex.history.astype(str).tolist()}
    empty = ("",) * fx.HISTORY
    # The all-padding row (an empty history) carries nothing about anyone; every other row
    # must differ from every training and held-out history of the input data.
    assert empty in histories and sum(h != empty for h in histories) >= 60
    assert not [h for h in histories if h != empty and h in data_rows]
    catalog, vocab = set(fx.dataset().item_ids), set(fx.trained().preprocessor.query_vocabulary)
    assert {i for h in histories for i in h} <= catalog | {"", WARMUP_UNKNOWN_ITEM}
    assert {t for q in queries for t in standardize(q)} <= vocab | {WARMUP_UNKNOWN_WORD}
    assert any(WARMUP_UNKNOWN_ITEM in h for h in histories) and any(not q for q in queries)
    # seeded: the same model always gets the same requests
    again = warmup_requests(fx.trained())
    assert all((a[k].astype(str) == b[k].astype(str)).all() for a, b in zip(requests, again) for k in a)


def test_manifest_checksums_match_the_files(version_dir):
    manifest = json.loads((version_dir / "manifest.json").read_text())
    on_disk = sorted(p.relative_to(version_dir).as_posix() for p in version_dir.rglob("*")
                     if p.is_file() and p.name != "manifest.json")
    assert [f["path"] for f in manifest["files"]] == on_disk
    for f in manifest["files"]:
        data = (version_dir / f["path"]).read_bytes()
        assert f["sha256"] == hashlib.sha256(data).hexdigest() and f["size"] == len(data)
    assert manifest["version"] == 1 and manifest["model_name"] == "recommender"
    assert manifest["data_fingerprint"].startswith("sha256:")
    assert manifest["signature"]["serving_default"]["inputs"]["history"] == {"dtype": "string", "shape": [-1, fx.HISTORY]}
    assert manifest["metrics"]["model"]["all"]["ndcg@10"] == pytest.approx(fx.metrics()["model"]["all"]["ndcg@10"])
    import tensorflow as tf

    assert manifest["tensorflow_version"] == tf.__version__


def test_versions_are_immutable_and_numbered(version_dir):
    from recsys_dr.model.export import export_version, next_version

    assert next_version(version_dir.parent) == 2
    with pytest.raises(FileExistsError, match="already exists; versions are immutable"):
        export_version(fx.trained(), version_dir.parent.parent, version=1, data_fingerprint="sha256:x")
    with pytest.raises(ValueError, match="`model_name` must match"):
        export_version(fx.trained(), version_dir.parent.parent, model_name="../evil", data_fingerprint="sha256:x")
