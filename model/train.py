"""Train the recommender with sampled softmax, so a step's cost does not grow with the catalog.

Losses, summed per batch (see :mod:`model.network`):

* **explore**: sampled softmax over the catalog (``tf.nn.sampled_softmax_loss``):
  ``num_sampled`` negatives per batch from the training-target unigram distribution
  (distortion 0.75), with the log-Q correction (each logit minus the log of its expected
  sample count, TensorFlow's ``subtract_log_q`` default) and accidental hits removed. The
  loss touches ``B x (num_sampled + 1)`` item rows, never ``B x N``. When the sample would
  be half the catalog or more (:func:`uses_sampled_softmax`), the exact full softmax is used
  instead: it then costs at most twice a sampled step and has no sampling noise (on
  MovieLens-100K, 1,682 items, seed 42, batch 256: NDCG@10 0.1002 against 0.0982 with 1,024
  samples).
* **repeat**: cross-entropy over the distinct history items, for examples whose target is
  in the history window;
* **gate**: binary cross-entropy of "the target is in the history window".

Weights: with ``ema_momentum`` (default 0.99) the optimizer keeps an exponential moving
average of the weights over the steps (Keras ``use_ema``); validation ranks with the
average, the average is what is kept and exported, and training continues from the last
step's weights. On MovieLens-100K the epoch-to-epoch validation NDCG@10 of the last step's
weights moves by about 0.01 on 943 users; the average is steadier and better (seeds 42-47:
mean 0.1108 against 0.1002).

Model selection: after every epoch the model ranks the **validation** items (the
second-to-last interaction of each user, at most ``validation_users`` of them, never the
test item); the best epoch's weights are kept and training stops after ``patience``
epochs without improvement of NDCG@10. With ``refit`` (default) a fresh model is then
trained, same seed, on the training and validation interactions for the selected number of
epochs: the most recent interactions carry the most signal (on MovieLens-100K leaving them
out costs about 0.01 NDCG@10), and the test items are still never seen.

Reproducibility: :func:`train` seeds Python, NumPy and TensorFlow with ``config.seed`` and,
on CPU, enables TensorFlow op determinism, so two runs with the same data and seed give
the same weights. With a GPU TensorFlow places the ops there itself; determinism is then
not enforced.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from recsys_dr.model.config import TrainConfig
from recsys_dr.model.distributed import Runtime, agree, global_sum, make_runtime, replica_id, replica_seed
from recsys_dr.model.evaluate import evaluate_scorer
from recsys_dr.model.features import FIRST_ID, Preprocessor, build_query_vocabulary
from recsys_dr.model.network import NEG, Recommender, build_network
from recsys_dr.model.split import Examples, Histories, Split

log = logging.getLogger(__name__)


@dataclass
class Trained:
    """A trained network with the preprocessing it expects.

    Attributes:
        history: per epoch ``{"epoch", "loss", "validation_ndcg@10", "seconds", "examples"}`` (the
            examples every replica computed; the seconds are the steps only).
        best_epoch: the epoch whose weights were kept (1-based; 0 = no validation).
    """

    model: Recommender
    preprocessor: Preprocessor
    config: TrainConfig
    history: list[dict] = field(default_factory=list)
    train_seconds: float = 0.0
    device: str = "CPU"
    best_epoch: int = 0

    @property
    def loss_history(self) -> list[float]:
        return [h["loss"] for h in self.history]

    def __post_init__(self) -> None:
        q, h = self.config.query_length, self.config.history_length
        self._prob = tf.function(self.model.probabilities, input_signature=[
            tf.TensorSpec([None, q], tf.int64), tf.TensorSpec([None, h], tf.int64)])

    def score_ids(self, ids: dict[str, np.ndarray], batch_size: int = 512) -> np.ndarray:
        """Catalog probabilities ``float32[n, N]`` for preprocessed ids."""
        out = [self._prob(tf.constant(ids["query_ids"][s:s + batch_size]),
                          tf.constant(ids["history_ids"][s:s + batch_size])).numpy()
               for s in range(0, len(ids["query_ids"]), batch_size)]
        return np.concatenate(out) if out else np.zeros((0, self.preprocessor.num_items), np.float32)

    def scores(self, examples: Examples) -> np.ndarray:
        """Catalog probabilities ``float32[n, N]`` for raw examples (what ``score_catalog`` serves)."""
        return self.score_ids(self.preprocessor.transform(examples.query, examples.history))


def set_seed(seed: int) -> str:
    """Seed everything; enable op determinism when no GPU is present. Returns the device label."""
    keras.utils.set_random_seed(seed)
    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        return f"GPU x{len(gpus)}"
    tf.config.experimental.enable_op_determinism()
    return "CPU"


def _network_for(pre: Preprocessor, config: TrainConfig) -> Recommender:
    return build_network(num_items=pre.num_items, query_vocab_size=pre.query_vocab_size,
                         query_length=config.query_length, history_length=config.history_length,
                         config=config.network)


def repeat_targets(repeat_ids, repeat_logits, labels):
    """``(in_window bool[B], slot int[B])``: the target is a distinct item of the history, at that slot
    of the repeat head's ``[B, L]`` layout (``encode``'s ``repeat_ids`` / ``repeat_logits``)."""
    hit = tf.logical_and(tf.equal(repeat_ids, tf.cast(labels, repeat_ids.dtype)[:, None] + FIRST_ID),
                         repeat_logits > NEG / 2)
    return tf.reduce_any(hit, axis=1), tf.argmax(tf.cast(hit, tf.int32), axis=1)


def _history_rows(pre: Preprocessor, history):
    """``rows -> int64[len(rows), L]`` history ids: read from the windows of a :class:`Histories`
    (its items looked up once), so ``n x L`` strings never exist at once."""
    if isinstance(history, Histories):
        flat = pre.item_index(history.items)
        return lambda rows: history.ids(flat, rows)
    ids = pre.transform(np.full(len(history), "", object), np.asarray(history))["history_ids"]
    return lambda rows: ids[rows]


def uses_sampled_softmax(config: TrainConfig, num_items: int) -> bool:
    """Sample negatives only when the sample is under half the catalog (see the module docstring)."""
    return 2 * config.num_sampled < num_items


def training_loss(model: Recommender, config: TrainConfig, unigrams: list[float], q, h, y):
    """Explore + repeat + gate loss of one batch (see the module docstring); call under a GradientTape.

    Each term is summed over this replica's examples and divided by the count over every replica
    of the step (:func:`model.distributed.global_sum`), so the replicas' summed gradients are the
    gradient of the global batch's mean loss; on one device that is the batch mean.

    Args:
        model: the network.
        config: ``num_sampled``, ``seed`` and ``network.repeat`` are read.
        unigrams: sampling weights per item-table row (ids 0 and 1 weigh 0, so they are never drawn).
        q, h: query / history ids ``[B, Q]`` / ``[B, L]``.
        y: target catalog columns ``[B]``.
    """
    n = model.num_items
    enc = model.encode(q, h, training=True)
    labels = y + FIRST_ID  # rows of the whole table
    if uses_sampled_softmax(config, n):
        # Each replica draws its own negatives (replica 0 with `seed`): see model.distributed.
        cand = tf.random.fixed_unigram_candidate_sampler(
            true_classes=labels[:, None], num_true=1, num_sampled=config.num_sampled, unique=True,
            range_max=n + FIRST_ID, distortion=0.75, unigrams=unigrams, seed=replica_seed(config.seed))
        # Log-Q correction: sampled_softmax_loss calls _compute_sampled_logits with subtract_log_q=True
        # (tensorflow/python/ops/nn_impl.py); accidental hits (a negative equal to the label) are masked.
        explore = tf.nn.sampled_softmax_loss(
            weights=model.item_embedding.embeddings, biases=model.item_bias.embeddings[:, 0],
            labels=labels[:, None], inputs=enc["user"], num_sampled=config.num_sampled,
            num_classes=n + FIRST_ID, sampled_values=cand, remove_accidental_hits=True)
    else:  # the sample would be the whole catalog: the exact softmax is cheaper
        explore = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=model.explore_logits(enc["user"]))
    loss = tf.reduce_sum(explore) / tf.maximum(global_sum(tf.cast(tf.shape(y)[0], tf.float32)), 1.0)
    if config.network.repeat:
        has = enc["has_history"]
        in_window, pos = repeat_targets(enc["repeat_ids"], enc["repeat_logits"], y)
        target = tf.cast(in_window, tf.float32)
        gate = tf.nn.sigmoid_cross_entropy_with_logits(labels=target, logits=enc["gate_logit"])
        rep = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=pos, logits=enc["repeat_logits"])
        loss += tf.reduce_sum(gate * has) / tf.maximum(global_sum(tf.reduce_sum(has)), 1.0)
        loss += tf.reduce_sum(rep * target) / tf.maximum(global_sum(tf.reduce_sum(target)), 1.0)
    return loss


def train_step(model: Recommender, optimizer, config: TrainConfig, unigrams: list[float], strategy=None):
    """A compiled ``step((q, h, y)) -> (loss, examples per replica)`` that applies one optimizer update
    (see :func:`training_loss`) on every replica of ``strategy`` (default: the current one).

    The batch is a tuple of tensors, or of per-replica values (``distribute_values_from_function`` /
    a distributed dataset); the loss returned is the global batch's, the counts a ``float[replicas]``.
    """
    strategy = strategy or tf.distribute.get_strategy()
    replicas = strategy.num_replicas_in_sync

    def replica_step(batch):
        q, h, y = batch
        with tf.GradientTape() as tape:
            loss = training_loss(model, config, unigrams, q, h, y)
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        seen = tf.one_hot(replica_id(), replicas) * tf.cast(tf.shape(y)[0], tf.float32)
        return loss, seen

    @tf.function
    def step(batch):
        loss, seen = strategy.run(replica_step, args=(batch,))
        total = tf.distribute.ReduceOp.SUM
        return strategy.reduce(total, loss, axis=None), strategy.reduce(total, seen, axis=None)

    return step


def _progress(total: int, enabled: bool, desc: str):
    if not (enabled and sys.stderr.isatty()):  # no ANSI bars in redirected output
        return None
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="step", leave=False)


def steps_per_epoch(size: int, config: TrainConfig) -> int:
    """Optimizer steps of one epoch: ``epoch_examples`` (or every example) in batches of ``batch_size``."""
    examples = min(config.epoch_examples or size, size)
    return -(-examples // config.batch_size)


class ArrayFeed:
    """Training examples held in memory: each epoch a fresh seeded permutation, cut into global
    batches, each batch split evenly over the replicas (replica ``r`` gets the ``r``-th part), so
    any number of replicas steps through the same batches as one device.

    Args:
        pre: the preprocessing (ids of queries, histories and targets).
        examples: the training examples.
        seed: permutation seed.
    """

    def __init__(self, pre: Preprocessor, examples: Examples, seed: int):
        self.queries = pre.transform(examples.query, None)["query_ids"]
        self.history_rows = _history_rows(pre, examples.history)
        self.y = pre.labels(examples.target)
        self.size = len(self.y)
        self.counts = np.bincount(self.y, minlength=pre.num_items)
        self.rng = np.random.default_rng(seed)

    def _arrays(self, rows: np.ndarray) -> tuple:
        return tf.constant(self.queries[rows]), tf.constant(self.history_rows(rows)), tf.constant(self.y[rows])

    def epoch(self, runtime: Runtime, config: TrainConfig):
        """The epoch's batches, as ``train_step`` takes them."""
        order = self.rng.permutation(self.size)[:config.epoch_examples or None]
        for s in range(0, len(order), config.batch_size):
            rows = order[s:s + config.batch_size]
            if runtime.replicas == 1:
                yield self._arrays(rows)
                continue
            parts = np.array_split(rows, runtime.replicas)
            yield runtime.strategy.experimental_distribute_values_from_function(
                lambda ctx, parts=parts: self._arrays(parts[ctx.replica_id_in_sync_group]))


