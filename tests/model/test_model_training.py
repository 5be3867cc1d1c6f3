"""Metrics, ties, baselines, the network's invariants and training on tiny synthetic data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recsys_dr.model.baselines import ItemKNN, MostPopular, PersonalFrequency
from recsys_dr.model.evaluate import metrics_from_ties, tie_counts
from tests.model import model_fixtures as fx


def _dataset(rows: list[tuple[str, str, int]], items: str):
    from recsys_dr.model.data import Dataset

    inter = pd.DataFrame(rows, columns=["user_id", "item_id", "timestamp"]).assign(query="", event_type="view")
    return Dataset("t", inter, pd.DataFrame({"item_id": list(items), "title": "", "category": ""}))


# ------------------------------------------------------------------ metrics and ties
def test_metric_values_without_ties():
    m = metrics_from_ties(np.array([0, 2, 19]), np.array([1, 1, 1]), k=10)
    assert m["hit_rate@10"] == pytest.approx(2 / 3)
    assert m["ndcg@10"] == pytest.approx((1.0 + 1.0 / np.log2(4)) / 3)
    assert m["mrr"] == pytest.approx((1 + 1 / 3 + 1 / 20) / 3)


def test_ties_give_the_expected_value_of_a_random_tie_break():
    # the target shares the top score with one other item: rank 1 or 2, each with probability 1/2
    g, e = tie_counts(np.array([[0.1, 0.5, 0.5]]), np.array([1]))
    assert (g.tolist(), e.tolist()) == ([0], [2])
    m = metrics_from_ties(g, e, k=1)
    assert m["hit_rate@1"] == pytest.approx(0.5)
    assert m["ndcg@1"] == pytest.approx(0.5)
    assert m["mrr"] == pytest.approx((1 + 1 / 2) / 2)


def test_a_scorer_that_ties_everything_scores_like_a_random_ranking():
    n, k = 40, 10
    g, e = tie_counts(np.zeros((3, n)), np.array([0, 7, 39]))
    m = metrics_from_ties(g, e, k=k)
    assert m["hit_rate@10"] == pytest.approx(k / n)  # neither 0 (pessimistic) nor 1 (optimistic)
    assert m["ndcg@10"] == pytest.approx(sum(1 / np.log2(p + 1) for p in range(1, k + 1)) / n)
    assert m["mrr"] == pytest.approx(sum(1 / p for p in range(1, n + 1)) / n)


def test_a_nan_target_score_is_refused():
    with pytest.raises(ValueError, match="a target scored NaN"):
        tie_counts(np.array([[np.nan, 1.0]]), np.array([0]))


def test_metrics_are_split_by_held_out_type():
    from recsys_dr.model.evaluate import evaluate_scorer
    from recsys_dr.model.split import leave_last_out

    # u1 re-buys "a" (repeat); u2's last item "c" is new to them
    split = leave_last_out(_dataset([("u1", "a", 1), ("u1", "b", 2), ("u1", "a", 3),
                                     ("u2", "a", 1), ("u2", "b", 2), ("u2", "c", 3)], "abc"), 2)
    perfect = lambda ex: np.array([[1.0 if i == t else 0.0 for i in "abc"] for t in ex.target])  # noqa: E731
    m = evaluate_scorer(perfect, split.test, list("abc"), k=1)
    assert (m["repeat"]["examples"], m["new"]["examples"], m["all"]["examples"]) == (1, 1, 2)
    assert m["repeat"]["ndcg@1"] == m["new"]["ndcg@1"] == 1.0


def test_exclude_seen_removes_past_items_but_not_the_target():
    from recsys_dr.model.evaluate import evaluate_scorer
    from recsys_dr.model.split import leave_last_out

    split = leave_last_out(_dataset([("u", "a", 1), ("u", "b", 2), ("u", "a", 3)], "abc"), 2)
    fixed = lambda ex: np.array([[0.1, 0.9, 0.5]])  # noqa: E731  target "a" is last
    assert evaluate_scorer(fixed, split.test, list("abc"), k=1)["all"]["mrr"] == pytest.approx(1 / 3)
    # "b" is in the past and is removed; "a" is too but is the target, so it stays
    assert evaluate_scorer(fixed, split.test, list("abc"), k=1, exclude_seen=True)["all"]["mrr"] == pytest.approx(1 / 2)


# ------------------------------------------------------------------ split
def test_validation_is_the_second_to_last_item_and_never_trained_on():
    from recsys_dr.model.split import leave_last_out

    split = leave_last_out(_dataset([("u", "a", 1), ("u", "b", 2), ("u", "c", 3), ("u", "d", 4), ("v", "a", 1),
                                     ("v", "b", 2), ("w", "c", 1)], "abcd"), 3)
    assert split.validation.target.tolist() == ["c"] and split.validation.past == [["a", "b"]]
    assert sorted(split.test.target.tolist()) == ["b", "d"]  # v (2 items) has a test item but no validation item
    assert split.train_sequences == {"u": ["a", "b"], "v": ["a"], "w": ["c"]}
    assert "c" not in split.train.target[split.train.user == "u"]
    u_test = int(np.flatnonzero(split.test.user == "u")[0])
    assert split.test.history[u_test].tolist() == ["a", "b", "c"]  # the test history includes the validation item
    from recsys_dr.model.split import sequences_before

    assert sequences_before(split, "test")["u"] == ["a", "b", "c"] and sequences_before(split, "validation")["u"] == ["a", "b"]


def _baskets(rows: list[tuple[str, str, int, str]], items: str):
    from recsys_dr.model.data import Dataset

    inter = pd.DataFrame(rows, columns=["user_id", "item_id", "timestamp", "basket_id"]).assign(query="", event_type="purchase")
    return Dataset("t", inter, pd.DataFrame({"item_id": list(items), "title": "", "category": ""}))


def test_a_held_out_basket_is_neither_history_nor_training_data():
    from recsys_dr.model.split import leave_last_out, sequences_before

    # File order is not time order: basket 2 is listed first. Lines of a basket keep file order.
    split = leave_last_out(_baskets([("u", "c", 2, "b2"), ("u", "d", 2, "b2"), ("u", "a", 1, "b1"), ("u", "b", 1, "b1"),
                                     ("u", "e", 3, "b3"), ("u", "f", 3, "b3"), ("u", "a", 3, "b3")], "abcdef"), 4)
    assert split.test.target.tolist() == ["a"] and split.test.past == [["a", "b", "c", "d"]]  # the last basket's last line
    assert split.test.history[0].tolist() == ["a", "b", "c", "d"]  # earlier baskets only: not "e", "f"
    assert split.validation.target.tolist() == ["d"] and split.validation.history[0].tolist() == ["", "", "a", "b"]
    assert split.train.target.tolist() == ["a", "b"]  # "c" (the validation basket) and "e", "f" are not trained on
    assert split.train.history.tolist() == [["", "", "", ""]] * 2  # both lines of basket 1: no earlier basket
    assert split.test.is_repeat().tolist() == [True]
    assert sequences_before(split, "test")["u"] == ["a", "b", "d"]


def test_without_baskets_every_interaction_is_its_own_basket():
    from recsys_dr.model.split import leave_last_out

    rows = [("u", "a", 1), ("u", "b", 2), ("u", "c", 3), ("u", "d", 4)]
    plain = leave_last_out(_dataset(rows, "abcd"), 3)
    one_each = leave_last_out(_baskets([r + (str(i),) for i, r in enumerate(rows)], "abcd"), 3)
    for part in ("train", "validation", "test"):
        a, b = getattr(plain, part), getattr(one_each, part)
        assert a.target.tolist() == b.target.tolist() and a.history.tolist() == b.history.tolist()
    assert plain.train.history.tolist() == [["", "", ""], ["", "", "a"]]


def test_histories_are_windows_built_when_read():
    from recsys_dr.model.split import Histories

    items = np.array(["a", "b", "c", "x", "y"], dtype=object)
    h = Histories(items, start=np.array([0, 0, 3, 3]), stop=np.array([3, 1, 3, 5]), length=2)
    assert h.shape == (4, 2) and h.tolist() == [["b", "c"], ["", "a"], ["", ""], ["x", "y"]]
    assert h[1:3].tolist() == [["", "a"], ["", ""]] and h[3].tolist() == ["x", "y"]
    assert h.ids(np.arange(5) + 2, np.array([0, 1])).tolist() == [[3, 4], [0, 2]]
    assert h.subset(np.array([3])).concat(h.subset(np.array([0]))).tolist() == [["x", "y"], ["b", "c"]]


# ------------------------------------------------------------------ baselines
def test_most_popular_counts_training_interactions():
    pop = MostPopular(["a", "b", "c"]).fit({"u1": ["a", "b"], "u2": ["a", "c"], "u3": ["a"]})
    assert pop.scores([[]]).tolist() == [[3.0, 1.0, 1.0]]


def test_personal_frequency_ranks_by_count_then_recency_then_popularity():
    pf = PersonalFrequency(list("abcde")).fit({"x": ["e", "e", "e", "d", "d"], "y": ["e"]})
    s = pf.scores([["a", "b", "a", "c", "b", "unknown"]])[0]
    order = [ch for _, ch in sorted(zip(-s, "abcde"))]
    # a and b twice (b more recently), then c, then the unseen items by popularity (e before d)
    assert order == ["b", "a", "c", "e", "d"]


def test_item_knn_matches_a_dense_cosine_reference():
    rng = np.random.default_rng(0)
    items = [f"i{j}" for j in range(30)]
    seqs = {f"u{u}": list(rng.choice(items, size=int(rng.integers(1, 8)))) for u in range(60)}
    knn = ItemKNN(items, neighbours=30).fit(seqs)
    x = np.zeros((len(seqs), len(items)))
    for r, seq in enumerate(seqs.values()):
        x[r, [items.index(i) for i in seq]] = 1
    co = x.T @ x
    norm = np.sqrt(np.diag(co))
    norm[norm == 0] = 1
    sim = co / norm[:, None] / norm[None, :]
    np.fill_diagonal(sim, 0)
    np.testing.assert_allclose(knn.similarity.toarray(), sim, rtol=1e-5, atol=1e-6)
    past = [["i1", "i2", "i1"], ["nothing-known"]]
    np.testing.assert_allclose(knn.scores(past), [sim[1] + sim[2], np.zeros(len(items))], rtol=1e-5, atol=1e-6)


def test_item_knn_is_sparse_and_keeps_the_top_neighbours():
    import scipy.sparse as sp

    items = [f"i{j}" for j in range(20_000)]  # a dense N x N float32 would be 1.6 GB
    rng = np.random.default_rng(1)
    seqs = {f"u{u}": list(rng.choice(items[:300], size=12)) + list(rng.choice(items, size=3)) for u in range(500)}
    knn = ItemKNN(items, neighbours=5).fit(seqs)
    assert sp.issparse(knn.similarity)
    assert np.diff(knn.similarity.indptr).max() <= 5
    assert knn.similarity.nnz <= 5 * len(items)


def test_item_knn_scores_from_the_recent_window_only():
    knn = ItemKNN(list("abcd"), recent=1).fit({"u": ["a", "b"], "v": ["c", "d"]})
    s = knn.scores([["a", "c"]])[0]  # only "c" (the most recent) counts
    assert s[3] > 0 and s[1] == 0


# ------------------------------------------------------------------ network invariants
def _tiny_network(repeat: bool = True):
    from recsys_dr.model.network import NetworkConfig, build_network

    return build_network(num_items=6, query_vocab_size=5, query_length=3, history_length=5,
                         config=NetworkConfig(embedding_dim=8, attention_blocks=1, hidden_units=(8,), repeat=repeat))


def test_network_config_is_validated():
    from recsys_dr.model.network import NetworkConfig

    with pytest.raises(ValueError, match="`attention_heads` must be >= 1 and divide `embedding_dim`. "
                                         "Received: attention_heads=3, embedding_dim=64"):
        NetworkConfig(attention_heads=3)


@pytest.mark.parametrize("momentum", [-0.1, 1.0])
def test_ema_momentum_is_validated(momentum):
    from recsys_dr.model.config import TrainConfig

    with pytest.raises(ValueError, match=rf"`ema_momentum` must be in \[0, 1\) \(0 = no average\). Received: {momentum}"):
        TrainConfig(ema_momentum=momentum)


def test_empty_and_unknown_histories_give_the_same_finite_scores():
    import keras

    net = _tiny_network()
    q = np.array([[2, 0, 0]] * 2)
    h = np.array([[0, 0, 0, 0, 0], [1, 1, 0, 1, 1]])  # empty vs. only unknown ids
    p = keras.ops.convert_to_numpy(net.probabilities(q, h))
    assert p.shape == (2, 6) and np.isfinite(p).all()
    np.testing.assert_allclose(p[0], p[1], rtol=1e-6)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-5)


def test_the_repeat_head_puts_the_gate_share_on_history_items():
    import keras

    net = _tiny_network()
    q = np.zeros((1, 3), np.int64)
    h = np.array([[0, 0, 3, 5, 3]])  # catalog columns 1 and 3
    enc = net.encode(q, h)
    gate = float(keras.ops.sigmoid(enc["gate_logit"])[0])
    p = keras.ops.convert_to_numpy(net.probabilities(q, h))[0]
    assert p[[1, 3]].sum() >= gate - 1e-6  # the copy distribution only covers the history
    logits = keras.ops.convert_to_numpy(enc["repeat_logits"])[0]
    assert (logits[[0, 1, 2]] < -1e8).all() and (logits[[3, 4]] > -1e8).all()  # one slot per distinct item: its last


def test_sampled_softmax_touches_a_bounded_number_of_item_rows():
    import tensorflow as tf

    from recsys_dr.model.network import NetworkConfig, build_network
    from recsys_dr.model.train import TrainConfig, training_loss

    n, b, length, sampled = 5_000, 16, 4, 32
    cfg = TrainConfig(history_length=length, num_sampled=sampled, network=NetworkConfig(embedding_dim=8, attention_blocks=0, hidden_units=(8,)))
    net = build_network(num_items=n, query_vocab_size=4, query_length=2, history_length=length, config=cfg.network)
    rng = np.random.default_rng(0)
    h = rng.integers(2, n + 2, size=(b, length))
    y = rng.integers(0, n, size=b)
    with tf.GradientTape() as tape:
        loss = training_loss(net, cfg, [0.0, 0.0] + [1.0] * n, tf.zeros((b, 2), tf.int64), tf.constant(h), tf.constant(y))
    grad = tape.gradient(loss, net.item_embedding.embeddings)
    # The loss reads the targets, the sampled negatives and the history rows, never all N.
    assert isinstance(grad, tf.IndexedSlices)
    assert len(np.unique(grad.indices.numpy())) <= b + sampled + b * length < n


def test_a_sample_of_half_the_catalog_or_more_trains_on_the_exact_softmax():
    import tensorflow as tf

    from recsys_dr.model.network import NetworkConfig, build_network
    from recsys_dr.model.train import TrainConfig, training_loss, uses_sampled_softmax

    n, b, length = 60, 8, 4
    cfg = TrainConfig(history_length=length, num_sampled=30,
                      network=NetworkConfig(embedding_dim=8, attention_blocks=0, hidden_units=(8,), repeat=False))
    assert not uses_sampled_softmax(cfg, n) and uses_sampled_softmax(cfg, n + 1)
    net = build_network(num_items=n, query_vocab_size=4, query_length=2, history_length=length, config=cfg.network)
    rng = np.random.default_rng(0)
    q, h, y = tf.zeros((b, 2), tf.int64), tf.constant(rng.integers(2, n + 2, size=(b, length))), rng.integers(0, n, size=b)
    loss = training_loss(net, cfg, [0.0, 0.0] + [1.0] * n, q, h, tf.constant(y))
    # No sampling noise: the loss is the cross-entropy of the served explore distribution.
    exact = -np.log(net.probabilities(q, h).numpy()[np.arange(b), y]).mean()
    np.testing.assert_allclose(float(loss), exact, rtol=1e-5)


def test_repeat_targets_point_at_the_distinct_slot_of_the_target():
    from recsys_dr.model.network import distinct_items
    from recsys_dr.model.train import repeat_targets

    f = distinct_items(np.array([[3, 2, 3, 0], [0, 0, 4, 5]]))
    logits = np.where(f["is_last"].numpy(), 0.0, -1e9).astype("float32")
    in_window, slot = repeat_targets(f["ids"], logits, np.array([1, 0]))
    assert in_window.numpy().tolist() == [True, False]
    assert f["ids"].numpy()[0, slot.numpy()[0]] == 3 and f["is_last"].numpy()[0, slot.numpy()[0]]


def test_distinct_items_count_each_item_once_at_its_last_occurrence():
    from recsys_dr.model.network import distinct_items

    f = {k: v.numpy() for k, v in distinct_items(np.array([[0, 5, 3, 5], [1, 4, 4, 4]])).items()}
    assert f["ids"].tolist() == [[0, 3, 5, 5], [1, 4, 4, 4]]
    assert f["is_last"].tolist() == [[False, True, False, True], [False, False, False, True]]  # 0 and 1 never
    assert f["last"][0].tolist() == [0, 2, 3, 3] and f["first"][0].tolist() == [0, 2, 1, 1]
    assert f["count"].tolist() == [[1, 1, 2, 2], [1, 3, 3, 3]]


def test_distinct_items_agree_with_a_python_count_on_long_histories():
    from collections import Counter

    from recsys_dr.model.network import distinct_items

    h = np.random.default_rng(1).integers(0, 40, size=(6, 300))
    f = {k: v.numpy() for k, v in distinct_items(h).items()}
    for row, ids, last, first, count, keep in zip(h, f["ids"], f["last"], f["first"], f["count"], f["is_last"]):
        want = Counter(int(i) for i in row if i >= 2)
        got = {int(i): int(c) for i, c, k in zip(ids, count, keep) if k}
        assert got == want
        for i, lo, hi in zip(ids[keep], first[keep], last[keep]):
            where = np.flatnonzero(row == i)
            assert (lo, hi) == (where[0], where[-1])


# ------------------------------------------------------------------ training (tiny, real)
@pytest.mark.slow
def test_model_beats_personal_frequency_on_the_repeat_heavy_shop():
    m = fx.metrics()
    assert m["model"]["all"]["ndcg@10"] > m["personal-frequency"]["all"]["ndcg@10"]
    assert m["model"]["all"]["examples"] == m["item-knn"]["all"]["examples"] == fx.SYNTH.num_users
    assert m["model"]["repeat"]["examples"] > 0.4 * fx.SYNTH.num_users  # the shop is repeat-heavy


@pytest.mark.slow
def test_the_repeat_mechanism_is_what_serves_re_buys():
    from recsys_dr.model.evaluate import evaluate_all
    from recsys_dr.model.network import NetworkConfig
    from recsys_dr.model.train import train

    base = fx.train_config().network
    off = NetworkConfig(**{**base.to_dict(), "hidden_units": base.hidden_units, "repeat": False})
    plain = train(fx.split(), fx.dataset().item_ids, fx.train_config(network=off), show_progress=False)
    without = evaluate_all(plain.scores, fx.split(), fx.dataset().item_ids, baselines=[])["model"]
    with_repeat = fx.metrics()["model"]
    assert with_repeat["repeat"]["ndcg@10"] > without["repeat"]["ndcg@10"] + 0.05
    assert with_repeat["all"]["ndcg@10"] > without["all"]["ndcg@10"]


@pytest.mark.slow
def test_training_selects_the_epoch_on_validation_then_refits_for_that_many_epochs():
    t = fx.trained()
    selection = [h for h in t.history if not h.get("refit")]
    refit = [h for h in t.history if h.get("refit")]
    assert len(selection) == 3 and selection[-1]["loss"] < selection[0]["loss"]
    assert t.best_epoch == 1 + int(np.argmax([h["validation_ndcg@10"] for h in selection]))
    assert len(refit) == t.best_epoch and not any("validation_ndcg@10" in h for h in refit)


@pytest.mark.slow
def test_without_refit_the_best_validation_epoch_is_kept():
    from recsys_dr.model.evaluate import evaluate_scorer
    from recsys_dr.model.train import train

    t = train(fx.split(), fx.dataset().item_ids, fx.train_config(refit=False, epochs=2), show_progress=False)
    assert len(t.history) == 2
    kept = evaluate_scorer(t.scores, fx.split().validation, fx.dataset().item_ids, by_type=False)["all"]["ndcg@10"]
    assert kept == pytest.approx(max(h["validation_ndcg@10"] for h in t.history), abs=1e-6)


@pytest.mark.slow
def test_validation_ranks_the_weight_average_while_training_follows_the_last_step():
    from recsys_dr.model.train import train

    plain = train(fx.split(), fx.dataset().item_ids, fx.train_config(ema_momentum=0.0), show_progress=False)
    averaged = fx.trained()  # the default, ema_momentum 0.99
    # Validation swaps the average in and must swap the last step's weights back: otherwise
    # epoch 2 would start from the average and its loss would differ.
    assert [h["loss"] for h in averaged.history[:3]] == [h["loss"] for h in plain.history[:3]]
    assert [h["validation_ndcg@10"] for h in averaged.history[:3]] != [h["validation_ndcg@10"] for h in plain.history[:3]]


@pytest.mark.slow
def test_without_validation_the_last_steps_average_is_kept():
    import dataclasses

    from recsys_dr.model.train import train

    no_val = dataclasses.replace(fx.split(), validation=None)
    runs = [train(no_val, fx.dataset().item_ids, fx.train_config(epochs=1, ema_momentum=m), show_progress=False)
            for m in (0.0, 0.9)]
    assert runs[0].loss_history == runs[1].loss_history  # the same steps...
    assert not np.array_equal(runs[0].model.get_weights()[0], runs[1].model.get_weights()[0])  # ...another result


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
    np.testing.assert_allclose(restored.scores(test), fx.trained().scores(test), rtol=1e-5, atol=1e-7)
    assert extra == {"data_fingerprint": "sha256:x"}


def test_query_vocabulary_matches_the_graph_tokeniser():
    import tensorflow as tf

    from recsys_dr.model.features import Preprocessor, build_query_vocabulary

    queries = ["Red SHOES!", "café ÉTÉ", "tab\tsep   spaces", "naïve-bayes"]
    pre = Preprocessor(["a"], build_query_vocabulary(queries), query_length=4)
    ids = pre.query_ids(tf.constant(queries)).numpy()
    assert (ids != 1).all()  # no token built in Python is out-of-vocabulary in the graph
    assert (ids[:, 0] >= 2).all()


def test_preprocessor_refuses_item_ids_the_artifact_could_not_list():
    from recsys_dr.model.features import Preprocessor

    for bad in (["a", ""], ["a", "b\nc"], ["a\r"]):
        with pytest.raises(ValueError, match="padding id|line breaks"):
            Preprocessor(bad, [])


@pytest.mark.parametrize("blocks", [1, 2])
def test_a_final_block_reading_only_the_last_position_equals_the_full_block(blocks):
    # The encoder reads only the most recent position, so its last block computes only that row.
    from recsys_dr.model.network import NetworkConfig, build_network

    net = build_network(num_items=30, query_vocab_size=5, query_length=2, history_length=7,
                        config=NetworkConfig(embedding_dim=8, attention_heads=2, attention_blocks=blocks, hidden_units=(8,)))
    rng = np.random.default_rng(0)
    for w in net.weights:
        w.assign(rng.normal(size=w.shape).astype("float32"))
    h = rng.integers(2, 32, size=(4, 7))
    h[1, :5] = 0  # left padding
    h[2, :] = 0  # empty history
    x = rng.normal(size=(4, 7, 8)).astype("float32")
    valid = h >= 2
    block = net.blocks[-1]
    full = np.asarray(block(x, valid))
    np.testing.assert_allclose(np.asarray(block(x, valid, last_only=True)), full[:, -1, :], rtol=1e-5, atol=1e-5)
    assert np.abs(full[:, -1, :]).sum() > 0 and (full[2] == 0).all()


@pytest.mark.parametrize("shape, k", [((5, 6000), 3), ((3, 6001), 7), ((2, 8193), 16), ((4, 2000), 1)])
@pytest.mark.parametrize("values", ["distinct", "ties", "constant"])
def test_exact_top_k_through_chunk_maxima_equals_tf_top_k(shape, k, values):
    import tensorflow as tf

    from recsys_dr.model.network import exact_top_k

    chunk = 16
    assert shape[1] >= 8 * chunk * k  # the chunked path, not the fallback
    x = np.random.default_rng(k).normal(size=shape).astype("float32")
    x = {"distinct": x, "ties": np.round(x, 1), "constant": np.ones_like(x)}[values]
    want_v, want_i = tf.math.top_k(x, k)
    got_v, got_i = exact_top_k(tf.constant(x), k, chunk=chunk)
    np.testing.assert_array_equal(got_v.numpy(), want_v.numpy())
    np.testing.assert_array_equal(got_i.numpy(), want_i.numpy())  # ties: lower index first, as TopKV2


@pytest.mark.parametrize("num_items", [40, 6000])  # 6000: exact_top_k takes the chunked path
@pytest.mark.parametrize("repeat, gate_bias", [(True, 5.0), (True, 0.0), (False, 0.0)])
def test_serving_top_k_equals_the_top_of_the_full_mixture(repeat, gate_bias, num_items):
    import keras

    from recsys_dr.model.network import TOP_K_CHUNK, NetworkConfig, build_network

    assert (num_items >= 8 * TOP_K_CHUNK * 5) == (num_items == 6000)  # the explore selection takes k = 5 items
    net = build_network(num_items=num_items, query_vocab_size=5, query_length=2, history_length=6,
                        config=NetworkConfig(embedding_dim=8, attention_blocks=1, hidden_units=(8,), repeat=repeat))
    net.item_bias.embeddings.assign(np.linspace(3, 0, num_items + 2)[:, None].astype("float32"))  # items 0.. explore best
    if repeat:  # 5: lean on the copy distribution; 0: history items also win on their explore score
        net.gate_out.bias.assign([gate_bias])
    rng = np.random.default_rng(0)
    h = np.concatenate([rng.integers(2, 8, size=(16, 4)), rng.integers(0, 42, size=(16, 2))], axis=1)  # repeats, pads, unknowns
    h[0] = 0
    q = np.zeros((16, 2), np.int64)
    full = keras.ops.convert_to_numpy(net.probabilities(q, h))
    values, cols = (keras.ops.convert_to_numpy(t) for t in net.top_k(q, h, 5))
    np.testing.assert_allclose(values, -np.sort(-full, axis=1)[:, :5], rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(np.take_along_axis(full, cols, axis=1), values, rtol=1e-5, atol=1e-7)
    assert all(len(set(r)) == 5 for r in cols.tolist())  # no item twice
