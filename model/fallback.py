"""The fallback version: counts only, the main model's serving signature, no GPU.

The CPU fallback tier (docs/fallback-and-capacity.md, "Fallback tier") serves this version while both GPU tiers are down.
It is a ``tf.Module`` of stock TensorFlow ops (hash tables read from ``assets/items.txt``,
gathers, segment sums, ``TopKV2``) and constant count tensors: no learned weight, no GPU op, no
custom op, so the TF Serving CPU image runs it.

Per request row it ranks the whole catalog (``query`` is accepted and ignored):

1. **the row's own history** first: items by how often the row holds them, ties by recency - "buy
   again what you bought most", scored exactly as :class:`model.baselines.PersonalFrequency` scores
   a past (``1 + count + last position / (known items + 1)``, so ``>= 2``);
2. then every other item, in ``[0, 1]``: with the **category step** (``categories=True``), by
   ``P(category | history) x P(item | category)``, the history's share in the item's category
   smoothed towards that category's share of all interactions with the weight of
   :data:`SMOOTHING` history items, times the item's share of its category's interactions
   (popularity within the history's categories, falling back to overall popularity); without
   it, and for a history of no known item, by interaction count (PersonalFrequency's
   popularity tier).

``python -m recsys_dr.model build`` keeps the category step only if it ranks the validation
items better (:func:`select_categories`): it helps where shoppers stay in their categories (the
synthetic shop) and not on Complete Journey or MovieLens.

The answer is the top ``K`` of the whole catalog, so it is never empty and never padded: an empty
history, or one of unknown ids only, gets the most popular items. ``scores`` order the answer;
they are not probabilities.

The counts are those the baselines are fitted on (:func:`model.evaluate.fitted_baselines`):
every interaction before the test items. Without the category step the version ranks a held-out
example exactly as personal frequency ranks it, so its NDCG@10 is the personal-frequency figure
of the same split whenever the request's ``L`` items hold the user's whole past
(``tests/model/test_fallback.py``); on longer pasts it sees the last ``L``, as the main model does.

Layout, written by :func:`export_fallback` beside the main version (the same contract as
:mod:`model.export`; the manifest is written last)::

    <out>/<model-name>-fallback/<version>/
        saved_model.pb, fingerprint.pb, variables/...   (no variables: counts are constants)
        assets/items.txt, assets.extra/titles.txt.gz, assets.extra/tf_serving_warmup_requests
        manifest.json
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import tensorflow as tf

from recsys_dr.components.settings.fallback import fallback_model_name
from recsys_dr.model.baselines import PersonalFrequency
from recsys_dr.model.export import (CATALOG_FUNCTION, SIGNATURE, WARMUP_PATH, checked_rows, stable_fingerprint_uuid,
                                    function_spec, max_batch, new_version_dir, read_warmup, request_bytes,
                                    signature_spec, synthetic_requests, write_titles, write_warmup)
from recsys_dr.model.golden import write_golden
from recsys_dr.model.manifest import FALLBACK_ROLE, ITEMS_PATH, ROLE_KEY, TITLES_PATH, write_manifest
from recsys_dr.model.split import Examples, Split, sequences_before


SMOOTHING = 20.0
"""Weight, in history items, of overall popularity in the category step: a history of a few items
moves the answer little, one of hundreds mostly by its own categories (chosen on the shop's
validation items; benchmarks/LOG.md)."""
METHOD = "fallback"
"""The fallback's key in the manifests' ``metrics``, beside ``model`` and the baselines."""
PERSONAL = "personal frequency over the request's history (count, then recency)"
DESCRIPTIONS = {True: PERSONAL + f", then P(category | history, smoothed by {SMOOTHING:g} items) x P(item | category)",
                False: PERSONAL + ", then popularity"}
"""The manifest's ``fallback.method``, with and without the category step."""


@dataclass(frozen=True)
class FallbackCounts:
    """What the fallback version knows: the catalog, each item's count and category.

    Attributes:
        items: catalog item ids in output order.
        base: ``float32[N]`` personal frequency's popularity tier (``count / (max count + 1)``).
        popularity: ``float64[N]`` interaction count per item.
        category: ``int32[N]`` index of each item's category in ``categories``.
        categories: distinct category names.
    """

    items: list[str]
    base: np.ndarray
    popularity: np.ndarray
    category: np.ndarray
    categories: list[str]

    @classmethod
    def fit(cls, sequences: dict[str, list[str]], catalog: pd.DataFrame) -> FallbackCounts:
        """Count ``sequences`` (user -> items) over ``catalog`` (columns item_id, category)."""
        items = catalog["item_id"].astype(str).tolist()
        pf = PersonalFrequency(items).fit(sequences)
        # PersonalFrequency's own row for an empty past is its popularity tier: one formula, one place.
        base = pf.scores([[]])[0]
        categories, category = np.unique(catalog["category"].astype(str).to_numpy(), return_inverse=True)
        return cls(items, base, pf.counts.astype(np.float64), category.astype(np.int32), categories.tolist())

    @classmethod
    def for_split(cls, split: Split, catalog: pd.DataFrame) -> FallbackCounts:
        """Counts of every interaction before the test items, as the baselines are fitted."""
        return cls.fit(sequences_before(split, "test"), catalog)