def plain_copy(trained: Trained) -> Trained:
    """``trained`` with its weights in a network built outside any strategy: what the chief evaluates
    and exports (nothing it then runs or saves needs the other workers)."""
    model = _network_for(trained.preprocessor, trained.config)
    model.set_weights(trained.model.get_weights())
    return dataclasses.replace(trained, model=model)


def train(split: Split, items: list[str], config: TrainConfig = TrainConfig(), *, show_progress: bool = True,
          exclude_seen: bool = False, runtime: Runtime | None = None) -> Trained:
    """Fit a fresh network on ``split.train``, select the epoch on ``split.validation``, then refit
    on both when ``config.refit`` (see the module docstring).

    Args:
        split: from :func:`model.split.leave_last_out` with ``config.history_length``.
        items: catalog item ids (output order).
        config: hyper-parameters; default ``TrainConfig()``.
        show_progress: per-step progress bar on a terminal (never when stderr is redirected); default True.
        exclude_seen: validation protocol, see :func:`model.evaluate.evaluate_scorer`; default False.
        runtime: the strategy (:func:`model.distributed.make_runtime`); default None = one device.
    """
    if split.history_length != config.history_length:
        raise ValueError(f"split history length {split.history_length} != `history_length` {config.history_length}")
    if len(split.train) == 0:
        raise ValueError("no training examples")
    vocabulary = build_query_vocabulary(split.train.query, config.max_query_tokens, users=split.train.user,
                                        min_users=config.query_token_min_users)
    pre = Preprocessor(items, vocabulary, config.query_length)
    val = split.validation
    if val is not None and len(val) > config.validation_users:
        sample = np.random.default_rng(config.seed).choice(len(val), config.validation_users, replace=False)
        val = val.subset(np.sort(sample))
    refit = split.train.concat(split.validation) if split.validation is not None and len(split.validation) else None
    feeds = {"train": lambda: ArrayFeed(pre, split.train, config.seed),
             "refit": (lambda: ArrayFeed(pre, refit, config.seed)) if refit is not None else None}
    return fit_and_select(pre, feeds, val, config, exclude_seen=exclude_seen, show_progress=show_progress,
                          runtime=runtime)


