"""Metrics, baselines and training on tiny synthetic data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.model import model_fixtures as fx
from recsys_dr.model.baselines import ItemKNN, MostPopular
from recsys_dr.model.evaluate import metrics_from_ranks, ranks


def test_ranks_count_ties_against_the_target():
    scores = np.array([[0.1, 0.5, 0.5, 0.2], [0.0, 0.0, 0.0, 0.0]])
    assert ranks(scores, np.array([1, 0])).tolist() == [2, 4]


def test_metric_values():
    m = metrics_from_ranks(np.array([1, 3, 20]), k=10)
    assert m["hit_rate@10"] == pytest.approx(2 / 3)
    assert m["ndcg@10"] == pytest.approx((1.0 + 1.0 / np.log2(4)) / 3)
    assert m["mrr"] == pytest.approx((1 + 1 / 3 + 1 / 20) / 3)


def test_baselines_score_the_catalog():
    seqs = {"u1": ["a", "b"], "u2": ["a", "c"], "u3": ["a"]}
    pop = MostPopular(["a", "b", "c"]).fit(seqs)
    assert pop.scores(np.array([[""]])).tolist() == [[3.0, 1.0, 1.0]]
    knn = ItemKNN(["a", "b", "c"]).fit(seqs)
    s = knn.scores(np.array([["", "b"], ["", "unknown"]], dtype=object))
    assert s[0, 0] > 0 and s[0, 1] == 0 and s[0, 2] == 0  # b co-occurs only with a; no self-similarity
    assert s[1].tolist() == [0.0, 0.0, 0.0]  # unknown ids are ignored


@pytest.mark.slow
def test_model_beats_popularity_on_ndcg():
    m = fx.metrics()
    assert m["model"]["ndcg@10"] > m["most-popular"]["ndcg@10"] + 0.05
    assert m["model"]["examples"] == m["most-popular"]["examples"] == m["item-knn"]["examples"] == fx.SYNTH.num_users


@pytest.mark.slow
def test_training_loss_decreases():
    losses = fx.trained().loss_history
    assert len(losses) == 3 and losses[-1] < losses[0]


@pytest.mark.slow
def test_training_is_reproducible_for_a_seed():
    from recsys_dr.model.train import train

    again = train(fx.split(), fx.dataset().item_ids, fx.train_config(), show_progress=False)
    assert again.loss_history == fx.trained().loss_history
    for a, b in zip(again.model.get_weights(), fx.trained().model.get_weights()):
        np.testing.assert_array_equal(a, b)


@pytest.mark.slow
def test_bundle_round_trip_gives_the_same_scores(tmp_path):
    from recsys_dr.model.train import load_bundle, save_bundle

    save_bundle(fx.trained(), tmp_path, extra={"data_fingerprint": "sha256:x"})
    restored, extra = load_bundle(tmp_path)
    test = fx.split().test
    np.testing.assert_allclose(restored.logits(test.query, test.history), fx.trained().logits(test.query, test.history), rtol=1e-5)
    assert extra == {"data_fingerprint": "sha256:x"}


def test_network_config_is_validated():
    from recsys_dr.model.network import NetworkConfig

    with pytest.raises(ValueError, match="`history_encoder` must be one of: mean, recency. Received: 'gru'"):
        NetworkConfig(history_encoder="gru")


@pytest.mark.parametrize("encoder", ["mean", "recency"])
def test_empty_and_unknown_histories_pool_to_the_same_output(encoder):
    import keras

    from recsys_dr.model.network import NetworkConfig, build_network

    net = build_network(num_items=5, query_vocab_size=6, query_length=3, history_length=4,
                        config=NetworkConfig(embedding_dim=4, hidden_units=(8,), history_encoder=encoder))
    q = np.array([[2, 0, 0]] * 2)
    h = np.array([[0, 0, 0, 0], [1, 1, 0, 1]])  # empty vs. only unknown ids
    out = keras.ops.convert_to_numpy(net({"query_ids": q, "history_ids": h}))
    assert out.shape == (2, 5) and np.isfinite(out).all()
    np.testing.assert_allclose(out[0], out[1])


def test_exclude_seen_removes_training_items_but_not_the_target():
    from recsys_dr.model.data import Dataset
    from recsys_dr.model.evaluate import evaluate_scorer
    from recsys_dr.model.split import leave_last_out

    inter = pd.DataFrame({"user_id": ["u"] * 3, "item_id": ["a", "b", "a"], "timestamp": [1, 2, 3],
                          "query": "", "event_type": "view"})
    split = leave_last_out(Dataset("t", inter, pd.DataFrame({"item_id": list("abc"), "title": "", "category": ""})), 2)
    fixed = lambda q, h: np.array([[0.1, 0.9, 0.5]])  # noqa: E731  target "a" is last
    assert evaluate_scorer(fixed, split, list("abc"), k=1)["mrr"] == pytest.approx(1 / 3)
    # "b" was seen in training and is removed; "a" is seen too but is the target, so it stays
    assert evaluate_scorer(fixed, split, list("abc"), k=1, exclude_seen=True)["mrr"] == pytest.approx(1 / 2)


def test_query_vocabulary_matches_the_graph_tokeniser():
    import tensorflow as tf

    from recsys_dr.model.features import Preprocessor, build_query_vocabulary

    queries = ["Red SHOES!", "café ÉTÉ", "tab\tsep   spaces", "naïve-bayes"]
    pre = Preprocessor(["a"], build_query_vocabulary(queries), query_length=4)
    ids = pre.query_ids(tf.constant(queries)).numpy()
    assert (ids != 1).all()  # no token built in Python is out-of-vocabulary in the graph
    assert (ids[:, 0] >= 2).all()
