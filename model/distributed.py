"""Data-parallel training: which ``tf.distribute`` strategy runs the build, and what each replica does.

``--strategy`` (``python -m recsys_dr.model build``):

* ``one-device`` (default): TensorFlow's default strategy, one device (the first GPU if any);
* ``mirrored``: ``MirroredStrategy``, one replica per local GPU (the CPU when there is none),
  variables mirrored, gradients all-reduced every step;
* ``multi-worker``: ``MultiWorkerMirroredStrategy`` across processes, one or more replicas each,
  configured by ``TF_CONFIG`` (``{"cluster": {"worker": [host:port, ...]}, "task": {"type":
  "worker", "index": i}}``, TensorFlow's "Multi-worker training with Keras" guide). In an indexed
  Kubernetes Job, :func:`tf_config_from_env` builds it from the completion index (see there).

What stays the same whatever the strategy:

* **The global batch.** ``--batch-size`` is the number of examples one optimizer step sees,
  split evenly over the replicas (each computes ``batch / replicas``). Every loss term is summed
  over the replica's examples and divided by the *global* count (all-reduced, see
  :func:`global_sum`), and the optimizer sums the replicas' gradients (Keras' TF optimizer
  all-reduces with ``ReduceOp.SUM``, keras/src/backend/tensorflow/optimizer.py
  ``_all_reduce_sum_gradients``): one step is the gradient of the mean loss over the global
  batch, as on one device.
* **The learning rate.** Because of that, ``--learning-rate`` needs no change with the number
  of replicas. Raising ``--batch-size`` to keep more devices busy is a different run: Adam then
  wants about ``sqrt(k)`` times the rate for ``k`` times the batch (the square-root scaling
  rule, Malladi et al., "On the SDEs and Scaling Rules for Adaptive Gradient Algorithms",
  NeurIPS 2022; SGD's is linear, Goyal et al. 2017), and the README says so.
* **The sampled softmax.** Each replica draws its own ``num_sampled`` negatives for its own
  examples from the same distribution (training-target counts ^ 0.75), with the sampler seeded
  per replica (:func:`replica_seed`: replica 0 keeps ``--seed``, so one device samples exactly
  as before; equal seeds would give every replica the same negatives). The log-Q correction
  subtracts the log of each candidate's expected count *in that replica's draw*
  (``tf.nn.sampled_softmax_loss`` with ``subtract_log_q=True``; TensorFlow's "Candidate Sampling
  Algorithms Reference"; Jean et al. 2015, section 3): every example's loss is the same
  estimator as on one device, ``num_sampled`` negatives each, corrected for how likely each was
  to be drawn. A step sees ``replicas x num_sampled`` distinct negatives in all, none shared
  across replicas. Whether the exact softmax replaces the sample (``2 x num_sampled >= N``) does
  not depend on the replicas.

Only the chief (worker 0: there is no separate ``chief`` task) evaluates, exports and publishes,
from a plain copy of the final weights (``model.train.plain_copy``), so nothing it writes needs a
collective and no other worker writes anything (TensorFlow's multi-worker guide: only the
chief's copy of a saved model is kept). Every worker takes part in every step and every
validation (the decision to stop early is all-reduced, :func:`agree`), so no collective waits
for a worker that left.
"""

from __future__ import annotations

import json
import logging
import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

STRATEGIES = ("one-device", "mirrored", "multi-worker")
DEFAULT_STRATEGY = "one-device"
# Environment of an indexed Kubernetes Job (components/training): the completion index is set by
# the Job controller (kubernetes.io "Indexed Job for Parallel Processing with Static Work
# Assignment": JOB_COMPLETION_INDEX), the job name by the downward API from the pod label
# batch.kubernetes.io/job-name, the rest by the Job template.
JOB_INDEX_ENV = "JOB_COMPLETION_INDEX"
JOB_NAME_ENV = "RECSYS_TRAIN_JOB_NAME"
WORKERS_ENV = "RECSYS_TRAIN_WORKERS"
SUBDOMAIN_ENV = "RECSYS_TRAIN_SUBDOMAIN"
PORT_ENV = "RECSYS_TRAIN_PORT"
DEFAULT_WORKER_TIMEOUT = 1800


class DistributedError(ValueError):
    """A strategy that cannot run as configured (bad TF_CONFIG, batch not divisible, ...)."""


