"""Run as ``python -m tests.model.replica_probe``: prints, as JSON, what two in-process replicas
(``MirroredStrategy`` over two logical CPUs, which must be declared before TensorFlow starts, hence
a process of its own) compute against one device. Read by tests/model/test_distributed.py."""

from __future__ import annotations

import json

import numpy as np
import tensorflow as tf

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

import keras  # noqa: E402 - after the devices are declared

from recsys_dr.model.distributed import Runtime  # noqa: E402
from recsys_dr.model.features import FIRST_ID, Preprocessor  # noqa: E402
from recsys_dr.model.network import NetworkConfig  # noqa: E402
from recsys_dr.model.train import ArrayFeed, TrainConfig, _network_for, train_step, training_loss  # noqa: E402
from tests.model import model_fixtures as fx  # noqa: E402


def weights_after_one_sgd_step(pre, feed, config, runtime) -> list[np.ndarray]:
    """Plain SGD (unlike Adam, its update scales with the gradient): one step on the first batch."""
    keras.utils.set_random_seed(config.seed)
    with runtime.strategy.scope():
        model = _network_for(pre, config)
        optimizer = keras.optimizers.SGD(1.0)
        optimizer.build(model.trainable_variables)
    step = train_step(model, optimizer, config, [0.0] * FIRST_ID + (feed.counts + 1.0).tolist(), runtime.strategy)
    feed.rng = np.random.default_rng(config.seed)
    step(next(iter(feed.epoch(runtime, config))))
    return [w for w in model.get_weights()]


def main() -> None:
    split = fx.split()
    net = NetworkConfig(embedding_dim=8, attention_blocks=1, hidden_units=(16,), dropout=0.0)
    exact = TrainConfig(network=net, history_length=fx.HISTORY, query_length=6, batch_size=64, num_sampled=512, seed=7)
    pre = Preprocessor(fx.dataset().item_ids, [], exact.query_length)
    feed = ArrayFeed(pre, split.train, exact.seed)
    mirrored = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    one = weights_after_one_sgd_step(pre, feed, exact, Runtime("one-device", tf.distribute.get_strategy()))
    two = weights_after_one_sgd_step(pre, feed, exact, Runtime("mirrored", mirrored, replicas=2))
    gap = max(float(np.max(np.abs(a - b))) for a, b in zip(one, two))

    # The sampled softmax: both replicas get the same examples; their losses differ only by their negatives.
    sampled = TrainConfig(network=net, history_length=fx.HISTORY, query_length=6, batch_size=64, num_sampled=8, seed=7)
    with mirrored.scope():
        model = _network_for(pre, sampled)
    q, h, y = next(iter(feed.epoch(Runtime("one-device", tf.distribute.get_strategy()), sampled)))
    unigrams = [0.0] * FIRST_ID + (feed.counts + 1.0).tolist()

    @tf.function
    def losses():
        return mirrored.run(lambda: training_loss(model, sampled, unigrams, q, h, y))

    per_replica = [float(v) for v in mirrored.experimental_local_results(losses())]
    print(json.dumps({"max_weight_gap": gap, "sampled_losses": per_replica}))


if __name__ == "__main__":
    main()
