"""Chronological leave-last-out split: train / validation / test next-item examples.

For every user, interactions are ordered by timestamp (ties keep file order) and grouped into
**baskets**: the lines that share the optional ``basket_id`` column (see :mod:`model.data`), or
one basket per interaction when the data have none. With ``n`` baskets:

* the last basket's last line (``n >= 2``) is the held-out **test** example;
* the second-to-last basket's last line (``n >= 3``) is the **validation** example, used for
  early stopping and model selection only (never the test item);
* every line of an earlier basket is a **training** target.

The other lines of a held-out basket are neither training targets nor anybody's history: they
were bought with the held-out item, so training on them would teach the model the answer's
basket. An example's history is the items of the user's **earlier baskets** (so every line of
one basket has the same history); without baskets that is every earlier interaction.

A user with two baskets has a test example and no validation example; a user with one basket
contributes training examples (the first with an empty history) and nothing held out.
Histories are windows onto the user's items, truncated to the most recent ``history_length``
items and left-padded with "" so the most recent item is last (:class:`Histories`: one copy of
the items whatever ``history_length``, rows built when read). Held-out examples also keep the
user's **full** past (``past``), which the baselines use and which decides whether the target
is a re-buy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recsys_dr.model.data import Dataset

PAD = ""


class Histories:
    """``str[n, L]`` history rows, kept as windows ``items[start:stop]`` onto one flat item array.

    Reading rows (``histories[rows]``, ``np.asarray(histories)``) builds them: the most recent
    ``length`` items of each window, left-padded with "". :meth:`ids` builds integer rows from
    the same windows, so training never holds ``n x L`` strings at once.

    Args:
        items: ``object[m]`` every user's items, users one after another.
        start: ``int[n]`` first item of each row's user in ``items``.
        stop: ``int[n]`` one past the row's most recent history item (``start`` = empty history).
        length: ``L``.
    """

    def __init__(self, items: np.ndarray, start: np.ndarray, stop: np.ndarray, length: int):
        if length <= 0:
            raise ValueError(f"`history_length` must be >= 1. Received: {length}")
        self.items, self.length = items, length
        self.start, self.stop = np.asarray(start, np.int64), np.asarray(stop, np.int64)

    def __len__(self) -> int:
        return len(self.stop)

    @property
    def shape(self) -> tuple[int, int]:
        return (len(self), self.length)

    def window(self, rows) -> tuple[np.ndarray, np.ndarray]:
        """``(index int[r, L], valid bool[r, L])``: positions in ``items`` of each row's slots."""
        start, stop = self.start[rows], self.stop[rows]
        index = stop[:, None] - self.length + np.arange(self.length)[None, :]
        valid = index >= start[:, None]
        return np.where(valid, index, 0), valid

    def ids(self, flat_ids: np.ndarray, rows) -> np.ndarray:
        """Integer rows ``[r, L]`` from ``flat_ids`` (one id per entry of ``items``), 0 as padding."""
        index, valid = self.window(rows)
        return np.where(valid, flat_ids[index] if len(flat_ids) else 0, 0)

    def __getitem__(self, rows) -> np.ndarray:
        if isinstance(rows, (int, np.integer)):
            return self[np.array([rows])][0]
        rows = np.arange(len(self))[rows] if isinstance(rows, slice) else np.asarray(rows)
        index, valid = self.window(rows)
        out = np.full(index.shape, PAD, dtype=object)
        out[valid] = self.items[index[valid]]
        return out

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        out = self[np.arange(len(self))]
        return out if dtype is None else out.astype(dtype)

    def astype(self, dtype) -> np.ndarray:
        return np.asarray(self).astype(dtype)

    def tolist(self) -> list[list[str]]:
        return np.asarray(self).tolist()

    def subset(self, rows: np.ndarray) -> "Histories":
        return Histories(self.items, self.start[rows], self.stop[rows], self.length)

    def concat(self, other: "Histories") -> "Histories":
        if other.length != self.length:
            raise ValueError(f"history lengths differ: {self.length} != {other.length}")
        if other.items is self.items:
            return Histories(self.items, np.r_[self.start, other.start], np.r_[self.stop, other.stop], self.length)
        shift = len(self.items)
        return Histories(np.concatenate([self.items, other.items]), np.r_[self.start, other.start + shift],
                         np.r_[self.stop, other.stop + shift], self.length)


