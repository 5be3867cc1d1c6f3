"""Export a trained model as a TF Serving SavedModel version with warmup and manifest.

Layout written by :func:`export_version`::

    <out>/<model-name>/<version>/
        saved_model.pb, fingerprint.pb, variables/...
        assets/items.txt                          catalog item ids, one per line, output order:
                                                  the SavedModel asset both item lookups read
        assets.extra/tf_serving_warmup_requests   PredictionLog records (TF Serving warmup),
                                                  synthetic: catalog ids + query vocabulary
        assets.extra/titles.txt.gz                their catalog titles, same order (when given)
        manifest.json                             written LAST (see model.manifest)

Signatures (raw strings in, strings and floats out; preprocessing is inside the graph):

* ``serving_default``: ``query: string[None]``, ``history: string[None, L]`` (left-padded
  with "", most recent last) -> ``item_ids: string[None, K]``, ``scores: float32[None, K]``
  (the model's probabilities - repeat and explore mixed, see :mod:`model.network` - best
  first; exact top-k over the whole catalog). Unknown history ids and "" are ignored; an
  empty history or query is valid.

``serving_default`` is the only SignatureDef, so the only thing TF Serving can run.
``score_catalog`` (same inputs -> ``scores: float32[None, num_items]`` in ``items.txt`` order,
for ``python -m recsys_dr.model evaluate --model-dir``) is a function of the saved object, which
``loaded = tf.saved_model.load(path); loaded.score_catalog(query=..., history=...)`` calls
offline (keep ``loaded``: the function's variables go with it). TF Serving
looks requests up in the MetaGraph's ``signature_def`` map only
(tensorflow_serving/servables/tensorflow/predict_util.cc), so no client can ask a server for
the whole catalog's probabilities (over 1 MB of JSON per row at 100k items, and all a copier
of the model needs).

Both refuse a request of more than :func:`max_batch` rows, or whose query and history row
counts differ, with ``InvalidArgument`` (the manifest records the cap as ``serving.max_batch``).

The version is written to a hidden staging directory, reloaded and exercised with its own
warmup requests, renamed to ``<version>`` and only then gets its ``manifest.json``, so a
directory without a manifest is never a finished version.

The bytes are reproducible: the same trained weights (same data and seed on CPU), exported
by a fresh process (``python -m recsys_dr.model build``), give byte-identical files, so every manifest ``files`` entry matches between rebuilds (only
``created_at`` differs) - see :func:`_stable_variable_order` and
:func:`stable_fingerprint_uuid`.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from recsys_dr.model.features import FIRST_ID, item_lookup
from recsys_dr.model.golden import write_golden
from recsys_dr.model.manifest import ITEMS_PATH, TITLES_PATH, check_model_name, write_manifest
from recsys_dr.model.train import Trained

log = logging.getLogger(__name__)

WARMUP_PATH = "assets.extra/tf_serving_warmup_requests"

SIGNATURE = "serving_default"
CATALOG_FUNCTION = "score_catalog"


def catalog_scorer(loaded):
    """``score_catalog`` of a loaded version: its saved function, or, for versions exported by
    recsys-dr 0.3, the SignatureDef of that name (which TF Serving served too)."""
    return getattr(loaded, CATALOG_FUNCTION, None) or loaded.signatures[CATALOG_FUNCTION]


def next_version(model_dir: Path) -> int:
    """1 + the largest integer-named subdirectory of ``model_dir`` (1 when none)."""
    versions = [int(p.name) for p in model_dir.glob("*") if p.is_dir() and p.name.isdigit()]
    return max(versions, default=0) + 1


def max_batch(num_items: int) -> int:
    """Rows one request may carry: few enough that each ``[rows, num_items]`` float32 tensor the
    graph allocates stays within ``evaluate``'s ``SCORE_BUDGET`` (64 MiB; the serving path holds a
    handful), at most 1,024 and never fewer than the warmup's largest batch.

    TF Serving accepts gRPC messages up to 2 GiB (tensorflow_serving/model_servers/server.cc,
    ``SetMaxMessageSize(INT32_MAX)``), about ten million 20-id histories: uncapped, one request
    could allocate rows x num_items floats several times over and get the pod OOM-killed, in
    every region that serves the same version.
    """
    from recsys_dr.model.evaluate import SCORE_BUDGET

    return max(max(WARMUP_BATCHES), min(1024, SCORE_BUDGET // max(num_items, 1)))


MAX_QUERY_BYTES = 256
"""Query text one row may carry within :func:`request_bytes` (the graph reads its first
``query_length`` tokens; a caller sends at most this many bytes of it)."""


def request_bytes(history_length: int, items: list[str], query_bytes: int = MAX_QUERY_BYTES) -> int:
    """Bytes of the largest one-row REST predict body for a version: every history slot holds the
    catalog's longest id (as JSON encodes it) and the query ``query_bytes`` characters.

    The larger of TF Serving's two request forms (columnar ``inputs`` and row ``instances``,
    tensorflow_serving/g3doc/api_rest.md), JSON with the default ", " / ": " separators. The
    front door sizes its body cap from this figure (``manifest.serving.max_request_bytes``).

    Args:
        history_length: ``L``, the history entries every row carries.
        items: catalog item ids.
        query_bytes: query characters; default :data:`MAX_QUERY_BYTES`.
    """
    longest = max(items, key=lambda i: len(json.dumps(i)))
    history, query = [longest] * history_length, "q" * query_bytes
    forms = ({"signature_name": SIGNATURE, "inputs": {"query": [query], "history": [history]}},
             {"signature_name": SIGNATURE, "instances": [{"query": query, "history": history}]})
    return max(len(json.dumps(form).encode("utf-8")) for form in forms)


def checked_rows(query, history, limit: int):
    """``(query, history)`` that no op can read before both row checks have passed.

    Inside a tf.function an Assert is only a control output of the function: ops that do not
    depend on it (the catalog matmul) may run first and allocate what the cap is there to
    prevent. Routing the inputs through Identities that wait for the Asserts orders them first.
    """
    rows = tf.shape(query)[0]
    checks = [tf.debugging.assert_less_equal(rows, limit, message=f"a request may carry at most {limit} rows"),
              tf.debugging.assert_equal(tf.shape(history)[0], rows, message="query and history need the same number of rows")]
    with tf.control_dependencies(checks):
        return tf.identity(query), tf.identity(history)


def serving_functions(trained: Trained, top_k: int, items_file: Path):
    """Return ``(serve, score_catalog, input_signature, lookups)``: the endpoints' Python bodies
    and the two item lookups they read, both backed by ``items_file`` (the catalog ids, one per
    line), which the SavedModel ships once as ``assets/items.txt``."""
    pre, model = trained.preprocessor, trained.model
    k = min(top_k, pre.num_items)
    to_ids, to_items = item_lookup(str(items_file)), item_lookup(str(items_file), invert=True, name="item_ids")
    # TextFileInitializer names a table after its source path (tensorflow/python/ops/lookup_ops.py,
    # `_shared_name`), which would put this temporary path into saved_model.pb. Name the tables
    # after the ids' digest: stable bytes, and two catalogs loaded in one process never share one.
    digest = hashlib.sha256(items_file.read_bytes()).hexdigest()[:16]
    for layer, direction in ((to_ids, "ids"), (to_items, "items")):
        layer.lookup_table._shared_name = f"recsys_dr_items_{digest}_to_{direction}"
    to_ids(tf.constant([[""]]))  # built: export refuses unbuilt layers
    to_items(tf.constant([[FIRST_ID]], tf.int64))
    length = trained.config.history_length
    signature = [
        tf.TensorSpec([None], tf.string, name="query"),
        tf.TensorSpec([None, length], tf.string, name="history"),
    ]

    limit = max_batch(pre.num_items)

    def probabilities(query, history):
        query, history = checked_rows(query, history, limit)
        return tf.cast(model.probabilities(pre.query_ids(query), pre.history_ids(history, to_ids)), tf.float32)

    def serve(query, history):
        # Exact top-k over the catalog (TopKV2 and the other ops are stock TF: TF Serving runs them).
        query, history = checked_rows(query, history, limit)
        values, cols = model.top_k(pre.query_ids(query), pre.history_ids(history, to_ids), k)
        return {"item_ids": to_items(cols + FIRST_ID), "scores": tf.cast(values, tf.float32)}

    def score_catalog(query, history):
        return {"scores": probabilities(query, history)}

    return serve, score_catalog, signature, (to_ids, to_items)


WARMUP_BATCHES = (1, 8, 64)
WARMUP_UNKNOWN_ITEM = "warmup-unknown-item"
WARMUP_UNKNOWN_WORD = "warmupunknownword"


def warmup_requests(trained: Trained, seed: int = 0) -> list[dict[str, np.ndarray]]:
    """:func:`synthetic_requests` for ``trained``'s catalog, query vocabulary and history length."""
    return synthetic_requests(trained.preprocessor.items, trained.preprocessor.query_vocabulary,
                              trained.config.history_length, seed)


