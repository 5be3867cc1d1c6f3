"""Non-learned baselines scored on the same inputs as the model.

* :class:`MostPopular` - every user gets the training interaction counts of each item.
* :class:`ItemKNN` - item-to-item co-occurrence: cosine similarity between items' binary
  user vectors in the training sequences (self-similarity removed); a user's score for an
  item is the sum of its similarities to the items of the same truncated history the model
  sees. Items never co-occurring with the history score 0.

Both return dense ``float32[n_users, num_items]`` score matrices in catalog order.
"""

from __future__ import annotations

import numpy as np


def _index(items: list[str]) -> dict[str, int]:
    return {item: i for i, item in enumerate(items)}


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
            for item in seq:
                self.counts[idx[item]] += 1
        return self

    def scores(self, history: np.ndarray) -> np.ndarray:
        return np.broadcast_to(self.counts, (len(history), len(self.items))).copy()


class ItemKNN:
    """Item-item cosine co-occurrence over training sequences.

    Args:
        items: catalog item ids in output order.
    """

    name = "item-knn"

    def __init__(self, items: list[str]):
        self.items = list(items)
        self.similarity = np.zeros((len(items), len(items)), dtype=np.float32)

    def fit(self, train_sequences: dict[str, list[str]]) -> "ItemKNN":
        idx = _index(self.items)
        n = len(self.items)
        x = np.zeros((len(train_sequences), n), dtype=np.float32)
        for u, seq in enumerate(train_sequences.values()):
            x[u, [idx[i] for i in seq]] = 1.0
        co = x.T @ x
        norm = np.sqrt(np.diag(co))
        norm[norm == 0] = 1.0
        sim = co / norm[:, None] / norm[None, :]
        np.fill_diagonal(sim, 0.0)
        self.similarity = sim.astype(np.float32)
        return self

    def scores(self, history: np.ndarray) -> np.ndarray:
        idx = _index(self.items)
        out = np.zeros((len(history), len(self.items)), dtype=np.float32)
        for r, row in enumerate(history):
            cols = [idx[h] for h in row if h in idx]
            if cols:
                out[r] = self.similarity[cols].sum(axis=0)
        return out
