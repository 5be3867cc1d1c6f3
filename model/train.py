"""Train the recommender with softmax cross-entropy over the full catalog.

Reproducibility: :func:`train` seeds Python, NumPy and TensorFlow with ``config.seed`` and,
on CPU, enables TensorFlow op determinism, so two runs with the same data and seed give
the same weights. On a machine with a GPU TensorFlow places the ops there by itself (no code
change); determinism is then not enforced (some GPU kernels have no deterministic variant).
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from recsys_dr.model.features import Preprocessor, build_query_vocabulary
from recsys_dr.model.network import NetworkConfig, build_network
from recsys_dr.model.split import Split

log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class TrainConfig:
    """Training hyper-parameters.

    Args:
        network: layer sizes, see :class:`model.network.NetworkConfig`; default ``NetworkConfig()``.
        history_length: history items fed to the model ``L``; default 20.
        query_length: query tokens fed to the model ``Q``; default 8.
        max_query_tokens: query vocabulary cap; default 20000.
        epochs: passes over the training examples; default 5.
        batch_size: examples per step; default 256.
        learning_rate: Adam learning rate; default 1e-3.
        seed: seed for initialisation and shuffling; default 42.
    """

    network: NetworkConfig = field(default_factory=NetworkConfig)
    history_length: int = 20
    query_length: int = 8
    max_query_tokens: int = 20_000
    epochs: int = 5
    batch_size: int = 256
    learning_rate: float = 1e-3
    seed: int = 42

    def __post_init__(self) -> None:
        for name in ("history_length", "query_length", "epochs", "batch_size", "max_query_tokens"):
            if getattr(self, name) < 1:
                raise ValueError(f"`{name}` must be >= 1. Received: {getattr(self, name)}")
        if self.learning_rate <= 0:
            raise ValueError(f"`learning_rate` must be > 0. Received: {self.learning_rate}")

    def to_dict(self) -> dict:
        d = asdict(self)
        d["network"] = self.network.to_dict()
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        net = dict(d["network"])
        net["hidden_units"] = tuple(net["hidden_units"])
        return cls(**{**d, "network": NetworkConfig(**net)})


@dataclass
class Trained:
    """A trained network with the preprocessing it expects."""

    model: keras.Model
    preprocessor: Preprocessor
    config: TrainConfig
    loss_history: list[float] = field(default_factory=list)
    train_seconds: float = 0.0
    device: str = "CPU"

    def logits(self, query: np.ndarray, history: np.ndarray, batch_size: int = 1024) -> np.ndarray:
        """Full-catalog logits ``float32[n, num_items]`` for raw query/history strings."""
        x = self.preprocessor.transform(query, history)
        return self.model.predict(x, batch_size=batch_size, verbose=0)


def set_seed(seed: int) -> str:
    """Seed everything; enable op determinism when no GPU is present. Returns the device label."""
    keras.utils.set_random_seed(seed)
    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        return f"GPU x{len(gpus)}"
    tf.config.experimental.enable_op_determinism()
    return "CPU"


def _network_for(pre: Preprocessor, config: TrainConfig) -> keras.Model:
    """The network shaped by a fitted preprocessor and a training config."""
    return build_network(
        num_items=pre.num_items,
        query_vocab_size=pre.query_vocab_size,
        query_length=config.query_length,
        history_length=config.history_length,
        config=config.network,
    )


def train(split: Split, items: list[str], config: TrainConfig = TrainConfig(), *, show_progress: bool = True) -> Trained:
    """Fit a fresh network on ``split.train``.

    Args:
        split: from :func:`model.split.leave_last_out` with ``config.history_length``.
        items: catalog item ids (output order).
        config: hyper-parameters; default ``TrainConfig()``.
        show_progress: show Keras' per-epoch progress bar; default True.
    """
    if split.history_length != config.history_length:
        raise ValueError(
            f"split history length {split.history_length} != `history_length` {config.history_length}"
        )
    if len(split.train) == 0:
        raise ValueError("no training examples")
    device = set_seed(config.seed)
    pre = Preprocessor(
        items, build_query_vocabulary(split.train.query, config.max_query_tokens), config.query_length
    )
    x = pre.transform(split.train.query, split.train.history)
    y = pre.labels(split.train.target)
    model = _network_for(pre, config)
    model.compile(
        optimizer=keras.optimizers.Adam(config.learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    log.info("training on %d examples, %d items, device %s", len(y), pre.num_items, device)
    start = time.perf_counter()
    hist = model.fit(
        x, y, epochs=config.epochs, batch_size=config.batch_size, shuffle=True, verbose=1 if show_progress else 0
    )
    seconds = time.perf_counter() - start
    return Trained(model, pre, config, [float(v) for v in hist.history["loss"]], seconds, device)


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
        json.dumps({"train": trained.config.to_dict(), "extra": extra or {}}, indent=2, sort_keys=True)
    )
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
