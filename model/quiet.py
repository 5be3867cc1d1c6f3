"""Import TensorFlow without its C++ start-up chatter on stderr.

TensorFlow 2.21 prints oneDNN / CUDA-stub / cuInit lines (``I0000 ... port.cc``,
``E0000 ... cuda_platform.cc``) through its C++ logger before absl logging is initialised,
so ``TF_CPP_MIN_LOG_LEVEL`` does not silence them. The CLI therefore points file
descriptor 2 at /dev/null while TensorFlow is imported and probes its devices, then
restores it. ``-v`` (or ``RECSYS_TF_LOGS=1``) keeps the messages.
"""

from __future__ import annotations

import contextlib
import os
import sys


@contextlib.contextmanager
def stderr_silenced(enabled: bool = True):
    """Redirect the process's fd 2 (C and Python writers alike) to /dev/null inside the block."""
    if not enabled:
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def import_tensorflow(verbose: bool = False):
    """Import TensorFlow (and list its devices once) quietly unless ``verbose``; returns the module."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with stderr_silenced(not verbose and os.environ.get("RECSYS_TF_LOGS") != "1"):
        import tensorflow as tf

        tf.config.list_physical_devices("GPU")  # the cuInit probe logs once, here
    import logging

    import absl.logging

    absl.logging.set_verbosity(absl.logging.ERROR)
    if not verbose:  # "Assets written to: ..." and similar INFO lines of tf.saved_model
        logging.getLogger("tensorflow").setLevel(logging.WARNING)
        logging.getLogger("tensorflow").addFilter(_drop_retracing_notice)
    return tf


def _drop_retracing_notice(record) -> bool:
    """Hide tf.function's "triggered tf.function retracing" advice: a build makes several fallback
    modules (the category step on and off, the export), each traced once for its fixed input
    signature, which the frequent-tracing detector counts together."""
    return "triggered tf.function retracing" not in record.getMessage()
