"""Interaction logs larger than one machine's memory: sharded Parquet, read one shard at a time.

The log is a directory or an ``s3://bucket/prefix/`` of Parquet files (``*.parquet``, the columns
of :mod:`model.data`), **each user's events in one shard** (partitioned by user, as Spark's
``df.repartition(n, "user_id").write.parquet(...)`` or :func:`write_user_shards` writes it); the
catalog is one file. S3 is read with pyarrow's S3 filesystem (credentials and region from the
usual AWS variables; ``AWS_ENDPOINT_URL`` for an S3-compatible endpoint).

**First pass** (:func:`scan_shards`): each shard in turn is read, validated, pseudonymised,
de-duplicated and catalog-filtered (:func:`model.data.normalise_interactions`, the same rules as
an in-memory build) and split leave-last-out (:func:`model.split.leave_last_out`: exact, since a
user's events are in one shard); what training needs is kept and the shard dropped:

* training-target counts per item (the negative sampler's distribution) - O(items);
* query-token counts and, up to ``query_token_min_users``, who typed them - O(tokens);
* every user's pseudonym as 8 bytes, to refuse a user found in two shards - O(users);
* training examples per shard - O(shards);
* the validation and test examples of a fixed sample of users (the ``sample_users`` smallest
  pseudonyms: deterministic, and independent of the shard order), the test users with their
  full past, for model selection, evaluation and the baselines.

Peak memory is one shard plus those, so it grows with users and items, not with events:
``python -m benchmarks.model_benchmark scan`` measures it at 1M and 5M events.

**Second pass** (:class:`StreamFeed`): each worker reads its own shards (shard ``i`` goes to input
pipeline ``i mod pipelines``: ``tf.distribute.InputContext``, one pipeline per worker under
``MultiWorkerMirroredStrategy``), rebuilds the same examples and streams them through ``tf.data``
(a shuffle buffer, per-replica batches of ``batch_size / replicas``). Every worker takes the
same number of steps per epoch (the log's training examples / the global batch), cycling
through its shards, so no collective waits for a worker whose shards ran out.
"""

from __future__ import annotations

import gc
import hashlib
import heapq
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from recsys_dr.model.config import DEFAULT_SAMPLE_USERS
from recsys_dr.model.data import DataError, DataReport, Dataset, normalise_catalog, normalise_interactions
from recsys_dr.model.features import TokenCounter
from recsys_dr.model.split import Examples, Histories, Split, leave_last_out

log = logging.getLogger(__name__)


def is_sharded(location: str) -> bool:
    """A location :func:`scan_shards` reads: ``s3://...`` or a local directory."""
    import os

    return str(location).startswith("s3://") or os.path.isdir(location)


def _filesystem(location: str):
    """``(pyarrow filesystem, path)`` of a local path or ``s3://bucket/key``."""
    import os

    from pyarrow import fs

    if str(location).startswith("s3://"):
        options = {"endpoint_override": os.environ["AWS_ENDPOINT_URL"]} if os.environ.get("AWS_ENDPOINT_URL") else {}
        return fs.S3FileSystem(**options), str(location)[len("s3://"):]
    return fs.LocalFileSystem(), os.path.abspath(location)


def list_shards(location: str) -> list[str]:
    """The ``*.parquet`` files under ``location``, sorted (a shard's index is its place here).

    Raises:
        DataError: nothing there, or no Parquet file.
    """
    from pyarrow import fs

    filesystem, path = _filesystem(location)
    try:
        infos = filesystem.get_file_info(fs.FileSelector(path.rstrip("/"), recursive=True))
    except (OSError, FileNotFoundError) as err:
        raise DataError(f"interactions {location}: cannot list it ({err})") from None
    shards = sorted(i.path for i in infos if i.type == fs.FileType.File and i.path.endswith(".parquet"))
    if not shards:
        raise DataError(f"interactions {location}: no *.parquet shard there")
    prefix = "s3://" if str(location).startswith("s3://") else ""
    return [prefix + s for s in shards]


def read_shard(shard: str) -> pd.DataFrame:
    """One shard as a frame (the raw columns; :func:`shard_split` validates them)."""
    import pyarrow.parquet as pq

    filesystem, path = _filesystem(shard)
    try:
        frame = pq.read_table(path, filesystem=filesystem).to_pandas()
    except Exception as err:  # pyarrow: not Parquet, unreadable, no access
        raise DataError(f"interactions shard {shard} could not be read: {err}") from None
    if frame.empty:
        raise DataError(f"interactions shard {shard} has no rows")
    return frame