@dataclass
class Examples:
    """Parallel arrays of (query, history, target) examples.

    Attributes:
        query: ``str[n]`` search text ("" when none).
        history: ``str[n, L]`` item ids, padded with "" on the left, most recent last
            (a :class:`Histories`, or an array of that shape).
        target: ``str[n]`` the item interacted with.
        user: ``str[n]`` pseudonymised user ids (never raw ids).
        past: held-out examples only: each user's full item sequence before the target's
            basket (``list[list[str]]``); None for training examples (it would be quadratic).
    """

    query: np.ndarray
    history: Histories | np.ndarray
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
        history = self.history.subset(rows) if isinstance(self.history, Histories) else self.history[rows]
        return Examples(self.query[rows], history, self.target[rows], self.user[rows], past)

    def concat(self, other: "Examples") -> "Examples":
        """These examples followed by ``other`` (``past`` is dropped: training examples keep none)."""
        if isinstance(self.history, Histories) and isinstance(other.history, Histories):
            history = self.history.concat(other.history)
        else:
            history = np.concatenate([np.asarray(self.history), np.asarray(other.history)])
        return Examples(np.concatenate([self.query, other.query]), history, np.concatenate([self.target, other.target]),
                        np.concatenate([self.user, other.user]))


@dataclass
class Split:
    """Training, validation and test examples plus per-user training sequences.

    Attributes:
        train: next-item examples for fitting.
        validation: the second-to-last basket's last item per user (users with >= 3 baskets).
        test: the last basket's last item per user (users with >= 2 baskets).
        train_sequences: each user's items used as training targets, in order (what the
            baselines are fitted on; neither the validation nor the test item, nor the rest
            of their baskets).
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


def _ordered(dataset: Dataset) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(users, items, queries, basket_start)`` in split order: per user, baskets by time (ties
    by first appearance), lines in file order; ``basket_start[i]`` is the first line of i's basket."""
    inter = dataset.interactions.reset_index(drop=True)
    users = inter["user_id"].to_numpy()
    rows = np.arange(len(inter))
    if "basket_id" in inter:
        key = inter["user_id"].astype(str) + "\x00" + inter["basket_id"].astype(str)
        codes = key.factorize()[0]  # numbered by first appearance
        when = inter.groupby(codes)["timestamp"].transform("min").to_numpy()
    else:
        codes, when = rows, inter["timestamp"].to_numpy()
    order = np.lexsort((rows, codes, when, users))
    users, codes = users[order], np.asarray(codes)[order]
    new = np.r_[True, (codes[1:] != codes[:-1]) | (users[1:] != users[:-1])]
    basket_start = np.maximum.accumulate(np.where(new, np.arange(len(order)), 0))
    return (users, inter["item_id"].to_numpy().astype(object)[order], inter["query"].to_numpy().astype(object)[order],
            basket_start)


def leave_last_out(dataset: Dataset, history_length: int = 20) -> Split:
    """Split ``dataset`` per user into train / validation / test (see the module docstring).

    Args:
        dataset: loaded, validated data (an optional ``basket_id`` column groups lines into baskets).
        history_length: number of most recent items kept as history; default 20.
    """
    if history_length <= 0:
        raise ValueError(f"`history_length` must be >= 1. Received: {history_length}")
    users, items, queries, bstart = _ordered(dataset)
    n = len(users)
    first = np.flatnonzero(np.r_[True, users[1:] != users[:-1]]) if n else np.zeros(0, np.int64)
    which = np.cumsum(np.isin(np.arange(n), first)) - 1  # the user of each line
    ustart, uend = first[which], np.r_[first[1:], n][which]
    test_start = bstart[uend - 1]  # first line of the user's last basket
    has_test = test_start > ustart
    val_start = np.where(has_test, bstart[np.maximum(test_start - 1, 0)], ustart)  # ... second-to-last basket
    has_val = has_test & (val_start > ustart)
    cut = np.where(has_val, val_start, np.where(has_test, test_start, uend))  # training lines end here
    idx = np.arange(n)
    is_train = idx < cut
    is_test = has_test & (idx == uend - 1)
    is_val = has_val & (idx == test_start - 1)

    def build(mask: np.ndarray, held_out: bool) -> Examples:
        rows = np.flatnonzero(mask)
        past = [list(items[ustart[i]:bstart[i]]) for i in rows] if held_out else None
        return Examples(queries[rows], Histories(items, ustart[rows], bstart[rows], history_length), items[rows],
                        users[rows], past)

    sequences = {users[i]: list(items[i:cut[i]]) for i in first}
    return Split(build(is_train, False), build(is_test, True), sequences, history_length, build(is_val, True))