def train_stream(scan, config: TrainConfig = TrainConfig(), *, pseudonym_key: str, strict: bool = False,
                 show_progress: bool = True, exclude_seen: bool = False, runtime: Runtime | None = None) -> Trained:
    """:func:`train` on a sharded log (:mod:`model.stream`): the vocabulary and the sampler's counts
    come from the first pass ``scan``, the examples stream from each worker's shards, and the epoch
    is selected on the sampled users' validation examples.

    Args:
        scan: :func:`model.stream.scan_shards` of the log, with ``config.history_length``.
        config: hyper-parameters; default ``TrainConfig()``.
        pseudonym_key, strict: as given to the scan (the second pass validates the shards again).
        show_progress, exclude_seen, runtime: as for :func:`train`.
    """
    from recsys_dr.model.stream import StreamFeed

    if scan.sample.history_length != config.history_length:
        raise ValueError(f"scan history length {scan.sample.history_length} != `history_length` {config.history_length}")
    if sum(scan.train_examples) == 0:
        raise ValueError("no training examples")
    pre = Preprocessor(scan.item_ids, scan.tokens.vocabulary(config.max_query_tokens), config.query_length)
    val = scan.sample.validation
    if val is not None and len(val) > config.validation_users:  # the sample is random already (by pseudonym)
        val = val.subset(np.arange(config.validation_users))

    def feed(refit: bool):
        return lambda: StreamFeed(scan, pre, pseudonym_key=pseudonym_key, strict=strict, refit=refit, seed=config.seed)

    feeds = {"train": feed(False), "refit": feed(True) if sum(scan.refit_examples) > sum(scan.train_examples) else None}
    return fit_and_select(pre, feeds, val, config, exclude_seen=exclude_seen, show_progress=show_progress,
                          runtime=runtime)


