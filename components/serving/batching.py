"""TF Serving's server-side batching for a GPU pod: the parameters, their file, their limits.

With `--enable_batching` TF Serving wraps the model's session in a batching session that merges
concurrent Predict calls into one `Session::Run` of up to `max_batch_size` rows
(tensorflow_serving/batching/README.md). The parameters come from `--batching_parameters_file`,
a text-format `BatchingParameters` message (tensorflow_serving/servables/tensorflow/
session_bundle_config.proto). Each one left unset keeps TensorFlow's `BasicBatchScheduler`
default (tensorflow/core/kernels/batching_util/basic_batch_scheduler.h, `Options`):
max_batch_size 1000, batch_timeout_micros 0, max_enqueued_batches 10, num_batch_threads
`port::MaxParallelism()` (the node's cores, not the pod's CPU limit). Every value is set here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# `tensorflow_model_server` defaults (tensorflow_serving/model_servers/server.h, Options):
# http_num_threads = 4.0 * port::NumSchedulableCPUs(), which counts the node's CPUs; in a pod
# with a CPU limit that over-subscribes the limit.
REST_THREADS_PER_CORE = 4
# "use 'max_batch_size * 2' client threads to achieve high throughput with batching"
# (session_bundle_config.proto, BatchingParameters.max_batch_size): the REST threads are those
# clients here, each blocked in Session::Run until its batch has run.
REST_THREADS_PER_BATCH_ROW = 2
PARAMETERS_FILE = "batching_parameters.txt"
PARAMETERS_MOUNT = "/etc/tf-serving"


@dataclass(frozen=True, kw_only=True)
class Batching:
    """Resolved batching parameters of one serving pod (every value set)."""

    max_batch_size: int
    batch_timeout_micros: int
    num_batch_threads: int
    max_enqueued_batches: int
    rest_api_num_threads: int

    def parameters_text(self) -> str:
        """The `--batching_parameters_file` content (text-format BatchingParameters; its scalar
        fields are google.protobuf.Int64Value wrappers, hence `{ value: N }`)."""
        fields = ("max_batch_size", "batch_timeout_micros", "max_enqueued_batches", "num_batch_threads")
        return "".join(f"{name} {{ value: {getattr(self, name)} }}\n" for name in fields)

    def server_args(self) -> list[str]:
        return [
            "--enable_batching=true",
            f"--batching_parameters_file={PARAMETERS_MOUNT}/{PARAMETERS_FILE}",
            f"--rest_api_num_threads={self.rest_api_num_threads}",
        ]


def resolve_batching(*, max_batch_size: int | None, batch_timeout_micros: int, num_batch_threads: int | None,
                     max_enqueued_batches: int | None, rest_api_num_threads: int | None, model_max_batch: int,
                     cpu_millicores: int) -> Batching:
    """Fill the unset parameters from the model and the pod.

    Defaults: `max_batch_size` the model's row cap (a merged batch passes the graph's row check);
    `num_batch_threads` the pod's CPU cores (the README's GPU recipe, step 1: "the number of CPU
    cores"); `max_enqueued_batches` = `num_batch_threads` (its advice for online serving, so a
    busy server sheds load instead of queueing it); REST threads: enough to fill a batch twice,
    and at least TF Serving's own 4 per core.
    """
    cores = max(1, math.ceil(cpu_millicores / 1000))
    size = max_batch_size if max_batch_size is not None else model_max_batch
    threads = num_batch_threads if num_batch_threads is not None else cores
    return Batching(
        max_batch_size=size,
        batch_timeout_micros=batch_timeout_micros,
        num_batch_threads=threads,
        max_enqueued_batches=max_enqueued_batches if max_enqueued_batches is not None else threads,
        rest_api_num_threads=(rest_api_num_threads if rest_api_num_threads is not None
                              else max(REST_THREADS_PER_CORE * cores, REST_THREADS_PER_BATCH_ROW * size)),
    )


def batching_problems(key: str, batching: Batching, *, model_max_batch: int, rows_admitted: int) -> list[str]:
    """What TF Serving or the model would refuse at run time.

    * A merged batch above the model's row cap fails the graph's own row check (model/export.py
      `max_batch`), failing every request in it.
    * A single request of more rows than `max_batch_size` is refused by the batcher ("Task size
      ... is larger than maximum input batch size", shared_batch_scheduler.h) unless it splits
      large batches, which is off: the front door must not admit such a request.
    * The queue holds `max_enqueued_batches` batches; full, `Schedule()` answers UNAVAILABLE
      (basic_batch_scheduler.h). Full batches must hold what the REST threads submit at once.
    """
    problems = []
    if batching.max_batch_size > model_max_batch:
        problems.append(
            f"`{key}.maxBatchSize` must be <= `model.maxBatch` ({model_max_batch}): a merged batch above the model's row "
            f"cap fails the graph's row check for every request in it. Received: {batching.max_batch_size}"
        )
    if batching.max_batch_size < rows_admitted:
        problems.append(
            f"`{key}.maxBatchSize` must be >= {rows_admitted}, the rows one request may carry through the front door; the "
            f"batcher refuses a request larger than a batch. Received: {batching.max_batch_size}"
        )
    capacity = batching.max_enqueued_batches * batching.max_batch_size
    if capacity < batching.rest_api_num_threads:
        problems.append(
            f"`{key}` queues at most {batching.max_enqueued_batches} x {batching.max_batch_size} = {capacity} requests but runs "
            f"{batching.rest_api_num_threads} REST threads; a full queue answers UNAVAILABLE to requests the server "
            "accepted. Raise maxEnqueuedBatches or lower restApiNumThreads"
        )
    return problems