def read_catalog(location: str, report: DataReport) -> pd.DataFrame:
    """The catalog file (local, or ``s3://`` read with pyarrow), validated."""
    from recsys_dr.model.data import read_table

    if not str(location).startswith("s3://"):
        return normalise_catalog(read_table(location, "catalog"), str(location), report)
    import pyarrow.parquet as pq
    from pyarrow import csv

    filesystem, path = _filesystem(location)
    with filesystem.open_input_file(path) as f:
        table = pq.read_table(f) if path.endswith((".parquet", ".pq")) else csv.read_csv(f)
    return normalise_catalog(table.to_pandas().astype(str), str(location), report)


def shard_split(shard: str, catalog: pd.DataFrame, *, pseudonym_key: str, history_length: int, strict: bool,
                report: DataReport | None = None) -> Split:
    """One shard read, validated and pseudonymised like an in-memory log, then split leave-last-out."""
    shard_report = report if report is not None else DataReport()
    frame = normalise_interactions(read_shard(shard), catalog, pseudonym_key=pseudonym_key, source=shard,
                                   report=shard_report, strict=strict)
    return leave_last_out(Dataset(shard, frame, catalog, shard_report), history_length)


@dataclass
class Scan:
    """What the first pass keeps (see the module docstring).

    Attributes:
        shards: the shard locations, in index order.
        catalog: the validated catalog (its item ids are the model's outputs).
        target_counts: ``int64[N]`` training targets per catalog item.
        tokens: query-token counts of the training examples.
        train_examples: training examples per shard; ``refit_examples`` with validation added.
        sample: the sampled users' held-out examples, as a :class:`model.split.Split` whose
            ``train_sequences`` are those users' own (what the baselines are fitted on).
        users: distinct users in the log.
        report: what validation dropped, summed over the shards.
        fingerprint: ``sha256:`` over the catalog and every shard's validated rows.
    """

    shards: list[str]
    catalog: pd.DataFrame
    target_counts: np.ndarray
    tokens: TokenCounter
    train_examples: list[int]
    refit_examples: list[int]
    sample: Split
    users: int
    report: DataReport = field(default_factory=DataReport)
    fingerprint: str = ""

    @property
    def item_ids(self) -> list[str]:
        return self.catalog["item_id"].tolist()


class _Sample:
    """The held-out examples of the ``size`` users with the smallest pseudonyms seen so far.

    Items are kept as catalog columns (``int32``, -1 for padding), not as the shard's strings: a
    few kept strings of every shard would pin that shard's memory (CPython frees an arena only
    when all of its objects are gone), and the peak would grow with the shards.
    """

    def __init__(self, size: int, items: list[str]):
        self.size, self.heap, self.rows = size, [], {}  # heap of (-key, user): the largest key on top
        self.column = {item: i for i, item in enumerate(items)} | {"": -1}
        self.items = np.array([*items, ""], dtype=object)  # column -1 reads ""

    def wants(self, user: str) -> bool:
        return len(self.heap) < self.size or user < self.heap[0][1]

    def offer(self, user: str, row: tuple) -> None:
        if len(self.heap) < self.size:
            heapq.heappush(self.heap, (_neg(user), user))
        else:
            _, dropped = heapq.heapreplace(self.heap, (_neg(user), user))
            del self.rows[dropped]
        self.rows[user] = row

    def ids(self, values) -> np.ndarray:
        return np.fromiter((self.column[v] for v in values), dtype=np.int32)

    def names(self, ids: np.ndarray) -> list[str]:
        return self.items[ids].tolist()


def _neg(user: str) -> tuple:
    return tuple(-ord(c) for c in user) + (1,)  # max-heap on strings: negate each character


def _held_out(sample: _Sample, examples: Examples, i: int) -> tuple:
    return (str(examples.query[i]), sample.ids(examples.history[i]), int(sample.column[examples.target[i]]),
            sample.ids(examples.past[i]))


def _offer_shard(sample: _Sample, split: Split) -> None:
    val = {u: i for i, u in enumerate(split.validation.user)} if split.validation is not None else {}
    for i, user in enumerate(split.test.user):
        if not sample.wants(user):
            continue
        j = val.get(user)
        sample.offer(str(user), (_held_out(sample, split.test, i),
                                 _held_out(sample, split.validation, j) if j is not None else None,
                                 sample.ids(split.train_sequences[user])))