def fit_and_select(pre: Preprocessor, feeds: dict, val: Examples | None, config: TrainConfig, *, exclude_seen: bool,
                   show_progress: bool, runtime: Runtime | None) -> Trained:
    """Train on ``feeds["train"]()`` selecting the epoch on ``val``, then, with ``config.refit`` and a
    ``feeds["refit"]`` (training + validation examples), refit a fresh model for the selected epochs.
    Under a distributed runtime the result holds a plain copy of the weights (:func:`plain_copy`)."""
    runtime = runtime or make_runtime()
    if val is None or len(val) == 0:
        val = None
        log.warning("no validation examples (users need >= 3 interactions): training all %d epochs, "
                    "no model selection", config.epochs)
    start = time.perf_counter()
    trained = _fit(pre, feeds["train"](), config, config.epochs, val, exclude_seen, show_progress, runtime)
    if config.refit and trained.best_epoch and feeds.get("refit") is not None:
        # Model selection is over: refit a fresh model, same seed, on the training and validation
        # interactions for the chosen number of epochs (the test items stay unseen).
        selection, best = trained.history, trained.best_epoch
        feed = feeds["refit"]()
        log.info("refitting on %d examples (training + validation) for %d epoch(s)", feed.size, best)
        trained = _fit(pre, feed, config, best, None, exclude_seen, show_progress, runtime)
        trained.history = selection + [dict(h, refit=True) for h in trained.history]
        trained.best_epoch = best
    trained.train_seconds = time.perf_counter() - start
    return plain_copy(trained) if runtime.distributed else trained


