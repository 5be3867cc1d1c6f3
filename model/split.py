"""Chronological leave-last-out split: train / validation / test next-item examples.

For every user, interactions are ordered by timestamp (ties keep file order). With ``n``
interactions:

* the last one (``n >= 2``) is the held-out **test** example;
* the second-to-last one (``n >= 3``) is the **validation** example, used for early
  stopping and model selection only (never the test item);
* every earlier interaction is a **training** target whose history is the items before it.

A user with two interactions has a test example and no validation example; a user with one
interaction contributes one training example (empty history) and nothing held out.
Histories are truncated to the most recent ``history_length`` items and left-padded with ""
so the most recent item is last. Held-out examples also keep the user's **full** past
(``past``), which the baselines use and which decides whether the target is a re-buy.
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
        past: held-out examples only: each user's full item sequence before the target
            (``list[list[str]]``); None for training examples (it would be quadratic).
    """

    query: np.ndarray
    history: np.ndarray
    target: np.ndarray
    user: np.ndarray
    past: list[list[str]] | None = None

    def __len__(self) -> int:
        return len(self.target)

    def is_repeat(self) -> np.ndarray:
        """``bool[n]``: the target occurs in the user's past (a re-buy); needs ``past``."""
        if self.past is None:
            raise ValueError("only held-out examples keep the full past")
        return np.fromiter((t in set(p) for t, p in zip(self.target, self.past)), dtype=bool, count=len(self))

    def subset(self, rows: np.ndarray) -> "Examples":
        """The examples at ``rows`` (an index array)."""
        past = None if self.past is None else [self.past[int(i)] for i in rows]
        return Examples(self.query[rows], self.history[rows], self.target[rows], self.user[rows], past)


@dataclass
class Split:
    """Training, validation and test examples plus per-user training sequences.

    Attributes:
        train: next-item examples for fitting.
        validation: second-to-last item per user (users with >= 3 interactions).
        test: last item per user (users with >= 2 interactions).
        train_sequences: each user's items used as training targets, in order (what the
            baselines are fitted on; neither the validation nor the test item).
        history_length: ``L``.
    """

    train: Examples
    test: Examples
    train_sequences: dict[str, list[str]]
    history_length: int
    validation: Examples | None = None


def sequences_before(split: Split, part: str) -> dict[str, list[str]]:
    """Each user's items before the ``part`` ("validation" or "test") items: what a method may
    be fitted on when that part is ranked (the validation item counts for the test)."""
    if part not in ("validation", "test"):
        raise ValueError(f"`part` must be one of: validation, test. Received: {part!r}")
    seqs = {u: list(s) for u, s in split.train_sequences.items()}
    if part == "test" and split.validation is not None:
        for user, target in zip(split.validation.user, split.validation.target):
            seqs[user].append(target)
    return seqs


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
    """Split ``dataset`` per user into train / validation / test (see the module docstring).

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

    parts = ("train", "validation", "test")
    cols: dict[str, dict[str, list]] = {k: {"q": [], "h": [], "t": [], "u": [], "p": []} for k in parts}
    sequences: dict[str, list[str]] = {}
    boundaries = np.flatnonzero(users[1:] != users[:-1]) + 1
    for start, stop in zip(np.r_[0, boundaries], np.r_[boundaries, len(users)]):
        user = users[start]
        seq = list(items[start:stop])
        qs = queries[start:stop]
        n = len(seq)
        held = 0 if n == 1 else 1 if n == 2 else 2
        for i in range(n):
            part = cols["train" if i < n - held else "validation" if i == n - 2 else "test"]
            part["q"].append(qs[i])
            part["h"].append(pad_history(seq[:i], history_length))
            part["t"].append(seq[i])
            part["u"].append(user)
            if i >= n - held:
                part["p"].append(seq[:i])
        sequences[user] = seq[: n - held]

    def build(c: dict[str, list], held_out: bool) -> Examples:
        hist = np.array(c["h"], dtype=object).reshape(len(c["t"]), history_length)
        return Examples(np.array(c["q"], dtype=object), hist, np.array(c["t"], dtype=object),
                        np.array(c["u"], dtype=object), c["p"] if held_out else None)

    return Split(build(cols["train"], False), build(cols["test"], True), sequences, history_length,
                 build(cols["validation"], True))
