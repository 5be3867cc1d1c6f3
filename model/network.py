"""The Keras 3 network: (query ids, history ids) -> logits over the catalog.

::

    query_ids   int[B, Q] -> Embedding -> masked mean           -> q[B, D]
    history_ids int[B, L] -> Embedding -> masked mean | recency  -> h[B, D]
    concat(q, h) -> Dense(ReLU) x len(hidden_units) -> Dense(num_items) = logits

Ids 0 (padding) and 1 (unknown) are masked out of both poolings; a row with nothing valid
pools to zeros, so empty histories and unknown ids work without special inputs.
The ``recency`` encoder learns one weight per history position (softmax over the valid
positions), a small sequence encoder that can favour the most recent items.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import keras
from keras import ops

from recsys_dr.model.features import FIRST_ID

HISTORY_ENCODERS = ("mean", "recency")


@dataclass(frozen=True, kw_only=True)
class NetworkConfig:
    """Network sizes.

    Args:
        embedding_dim: width of query-token and item embeddings; default 64.
        hidden_units: ReLU layer widths after the concatenation; default (256,).
        dropout: dropout rate after each ReLU layer; default 0.0.
        history_encoder: ``"mean"`` or ``"recency"``; default ``"recency"``.
    """

    embedding_dim: int = 64
    hidden_units: tuple[int, ...] = (256,)
    dropout: float = 0.0
    history_encoder: str = "recency"

    def __post_init__(self) -> None:
        if self.history_encoder not in HISTORY_ENCODERS:
            raise ValueError(
                f"`history_encoder` must be one of: {', '.join(HISTORY_ENCODERS)}. Received: {self.history_encoder!r}"
            )
        if self.embedding_dim < 1:
            raise ValueError(f"`embedding_dim` must be >= 1. Received: {self.embedding_dim}")
        if any(u < 1 for u in self.hidden_units):
            raise ValueError(f"`hidden_units` must all be >= 1. Received: {self.hidden_units}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"`dropout` must be in [0, 1). Received: {self.dropout}")

    def to_dict(self) -> dict:
        d = asdict(self)
        d["hidden_units"] = list(self.hidden_units)
        return d


class MaskedMeanPooling(keras.layers.Layer):
    """Mean of ``embeddings[B, T, D]`` over positions whose id is >= 2; zeros if none."""

    def call(self, embeddings, ids):
        mask = ops.cast(ops.greater_equal(ids, FIRST_ID), embeddings.dtype)[..., None]
        total = ops.sum(embeddings * mask, axis=1)
        count = ops.maximum(ops.sum(mask, axis=1), 1.0)
        return total / count


class RecencyPooling(keras.layers.Layer):
    """Weighted sum with one learned logit per position, softmax-normalised over valid ids.

    Args:
        length: number of history positions ``L``.
    """

    def __init__(self, length: int, **kwargs):
        super().__init__(**kwargs)
        self.length = length

    def build(self, embeddings_shape, ids_shape=None):
        # Start from a mild preference for recent positions (the last position is most recent).
        init = keras.initializers.Constant([0.1 * i for i in range(self.length)])
        self.position_logits = self.add_weight(shape=(self.length,), initializer=init, name="position_logits")

    def call(self, embeddings, ids):
        mask = ops.cast(ops.greater_equal(ids, FIRST_ID), embeddings.dtype)
        logits = self.position_logits[None, :] - 1e9 * (1.0 - mask)
        logits = logits - ops.max(logits, axis=1, keepdims=True)
        w = ops.exp(logits) * mask
        w = w / ops.maximum(ops.sum(w, axis=1, keepdims=True), 1e-9)
        return ops.sum(embeddings * w[..., None], axis=1)


def build_network(
    *, num_items: int, query_vocab_size: int, query_length: int, history_length: int, config: NetworkConfig
) -> keras.Model:
    """Build the (untrained) functional model.

    Args:
        num_items: catalog size = number of output logits.
        query_vocab_size: query ids incl. padding and OOV (``Preprocessor.query_vocab_size``).
        query_length: query ids per example ``Q``.
        history_length: history ids per example ``L``.
        config: sizes, see :class:`NetworkConfig`.
    """
    query_ids = keras.Input(shape=(query_length,), dtype="int64", name="query_ids")
    history_ids = keras.Input(shape=(history_length,), dtype="int64", name="history_ids")
    d = config.embedding_dim
    q_emb = keras.layers.Embedding(query_vocab_size, d, name="query_embedding")(query_ids)
    q = MaskedMeanPooling(name="query_pool")(q_emb, query_ids)
    h_emb = keras.layers.Embedding(num_items + FIRST_ID, d, name="item_embedding")(history_ids)
    if config.history_encoder == "recency":
        h = RecencyPooling(history_length, name="history_pool")(h_emb, history_ids)
    else:
        h = MaskedMeanPooling(name="history_pool")(h_emb, history_ids)
    x = keras.layers.Concatenate(name="concat")([q, h])
    for i, units in enumerate(config.hidden_units):
        x = keras.layers.Dense(units, activation="relu", name=f"relu_{i}")(x)
        if config.dropout:
            x = keras.layers.Dropout(config.dropout, name=f"dropout_{i}")(x)
    logits = keras.layers.Dense(num_items, name="logits")(x)
    return keras.Model({"query_ids": query_ids, "history_ids": history_ids}, logits, name="recommender")