def worker_hosts(job_name: str, workers: int, subdomain: str, port: int) -> list[str]:
    """``host:port`` of every worker of an indexed Job: pods are named ``<job>-<index>`` and, with
    ``subdomain`` set to a headless Service, resolvable as ``<job>-<index>.<subdomain>``
    (kubernetes.io "Job with Pod-to-Pod Communication")."""
    return [f"{job_name}-{i}.{subdomain}:{port}" for i in range(workers)]


def local_cluster(workers: int, host: str = "127.0.0.1") -> list[str]:
    """``TF_CONFIG`` of each of ``workers`` processes on this machine, on ports free right now
    (the OS picks them; a port taken again before the workers bind it fails their start, not a step).

    Example: ``TF_CONFIG=<local_cluster(2)[i]> python -m recsys_dr.model build --strategy multi-worker``
    in two shells.
    """
    socks = [socket.socket() for _ in range(workers)]
    try:
        for sock in socks:  # all bound at once, so the OS hands out distinct ports
            sock.bind((host, 0))
        hosts = [f"{host}:{sock.getsockname()[1]}" for sock in socks]
    finally:
        for sock in socks:
            sock.close()
    return [json.dumps({"cluster": {"worker": hosts}, "task": {"type": "worker", "index": i}}) for i in range(workers)]


def tf_config_from_env(env: Mapping[str, str]) -> dict | None:
    """``TF_CONFIG`` as a dict: the variable itself, else built from an indexed Job's environment
    (``JOB_COMPLETION_INDEX``, ``RECSYS_TRAIN_JOB_NAME``, ``RECSYS_TRAIN_WORKERS``,
    ``RECSYS_TRAIN_SUBDOMAIN``, ``RECSYS_TRAIN_PORT``), else None.

    Raises:
        DistributedError: TF_CONFIG is not JSON with a worker list and a task within it, or the
            Job's variables are incomplete.
    """
    raw = env.get("TF_CONFIG")
    if raw:
        try:
            config = json.loads(raw)
        except ValueError:
            raise DistributedError(f"TF_CONFIG is not JSON. Received: {raw[:80]!r}") from None
    elif env.get(JOB_INDEX_ENV) is not None:
        missing = [k for k in (JOB_NAME_ENV, WORKERS_ENV, SUBDOMAIN_ENV, PORT_ENV) if not env.get(k)]
        if missing:
            raise DistributedError(f"{JOB_INDEX_ENV} is set but {', '.join(missing)} not: cannot name the other workers")
        hosts = worker_hosts(env[JOB_NAME_ENV], int(env[WORKERS_ENV]), env[SUBDOMAIN_ENV], int(env[PORT_ENV]))
        config = {"cluster": {"worker": hosts}, "task": {"type": "worker", "index": int(env[JOB_INDEX_ENV])}}
    else:
        return None
    workers = config.get("cluster", {}).get("worker") if isinstance(config, dict) else None
    task = config.get("task", {}) if isinstance(config, dict) else {}
    if not workers or not isinstance(workers, list):
        raise DistributedError(f"TF_CONFIG needs cluster.worker, a list of host:port. Received: {config!r}")
    if task.get("type") not in ("worker", "chief") or not 0 <= int(task.get("index", -1)) < len(workers):
        raise DistributedError(f"TF_CONFIG task must be a worker index in 0..{len(workers) - 1}. Received: {task!r}")
    return config


@dataclass
class Runtime:
    """The strategy a build runs under and where this process sits in it.

    Attributes:
        name: one of :data:`STRATEGIES`.
        strategy: the ``tf.distribute.Strategy``.
        workers: processes taking part (1 unless multi-worker).
        worker_index: this process's index (0 = the chief).
        replicas: replicas in sync across all workers.
        examples_per_replica: training examples each replica computed (filled by training).
        steps: optimizer steps taken (filled by training).
    """

    name: str
    strategy: object
    workers: int = 1
    worker_index: int = 0
    replicas: int = 1
    examples_per_replica: list[int] = field(default_factory=list)
    steps: int = 0

    def __post_init__(self) -> None:
        self.examples_per_replica = self.examples_per_replica or [0] * self.replicas

    @property
    def is_chief(self) -> bool:
        return self.worker_index == 0

    @property
    def distributed(self) -> bool:
        return self.name != DEFAULT_STRATEGY

    def per_replica_batch(self, global_batch: int) -> int:
        """Examples each replica computes per step (``global_batch / replicas``)."""
        if global_batch % self.replicas:
            raise DistributedError(f"`--batch-size` must be a multiple of the {self.replicas} replicas "
                                   f"(each computes an equal share). Received: {global_batch}")
        return global_batch // self.replicas

    def record(self) -> dict:
        """The manifest's ``training.distributed`` entry."""
        return {"strategy": self.name, "workers": self.workers, "replicas": self.replicas, "steps": self.steps,
                "examples_per_replica": list(self.examples_per_replica)}