def _sample_split(sample: _Sample, history_length: int) -> Split:
    users = sorted(sample.rows)

    def examples(part: int) -> Examples:
        chosen = [(u, sample.rows[u][part]) for u in users if sample.rows[u][part] is not None]
        history = np.array([sample.names(r[1]) for _, r in chosen], dtype=object).reshape(len(chosen), history_length)
        return Examples(np.array([r[0] for _, r in chosen], dtype=object), history,
                        np.array([sample.items[r[2]] for _, r in chosen], dtype=object),
                        np.array([u for u, _ in chosen], dtype=object), [sample.names(r[3]) for _, r in chosen])

    return Split(_no_examples(history_length), examples(0), {u: sample.names(sample.rows[u][2]) for u in users},
                 history_length, examples(1))


def _no_examples(history_length: int) -> Examples:
    return Examples(np.zeros(0, object), np.zeros((0, history_length), object), np.zeros(0, object), np.zeros(0, object))


def scan_shards(location: str, catalog_location: str, *, pseudonym_key: str, history_length: int,
                query_token_min_users: int = 1, sample_users: int = DEFAULT_SAMPLE_USERS, strict: bool = False) -> Scan:
    """The first pass over a sharded log (see the module docstring).

    Args:
        location: directory or ``s3://bucket/prefix/`` of ``*.parquet`` shards.
        catalog_location: the catalog file.
        pseudonym_key: HMAC key (:func:`model.data.pseudonymise`).
        history_length: ``L`` of the split.
        query_token_min_users: see :class:`model.features.TokenCounter`; default 1.
        sample_users: users whose held-out examples are kept for selection and evaluation; default 20000.
        strict: unknown item ids fail instead of being dropped; default False.

    Raises:
        DataError: a shard that cannot be used, or a user in two shards.
    """
    report = DataReport()
    catalog = read_catalog(catalog_location, report)
    column = {item: i for i, item in enumerate(catalog["item_id"])}
    counts = np.zeros(len(column), np.int64)
    tokens, sample = TokenCounter(query_token_min_users), _Sample(sample_users, catalog["item_id"].tolist())
    user_keys: list[np.ndarray] = []  # per shard: its users, as 8-byte keys
    shards, train, refit = list_shards(location), [], []
    digest = hashlib.sha256(catalog.to_csv(index=False).encode("utf-8"))
    for index, shard in enumerate(shards):
        shard_report = DataReport()
        split = shard_split(shard, catalog, pseudonym_key=pseudonym_key, history_length=history_length, strict=strict,
                            report=shard_report)
        user_keys.append(np.fromiter((_user_key(u) for u in split.train_sequences), dtype=np.uint64))
        counts += np.bincount([column[t] for t in split.train.target], minlength=len(column))
        tokens.add(split.train.query, split.train.user)
        train.append(len(split.train))
        refit.append(len(split.train) + (len(split.validation) if split.validation is not None else 0))
        _offer_shard(sample, split)
        for name in ("rows_read", "duplicates_dropped", "unknown_items_dropped"):
            setattr(report, name, getattr(report, name) + getattr(shard_report, name))
        digest.update(f"{index}:{shard_report.rows_read}:".encode())
        digest.update(hashlib.sha256(np.asarray(split.train.target, dtype=str).tobytes()).digest())
        log.info("shard %d/%d %s: %d training examples, %d users", index + 1, len(shards), shard, train[-1],
                 len(split.train_sequences))
        del split
        gc.collect()  # the shard's frames hold reference cycles: free them before the next shard
    digest.update(f"L={history_length}".encode())
    users = _users_in_one_shard(user_keys, shards)
    return Scan(shards, catalog, counts, tokens, train, refit, _sample_split(sample, history_length), users,
                report, "sha256:" + digest.hexdigest())


def _user_key(user: str) -> int:
    """The 64 bits of a pseudonym (``u_`` + 16 hex digits, :func:`model.data.pseudonymise`)."""
    return int(user[2:], 16)


def _users_in_one_shard(user_keys: list[np.ndarray], shards: list[str]) -> int:
    """The number of users; a user found in two shards is refused (the split needs all of a user's events)."""
    keys = np.concatenate(user_keys) if user_keys else np.zeros(0, np.uint64)
    shard = np.repeat(np.arange(len(user_keys)), [len(k) for k in user_keys])
    order = np.argsort(keys, kind="stable")
    twice = np.flatnonzero(keys[order][1:] == keys[order][:-1])
    if len(twice):
        first, second = sorted(shard[order][[twice[0], twice[0] + 1]])
        raise DataError(f"interactions: a user has events in shards {shards[first]} and {shards[second]}; a sharded "
                        "log must hold each user's events in one shard (partition it by user_id)")
    return len(keys)


