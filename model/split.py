"""Chronological leave-last-out split and next-item training examples.

For every user, interactions are ordered by timestamp (ties keep file order). The last
interaction is the held-out **test** example; every earlier interaction is a **training**
target whose history is the items before it. Histories are truncated to the most recent
``history_length`` items and left-padded with "" so the most recent item is last.
Users with a single interaction contribute one training example (empty history) and no
test example.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recsys_dr.model.data import Dataset

PAD = ""


@dataclass
class Examples:
    """Parallel arrays of (query, history, target) examples.

    Attributes:
        query: ``str[n]`` search text ("" when none).
        history: ``str[n, L]`` item ids, padded with "" on the left, most recent last.
        target: ``str[n]`` the item interacted with.
        user: ``str[n]`` pseudonymised user ids (never raw ids).
    """

    query: np.ndarray
    history: np.ndarray
    target: np.ndarray
    user: np.ndarray

    def __len__(self) -> int:
        return len(self.target)


@dataclass
class Split:
    """Training and held-out test examples plus per-user full training sequences."""

    train: Examples
    test: Examples
    train_sequences: dict[str, list[str]]
    history_length: int


def pad_history(items: list[str], length: int) -> list[str]:
    """Keep the last ``length`` items and left-pad with "" to exactly ``length``.

    >>> pad_history(["a", "b", "c"], 2)
    ['b', 'c']
    >>> pad_history(["a"], 3)
    ['', '', 'a']
    """
    if length <= 0:
        raise ValueError(f"`history_length` must be >= 1. Received: {length}")
    tail = items[-length:]
    return [PAD] * (length - len(tail)) + tail


def leave_last_out(dataset: Dataset, history_length: int = 20) -> Split:
    """Split ``dataset`` per user: last interaction -> test, the rest -> training examples.

    Args:
        dataset: loaded, validated data.
        history_length: number of most recent items kept as history; default 20.
    """
    inter = dataset.interactions.reset_index(drop=True)
    order = np.lexsort((np.arange(len(inter)), inter["timestamp"].to_numpy(), inter["user_id"].to_numpy()))
    inter = inter.iloc[order]
    users = inter["user_id"].to_numpy()
    items = inter["item_id"].to_numpy().astype(object)
    queries = inter["query"].to_numpy().astype(object)

    cols: dict[str, dict[str, list]] = {k: {"q": [], "h": [], "t": [], "u": []} for k in ("train", "test")}
    sequences: dict[str, list[str]] = {}
    boundaries = np.flatnonzero(users[1:] != users[:-1]) + 1
    for start, stop in zip(np.r_[0, boundaries], np.r_[boundaries, len(users)]):
        user = users[start]
        seq = list(items[start:stop])
        qs = queries[start:stop]
        n = len(seq)
        last_train = n - 1 if n >= 2 else n
        for i in range(n):
            part = cols["train"] if i < last_train else cols["test"]
            part["q"].append(qs[i])
            part["h"].append(pad_history(seq[:i], history_length))
            part["t"].append(seq[i])
            part["u"].append(user)
        sequences[user] = seq[:last_train]

    def build(c: dict[str, list]) -> Examples:
        hist = np.array(c["h"], dtype=object).reshape(len(c["t"]), history_length)
        return Examples(
            np.array(c["q"], dtype=object), hist, np.array(c["t"], dtype=object), np.array(c["u"], dtype=object)
        )

    return Split(build(cols["train"]), build(cols["test"]), sequences, history_length)