def synthetic_requests(items: Sequence[str], vocabulary: Sequence[str], length: int, seed: int = 0) -> list[dict[str, np.ndarray]]:
    """Synthetic warmup inputs made from the catalog and the query vocabulary only.

    No row comes from the interaction data, so the artifact carries no user's behaviour
    (not even pseudonymised). Requests, in order:

    * an empty query with an empty history;
    * an unknown query word with one unknown item id;
    * batches of 1, 8 and 64 rows (numpy generator seeded with ``seed``): each history
      holds between ``min(5, L)`` and ``L`` random catalog ids, left-padded with ""; every
      4th row also ends with an unknown id and every 8th row is an empty history; each
      query is 0-3 random vocabulary tokens, every 5th row with an unknown word appended.

    Args:
        items: catalog item ids.
        vocabulary: query tokens (may be empty).
        length: ``L``, history ids per row.
        seed: generator seed; default 0 (the same model always gets the same file).
    """
    from recsys_dr.model.split import pad_history

    items = np.array(items, object)
    vocab = np.array(list(vocabulary) or [""], object)
    rng = np.random.default_rng(seed)
    reqs = [
        {"query": np.array([""], object), "history": np.full((1, length), "", object)},
        {"query": np.array([WARMUP_UNKNOWN_WORD], object),
         "history": np.array([pad_history([WARMUP_UNKNOWN_ITEM], length)], object)},
    ]
    for batch in WARMUP_BATCHES:
        queries, histories = [], []
        for row in range(batch):
            words = [str(w) for w in rng.choice(vocab, size=int(rng.integers(0, 4)))]
            if row % 5 == 4:
                words.append(WARMUP_UNKNOWN_WORD)
            queries.append(" ".join(w for w in words if w))
            hist = [str(i) for i in rng.choice(items, size=int(rng.integers(min(5, length), length + 1)))]
            if row % 4 == 3:
                hist = hist[1:] + [WARMUP_UNKNOWN_ITEM]
            histories.append(pad_history([] if row % 8 == 7 else hist, length))
        reqs.append({"query": np.array(queries, object), "history": np.array(histories, object)})
    return reqs


