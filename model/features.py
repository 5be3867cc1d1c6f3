"""Keras preprocessing: raw query strings and item ids -> integer ids.

The same layers preprocess the training examples (once, eagerly) and run inside the
exported serving graph, so training and serving can not drift apart. The one difference is
where the item lookup reads its ids: a list in training, the artifact's ids file in the
serving graph (same :func:`item_lookup`, same lines, so the same ids; export tests compare
the served answers with the trained model's).

Id conventions (both lookups):

* ``0`` - padding: "" in a history, no token in a query;
* ``1`` - out of vocabulary: an item id not in the catalog / an unseen query word;
* ``2 + i`` - the i-th vocabulary entry. For items, the model's output column ``i`` is
  catalog item ``i``.

The network ignores ids 0 and 1 when pooling, so unknown ids and empty histories need no
special casing by callers.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

# Keras' TextVectorization "lower_and_strip_punctuation" regex, mirrored for vocab building.
_STRIP = re.compile(r'[!"#$%&()\*\+,\-\./:;<=>?@\[\\\]^_`{|}~\']')
FIRST_ID = 2  # ids below this are padding / OOV
LINE_BREAKS = ("\n", "\r")  # item ids are shipped one per line (see item_lookup)


_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)
_WHITESPACE = re.compile(r"[ \t\n\r\f\v]+")


def standardize(text: str) -> list[str]:
    """Tokenise exactly like the serving graph's TextVectorization.

    ``tf.strings.lower`` lower-cases ASCII letters only and ``tf.strings.split`` splits on
    ASCII whitespace, so this does the same (``"ÉTÉ"`` stays ``"ÉTÉ"``).
    """
    return [t for t in _WHITESPACE.split(_STRIP.sub("", text.translate(_ASCII_LOWER))) if t]


def item_lookup(vocabulary: list[str] | str, *, invert: bool = False, name: str = "item_lookup") -> keras.layers.StringLookup:
    """The item-id lookup (ids -> ``0`` padding, ``1`` unknown, ``2 + i``), or its inverse.

    Args:
        vocabulary: catalog item ids in output order, or the path of a file holding them one
            per line. Export passes the file: the SavedModel then stores the ids once, as an
            asset that the forward lookup (history ids) and the inverse (output ids) both read.
        invert: map ids back to item ids; default False.
        name: layer name; default "item_lookup".
    """
    return keras.layers.StringLookup(vocabulary=vocabulary, mask_token="", num_oov_indices=1, invert=invert, name=name)


class TokenCounter:
    """Query-token counts and, up to ``min_users``, the distinct users who typed each token.

    Fed one batch of queries at a time (:meth:`add`), so a streamed log's vocabulary needs memory
    for its distinct tokens only, not for its queries; :meth:`vocabulary` gives what
    :func:`build_query_vocabulary` gives for all of them at once.

    Args:
        min_users: users a token needs; default 1 (no user sets kept).
    """

    def __init__(self, min_users: int = 1):
        self.min_users = min_users
        self.counts: Counter[str] = Counter()
        self.typed_by: dict[str, set] = {}

    def add(self, queries: np.ndarray | list[str], users: np.ndarray | list[str] | None = None) -> None:
        if self.min_users > 1 and users is None:
            raise ValueError("`min_users` > 1 needs `users`, the user of each query")
        for index, query in enumerate(queries):
            for tok in standardize(str(query)):
                self.counts[tok] += 1
                if self.min_users > 1:
                    seen = self.typed_by.setdefault(tok, set())
                    if len(seen) < self.min_users:  # enough is enough: the set stays this small
                        seen.add(users[index])

    def vocabulary(self, max_tokens: int = 20_000, min_count: int = 1) -> list[str]:
        """Tokens ordered by descending count, ties by token (deterministic)."""
        keep = [t for t, c in self.counts.items()
                if c >= min_count and (self.min_users <= 1 or len(self.typed_by[t]) >= self.min_users)]
        return sorted(keep, key=lambda t: (-self.counts[t], t))[:max_tokens]


def build_query_vocabulary(queries: np.ndarray | list[str], max_tokens: int = 20_000, min_count: int = 1, *,
                           users: np.ndarray | list[str] | None = None, min_users: int = 1) -> list[str]:
    """Return query tokens ordered by descending count, ties by token (deterministic).

    The vocabulary ships inside the SavedModel (replicated, kept under Object Lock), so a token
    typed by a single shopper (a name, an e-mail fragment, an order number) must not enter it.

    Args:
        queries: training query strings.
        max_tokens: vocabulary cap (excluding padding and OOV); default 20000.
        min_count: drop tokens seen fewer times; default 1.
        users: the (pseudonymised) user of each query, aligned with `queries`; needed when
            `min_users` > 1. Default None.
        min_users: drop tokens that fewer distinct users typed; default 1.
    """
    counter = TokenCounter(min_users)
    counter.add(queries, users)
    return counter.vocabulary(max_tokens, min_count)


@dataclass
class Preprocessor:
    """Holds the item lookup and the query vectoriser.

    Args:
        items: catalog item ids in output order.
        query_vocabulary: query tokens (see :func:`build_query_vocabulary`).
        query_length: tokens kept per query (longer queries are cut); default 8.
    """

    items: list[str]
    query_vocabulary: list[str]
    query_length: int = 8

    def __post_init__(self) -> None:
        if not self.items:
            raise ValueError("`items` must not be empty")
        if "" in self.items:
            raise ValueError('`items` must not contain "" (it is the padding id)')
        broken = [i for i in self.items if any(c in i for c in LINE_BREAKS)]
        if broken:
            raise ValueError(f"item ids must not contain line breaks (the artifact stores one per line): {broken[:3]!r}")
        self.item_lookup = item_lookup(list(self.items))
        vocab = list(self.query_vocabulary) or ["[no-query-tokens]"]
        self.query_vectorizer = keras.layers.TextVectorization(
            vocabulary=vocab,
            standardize="lower_and_strip_punctuation",
            split="whitespace",
            output_mode="int",
            output_sequence_length=self.query_length,
            name="query_vectorizer",
        )
        # Build both layers now (export refuses unbuilt layers, e.g. after load_bundle).
        self.query_vectorizer(tf.constant([""]))
        self.item_lookup(tf.constant([[""]]))

    @property
    def num_items(self) -> int:
        return len(self.items)

    @property
    def query_vocab_size(self) -> int:
        """Embedding rows needed for query ids (vocabulary + padding + OOV)."""
        return self.query_vectorizer.vocabulary_size()

    def query_ids(self, query: tf.Tensor) -> tf.Tensor:
        """``string[B]`` -> ``int64[B, query_length]``."""
        return tf.cast(self.query_vectorizer(query), tf.int64)

    def history_ids(self, history: tf.Tensor, lookup: keras.layers.StringLookup | None = None) -> tf.Tensor:
        """``string[B, L]`` -> ``int64[B, L]`` (0 padding, 1 unknown); ``lookup`` replaces
        :attr:`item_lookup` (export passes the file-backed one of :func:`item_lookup`)."""
        return tf.cast((lookup or self.item_lookup)(history), tf.int64)

    def item_index(self, values: np.ndarray) -> np.ndarray:
        """``int64[n]`` ids of raw item ids as :attr:`item_lookup` gives them (0 for "", 1 unknown),
        computed in NumPy: for the training windows, looked up once instead of once per row."""
        index = {item: FIRST_ID + i for i, item in enumerate(self.items)} | {"": 0}
        return np.fromiter((index.get(v, 1) for v in values), dtype=np.int64, count=len(values))

    def labels(self, targets: np.ndarray) -> np.ndarray:
        """Catalog column of each target id; raises ``KeyError`` for an unknown target."""
        index = {item: i for i, item in enumerate(self.items)}
        try:
            return np.fromiter((index[t] for t in targets), dtype=np.int64, count=len(targets))
        except KeyError as err:
            raise KeyError(f"target item {err.args[0]!r} is not in the catalog") from None

    def transform(self, query: np.ndarray, history, batch_size: int = 65_536) -> dict[str, np.ndarray]:
        """Preprocess arrays of raw strings into the network's integer inputs (eagerly); ``history``
        None gives the query ids only."""
        qs, hs = [], []
        for start in range(0, len(query), batch_size):
            q = tf.constant(np.asarray(query[start : start + batch_size], dtype=object).astype(str))
            qs.append(self.query_ids(q).numpy())
            if history is not None:
                h = tf.constant(np.asarray(history[start : start + batch_size], dtype=object).astype(str))
                hs.append(self.history_ids(h).numpy())
        if history is None:
            return {"query_ids": np.concatenate(qs) if qs else np.zeros((0, self.query_length), np.int64)}
        width = history.shape[1] if len(history.shape) == 2 else 0
        return {
            "query_ids": np.concatenate(qs) if qs else np.zeros((0, self.query_length), np.int64),
            "history_ids": np.concatenate(hs) if hs else np.zeros((0, width), np.int64),
        }

    def to_config(self) -> dict:
        return {"items": list(self.items), "query_vocabulary": list(self.query_vocabulary), "query_length": self.query_length}