def shards_of(shards: list[str], pipeline: int, pipelines: int) -> list[str]:
    """The shards input pipeline ``pipeline`` of ``pipelines`` reads: every ``pipelines``-th from ``pipeline``.

    Raises:
        DataError: fewer shards than pipelines (a worker would have nothing to read).
    """
    if len(shards) < pipelines:
        raise DataError(f"interactions: {len(shards)} shard(s) for {pipelines} workers; each worker reads whole "
                        "shards, so write at least one shard per worker")
    return shards[pipeline::pipelines]


def write_user_shards(interactions: pd.DataFrame, directory, shards: int) -> list[str]:
    """Write ``interactions`` as ``shards`` Parquet files, each user's rows in one (by a stable hash of
    the user id): the layout :func:`scan_shards` reads. Returns the file paths."""
    from pathlib import Path

    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    users = interactions["user_id"].astype(str)
    bucket = np.frombuffer(b"".join(hashlib.md5(u.encode()).digest()[:4] for u in users), dtype="<u4") % shards
    paths = []
    for s in range(shards):
        path = out / f"part-{s:05d}.parquet"
        interactions[bucket == s].to_parquet(path, index=False)
        paths.append(str(path))
    return paths


class StreamFeed:
    """Training examples of a sharded log, streamed per worker (see the module docstring); the
    counterpart of :class:`model.train.ArrayFeed`.

    Args:
        scan: the first pass.
        pre: the preprocessing built from it.
        refit: add the validation examples (the refit after model selection); default False.
        pseudonym_key, strict: as for :func:`scan_shards`.
        shuffle_buffer: examples a worker shuffles among; default 65536.
    """

    def __init__(self, scan: Scan, pre, *, pseudonym_key: str, strict: bool = False, refit: bool = False,
                 shuffle_buffer: int = 65_536, seed: int = 0):
        self.scan, self.pre, self.refit = scan, pre, refit
        self.key, self.strict, self.shuffle_buffer, self.seed = pseudonym_key, strict, shuffle_buffer, seed
        self.size = sum(scan.refit_examples if refit else scan.train_examples)
        self.counts = scan.target_counts
        self._iterator = None

    def _arrays(self, shard: str, history_length: int) -> Iterator[tuple]:
        split = shard_split(shard, self.scan.catalog, pseudonym_key=self.key, history_length=history_length,
                            strict=self.strict)
        examples = split.train.concat(split.validation) if self.refit and split.validation is not None else split.train
        history = examples.history
        flat = self.pre.item_index(history.items)
        yield (self.pre.transform(examples.query, None)["query_ids"], history.ids(flat, np.arange(len(history))),
               self.pre.labels(examples.target))

    def dataset(self, context, config):
        """This input pipeline's ``tf.data.Dataset`` of per-replica batches (endless)."""
        import tensorflow as tf

        mine = shards_of(self.scan.shards, context.input_pipeline_id, context.num_input_pipelines)
        log.info("input pipeline %d of %d reads shard(s) %s", context.input_pipeline_id, context.num_input_pipelines,
                 ", ".join(s.rsplit("/", 1)[-1] for s in mine))
        per_replica = context.get_per_replica_batch_size(config.batch_size)
        signature = (tf.TensorSpec([None, config.query_length], tf.int64),
                     tf.TensorSpec([None, config.history_length], tf.int64), tf.TensorSpec([None], tf.int64))

        def shard_examples(index):
            return tf.data.Dataset.from_generator(
                lambda i: self._arrays(mine[int(i)], config.history_length), output_signature=signature, args=(index,))

        order = tf.data.Dataset.range(len(mine)).shuffle(len(mine), seed=self.seed, reshuffle_each_iteration=True)
        return (order.repeat().flat_map(shard_examples).unbatch()
                .shuffle(self.shuffle_buffer, seed=self.seed + context.input_pipeline_id)
                .batch(per_replica, drop_remainder=True).prefetch(2))

    def epoch(self, runtime, config):
        """The epoch's global batches: ``size / batch_size`` steps on every worker."""
        from recsys_dr.model.train import steps_per_epoch

        if self._iterator is None:
            distributed = runtime.strategy.distribute_datasets_from_function(lambda ctx: self.dataset(ctx, config))
            self._iterator = iter(distributed)
        for _ in range(steps_per_epoch(self.size, config)):
            yield next(self._iterator)
