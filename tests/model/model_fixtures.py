"""Shared tiny data / model / export for the tests/model suite, built once per process.

Plain cached functions rather than a conftest fixture so that several test modules reuse
the same trained model (a session fixture defined in one module cannot be shared without
a conftest, and tests/model/conftest.py is not ours alone).
"""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from pathlib import Path

from recsys_dr.model.data import fingerprint
from recsys_dr.model.network import NetworkConfig
from recsys_dr.model.split import leave_last_out
from recsys_dr.model.synthetic import SyntheticConfig, generate

HISTORY = 8
KEY = "test-pseudonym-key"
SYNTH = SyntheticConfig(num_users=240, num_categories=6, items_per_category=15, seed=3)


def train_config(**overrides):
    from recsys_dr.model.train import TrainConfig

    base = dict(network=NetworkConfig(embedding_dim=16, attention_blocks=1, hidden_units=(32,)), history_length=HISTORY,
                query_length=6, epochs=3, patience=3, batch_size=128, learning_rate=3e-3, num_sampled=32, seed=7)
    return TrainConfig(**(base | overrides))


@functools.lru_cache(maxsize=None)
def dataset():
    return generate(SYNTH, pseudonym_key=KEY)


@functools.lru_cache(maxsize=None)
def split():
    return leave_last_out(dataset(), HISTORY)


@functools.lru_cache(maxsize=None)
def trained():
    from recsys_dr.model.train import train

    return train(split(), dataset().item_ids, train_config(), show_progress=False)


@functools.lru_cache(maxsize=None)
def metrics():
    from recsys_dr.model.evaluate import evaluate_all

    return evaluate_all(trained().scores, split(), dataset().item_ids)


@functools.lru_cache(maxsize=None)
def exported() -> Path:
    """Version dir of a real export of :func:`trained` (top_k=5), in a process-wide temp dir."""
    from recsys_dr.model.export import export_version

    out = Path(tempfile.mkdtemp(prefix="model-export-test-"))
    atexit.register(shutil.rmtree, out, True)
    return export_version(trained(), out, model_name="recommender", version=1, top_k=5, metrics=metrics(),
                          data_fingerprint=fingerprint(dataset(), history_length=HISTORY),
                          titles=dataset().catalog["title"].tolist())