class FallbackModule(tf.Module):
    """The servable: ``serve`` (top-K) and ``score_catalog`` (the whole catalog) of a history.

    Args:
        counts: the catalog and its counts.
        items_file: the catalog ids one per line (saved as the asset ``assets/items.txt``).
        history_length: ``L``, history ids per request row.
        top_k: items returned by ``serve`` (capped at the catalog size).
        categories: the category step; default True.
    """

    def __init__(self, counts: FallbackCounts, items_file: Path, history_length: int, top_k: int,
                 categories: bool = True):
        super().__init__(name="fallback")
        n = len(counts.items)
        self.k, self.num_items, self.categories = min(top_k, n), n, categories
        self.limit = max_batch(n)
        # Keys read from the asset, not constants: the ids ship once. Named after the ids' digest,
        # as model.export names the main model's: TextFileInitializer would name the table after
        # this temporary path (tensorflow/python/ops/lookup_ops.py, `_shared_name`).
        digest = hashlib.sha256(Path(items_file).read_bytes()).hexdigest()[:16]
        whole, number = tf.lookup.TextFileIndex.WHOLE_LINE, tf.lookup.TextFileIndex.LINE_NUMBER
        self.to_ids = tf.lookup.StaticHashTable(
            tf.lookup.TextFileInitializer(str(items_file), tf.string, whole, tf.int64, number), default_value=-1)
        self.to_items = tf.lookup.StaticHashTable(
            tf.lookup.TextFileInitializer(str(items_file), tf.int64, number, tf.string, whole), default_value="")
        self.to_ids._shared_name = f"recsys_dr_fallback_{digest}_to_ids"
        self.to_items._shared_name = f"recsys_dr_fallback_{digest}_to_items"
        self.base = tf.constant(counts.base, tf.float32)
        pop, c = counts.popularity, len(counts.categories)
        category_pop = np.bincount(counts.category, weights=pop, minlength=c)
        self.within = tf.constant(pop / np.maximum(category_pop, 1.0)[counts.category], tf.float64)  # P(item | category)
        self.prior = tf.constant(category_pop / max(pop.sum(), 1.0), tf.float64)  # P(category)
        self.category = tf.constant(counts.category, tf.int32)
        self.num_categories = c
        self.signature = [tf.TensorSpec([None], tf.string, name="query"),
                          tf.TensorSpec([None, history_length], tf.string, name="history")]
        # No autograph: no tensor-dependent Python control flow to convert (`categories` is a Python bool).
        self.serve = tf.function(self._serve, input_signature=self.signature, autograph=False)
        self.score_catalog = tf.function(self._score_catalog, input_signature=self.signature, autograph=False)

    def scores(self, history: tf.Tensor) -> tf.Tensor:
        """``string[B, L]`` -> ``float32[B, N]`` (see the module docstring).

        The personal scores are computed per distinct (row, item) of the history (at most ``B x L``)
        and written over the ``[B, N]`` popularity or category scores in one scatter: a row costs
        one pass over the catalog, not one per count.
        """
        ids = self.to_ids.lookup(history)  # "" and unknown ids -> -1
        valid = ids >= 0
        rows = tf.shape(ids, out_type=tf.int64)[0]
        row = tf.boolean_mask(tf.broadcast_to(tf.range(rows)[:, None], tf.shape(ids, out_type=tf.int64)), valid)
        known_ids = tf.boolean_mask(ids, valid)
        cells, slot = tf.unique(row * self.num_items + known_ids)  # distinct (row, item) of the known entries
        count = tf.math.unsorted_segment_sum(tf.ones_like(slot, tf.float64), slot, tf.size(cells))
        # 1-based position among the row's known entries; a later occurrence wins, as in PersonalFrequency.
        position = tf.boolean_mask(tf.cumsum(tf.cast(valid, tf.float64), axis=1), valid)
        last = tf.math.unsorted_segment_max(position, slot, tf.size(cells))
        known = tf.reduce_sum(tf.cast(valid, tf.float64), axis=1, keepdims=True)
        # PersonalFrequency's float64 arithmetic, in its order, then float32 as its score array:
        # the same ranking to the last tie (tests compare the arrays).
        personal = tf.cast(1.0 + count + last / (tf.gather(known[:, 0], cells // self.num_items) + 1.0), tf.float32)
        rest = tf.broadcast_to(self.base, tf.stack([rows, self.num_items]))
        if self.categories:
            cat = tf.cast(tf.gather(self.category, known_ids), tf.int64)
            in_category = tf.math.unsorted_segment_sum(tf.ones_like(cat, tf.float64), row * self.num_categories + cat,
                                                       rows * self.num_categories)
            # P(category | history), smoothed towards P(category) with the weight of SMOOTHING items.
            share = (tf.reshape(in_category, [rows, -1]) + SMOOTHING * self.prior) / (known + SMOOTHING)
            blend = tf.cast(tf.gather(share, self.category, axis=1) * self.within, tf.float32)  # in [0, 1]
            rest = tf.where(known > 0.0, blend, rest)
        where = tf.stack([cells // self.num_items, cells % self.num_items], axis=1)
        return tf.tensor_scatter_nd_update(rest, where, personal)

    def _score_catalog(self, query, history):
        query, history = checked_rows(query, history, self.limit)
        return {"scores": self.scores(history)}

    def _serve(self, query, history):
        query, history = checked_rows(query, history, self.limit)
        values, cols = tf.math.top_k(self.scores(history), k=self.k)  # ties: the lower catalog index first
        return {"item_ids": self.to_items.lookup(tf.cast(cols, tf.int64)), "scores": values}


def fallback_metrics(module_or_loaded, examples: Examples, items: list[str], *, exclude_seen: bool = False) -> dict:
    """Metrics of a fallback (module, or loaded version) on held-out ``examples``, ranked from each
    example's request history (``examples.history``), by :func:`model.evaluate.evaluate_scorer`."""
    from recsys_dr.model.evaluate import evaluate_scorer

    score = module_or_loaded.score_catalog
    limit = max_batch(len(items))

    def scores(batch: Examples) -> np.ndarray:
        query, history = np.asarray(batch.query).astype(str), np.asarray(batch.history).astype(str)
        return np.concatenate([score(tf.constant(query[i:i + limit]), tf.constant(history[i:i + limit]))["scores"].numpy()
                               for i in range(0, len(batch), limit)])

    return evaluate_scorer(scores, examples, items, exclude_seen=exclude_seen)


def select_categories(split: Split, catalog: pd.DataFrame, history_length: int, *, exclude_seen: bool = False) -> dict:
    """Decide the category step on the validation items (model selection only, never the test items).

    Both variants are fitted on the interactions before the validation items and rank them; the
    step is kept only if it raises NDCG@10 (it helps on the shop, whose shoppers stay in their
    categories, and not on Complete Journey or MovieLens: benchmarks/LOG.md).

    Returns:
        ``{"categories": bool, "validation_ndcg@10": {"off": x, "on": y}}``, or without figures and
        with a ``reason`` when there are no validation items (then off: personal frequency exactly).
    """
    if split.validation is None or len(split.validation) == 0:
        return {"categories": False, "reason": "no validation items to decide on"}
    counts = FallbackCounts.fit(sequences_before(split, "validation"), catalog)
    figures = {}
    with tempfile.TemporaryDirectory(prefix="recsys-fallback-") as tmp:
        items_file = Path(tmp) / "items.txt"
        items_file.write_text("".join(f"{i}\n" for i in counts.items), encoding="utf-8")
        for on in (False, True):
            module = FallbackModule(counts, items_file, history_length, 1, categories=on)
            found = fallback_metrics(module, split.validation, counts.items, exclude_seen=exclude_seen)
            figures["on" if on else "off"] = found["all"]["ndcg@10"]
    return {"categories": figures["on"] > figures["off"], "validation_ndcg@10": figures}


def export_fallback(
    counts: FallbackCounts,
    out: Path,
    *,
    model_name: str,
    version: int,
    history_length: int,
    data_fingerprint: str,
    top_k: int = 10,
    categories: bool = True,
    split: Split | None = None,
    exclude_seen: bool = False,
    metrics: dict | None = None,
    query_vocabulary: Sequence[str] = (),
    titles: list[str] | None = None,
    extra_metadata: dict | None = None,
) -> tuple[Path, dict]:
    """Write ``<out>/<model_name>-fallback/<version>/`` and its manifest; return it and the
    fallback's metrics on ``split``'s test items (``{}`` without held-out examples).

    The version is saved to a hidden staging directory, reloaded, made to replay its warmup requests
    (every answer ``K`` real ids) and evaluated through its own ``score_catalog``; only then is it
    renamed and given its manifest, whose ``metrics`` hold ``metrics`` (the main model's and the
    baselines', same split) and the fallback's.

    Args:
        counts: from :meth:`FallbackCounts.for_split`.
        out: artifacts root.
        model_name: the main model's name (TF Serving serves the fallback under it; the warmup
            requests name it); the directory is :func:`fallback_model_name` of it.
        version: the version number (``build`` gives the main version's).
        history_length: ``L`` of the main model's signature.
        data_fingerprint: ``"sha256:<hex>"`` of the data (``model.data.fingerprint``).
        top_k: items per answer; default 10.
        categories: the category tier; default True.
        split: the split to evaluate on; default None (not evaluated).
        exclude_seen: the evaluation protocol's; default False.
        metrics: the other methods' metrics on the same split; default None.
        query_vocabulary: words for the warmup queries; default none.
        titles: catalog titles in item order (``assets.extra/titles.txt.gz``); default None.
        extra_metadata: more manifest keys; default None.

    Raises:
        FileExistsError: the version directory exists (versions are immutable).
    """
    name = fallback_model_name(model_name)
    _, model_dir, final = new_version_dir(out, name, version)
    staging = model_dir / f".staging-{version}-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        module = _save_module(counts, model_dir, staging, history_length, top_k, categories)
        stable_fingerprint_uuid(staging / "fingerprint.pb")
        if titles is not None:
            write_titles(staging / TITLES_PATH, titles)
        requests = synthetic_requests(counts.items, query_vocabulary, history_length)
        write_warmup(staging / WARMUP_PATH, model_name, requests)  # served under the main model's name
        loaded = tf.saved_model.load(str(staging))
        _replay_warmup(loaded, staging, module.k)
        found = (fallback_metrics(loaded, split.test, counts.items, exclude_seen=exclude_seen)
                 if split is not None and len(split.test) else {})
        spec, offline, golden = _specs_and_golden(loaded, staging, requests)
        os.replace(staging, final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    metadata = {
        ROLE_KEY: FALLBACK_ROLE,  # publish then names the `fallback` settings to pin
        "tensorflow_version": tf.__version__,
        "data_fingerprint": data_fingerprint,
        "metrics": (metrics or {}) | ({METHOD: found} if found else {}),
        "signature": spec,
        "offline_functions": offline,
        "golden": golden,
        "serving": _serving_metadata(module, model_name, history_length, len(requests), counts.items),
        "fallback": {"method": DESCRIPTIONS[categories], "categories": categories,
                     "num_categories": len(counts.categories),
                     "counts": "interactions before the test items (training and validation), as the baselines'"},
    } | (extra_metadata or {})
    write_manifest(final, model_name=name, version=version, metadata=metadata)
    return final, found


def _save_module(counts: FallbackCounts, model_dir: Path, staging: Path, history_length: int, top_k: int,
                 categories: bool) -> FallbackModule:
    """Save a :class:`FallbackModule` of ``counts`` to ``staging`` (``serve`` as ``serving_default``)."""
    with tempfile.TemporaryDirectory(prefix=".items-", dir=model_dir) as tmp:
        items_file = Path(tmp) / Path(ITEMS_PATH).name
        items_file.write_text("".join(f"{i}\n" for i in counts.items), encoding="utf-8")
        module = FallbackModule(counts, items_file, history_length, top_k, categories)
        tf.saved_model.save(module, str(staging), signatures={SIGNATURE: module.serve})
    return module


def _serving_metadata(module: FallbackModule, model_name: str, history_length: int, warmup_requests: int,
                      items: list[str]) -> dict:
    """The manifest's ``serving`` block (the main version's, plus the name TF Serving serves it under)."""
    return {"signature_name": SIGNATURE, "model_name": model_name, "top_k": module.k,
            "history_length": history_length, "history_padding": "", "num_items": module.num_items,
            "warmup_requests": warmup_requests, "max_batch": module.limit,
            "max_request_bytes": request_bytes(history_length, items)}


def _specs_and_golden(loaded, staging: Path, requests: list[dict[str, np.ndarray]]) -> tuple[dict, dict, dict]:
    """The reloaded version's signature spec, offline function spec and golden record (written to ``staging``)."""
    spec = signature_spec(loaded)
    offline = {CATALOG_FUNCTION: function_spec(loaded.score_catalog.concrete_functions[0])}
    # The release gates replay these through the live endpoint, as for the main version (model.golden).
    golden = write_golden(staging, loaded.signatures[SIGNATURE], requests, signature_name=SIGNATURE)
    return spec, offline, golden


def _replay_warmup(loaded, version_dir: Path, k: int) -> None:
    """Refuse a version that answers a warmup request with fewer than ``k`` real ids per row."""
    fn = loaded.signatures[SIGNATURE]
    for req in read_warmup(version_dir / WARMUP_PATH):
        ids = fn(**{key: tf.constant(v) for key, v in req.items()})["item_ids"].numpy()
        if ids.shape != (req["query"].shape[0], k) or (ids == b"").any():
            raise RuntimeError("the fallback version answered a warmup request with a short or padded list")