def write_warmup(path: Path, model_name: str, requests: list[dict[str, np.ndarray]]) -> int:
    """Write PredictionLog records (tensorflow-serving-api protos) to ``path``; returns the count."""
    from tensorflow_serving.apis import model_pb2, predict_pb2, prediction_log_pb2

    path.parent.mkdir(parents=True, exist_ok=True)
    with tf.io.TFRecordWriter(str(path)) as writer:
        for req in requests:
            request = predict_pb2.PredictRequest(
                model_spec=model_pb2.ModelSpec(name=model_name, signature_name=SIGNATURE)
            )
            for key, value in req.items():
                request.inputs[key].CopyFrom(tf.make_tensor_proto(value.astype(bytes), dtype=tf.string))
            log_record = prediction_log_pb2.PredictionLog(predict_log=prediction_log_pb2.PredictLog(request=request))
            writer.write(log_record.SerializeToString(deterministic=True))  # stable map order
    return len(requests)


def read_warmup(path: Path) -> list[dict[str, tf.Tensor]]:
    """Parse a warmup file back into ``[{input name: tensor}]`` (what TF Serving replays)."""
    from tensorflow_serving.apis import prediction_log_pb2

    out = []
    for raw in tf.data.TFRecordDataset(str(path)).as_numpy_iterator():
        record = prediction_log_pb2.PredictionLog.FromString(raw)
        out.append({k: tf.make_ndarray(v) for k, v in record.predict_log.request.inputs.items()})
    return out


def _spec(spec: tf.TensorSpec) -> dict:
    return {"dtype": spec.dtype.name, "shape": [-1 if d is None else int(d) for d in spec.shape.as_list()]}


def function_spec(fn) -> dict:
    """``{"inputs": {...}, "outputs": {...}}`` of a loaded concrete function (a signature takes
    keyword arguments, a saved function positional ones named by its input signature)."""
    args, kwargs = fn.structured_input_signature
    inputs = {spec.name: spec for spec in args} | kwargs
    return {"inputs": {k: _spec(v) for k, v in sorted(inputs.items())},
            "outputs": {k: _spec(v) for k, v in sorted(fn.structured_outputs.items())}}


def signature_spec(loaded) -> dict:
    """``{signature: {"inputs": {...}, "outputs": {...}}}`` read back from a loaded SavedModel."""
    return {name: function_spec(fn) for name, fn in loaded.signatures.items()}


