"""Query tokens enter the exported vocabulary only when enough distinct users typed them
(model/features.py build_query_vocabulary, TrainConfig.query_token_min_users)."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from recsys_dr.model.config import TrainConfig
from recsys_dr.model.features import build_query_vocabulary

from . import model_fixtures as fx


def test_a_token_typed_by_too_few_users_is_dropped_however_often():
    queries = ["shoes", "shoes", "red shoes", "shoes", "ORD-4471 shoes", "ord4471", "ord4471"]
    users = ["a", "b", "c", "d", "e", "e", "e"]
    # "ord4471" is typed 3 times, by one shopper; "shoes" by five.
    assert build_query_vocabulary(queries, users=users, min_users=2) == ["shoes"]
    assert build_query_vocabulary(queries, users=users, min_users=5) == ["shoes"]
    assert build_query_vocabulary(queries, users=users, min_users=6) == []
    assert "ord4471" in build_query_vocabulary(queries)  # no threshold: every token


def test_a_threshold_needs_the_users():
    with pytest.raises(ValueError, match="needs `users`"):
        build_query_vocabulary(["a"], min_users=2)


def test_the_default_threshold_is_five_distinct_users():
    assert TrainConfig().query_token_min_users == 5
    with pytest.raises(ValueError, match="`query_token_min_users` must be >= 1"):
        TrainConfig(query_token_min_users=0)


class Vocabulary(Exception):
    """Raised by the stand-in Preprocessor to stop `train` once it has its vocabulary."""


def test_training_builds_the_vocabulary_from_tokens_enough_users_typed(monkeypatch):
    from recsys_dr.model import train as train_module

    split = copy.copy(fx.split())
    train = split.train
    # One shopper types an e-mail address into the search box, twice.
    queries = train.query.copy()
    rows = np.flatnonzero(train.user == train.user[0])[:2]
    queries[rows] = "jane.doe@example.com shoes"
    split.train = type(train)(queries, train.history, train.target, train.user, train.past)

    def stop(items, vocabulary, query_length):
        raise Vocabulary(vocabulary)

    monkeypatch.setattr(train_module, "Preprocessor", stop)
    with pytest.raises(Vocabulary) as caught:
        train_module.train(split, fx.dataset().item_ids, fx.train_config(), show_progress=False)
    (vocabulary,) = caught.value.args
    assert vocabulary and "janedoeexamplecom" not in vocabulary
