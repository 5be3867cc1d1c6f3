"""The Keras 3 network: a sequence encoder over the recent history, a repeat head over the whole
history, and a gate.

::

    history ids int[B, L] -> last M ids -> item embedding E (+ position) -> self-attention -> s[B, D]
    query ids   int[B, Q] -> token embedding -> masked mean                                  -> q[B, D]
    user u = Dense(ReLU layers(concat(s, q)))                                                   [B, D]

    explore logits  = u . E[item] + b[item]      for every catalog item (E is the same table
                                                 the history reads: no N-wide output layer)
    repeat logits   = MLP(count, recency, mean gap, due-ness, u . E[h], item propensity)
                      for each distinct item of all L history ids (one slot each), others masked
    gate g          = sigmoid(MLP(u, history statistics)), 0 for an empty history

    p(item) = (1 - g) * softmax(explore)[item] + g * softmax(repeat)[item in history]

The repeat head can copy an item from the history, which a softmax over the catalog fed by
a pooled history cannot do well; the gate learns how repeat-heavy a shopper's next step is
(RepeatNet, Ren et al. 2019, mixes repeat and explore modes the same way). "Buy again what you
bought most" counts over a shopper's whole past, so the repeat head reads all ``L`` ids (256 by
default) while the encoder reads the last ``M`` (``NetworkConfig.sequence_length``, 20): its
features come from :func:`distinct_items`, which sorts each row (``O(L log L)``) instead of
comparing every pair of positions. Ids 0 (padding) and 1 (unknown) are masked everywhere, so
empty histories and unknown ids need no special inputs. Training never materialises the
explore logits over the whole catalog (see :mod:`model.train`); serving does, once per request
(``u @ E.T``), then scores only the top-k candidates (:meth:`Recommender.top_k`).
"""

from __future__ import annotations

import keras
from keras import ops

from recsys_dr.model.config import NetworkConfig
from recsys_dr.model.features import FIRST_ID

NEG = -1e9  # masked logit