def _fit(pre: Preprocessor, feed, config: TrainConfig, epochs: int, val: Examples | None, exclude_seen: bool,
         show_progress: bool, runtime: Runtime) -> Trained:
    """Train a fresh network for up to ``epochs`` on ``feed`` (an :class:`ArrayFeed` or a streamed
    one); with ``val``, keep the best epoch and stop early."""
    device = set_seed(config.seed)
    with runtime.strategy.scope():
        model = _network_for(pre, config)
        optimizer = keras.optimizers.Adam(config.learning_rate, use_ema=config.ema_momentum > 0,
                                          ema_momentum=config.ema_momentum)
        # Its slots must exist before the step is traced: under a strategy, creating them inside the
        # compiled step fails.
        optimizer.build(model.trainable_variables)
    step = train_step(model, optimizer, config, [0.0] * FIRST_ID + (feed.counts + 1.0).tolist(), runtime.strategy)
    trained = Trained(model, pre, config, device=device)
    val_ids = pre.transform(val.query, val.history) if val is not None else None
    log.info("training on %d examples, %d items, device %s, %s strategy, %d replica(s)", feed.size, pre.num_items,
             device, runtime.name, runtime.replicas)
    best, best_weights, waited = -1.0, None, 0
    for epoch in range(1, epochs + 1):
        record = _epoch(step, feed, config, runtime, epoch, show_progress)
        if val_ids is not None:
            with _averaged_weights(model, optimizer):
                ndcg = agree(runtime, _validation_ndcg(trained, val, val_ids, pre.items, exclude_seen))
                if ndcg > best:
                    best, best_weights, waited, trained.best_epoch = ndcg, model.get_weights(), 0, epoch
                else:
                    waited += 1
            record["validation_ndcg@10"] = ndcg
        trained.history.append(record)
        log.info("epoch %d: loss %.4f%s (%.1f s)", epoch, record["loss"],
                 f", validation ndcg@10 {record['validation_ndcg@10']:.4f}" if val_ids is not None else "",
                 record["seconds"])
        if waited >= config.patience:
            log.info("stopping: no validation improvement for %d epochs; best epoch %d", waited, trained.best_epoch)
            break
    if best_weights is not None:
        model.set_weights(best_weights)
    else:  # no validation: keep the last step's average
        optimizer.finalize_variable_values(model.trainable_variables)
    return trained