def _stable_variable_order(archive, tracked) -> None:
    """Make ``write_out`` save each variable once, listed in layer order, not in trace-capture order.

    Keras collects the endpoints' variables (``_all_variables``) in the order the traced
    functions captured them, which changes from run to run; that order decides the
    checkpoint keys and so the bytes of ``variables/*`` and ``saved_model.pb``. Sorting it
    by the tracked layers' own (construction) order makes a rebuild with the same seed
    byte-identical. Relies on Keras' private ``_filter_and_track_resources`` hook;
    ``tests/model/test_model_export.py`` checks the result, so a Keras change that breaks
    it fails a test instead of silently changing the bytes.
    """
    rank: dict[int, int] = {}
    for obj in tracked:
        for v in obj.variables:
            rank.setdefault(id(getattr(v, "value", v)), len(rank))
    collect = archive._filter_and_track_resources

    def ordered() -> None:
        collect()
        found = archive._tf_trackable._all_variables
        archive._tf_trackable._all_variables = sorted(found, key=lambda v: rank.get(id(v), len(rank)))
        # Keras also lists every tracked layer's Keras variables, each of which checkpoints its
        # value again beside the tf.Variable the endpoints capture: the weights were written
        # twice (`variables/N` and `_all_variables/N`). The signatures need only the captured ones.
        for name in ("variables", "trainable_variables", "non_trainable_variables"):
            setattr(archive._tf_trackable, name, [])

    archive._filter_and_track_resources = ordered


def stable_fingerprint_uuid(path: Path) -> None:
    """Replace the random ``uuid`` TensorFlow writes into ``fingerprint.pb`` by one derived
    from the fingerprint's content hashes (same SavedModel -> same file bytes)."""
    from tensorflow.core.protobuf import fingerprint_pb2

    if not path.is_file():
        return
    fp = fingerprint_pb2.FingerprintDef.FromString(path.read_bytes())
    fp.uuid = ""
    digest = hashlib.sha256(fp.SerializeToString(deterministic=True)).digest()
    fp.uuid = str(int.from_bytes(digest[:16], "big"))
    path.write_bytes(fp.SerializeToString(deterministic=True))


