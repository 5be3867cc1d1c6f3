"""Non-learned baselines, scored from each held-out user's full past (never the target).

* :class:`MostPopular` - every user gets the training interaction count of each item.
* :class:`PersonalFrequency` - "buy again what you bought most": items of the user's past
  ranked by how often the user took them, ties by recency, then every other item by
  popularity. On repeat-heavy shop data this is the bar a model has to clear.
* :class:`ItemKNN` - item-to-item cosine similarity between items' binary user vectors in
  the training sequences (self-similarity removed), pruned to each item's ``neighbours``
  most similar items and kept as a scipy sparse matrix: memory grows with the
  interactions, not with the square of the catalog. A user's score for an item is the sum
  of its similarities to the distinct items of the user's past.

Baselines are scored from the whole past rather than the model's truncated window, which
can only help them. ``scores(past)`` returns ``float32[len(past), num_items]`` in catalog
order; ids not in the catalog are ignored.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp


def _index(items: list[str]) -> dict[str, int]:
    return {item: i for i, item in enumerate(items)}


def _columns(idx: dict[str, int], seq: list[str]) -> list[int]:
    return [idx[i] for i in seq if i in idx]


class MostPopular:
    """Score = number of training interactions with the item.

    Args:
        items: catalog item ids in output order.
    """

    name = "most-popular"

    def __init__(self, items: list[str]):
        self.items = list(items)
        self.counts = np.zeros(len(items), dtype=np.float32)

    def fit(self, train_sequences: dict[str, list[str]]) -> "MostPopular":
        idx = _index(self.items)
        for seq in train_sequences.values():
            np.add.at(self.counts, _columns(idx, seq), 1.0)
        return self

    def scores(self, past: list[list[str]]) -> np.ndarray:
        return np.broadcast_to(self.counts, (len(past), len(self.items))).copy()


class PersonalFrequency(MostPopular):
    """Repeat baseline: personal count, then recency, then popularity.

    Score of an item in the user's past: ``1 + count + recency`` where ``recency`` in (0, 1)
    grows with the position of its last occurrence; other items: ``popularity / (max + 1)``
    in [0, 1). So the user's own items come first, most bought first, and the rest of the
    list falls back to most-popular.

    Args:
        items: catalog item ids in output order.
    """

    name = "personal-frequency"

    def scores(self, past: list[list[str]]) -> np.ndarray:
        idx = _index(self.items)
        base = self.counts / (self.counts.max(initial=0.0) + 1.0)
        out = np.broadcast_to(base, (len(past), len(self.items))).copy()
        for r, seq in enumerate(past):
            cols = _columns(idx, seq)
            if not cols:
                continue
            c = np.asarray(cols)
            counts = np.bincount(c, minlength=len(self.items))
            last = np.zeros(len(self.items))
            last[c] = np.arange(1, len(c) + 1)  # later occurrences overwrite earlier ones
            seen = counts > 0
            out[r, seen] = 1.0 + counts[seen] + last[seen] / (len(c) + 1)
        return out


class ItemKNN:
    """Sparse item-item cosine co-occurrence, top ``neighbours`` per item.

    Args:
        items: catalog item ids in output order.
        neighbours: similar items kept per item; default 200.
        recent: latest items of the past that are scored from; default 20.
    """

    name = "item-knn"

    def __init__(self, items: list[str], neighbours: int = 200, recent: int = 20):
        if neighbours < 1 or recent < 1:
            raise ValueError(f"`neighbours` and `recent` must be >= 1. Received: {neighbours}, {recent}")
        self.items = list(items)
        self.neighbours, self.recent = neighbours, recent
        self.similarity = sp.csr_matrix((len(items), len(items)), dtype=np.float32)

    def fit(self, train_sequences: dict[str, list[str]]) -> "ItemKNN":
        idx = _index(self.items)
        n = len(self.items)
        rows, cols = [], []
        for u, seq in enumerate(train_sequences.values()):
            c = np.unique(_columns(idx, seq))
            rows.append(np.full(len(c), u))
            cols.append(c)
        r = np.concatenate(rows) if rows else np.zeros(0, int)
        c = np.concatenate(cols) if cols else np.zeros(0, int)
        x = sp.csr_matrix((np.ones(len(r), np.float32), (r, c)), shape=(len(train_sequences), n))
        co = (x.T @ x).tocsr()  # sparse: nnz <= sum over users of (distinct items)^2
        norm = np.sqrt(co.diagonal()).astype(np.float32)
        norm[norm == 0] = 1.0
        co.setdiag(0.0)
        co.eliminate_zeros()
        inv = sp.diags(1.0 / norm)
        sim = (inv @ co @ inv).tocsr().astype(np.float32)
        self.similarity = _top_per_row(sim, self.neighbours)
        return self

    def scores(self, past: list[list[str]]) -> np.ndarray:
        idx = _index(self.items)
        r, c = [], []
        for row, seq in enumerate(past):
            cols = np.unique(_columns(idx, seq[-self.recent:]))
            r.append(np.full(len(cols), row))
            c.append(cols)
        rr = np.concatenate(r) if r else np.zeros(0, int)
        cc = np.concatenate(c) if c else np.zeros(0, int)
        profile = sp.csr_matrix((np.ones(len(rr), np.float32), (rr, cc)), shape=(len(past), len(self.items)))
        return np.asarray((profile @ self.similarity).todense(), dtype=np.float32)


def _top_per_row(m: sp.csr_matrix, k: int) -> sp.csr_matrix:
    """Keep the ``k`` largest entries of every row of a CSR matrix (ties: lower column)."""
    indptr, indices, data = m.indptr, m.indices, m.data
    keep = np.ones(len(data), dtype=bool)
    for row in np.flatnonzero(np.diff(indptr) > k):
        lo, hi = indptr[row], indptr[row + 1]
        order = np.lexsort((indices[lo:hi], -data[lo:hi]))
        keep[lo + order[k:]] = False
    row_of = np.repeat(np.arange(m.shape[0]), np.diff(indptr))
    counts = np.bincount(row_of[keep], minlength=m.shape[0])
    new_indptr = np.r_[0, np.cumsum(counts)]
    return sp.csr_matrix((data[keep], indices[keep], new_indptr), shape=m.shape)
