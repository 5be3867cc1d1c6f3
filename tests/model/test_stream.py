"""Sharded Parquet logs (model.stream): the first pass keeps what the in-memory build computes,
the same rules apply, each worker reads its own shards, and S3 works (moto_server on 127.0.0.1)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from recsys_dr.model.data import DataError, load_dataset
from recsys_dr.model.split import leave_last_out
from recsys_dr.model.stream import list_shards, scan_shards, shards_of, write_user_shards
from tests.model import model_fixtures as fx
from tests.support import moto_server

KEY = "stream-test-key"
FREE_KEY_FILE = str(Path(__file__).with_name("pseudonym-key.txt"))


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """The fixtures' shop as one Parquet file and as 4 user shards, plus its catalog; one duplicate
    row and one unknown item added, so the data-quality rules have something to do."""
    root = tmp_path_factory.mktemp("stream")
    import pandas as pd

    frame = fx.dataset().interactions
    extra = frame.iloc[[0, 1]].copy()  # a duplicate of row 0, and row 1 with an unknown item
    extra.iloc[1, extra.columns.get_loc("item_id")] = "not-in-the-catalog"
    frame = pd.concat([frame, extra], ignore_index=True)
    frame.to_parquet(root / "all.parquet", index=False)
    write_user_shards(frame, root / "log", 4)
    fx.dataset().catalog.to_csv(root / "catalog.csv", index=False)
    return root


@pytest.fixture(scope="module")
def both(files):
    data = load_dataset(files / "all.parquet", files / "catalog.csv", pseudonym_key=KEY)
    split = leave_last_out(data, fx.HISTORY)
    scan = scan_shards(str(files / "log"), str(files / "catalog.csv"), pseudonym_key=KEY, history_length=fx.HISTORY,
                       query_token_min_users=2)
    return data, split, scan


def test_the_first_pass_counts_what_the_in_memory_split_trains_on(both):
    from recsys_dr.model.features import build_query_vocabulary

    data, split, scan = both
    assert sum(scan.train_examples) == len(split.train) and scan.users == data.interactions["user_id"].nunique()
    column = {item: i for i, item in enumerate(data.item_ids)}
    assert scan.target_counts.tolist() == np.bincount([column[t] for t in split.train.target],
                                                      minlength=len(column)).tolist()
    assert scan.tokens.vocabulary() == build_query_vocabulary(split.train.query, users=split.train.user, min_users=2)
    # the same data-quality treatment, counted the same way
    assert scan.report.to_dict() == data.report.to_dict()
    assert scan.report.duplicates_dropped == 1 and scan.report.unknown_items_dropped == 1


def test_the_sampled_users_are_held_out_as_in_memory(both):
    data, split, scan = both  # 240 users < the default sample: every user is in it
    order = np.argsort(split.test.user)
    assert scan.sample.test.user.tolist() == split.test.user[order].tolist()
    assert scan.sample.test.target.tolist() == split.test.target[order].tolist()
    assert scan.sample.test.past == [split.test.past[i] for i in order]
    assert np.asarray(scan.sample.test.history).tolist() == np.asarray(split.test.history)[order].tolist()
    assert scan.sample.train_sequences == split.train_sequences
    # pseudonymised like the in-memory load: no raw id of the files survives
    assert set(scan.sample.test.user) <= set(data.interactions["user_id"])
    assert not set(scan.sample.test.user) & set(fx.dataset().interactions["user_id"])


def test_the_baselines_score_the_same_on_the_stream_and_in_memory(both):
    from recsys_dr.model.evaluate import evaluate_all

    data, split, scan = both
    assert evaluate_all(None, scan.sample, data.item_ids) == evaluate_all(None, split, data.item_ids)


def test_a_sample_keeps_the_users_with_the_smallest_pseudonyms(files, both):
    _, split, _ = both
    scan = scan_shards(str(files / "log"), str(files / "catalog.csv"), pseudonym_key=KEY, history_length=fx.HISTORY,
                       sample_users=25)
    assert scan.sample.test.user.tolist() == sorted(split.test.user)[:25]
    assert set(scan.sample.validation.user) <= set(scan.sample.test.user)


def test_a_user_in_two_shards_is_refused(files, tmp_path):
    frame = fx.dataset().interactions
    user = frame["user_id"].iloc[0]
    frame[frame["user_id"] == user].to_parquet(tmp_path / "a.parquet", index=False)
    frame.to_parquet(tmp_path / "b.parquet", index=False)
    with pytest.raises(DataError, match=r"a user has events in shards .*a\.parquet and .*b\.parquet; .*partition it by user_id"):
        scan_shards(str(tmp_path), str(files / "catalog.csv"), pseudonym_key=KEY, history_length=fx.HISTORY)


def test_a_bad_shard_is_refused_naming_the_shard_and_the_column(files, tmp_path):
    fx.dataset().interactions.drop(columns=["timestamp"]).to_parquet(tmp_path / "part-0.parquet", index=False)
    with pytest.raises(DataError, match=r"part-0\.parquet is missing required column\(s\) timestamp"):
        scan_shards(str(tmp_path), str(files / "catalog.csv"), pseudonym_key=KEY, history_length=fx.HISTORY)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match=r"no \*\.parquet shard there"):
        list_shards(str(tmp_path / "empty"))


def test_each_worker_reads_its_own_shards():
    shards = [f"s{i}" for i in range(5)]
    assert [shards_of(shards, w, 2) for w in range(2)] == [["s0", "s2", "s4"], ["s1", "s3"]]
    with pytest.raises(DataError, match="2 shard"):
        shards_of(shards[:2], 0, 3)


@pytest.mark.slow
def test_a_streamed_feed_yields_every_training_example_of_its_shards(both, files):
    import tensorflow as tf

    from recsys_dr.model.distributed import Runtime
    from recsys_dr.model.features import Preprocessor
    from recsys_dr.model.stream import StreamFeed

    data, split, scan = both
    pre = Preprocessor(scan.item_ids, scan.tokens.vocabulary(), 6)
    feed = StreamFeed(scan, pre, pseudonym_key=KEY, shuffle_buffer=1)  # shards in turn, nothing mixed across
    config = fx.train_config(batch_size=64)
    runtime = Runtime("one-device", tf.distribute.get_strategy())
    targets = np.concatenate([y.numpy() for _, _, y in feed.epoch(runtime, config)])
    assert len(targets) == -(-len(split.train) // 64) * 64  # whole batches; the stream cycles on
    expected = np.bincount(pre.labels(split.train.target), minlength=pre.num_items)
    assert np.bincount(targets[:len(split.train)], minlength=pre.num_items).tolist() == expected.tolist()


@pytest.fixture(scope="module")
def s3_endpoint(tmp_path_factory):
    with moto_server(tmp_path_factory.mktemp("moto")) as url:
        yield url


@pytest.mark.slow
def test_build_streams_shards_from_s3_and_exports_a_version(files, s3_endpoint, tmp_path):
    import boto3

    creds = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": "us-east-1",
             "AWS_DEFAULT_REGION": "us-east-1", "AWS_ENDPOINT_URL": s3_endpoint}
    s3 = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1", aws_access_key_id="testing",
                      aws_secret_access_key="testing")
    s3.create_bucket(Bucket="events")
    for shard in sorted((files / "log").iterdir()):
        s3.upload_file(str(shard), "events", f"interactions/{shard.name}")
    s3.upload_file(str(files / "catalog.csv"), "events", "catalog.csv")
    env = {k: v for k, v in os.environ.items() if k != "TF_CONFIG"} | creds | {"CUDA_VISIBLE_DEVICES": ""}
    done = subprocess.run(
        [sys.executable, "-m", "recsys_dr.model", "build", "--interactions", "s3://events/interactions/",
         "--catalog", "s3://events/catalog.csv", "--pseudonym-key-file", FREE_KEY_FILE, "--epochs", "1",
         "--embedding-dim", "16", "--hidden-units", "32", "--history-length", "6", "--num-sampled", "16",
         "--no-progress", "--out", str(tmp_path), "--metrics-out", str(tmp_path / "metrics.json")],
        env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "4 shards, 240 users" in done.stderr
    assert "{" not in done.stderr + done.stdout  # the data report in words, no dict repr
    assert (Path(json.loads((tmp_path / "metrics.json").read_text())["fallback_dir"]) / "manifest.json").is_file()
    out = json.loads((tmp_path / "metrics.json").read_text())
    assert out["metrics"]["model"]["all"]["examples"] == 240
    assert (Path(out["version_dir"]) / "manifest.json").is_file()