def export_version(
    trained: Trained,
    out: Path,
    *,
    model_name: str = "recommender",
    version: int | None = None,
    top_k: int = 10,
    metrics: dict | None = None,
    data_fingerprint: str,
    extra_metadata: dict | None = None,
    titles: list[str] | None = None,
) -> Path:
    """Write ``<out>/<model_name>/<version>/`` and its manifest; return the version dir.

    Args:
        trained: model and preprocessing from :func:`model.train.train` or ``load_bundle``.
        out: artifacts root; created if missing.
        model_name: directory / TF Serving model name; default "recommender".
        version: positive int; default None -> next free version number.
        top_k: items returned by ``serving_default`` (capped at the catalog size); default 10.
        metrics: evaluation results stored in the manifest; default None -> {}.
        data_fingerprint: ``"sha256:<hex>"`` of the training data (``model.data.fingerprint``).
        extra_metadata: more manifest keys (training config, dataset, ...); default None.
        titles: catalog titles in item order, written to ``assets.extra/titles.txt`` for
            ``inspect``; default None (no file).

    Raises:
        FileExistsError: the version directory already exists (versions are immutable).
        ValueError: bad model name, version or top_k.
    """
    check_model_name(model_name)
    if top_k < 1:
        raise ValueError(f"`top_k` must be >= 1. Received: {top_k}")
    version, model_dir, final = new_version_dir(out, model_name, version)
    staging = model_dir / f".staging-{version}-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        if titles is not None and len(titles) != trained.preprocessor.num_items:
            raise ValueError(f"{len(titles)} titles for {trained.preprocessor.num_items} items")
        _write_saved_model(trained, top_k, model_dir, staging)
        stable_fingerprint_uuid(staging / "fingerprint.pb")
        if titles is not None:
            write_titles(staging / TITLES_PATH, titles)
        requests = warmup_requests(trained)
        write_warmup(staging / WARMUP_PATH, model_name, requests)
        spec, offline, golden = _replay_warmup(staging, trained, requests)
        os.replace(staging, final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    metadata = {
        "tensorflow_version": tf.__version__,
        "keras_version": keras.__version__,
        "data_fingerprint": data_fingerprint,
        "metrics": metrics or {},
        "signature": spec,
        "offline_functions": offline,
        "golden": golden,
        "serving": _serving_metadata(trained, top_k, len(requests)),
        "training": trained.config.to_dict(),
    } | (extra_metadata or {})
    write_manifest(final, model_name=model_name, version=version, metadata=metadata)
    log.debug("exported %s", final)  # the CLI prints the result line
    return final


def new_version_dir(out: Path, model_name: str, version: int | None) -> tuple[int, Path, Path]:
    """``(version, <out>/<model_name>, its <version> directory)``, the model directory created: the next
    free number when ``version`` is None; refuses a bad name, a bad version or an existing one."""
    check_model_name(model_name)
    model_dir = Path(out) / model_name
    version = next_version(model_dir) if version is None else version
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ValueError(f"`version` must be a positive int. Received: {version!r}")
    final = model_dir / str(version)
    if final.exists():
        raise FileExistsError(f"{final} already exists; versions are immutable, pick another --version")
    model_dir.mkdir(parents=True, exist_ok=True)
    return version, model_dir, final


def _write_saved_model(trained: Trained, top_k: int, model_dir: Path, staging: Path) -> None:
    """Write the SavedModel (``serving_default`` endpoint, ``score_catalog`` function) to ``staging``."""
    with tempfile.TemporaryDirectory(prefix=".items-", dir=model_dir) as tmp:
        # The SavedModel copies this file into assets/ (ITEMS_PATH): the one copy of the ids.
        items_file = Path(tmp) / Path(ITEMS_PATH).name
        items_file.write_text("".join(f"{i}\n" for i in trained.preprocessor.items), encoding="utf-8")
        serve, score_catalog, signature, lookups = serving_functions(trained, top_k, items_file)
        tracked = (trained.model, trained.preprocessor.query_vectorizer, *lookups)
        archive = keras.export.ExportArchive()
        for obj in tracked:
            archive.track(obj)
        archive.add_endpoint(SIGNATURE, serve, input_signature=signature)
        # An attribute, not an endpoint: saved as a function of the root object, not as a
        # SignatureDef (Keras makes every endpoint one). Its resources are a subset of serve's.
        setattr(archive._tf_trackable, CATALOG_FUNCTION, tf.function(score_catalog, input_signature=signature))
        _stable_variable_order(archive, tracked)
        archive.write_out(str(staging), verbose=False)


def write_titles(path: Path, titles: list[str]) -> None:
    """Write catalog titles to ``path`` (``assets.extra/titles.txt.gz``): one line each, whitespace
    collapsed, gzipped with reproducible bytes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.GzipFile(path, "wb", mtime=0) as f:  # mtime 0: reproducible bytes
        f.write("".join(" ".join(str(t).split()) + "\n" for t in titles).encode("utf-8"))


def _replay_warmup(staging: Path, trained: Trained, requests: list[dict[str, np.ndarray]]) -> tuple[dict, dict, dict]:
    """Reload the staged version and replay its warmup records (a version that cannot serve them
    is never published); return its signature spec, offline function spec and golden record."""
    loaded = tf.saved_model.load(str(staging))
    fn, scorer = loaded.signatures[SIGNATURE], getattr(loaded, CATALOG_FUNCTION)
    for req in read_warmup(staging / WARMUP_PATH):
        inputs, rows = {k: tf.constant(v) for k, v in req.items()}, req["query"].shape[0]
        scores = scorer(**inputs)["scores"]
        if fn(**inputs)["item_ids"].shape[0] != rows or scores.shape != (rows, trained.preprocessor.num_items):
            raise RuntimeError("an exported endpoint returned the wrong shape on warmup data")
    spec = signature_spec(loaded)
    offline = {CATALOG_FUNCTION: function_spec(scorer.concrete_functions[0])}
    # Rows of the warmup requests with the reloaded signature's own answers (model.golden).
    golden = write_golden(staging, fn, requests, signature_name=SIGNATURE)
    return spec, offline, golden


def _serving_metadata(trained: Trained, top_k: int, warmup_requests: int) -> dict:
    """The manifest's ``serving`` block: what a server and the front door need to know."""
    return {
        "signature_name": SIGNATURE,
        "top_k": min(top_k, trained.preprocessor.num_items),
        "history_length": trained.config.history_length,
        "history_padding": "",
        "num_items": trained.preprocessor.num_items,
        "warmup_requests": warmup_requests,
        "max_batch": max_batch(trained.preprocessor.num_items),
        "max_request_bytes": request_bytes(trained.config.history_length, trained.preprocessor.items),
    }