class AttentionBlock(keras.layers.Layer):
    """Pre-norm Transformer block (SASRec style): multi-head self-attention over the valid
    positions, then a position-wise feed-forward layer; residuals around both.

    Each head is a slice of one fused QKV projection, attended with plain batched matmuls:
    no head reshapes or transposes (oneDNN's transposes were a third of the block's serving
    time) and none of ``keras.layers.MultiHeadAttention``'s einsums (~3x slower on this CPU).
    Dense layers see 2-D inputs, which TF runs as one fused matmul instead of a Tensordot.
    """

    def __init__(self, dim: int, heads: int, dropout: float, **kwargs):
        super().__init__(**kwargs)
        self.dim, self.heads = dim, heads
        self.norm1 = keras.layers.LayerNormalization(epsilon=1e-6, name="norm1")
        self.qkv = keras.layers.Dense(3 * dim, name="qkv")
        self.out = keras.layers.Dense(dim, name="attention_output")
        self.norm2 = keras.layers.LayerNormalization(epsilon=1e-6, name="norm2")
        self.ffn1 = keras.layers.Dense(dim, activation="relu", name="ffn1")
        self.ffn2 = keras.layers.Dense(dim, name="ffn2")
        self.drop = keras.layers.Dropout(dropout)

    def call(self, x, valid, training=False, last_only=False):
        """``x[B, L, D]`` -> ``[B, L, D]``, or with ``last_only`` the last position's output ``[B, D]``
        (all a final block needs: the encoder reads only the most recent position)."""
        b, length = ops.shape(x)[0], ops.shape(x)[1]
        flat = ops.reshape(x, (-1, self.dim))  # [B * L, D]
        qkv = ops.reshape(self.qkv(self.norm1(flat)), (b, length, 3 * self.dim))
        q, k, v = ops.split(qkv, 3, axis=-1)
        scale = (self.dim // self.heads) ** -0.5
        if last_only:
            # The last query attends to every valid key and always to itself.
            q, residual = q[:, -1:, :], x[:, -1, :]
            allowed = ops.logical_or(valid, ops.equal(ops.arange(length), length - 1)[None])[:, None, :]
        else:  # padding keys are masked; a padding row still sees itself, so no softmax row is empty
            allowed = ops.logical_or(valid[:, None, :], ops.eye(length, dtype="bool")[None])
            residual = flat
        heads = []
        for qh, kh, vh in zip(*(ops.split(t, self.heads, axis=-1) for t in (q, k, v))):
            logits = ops.matmul(qh, ops.transpose(kh, (0, 2, 1))) * scale
            weights = self.drop(ops.softmax(ops.where(allowed, logits, NEG), axis=-1), training=training)
            heads.append(ops.matmul(weights, vh))
        att = ops.concatenate(heads, axis=-1) if self.heads > 1 else heads[0]
        att = att[:, 0, :] if last_only else ops.reshape(att, (-1, self.dim))
        y = residual + self.drop(self.out(att), training=training)
        y = y + self.drop(self.ffn2(self.ffn1(self.norm2(y))), training=training)
        if last_only:
            return y * ops.cast(valid[:, -1:], y.dtype)
        return ops.reshape(y, (b, length, self.dim)) * ops.cast(valid, y.dtype)[..., None]


class Recommender(keras.Model):
    """Scores catalog items for (query ids, history ids); see the module docstring.

    Args:
        num_items: catalog size N (item ids ``FIRST_ID .. FIRST_ID + N - 1``).
        query_vocab_size: query ids incl. padding and OOV (``Preprocessor.query_vocab_size``).
        history_length: history ids per example ``L``.
        config: sizes, see :class:`NetworkConfig`.
    """

    def __init__(self, *, num_items: int, query_vocab_size: int, history_length: int, config: NetworkConfig, **kwargs):
        super().__init__(name="recommender", **kwargs)
        d = config.embedding_dim
        self.num_items, self.history_length, self.net = num_items, history_length, config
        self.item_embedding = keras.layers.Embedding(num_items + FIRST_ID, d, name="item_embedding",
                                                     embeddings_initializer=keras.initializers.RandomNormal(stddev=d ** -0.5))
        self.item_bias = keras.layers.Embedding(num_items + FIRST_ID, 1, embeddings_initializer="zeros", name="item_bias")
        self.sequence_length = min(config.sequence_length, history_length)
        self.position = keras.layers.Embedding(self.sequence_length, d, name="position_embedding")
        self.blocks = [AttentionBlock(d, config.attention_heads, config.dropout, name=f"block_{i}")
                       for i in range(config.attention_blocks)]
        self.final_norm = keras.layers.LayerNormalization(epsilon=1e-6, name="final_norm")
        self.query_embedding = keras.layers.Embedding(query_vocab_size, d, name="query_embedding")
        self.tower = [keras.layers.Dense(u, activation="relu", name=f"relu_{i}") for i, u in enumerate(config.hidden_units)]
        self.user = keras.layers.Dense(d, name="user_projection")
        if config.repeat:
            self.recency = keras.layers.Embedding(history_length, 8, name="repeat_recency")
            self.propensity = keras.layers.Embedding(num_items + FIRST_ID, 1, embeddings_initializer="zeros",
                                                     name="repeat_propensity")
            self.repeat_hidden = keras.layers.Dense(32, activation="relu", name="repeat_hidden")
            self.repeat_out = keras.layers.Dense(1, name="repeat_out")
            self.gate_hidden = keras.layers.Dense(32, activation="relu", name="gate_hidden")
            self.gate_out = keras.layers.Dense(1, name="gate_out")
        self.item_bias.build()  # read directly by the losses and the serving scores, never called

    # ------------------------------------------------------------------ encoder
    def encode(self, query_ids, history_ids, training=False) -> dict:
        """``{"user": [B, D]}``, with ``config.repeat`` also ``"repeat_logits"``, ``"repeat_ids"`` ``[B, L]``
        (one slot per distinct history item, see :func:`distinct_items`), ``"gate_logit"`` and ``"has_history"`` ``[B]``."""
        d = self.net.embedding_dim
        seq = history_ids[:, -self.sequence_length:]  # the encoder reads the most recent M items only
        valid = ops.greater_equal(seq, FIRST_ID)
        fvalid = ops.cast(valid, "float32")
        x = (self.item_embedding(seq) * d ** 0.5 + self.position(ops.arange(self.sequence_length))[None]) * fvalid[..., None]
        for i, block in enumerate(self.blocks):
            x = block(x, valid, training=training, last_only=i == len(self.blocks) - 1)
        if self.blocks:
            # Left padding: the last position is the most recent item; zeros for an empty history.
            s = self.final_norm(x) * fvalid[:, -1:]
        else:  # no attention: mean of the position-tagged embeddings
            s = self.final_norm(ops.sum(x, axis=1) / ops.maximum(ops.sum(fvalid, axis=1, keepdims=True), 1.0))
        qvalid = ops.cast(ops.greater_equal(query_ids, FIRST_ID), "float32")[..., None]
        q = ops.sum(self.query_embedding(query_ids) * qvalid, axis=1) / ops.maximum(ops.sum(qvalid, axis=1), 1.0)
        z = ops.concatenate([s, q], axis=-1)
        for layer in self.tower:
            z = layer(z)
        u = self.user(z)
        out = {"user": u}
        if self.net.repeat:
            out |= self._repeat(history_ids, u)
        return out

    def _repeat(self, history_ids, u) -> dict:
        length = self.history_length
        f = distinct_items(history_ids)
        ids, last, valid = f["ids"], f["last"], f["is_last"]
        count, first = f["count"], f["first"]
        recency = ops.cast(length - 1 - last, "float32")  # 0 = the most recent position
        gap = ops.cast(last - first, "float32") / ops.maximum(count - 1.0, 1.0)  # mean re-buy interval
        due = (recency + 1.0) / (gap + 1.0) * ops.cast(ops.greater(count, 1.0), "float32")
        affinity = ops.sum(ops.stop_gradient(self.item_embedding(ids)) * u[:, None, :], axis=-1) / self.net.embedding_dim ** 0.5
        feats = ops.concatenate(
            [self.recency(length - 1 - last),
             ops.stack([ops.log1p(count), ops.log1p(recency), ops.log1p(gap), ops.minimum(due, 4.0), affinity], axis=-1),
             self.propensity(ids)], axis=-1)
        flat = ops.reshape(feats, (-1, ops.shape(feats)[-1]))  # 2-D: one fused matmul per Dense, no Tensordot
        logits = ops.reshape(self.repeat_out(self.repeat_hidden(flat)), ops.shape(ids))
        logits = ops.where(valid, logits, NEG)
        fvalid = ops.cast(ops.greater_equal(history_ids, FIRST_ID), "float32")
        any_valid = ops.cast(ops.any(valid, axis=1), "float32")
        n_valid = ops.maximum(ops.sum(fvalid, axis=1), 1.0)
        n_distinct = ops.sum(ops.cast(valid, "float32"), axis=1)
        repeated = ops.sum(ops.cast(ops.greater(count, 1.0), "float32") * count * ops.cast(valid, "float32"), axis=1)
        stats = ops.stack([repeated / n_valid, n_distinct / n_valid, ops.log1p(n_valid),
                           ops.max(logits, axis=1) * any_valid], axis=-1)
        gate_logit = ops.squeeze(self.gate_out(self.gate_hidden(ops.concatenate([u, stats], axis=-1))), -1)
        return {"repeat_logits": logits, "repeat_ids": ids, "gate_logit": gate_logit, "has_history": any_valid}

    # ------------------------------------------------------------------ scores
    def explore_logits(self, u):
        """``u[B, D]`` -> ``[B, N]`` dot products with every catalog item (+ bias)."""
        # Multiply by the whole table and drop the padding/OOV columns afterwards: slicing the
        # table first would copy all N x D weights on every request.
        table, bias = self.item_embedding.embeddings, self.item_bias.embeddings[:, 0]
        return (ops.matmul(u, ops.transpose(table)) + bias[None, :])[:, FIRST_ID:]

    def probabilities(self, query_ids, history_ids):
        """Mixture probabilities ``[B, N]`` over the catalog (the served scores)."""
        enc = self.encode(query_ids, history_ids, training=False)
        p = ops.softmax(self.explore_logits(enc["user"]), axis=-1)
        if not self.net.repeat:
            return p
        g = ops.sigmoid(enc["gate_logit"]) * enc["has_history"]
        rep = ops.softmax(enc["repeat_logits"], axis=-1) * ops.cast(ops.greater(enc["repeat_logits"], NEG / 2), "float32")
        cols = ops.maximum(enc["repeat_ids"] - FIRST_ID, 0)
        scattered = _scatter_rows(cols, rep, self.num_items)
        return (1.0 - g)[:, None] * p + g[:, None] * scattered

    def top_k(self, query_ids, history_ids, k: int):
        """``(scores[B, k], columns[B, k])``: the exact top-k of :meth:`probabilities`, best first,
        without building the mixture over the whole catalog (the serving path).

        Items outside the history score ``(1 - g) * softmax(explore)``, in explore order: the top
        k is among the k best explore items outside the history (history columns are pushed down
        by ``NEG`` before the selection) and the distinct history items, and only those
        ``k + L`` candidates get the full mixture score.
        """
        enc = self.encode(query_ids, history_ids, training=False)
        logits = self.explore_logits(enc["user"])
        if not self.net.repeat:
            top_logits, top_cols = exact_top_k(logits, k)
            top = top_logits[:, :1]  # the row's max: logsumexp without another pass for it
            return ops.exp(top_logits - top - ops.log(ops.sum(ops.exp(logits - top), axis=-1, keepdims=True))), top_cols
        slot = ops.greater(enc["repeat_logits"], NEG / 2)  # [B, L] one slot per distinct history item
        hist_cols = ops.cast(ops.maximum(enc["repeat_ids"] - FIRST_ID, 0), "int32")
        hist_logits = _row_gather(logits, hist_cols)
        top_logits, top_cols = exact_top_k(_push_down(logits, hist_cols, slot), min(k, self.num_items))
        fresh = ops.greater(top_logits, NEG / 2)  # not a history item
        top = ops.maximum(top_logits[:, :1], ops.max(ops.where(slot, hist_logits, NEG), axis=1, keepdims=True))
        lse = top + ops.log(ops.sum(ops.exp(logits - top), axis=-1, keepdims=True))
        g = (ops.sigmoid(enc["gate_logit"]) * enc["has_history"])[:, None]
        rep = ops.softmax(enc["repeat_logits"], axis=-1) * ops.cast(slot, "float32")
        score = ops.concatenate([(1.0 - g) * ops.exp(top_logits - lse),
                                 (1.0 - g) * ops.exp(hist_logits - lse) + g * rep], axis=1)
        cand = ops.concatenate([ops.cast(top_cols, "int32"), hist_cols], axis=1)
        values, where = ops.top_k(ops.where(ops.concatenate([fresh, slot], axis=1), score, -1.0), k)
        return values, _row_gather(cand, where)

    def call(self, inputs, training=False):
        return self.encode(inputs["query_ids"], inputs["history_ids"], training=training)


TOP_K_CHUNK = 64  # items per chunk for exact_top_k; ~sqrt(N / k) at 100k items and k = 30


def exact_top_k(x, k: int, chunk: int = TOP_K_CHUNK):
    """``tf.math.top_k(x, k)`` over the last axis of ``x[B, N]``, the same values and indices
    (ties: lower index first), read through chunk maxima when N is large.

    TF's CPU TopKV2 pushes every column through a heap with an indirect comparator, on one
    thread per row (tensorflow/core/kernels/topk_op.cc, TopKFunctor<CPUDevice>; ties go to the
    lower index): ≈0.5 ms per request at 100k items. Here one pass takes the max of each
    ``chunk`` items, TopKV2 picks the k best chunks and a second TopKV2 runs over their
    k * chunk items (≈0.15 ms in all). Exact: an item outside those chunks has k chunk maxima
    ranked above it, so k items ranked above it. Small catalogs use TopKV2 directly.
    """
    import tensorflow as tf

    n = x.shape[-1]
    if n < 8 * chunk * k:  # the two small selections would cost about as much as one big one
        return tf.math.top_k(x, k)
    b, chunks = tf.shape(x)[0], -(-n // chunk)
    blocks = tf.reshape(tf.pad(x, [[0, 0], [0, chunks * chunk - n]], constant_values=float("-inf")), [b, chunks, chunk])
    _, best = tf.math.top_k(tf.reduce_max(blocks, axis=2), k)
    best = tf.sort(best, axis=1)  # index order: ties across chunks resolve as TopKV2's do
    values, where = tf.math.top_k(tf.reshape(_row_gather(blocks, best), [b, k * chunk]), k)
    return values, _row_gather(best, where // chunk) * chunk + where % chunk


def _row_gather(x, idx):
    """``x[b, idx[b, j]]``: one GatherV2 (Keras' take_along_axis adds a dozen broadcast and
    negative-index ops, per-op overhead that the serving path pays on every request)."""
    import tensorflow as tf

    return tf.gather(x, idx, batch_dims=1)


def _push_down(logits, cols, mask):
    """``logits`` with ``NEG`` added at ``[b, cols[b, j]]`` where ``mask[b, j]`` (each column at most once)."""
    import tensorflow as tf

    b = tf.shape(cols)[0]
    rows = tf.broadcast_to(tf.range(b, dtype=cols.dtype)[:, None], tf.shape(cols))
    idx = tf.stack([tf.reshape(rows, [-1]), tf.reshape(cols, [-1])], axis=1)
    return tf.tensor_scatter_nd_add(logits, idx, tf.reshape(tf.where(mask, NEG, 0.0), [-1]))


def distinct_items(history_ids):
    """The distinct items of each history row and their counts, in ``O(L log L)`` per row.

    Sorts each row by (item id, position): a run of equal ids is one item, its last slot is the
    item's most recent occurrence. Returns ``[B, L]`` tensors, one slot per sorted position:
    ``ids`` (the sorted ids), ``is_last`` (the slot is a valid item's last occurrence: one slot
    per distinct item), ``last`` / ``first`` (positions of the item's most recent and first
    occurrence in the row) and ``count`` (its occurrences in the row, float). Padding (0) and
    unknown ids (1) are never ``is_last``. Cost grows as ``L log L`` (a sort and segment sums),
    not ``L x L`` (comparing every pair of positions).

    Example: ``[[0, 5, 3, 5]]`` -> ids ``[0, 3, 5, 5]``, is_last ``[F, T, F, T]``, last
    ``[0, 2, 1, 3]``, first ``[0, 2, 1, 1]``, count ``[1, 1, 2, 2]``.
    """
    import tensorflow as tf

    ids = tf.cast(history_ids, tf.int64)
    b, length = tf.shape(ids)[0], tf.shape(ids)[1]
    pos = tf.range(length, dtype=tf.int64)
    order = tf.argsort(ids * tf.cast(length, tf.int64) + pos[None, :], axis=1)  # keys are unique: no ties
    s = tf.gather(ids, order, batch_dims=1)
    at = tf.cast(order, tf.int64)  # the sorted slots' positions
    change = tf.not_equal(s[:, 1:], s[:, :-1])
    new_run = tf.concat([tf.ones([b, 1], tf.bool), change], axis=1)
    run_end = tf.concat([change, tf.ones([b, 1], tf.bool)], axis=1)
    seg = tf.reshape(tf.cumsum(tf.cast(new_run, tf.int32), axis=1) - 1 + tf.range(b)[:, None] * length, [-1])
    n_seg = b * length
    count = tf.math.unsorted_segment_sum(tf.ones_like(seg, tf.float32), seg, n_seg)
    first = tf.math.unsorted_segment_min(tf.reshape(at, [-1]), seg, n_seg)
    last = tf.math.unsorted_segment_max(tf.reshape(at, [-1]), seg, n_seg)
    back = lambda v: tf.reshape(tf.gather(v, seg), [b, length])  # noqa: E731 - run value at each slot
    return {"ids": s, "is_last": tf.logical_and(run_end, s >= FIRST_ID), "last": back(last), "first": back(first),
            "count": back(count)}


def _scatter_rows(cols, values, n):
    """``out[b, cols[b, j]] += values[b, j]`` for ``out`` of shape ``[B, n]`` (TF scatter, no one-hot)."""
    import tensorflow as tf

    b = tf.shape(cols)[0]
    rows = tf.broadcast_to(tf.range(b, dtype=cols.dtype)[:, None], tf.shape(cols))
    idx = tf.stack([tf.reshape(rows, [-1]), tf.reshape(cols, [-1])], axis=1)
    return tf.scatter_nd(idx, tf.reshape(values, [-1]), tf.stack([tf.cast(b, cols.dtype), tf.constant(n, cols.dtype)]))


def build_network(*, num_items: int, query_vocab_size: int, query_length: int, history_length: int,
                  config: NetworkConfig) -> Recommender:
    """Build the (untrained) model and create its weights with one dummy call.

    Args:
        num_items: catalog size.
        query_vocab_size: query ids incl. padding and OOV (``Preprocessor.query_vocab_size``).
        query_length: query ids per example ``Q``.
        history_length: history ids per example ``L``.
        config: sizes, see :class:`NetworkConfig`.
    """
    model = Recommender(num_items=num_items, query_vocab_size=query_vocab_size, history_length=history_length,
                        config=config)
    model({"query_ids": ops.zeros((1, query_length), "int64"), "history_ids": ops.zeros((1, history_length), "int64")})
    return model