def make_runtime(name: str = DEFAULT_STRATEGY, *, env: Mapping[str, str] | None = None,
                 timeout_seconds: int = DEFAULT_WORKER_TIMEOUT) -> Runtime:
    """Create the strategy (before any other TensorFlow op: MultiWorkerMirroredStrategy starts this
    process's collective server from ``TF_CONFIG``).

    Args:
        name: one of :data:`STRATEGIES`; default "one-device".
        env: environment to read ``TF_CONFIG`` from; default ``os.environ`` (set from an indexed
            Job's variables when only those are present).
        timeout_seconds: multi-worker: seconds a collective waits for the other workers before
            failing (a lost worker fails the build instead of hanging it); default 1800.
    """
    import tensorflow as tf

    if name not in STRATEGIES:
        raise DistributedError(f"`--strategy` must be one of: {', '.join(STRATEGIES)}. Received: {name!r}")
    if name == "one-device":
        return Runtime(name, tf.distribute.get_strategy())
    if name == "mirrored":
        strategy = tf.distribute.MirroredStrategy()
        return Runtime(name, strategy, replicas=strategy.num_replicas_in_sync)
    environ = os.environ if env is None else env
    config = tf_config_from_env(environ)
    if config is None:
        raise DistributedError("`--strategy multi-worker` needs TF_CONFIG (or an indexed Job's "
                               f"{JOB_INDEX_ENV} and {WORKERS_ENV}); for one machine use `--strategy mirrored`")
    os.environ["TF_CONFIG"] = json.dumps(config)  # TFConfigClusterResolver reads it from there
    options = tf.distribute.experimental.CommunicationOptions(timeout_seconds=timeout_seconds)
    strategy = tf.distribute.MultiWorkerMirroredStrategy(communication_options=options)
    resolver = strategy.cluster_resolver
    runtime = Runtime(name, strategy, workers=len(config["cluster"]["worker"]), worker_index=int(resolver.task_id),
                      replicas=strategy.num_replicas_in_sync)
    log.info("worker %d of %d (%d replicas in sync)", runtime.worker_index, runtime.workers, runtime.replicas)
    return runtime


def replica_id() -> int:
    """This replica's index in sync (0 on one device); a Python int at trace time."""
    import tensorflow as tf

    ctx = tf.distribute.get_replica_context()
    value = tf.get_static_value(ctx.replica_id_in_sync_group) if ctx is not None else 0
    return int(value or 0)


def replica_seed(seed: int) -> int:
    """The sampler seed of this replica: ``seed`` on replica 0, a different one on each other."""
    return seed + 7919 * replica_id()


def global_sum(x):
    """``x`` summed over all replicas of the step (``x`` itself on one replica).

    Loss terms divide by it: the rule of ``tf.nn.compute_average_loss`` (per-example losses summed,
    divided by the global batch; tensorflow/python/ops/nn_impl_distribute.py and TensorFlow's
    "Custom training with tf.distribute.Strategy" tutorial), with the count all-reduced instead of
    assumed, because an epoch's last batch is short and the repeat and gate terms count only the
    examples they apply to."""
    import tensorflow as tf

    ctx = tf.distribute.get_replica_context()
    if ctx is None or ctx.num_replicas_in_sync == 1:
        return x
    return ctx.all_reduce(tf.distribute.ReduceOp.SUM, x)


def agree(runtime: Runtime, value: float) -> float:
    """The mean of ``value`` over the replicas: every worker then takes the same decision from it
    (early stopping), even if their float arithmetic differed."""
    if runtime.replicas == 1:
        return value
    import tensorflow as tf

    strategy = runtime.strategy
    per_replica = strategy.experimental_distribute_values_from_function(lambda _ctx: tf.constant(value, tf.float64))
    return float(strategy.reduce(tf.distribute.ReduceOp.MEAN, per_replica, axis=None))