def _epoch(step, feed, config: TrainConfig, runtime: Runtime, epoch: int, show_progress: bool) -> dict:
    """One epoch of ``step`` over ``feed``; counts the steps and each replica's examples into ``runtime``."""
    t0 = time.perf_counter()
    bar = _progress(steps_per_epoch(feed.size, config), show_progress, f"epoch {epoch}")
    losses, seen = [], np.zeros(runtime.replicas)
    for batch in feed.epoch(runtime, config):
        loss, counts = step(batch)
        losses.append(float(loss))
        seen += counts.numpy()
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    runtime.steps += len(losses)
    runtime.examples_per_replica = [int(a + b) for a, b in zip(runtime.examples_per_replica, seen)]
    return {"epoch": epoch, "loss": float(np.mean(losses)), "seconds": round(time.perf_counter() - t0, 2),
            "examples": int(seen.sum())}


@contextlib.contextmanager
def _averaged_weights(model: Recommender, optimizer):
    """Inside, the model holds the optimizer's moving-average weights (when it keeps one);
    afterwards the last step's weights are back, so training continues from them."""
    if not optimizer.use_ema:
        yield
        return
    live = [v.numpy() for v in model.trainable_variables]
    optimizer.finalize_variable_values(model.trainable_variables)
    try:
        yield
    finally:
        for variable, value in zip(model.trainable_variables, live):
            variable.assign(value)


def _validation_ndcg(trained: Trained, val: Examples, val_ids: dict, items: list[str], exclude_seen: bool) -> float:
    cursor = {"row": 0}

    def score(batch: Examples) -> np.ndarray:
        lo = cursor["row"]
        cursor["row"] += len(batch)
        return trained.score_ids({k: v[lo:lo + len(batch)] for k, v in val_ids.items()})

    return evaluate_scorer(score, val, items, exclude_seen=exclude_seen, by_type=False)["all"]["ndcg@10"]


BUNDLE_FILES = ("config.json", "preprocessor.json", "model.weights.h5")


def save_bundle(trained: Trained, directory: Path, extra: dict | None = None) -> Path:
    """Save weights + vocabularies + config so that ``python -m recsys_dr.model export`` can re-export.

    Args:
        trained: the result of :func:`train`.
        directory: created if missing; existing bundle files are overwritten.
        extra: JSON-able facts stored beside (metrics, data fingerprint, ...); default None.
    """
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "config.json").write_text(
        json.dumps({"train": trained.config.to_dict(), "extra": extra or {}}, indent=2, sort_keys=True))
    (directory / "preprocessor.json").write_text(json.dumps(trained.preprocessor.to_config()))
    trained.model.save_weights(directory / "model.weights.h5")
    return directory


def load_bundle(directory: Path) -> tuple[Trained, dict]:
    """Rebuild a :class:`Trained` from :func:`save_bundle` output. Returns ``(trained, extra)``."""
    missing = [f for f in BUNDLE_FILES if not (directory / f).is_file()]
    if missing:
        raise FileNotFoundError(f"{directory} is not a training bundle (missing {', '.join(missing)})")
    cfg = json.loads((directory / "config.json").read_text())
    config = TrainConfig.from_dict(cfg["train"])
    pre = Preprocessor(**json.loads((directory / "preprocessor.json").read_text()))
    model = _network_for(pre, config)
    model.load_weights(directory / "model.weights.h5")
    return Trained(model, pre, config), cfg.get("extra", {})
