"""`model build --strategy multi-worker`: two worker processes on 127.0.0.1 against one, and the
TF_CONFIG an indexed Job's pods derive."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from recsys_dr.model.distributed import DistributedError, local_cluster, tf_config_from_env, worker_hosts

KEY_FILE = str(Path(__file__).with_name("pseudonym-key.txt"))
# Small and exact: 2 x 128 sampled >= 200 items, so the loss is the full softmax, and no dropout,
# so the two runs differ only by the order of float sums (the sampled path is tested below).
BUILD = ["build", "--synthetic-users", "240", "--epochs", "2", "--no-refit", "--embedding-dim", "16",
         "--hidden-units", "32", "--attention-blocks", "1", "--history-length", "6", "--num-sampled", "128",
         "--dropout", "0", "--batch-size", "128", "--no-progress", "--pseudonym-key-file", KEY_FILE]
# Two workers see the same global batches as one (model.train.ArrayFeed) and their gradients sum to
# the global batch's (model.distributed): what is left is the order of float sums in the all-reduce
# (measured: NDCG@10 equal to 4 decimals, MRR within 1e-4).
NDCG_TOLERANCE = 0.002


def _build(out: Path, *extra: str, tf_config: str | None = None) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k != "TF_CONFIG"} | {"CUDA_VISIBLE_DEVICES": ""}
    if tf_config:
        env["TF_CONFIG"] = tf_config
    out.mkdir(parents=True)
    log = open(out / "log.txt", "w")  # noqa: SIM115 - closed by the OS when the child exits
    return subprocess.Popen([sys.executable, "-m", "recsys_dr.model", *BUILD, "--out", str(out),
                             "--metrics-out", str(out / "metrics.json"), *extra], env=env, stdout=log, stderr=log)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """One single-device build and one two-worker build of the same data, run side by side."""
    root = tmp_path_factory.mktemp("distributed")
    # TensorFlow allows one MultiWorkerMirroredStrategy per process: each worker is its own process.
    configs = local_cluster(2)
    procs = {"single": _build(root / "single")}
    for i, config in enumerate(configs):
        procs[f"worker{i}"] = _build(root / f"worker{i}", "--strategy", "multi-worker", "--worker-timeout", "120",
                                     tf_config=config)
    try:
        codes = {name: p.wait(timeout=300) for name, p in procs.items()}
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.kill()
    logs = {name: (root / name / "log.txt").read_text() for name in procs}
    assert codes == {name: 0 for name in procs}, logs
    return {name: json.loads((root / name / "metrics.json").read_text()) | {"out": root / name, "log": logs[name]}
            for name in procs}


@pytest.mark.slow
def test_both_workers_took_every_step_on_their_half_of_each_batch(runs):
    chief, other = runs["worker0"]["training"], runs["worker1"]["training"]
    assert chief["strategy"] == "multi-worker" and chief["workers"] == 2 and chief["replicas"] == 2
    assert chief["steps"] == other["steps"] == runs["single"]["training"]["steps"] > 0
    # all-reduced counts: replica 1's share is what the other process computed
    assert chief["examples_per_replica"] == other["examples_per_replica"]
    assert min(chief["examples_per_replica"]) > 0
    assert sum(chief["examples_per_replica"]) == sum(runs["single"]["training"]["examples_per_replica"])


@pytest.mark.slow
def test_only_the_chief_exports_and_its_version_serves(runs):
    import tensorflow as tf

    from recsys_dr.model.manifest import load_manifest
    from recsys_dr.model.verify import verify_local

    assert not (runs["worker1"]["out"] / "recommender").exists()
    version = Path(runs["worker0"]["version_dir"])
    assert verify_local(version).ok
    manifest = load_manifest(version / "manifest.json")
    assert manifest["training"]["examples_per_replica"] == runs["worker0"]["training"]["examples_per_replica"]
    serving = tf.saved_model.load(str(version)).signatures["serving_default"]
    out = serving(query=tf.constant(["milk"]), history=tf.constant([[""] * 6]))
    assert out["item_ids"].shape == (1, 10) and b"" not in out["item_ids"].numpy()[0]


@pytest.mark.slow
def test_two_workers_match_one_within_the_stated_tolerance(runs):
    one, two = runs["single"]["metrics"]["model"]["all"], runs["worker0"]["metrics"]["model"]["all"]
    assert abs(one["ndcg@10"] - two["ndcg@10"]) <= NDCG_TOLERANCE, (one, two)
    assert abs(one["hit_rate@10"] - two["hit_rate@10"]) <= 2 * NDCG_TOLERANCE, (one, two)
    assert runs["single"]["metrics"]["personal-frequency"] == runs["worker0"]["metrics"]["personal-frequency"]


def test_an_indexed_job_pod_derives_tf_config_from_its_completion_index():
    env = {"JOB_COMPLETION_INDEX": "1", "RECSYS_TRAIN_JOB_NAME": "train-7", "RECSYS_TRAIN_WORKERS": "3",
           "RECSYS_TRAIN_SUBDOMAIN": "train-7-workers", "RECSYS_TRAIN_PORT": "2222"}
    config = tf_config_from_env(env)
    # kubernetes.io Job docs, "Job with Pod-to-Pod Communication": pod hostname <job>-<index>,
    # resolvable as <hostname>.<subdomain> through the headless Service named by the subdomain
    assert config == {"cluster": {"worker": ["train-7-0.train-7-workers:2222", "train-7-1.train-7-workers:2222",
                                             "train-7-2.train-7-workers:2222"]},
                      "task": {"type": "worker", "index": 1}}
    assert worker_hosts("j", 1, "s", 1) == ["j-0.s:1"]


@pytest.mark.parametrize(("env", "message"), [
    ({"TF_CONFIG": "{not json"}, "TF_CONFIG is not JSON"),
    ({"TF_CONFIG": json.dumps({"cluster": {}, "task": {"type": "worker", "index": 0}})}, "needs cluster.worker"),
    ({"TF_CONFIG": json.dumps({"cluster": {"worker": ["a:1"]}, "task": {"type": "worker", "index": 1}})},
     r"task must be a worker index in 0\.\.0"),
    ({"JOB_COMPLETION_INDEX": "0", "RECSYS_TRAIN_WORKERS": "2"}, "RECSYS_TRAIN_JOB_NAME, RECSYS_TRAIN_SUBDOMAIN"),
])
def test_a_cluster_it_cannot_join_is_refused_with_the_reason(env, message):
    with pytest.raises(DistributedError, match=message):
        tf_config_from_env(env)


def test_local_cluster_gives_each_worker_its_index_and_distinct_ports():
    configs = [json.loads(c) for c in local_cluster(3)]
    hosts = configs[0]["cluster"]["worker"]
    assert len(set(hosts)) == 3 and all(h.startswith("127.0.0.1:") for h in hosts)
    assert [c["task"]["index"] for c in configs] == [0, 1, 2] and all(c["cluster"]["worker"] == hosts for c in configs)


def test_multi_worker_without_a_cluster_is_a_usage_error(tmp_path, capsys, monkeypatch):
    from recsys_dr.model.cli import main

    monkeypatch.delenv("TF_CONFIG", raising=False)
    monkeypatch.delenv("JOB_COMPLETION_INDEX", raising=False)
    assert main(["build", "--out", str(tmp_path), "--strategy", "multi-worker"]) == 2
    assert "`--strategy multi-worker` needs TF_CONFIG" in capsys.readouterr().err


@pytest.fixture(scope="module")
def probe():
    """Two replicas in one process (tests/model/replica_probe.py) against one device."""
    root = Path(__file__).resolve().parents[2]
    env = {k: v for k, v in os.environ.items() if k != "TF_CONFIG"} | {"CUDA_VISIBLE_DEVICES": ""}
    done = subprocess.run([sys.executable, "-m", "tests.model.replica_probe"], cwd=root, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_two_replicas_step_like_one_device_on_the_global_batch(probe):
    # SGD, whose update scales with the gradient: summing the replicas' gradients of per-replica
    # means would move the weights twice as far (loss scaling: tf.nn.compute_average_loss's rule)
    assert probe["max_weight_gap"] < 1e-5


@pytest.mark.slow
def test_each_replica_draws_its_own_negatives(probe):
    # same examples on both replicas: equal losses would mean equal negatives
    first, second = probe["sampled_losses"]
    assert abs(first - second) > 1e-3


@pytest.mark.slow
def test_two_workers_stream_disjoint_shards_and_the_chief_exports(tmp_path):
    from recsys_dr.model.stream import write_user_shards
    from tests.model import model_fixtures as fx

    write_user_shards(fx.dataset().interactions, tmp_path / "log", 4)
    fx.dataset().catalog.to_csv(tmp_path / "catalog.csv", index=False)
    data = ["--interactions", str(tmp_path / "log"), "--catalog", str(tmp_path / "catalog.csv"),
            "--strategy", "multi-worker", "--worker-timeout", "120"]
    procs = [_build(tmp_path / f"worker{i}", *data, tf_config=config) for i, config in enumerate(local_cluster(2))]
    try:
        codes = [p.wait(timeout=300) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    logs = [(tmp_path / f"worker{i}" / "log.txt").read_text() for i in range(2)]
    assert codes == [0, 0], logs
    read = [set(re.findall(r"input pipeline \d of 2 reads shard\(s\) (.*)", log)[0].split(", ")) for log in logs]
    assert read[0] and read[1] and not read[0] & read[1]
    assert read[0] | read[1] == {f"part-{i:05d}.parquet" for i in range(4)}
    chief = json.loads((tmp_path / "worker0" / "metrics.json").read_text())
    assert min(chief["training"]["examples_per_replica"]) > 0 and Path(chief["version_dir"]).is_dir()
