"""`python -m recsys_dr.model ...`: exit codes and the wiring of build/export/evaluate/publish/verify/inspect."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest

from recsys_dr.model.cli import main

# A key file, as a real key would be given (never on the command line); its content is "test".
KEY_FILE = str(Path(__file__).with_name("pseudonym-key.txt"))
TINY = ["--synthetic-users", "120", "--epochs", "1", "--embedding-dim", "16", "--hidden-units", "32",
        "--history-length", "6", "--num-sampled", "16", "--no-progress", "--pseudonym-key-file", KEY_FILE]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli-artifacts")
    printed, handler, root = io.StringIO(), logging.StreamHandler(io.StringIO()), logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)  # what `main` sets up outside pytest (its basicConfig defers to pytest's handlers)
    try:
        with contextlib.redirect_stdout(printed):
            assert main(["build", "--out", str(out), *TINY, "--metrics-out", str(out / "metrics.json")]) == 0
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
    (out / "build-output.txt").write_text(printed.getvalue() + handler.stream.getvalue())
    return out


@pytest.fixture
def aws(monkeypatch):
    from moto import mock_aws

    for k, v in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                 "AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1"}.items():
        monkeypatch.setenv(k, v)
    with mock_aws():
        import boto3

        boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="models-primary")
        yield


def test_help_is_fast_and_does_not_import_tensorflow():
    code = "import sys, runpy; sys.argv=['model','--help']\ntry:\n runpy.run_module('recsys_dr.model', run_name='__main__')\nexcept SystemExit as e:\n assert e.code == 0\nassert 'tensorflow' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)


def test_unknown_command_is_a_usage_error():
    with pytest.raises(SystemExit) as exc:
        main(["train"])
    assert exc.value.code == 2


def test_bad_hidden_units_is_a_usage_error(tmp_path, capsys):
    assert main(["build", "--out", str(tmp_path), "--hidden-units", "big"]) == 2
    assert "--hidden-units must be comma-separated integers" in capsys.readouterr().err


def test_complete_journey_gets_the_key_file_like_every_source(monkeypatch):
    import argparse

    import recsys_dr.model.completejourney as cj
    from recsys_dr.model import cli

    seen = {}
    monkeypatch.setattr(cj, "load_complete_journey", lambda pseudonym_key=None: seen.setdefault("key", pseudonym_key))
    args = cli.build_parser().parse_args(["build", "--data", "completejourney", "--pseudonym-key-file", KEY_FILE])
    assert isinstance(args, argparse.Namespace) and cli._load_data(args) == "test" and seen == {"key": "test"}


def test_bad_input_file_is_a_usage_error(tmp_path, capsys):
    (tmp_path / "i.csv").write_text("user_id,item_id\nu,A\n")
    (tmp_path / "c.csv").write_text("item_id,title,category\nA,t,c\n")
    assert main(["build", "--out", str(tmp_path), "--interactions", str(tmp_path / "i.csv"),
                 "--catalog", str(tmp_path / "c.csv"), "--pseudonym-key-file", KEY_FILE]) == 2
    assert "missing required column(s) timestamp" in capsys.readouterr().err


def test_real_files_refuse_the_dev_pseudonym_key(tmp_path, capsys, monkeypatch):
    from recsys_dr.model.data import PSEUDONYM_KEY_ENV

    monkeypatch.delenv(PSEUDONYM_KEY_ENV, raising=False)
    (tmp_path / "i.csv").write_text("user_id,item_id\nu,A\n")  # never read: refused first
    (tmp_path / "c.csv").write_text("item_id,title,category\nA,t,c\n")
    files = ["--interactions", str(tmp_path / "i.csv"), "--catalog", str(tmp_path / "c.csv")]
    assert main(["build", "--out", str(tmp_path), *files]) == 2
    err = capsys.readouterr().err
    assert f"need a secret pseudonymisation key: set ${PSEUDONYM_KEY_ENV}" in err and "--allow-dev-key" in err
    assert not (tmp_path / "recommender").exists()
    # an explicit opt-in, or a key from the environment, gets past the check to the data itself
    assert main(["build", "--out", str(tmp_path), *files, "--allow-dev-key"]) == 2
    assert "missing required column(s) timestamp" in capsys.readouterr().err
    monkeypatch.setenv(PSEUDONYM_KEY_ENV, "secret")
    assert main(["build", "--out", str(tmp_path), *files]) == 2
    assert "missing required column(s) timestamp" in capsys.readouterr().err


def test_bad_option_values_are_usage_errors(tmp_path, capsys):
    assert main(["build", "--out", str(tmp_path), "--history-length", "0"]) == 2
    assert "`history_length` must be >= 1" in capsys.readouterr().err
    assert main(["build", "--out", str(tmp_path), "--model-name", "../evil"]) == 2
    assert "--model-name: `model_name` must match" in capsys.readouterr().err
    assert main(["export", "--out", str(tmp_path), "--top-k", "0"]) == 2


def test_missing_manifest_is_a_failure_not_a_usage_error(tmp_path, capsys):
    assert main(["evaluate", "--model-dir", str(tmp_path / "nope")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error (ManifestError):") and "manifest not found" in err and "Traceback" not in err


def test_other_errors_exit_1_with_one_line(monkeypatch, capsys):
    import recsys_dr.model.cli as cli

    def boom(args):
        raise ValueError("internal shape mismatch")

    monkeypatch.setattr(cli, "cmd_inspect", boom)
    assert main(["inspect", "somewhere"]) == 1
    assert capsys.readouterr().err.strip() == "error (ValueError): internal shape mismatch (-v for the traceback)"


def test_verify_bucket_connection_error_is_one_line_exit_1(monkeypatch, capsys):
    import socket

    import recsys_dr.model.verify as verify

    monkeypatch.setattr(verify, "RETRY_CONFIG", {"mode": "standard", "max_attempts": 1})  # no 30 s of retries
    for k, v in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": "us-east-1"}.items():
        monkeypatch.setenv(k, v)
    with socket.socket() as s:  # a port that was free a moment ago: nothing listens on it
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    assert main(["verify", "--bucket", "b", "--model-name", "recommender", "--version", "1",
                 "--endpoint-url", f"http://127.0.0.1:{port}"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("verify failed (EndpointConnectionError): Could not connect to the endpoint URL")
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


@pytest.mark.slow
def test_build_exports_a_verified_version(built):
    assert (built / "recommender" / "1" / "manifest.json").is_file()
    metrics = json.loads((built / "metrics.json").read_text())["metrics"]
    assert set(metrics) == {"model", "fallback", "most-popular", "personal-frequency", "item-knn"}
    assert set(metrics["model"]) == {"all", "repeat", "new"}
    assert main(["verify", str(built / "recommender" / "1")]) == 0


def test_build_says_exported_once_and_prints_no_python_reprs(built):
    output = (built / "build-output.txt").read_text()
    exported = [line for line in output.splitlines() if "exported " in line]
    assert [line.split()[1].rsplit("/", 2)[-2:] for line in exported] == [["recommender", "1"], ["recommender-fallback", "1"]]
    assert "{" not in output and "'" not in output  # no dict repr of the data report
    assert "retracing" not in output  # tf.function's advice: noise to a user of the CLI
    assert "rows read" in output


def test_inspect_prints_the_metrics_as_one_aligned_table(built, capsys):
    capsys.readouterr()
    assert main(["inspect", str(built / "recommender" / "1")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert not [line for line in lines if line.startswith("metrics ")]
    header = next(i for i, line in enumerate(lines) if line.startswith("method "))
    table = lines[header:header + 2 + 5]  # header, rule, one row per method (the fallback version's too)
    assert sorted(row.split()[0] for row in table[2:]) == ["fallback", "item-knn", "model", "most-popular",
                                                           "personal-frequency"]
    assert len({len(row) for row in table}) == 1 and len(table[0]) <= 80


@pytest.mark.slow
def test_publish_prints_no_botocore_credential_notice(built, aws, caplog, monkeypatch):
    import boto3

    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)  # a fresh process: credentials not resolved yet
    caplog.set_level(logging.INFO)
    assert main(["publish", str(built / "recommender" / "1"), "--bucket", "models-primary", "--no-progress"]) == 0
    assert not [r for r in caplog.records if r.name.startswith("botocore")]


@pytest.mark.slow
def test_build_exports_the_fallback_version_beside_it_with_the_same_figures(built):
    main_manifest = json.loads((built / "recommender" / "1" / "manifest.json").read_text())
    fallback = json.loads((built / "recommender-fallback" / "1" / "manifest.json").read_text())
    assert main(["verify", str(built / "recommender-fallback" / "1")]) == 0
    # One evaluation run, one split: both manifests carry every method's figures, and name each other.
    assert fallback["metrics"] == main_manifest["metrics"] and "fallback" in main_manifest["metrics"]
    assert main_manifest["fallback_version"] == {"model_name": "recommender-fallback", "version": 1}
    assert fallback["main"] == {"model_name": "recommender", "version": 1}
    assert fallback["signature"] == main_manifest["signature"]
    assert fallback["evaluation"]["test_users"] == main_manifest["evaluation"]["test_users"]
    selection = fallback["fallback_selection"]
    assert fallback["fallback"]["categories"] == selection["categories"]


@pytest.mark.slow
def test_evaluate_and_inspect_take_the_fallback_version(built, capsys):
    version = built / "recommender-fallback" / "1"
    manifest = json.loads((version / "manifest.json").read_text())
    data = ["--synthetic-users", "120", "--pseudonym-key-file", KEY_FILE]
    assert main(["evaluate", "--model-dir", str(version), *data, "--json", str(built / "fallback-eval.json")]) == 0
    # The offline evaluation of the published files gives the figure its manifest records.
    assert json.loads((built / "fallback-eval.json").read_text())["metrics"]["model"] == manifest["metrics"]["fallback"]
    capsys.readouterr()
    assert main(["inspect", str(version), "--history", "nope,also-unknown"]) == 0
    assert len([line for line in capsys.readouterr().out.splitlines() if line.startswith("  0.")]) == 10


def test_build_refuses_a_version_the_fallback_already_has(tmp_path, capsys):
    (tmp_path / "recommender-fallback" / "4").mkdir(parents=True)
    assert main(["build", "--out", str(tmp_path), "--version", "4", *TINY]) == 2
    assert "recommender-fallback/4 already exist(s)" in capsys.readouterr().err
    assert not (tmp_path / "recommender").exists()  # refused before training


@pytest.mark.slow
def test_build_and_publish_print_the_manifest_digest_to_pin(built, aws, capsys):
    from recsys_dr.model.manifest import file_digest

    version = built / "recommender" / "1"
    digest = file_digest(version / "manifest.json")[0]
    capsys.readouterr()
    assert main(["publish", str(version), "--bucket", "models-primary", "--no-progress"]) == 0
    assert f"manifest sha256: {digest}\n" in capsys.readouterr().out
    assert main(["verify", str(version)]) == 0 and f"manifest sha256: {digest}" in capsys.readouterr().out
    assert main(["verify", "--bucket", "models-primary", "--model-name", "recommender", "--version", "1",
                 "--manifest-sha256", digest]) == 0
    assert main(["verify", str(version), "--manifest-sha256", "0" * 64]) == 1
    assert f"!= pinned {'0' * 64}" in capsys.readouterr().out
    assert main(["inspect", str(version)]) == 0 and f"manifest sha256: {digest}" in capsys.readouterr().out


def test_a_build_with_too_few_users_to_evaluate_says_so(tmp_path, caplog):
    inter, cat = tmp_path / "i.csv", tmp_path / "c.csv"
    inter.write_text("user_id,item_id,timestamp\nalice,a,1\n")
    cat.write_text("item_id,title,category\na,Apple,fruit\nb,Banana,fruit\n")
    assert main(["build", "--out", str(tmp_path), "--interactions", str(inter), "--catalog", str(cat),
                 "--pseudonym-key-file", KEY_FILE, "--epochs", "1", "--embedding-dim", "8", "--hidden-units", "8",
                 "--history-length", "2", "--no-progress"]) == 0
    manifest = json.loads((tmp_path / "recommender" / "1" / "manifest.json").read_text())
    assert manifest["metrics"] == {} and manifest["evaluation"]["test_users"] == 0
    assert manifest["evaluation"]["warning"].startswith("not evaluated: no user has two or more interactions")
    assert "evaluation: not evaluated" in caplog.text


@pytest.mark.slow
def test_inspect_runs_a_query(built, capsys):
    capsys.readouterr()
    assert main(["inspect", str(built / "recommender" / "1"), "--query", "shoes", "--history", "bogus", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["version"] == 1 and len(out["prediction"]) == 10
    assert all(p["title"] for p in out["prediction"])  # catalog titles beside the ids
    assert main(["inspect", str(built / "nothing-here")]) == 1


@pytest.mark.slow
def test_redirected_output_has_no_progress_codes_or_tensorflow_noise(built):
    proc = subprocess.run([sys.executable, "-m", "recsys_dr.model", "inspect", str(built / "recommender" / "1"),
                           "--query", "shoes"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    for stream in (proc.stdout, proc.stderr):
        assert "\x1b[" not in stream and "\r" not in stream
        assert "I0000" not in stream and "oneDNN" not in stream and "cuInit" not in stream


@pytest.mark.slow
def test_export_from_bundle_then_evaluate_the_artifact(built, capsys, tmp_path, monkeypatch):
    assert main(["export", "--out", str(built), "--top-k", "3"]) == 0
    assert main(["export", "--out", str(built), "--version", "2"]) == 2  # immutable
    capsys.readouterr()
    assert main(["evaluate", "--model-dir", str(built / "recommender" / "2"), "--synthetic-users", "120",
                 "--pseudonym-key-file", KEY_FILE, "--json", str(built / "eval.json")]) == 0
    built_metrics = json.loads((built / "metrics.json").read_text())["metrics"]["model"]
    evaluated = json.loads((built / "eval.json").read_text())["metrics"]["model"]
    assert evaluated["all"]["ndcg@10"] == pytest.approx(built_metrics["all"]["ndcg@10"], abs=1e-6)
    # A version whose row cap is below this data's batch (120 held-out users, one batch) is asked
    # in chunks of the cap: the same figures, not an InvalidArgument from the graph.
    from recsys_dr.model import export

    monkeypatch.setattr(export, "max_batch", lambda num_items: 64)
    assert main(["export", "--out", str(built), "--version", "3"]) == 0
    assert json.loads((built / "recommender" / "3" / "manifest.json").read_text())["serving"]["max_batch"] == 64
    assert main(["evaluate", "--model-dir", str(built / "recommender" / "3"), "--synthetic-users", "120",
                 "--pseudonym-key-file", KEY_FILE, "--json", str(built / "eval3.json")]) == 0
    capped = json.loads((built / "eval3.json").read_text())["metrics"]["model"]
    assert capped["all"]["ndcg@10"] == pytest.approx(built_metrics["all"]["ndcg@10"], abs=1e-6)
    # A version in the 0.2 layout (ids in assets.extra/) is refused with a way out, not a traceback.
    import shutil

    old = shutil.copytree(built / "recommender" / "2", tmp_path / "2")
    (old / "assets" / "items.txt").rename(old / "items.txt")
    capsys.readouterr()
    assert main(["evaluate", "--model-dir", str(old), "--synthetic-users", "120", "--pseudonym-key-file", KEY_FILE]) == 2
    assert "exported by recsys-dr < 0.3" in capsys.readouterr().err


@pytest.mark.slow
def test_two_builds_with_the_same_seed_give_identical_files(tmp_path):
    """Fresh processes, like two CI runs: every manifest file entry (path, sha256, size) matches."""
    outs = [tmp_path / "a", tmp_path / "b"]
    procs = [subprocess.Popen([sys.executable, "-m", "recsys_dr.model", "build", "--out", str(o), *TINY],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) for o in outs]
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err.decode()[-2000:]
    a, b = (json.loads((o / "recommender" / "1" / "manifest.json").read_text()) for o in outs)
    assert len(a["files"]) >= 6
    assert a["files"] == b["files"]


@pytest.mark.slow
def test_tampered_version_fails_verification(built, tmp_path):
    import shutil

    copy = tmp_path / "recommender" / "1"
    shutil.copytree(built / "recommender" / "1", copy)
    from recsys_dr.model.manifest import ITEMS_PATH

    with open(copy / ITEMS_PATH, "a") as f:
        f.write("extra\n")
    assert main(["verify", str(copy)]) == 1


@pytest.mark.slow
def test_publish_then_verify_remote_and_conflict(built, aws, tmp_path):
    version = str(built / "recommender" / "1")
    assert main(["publish", version, "--bucket", "models-primary", "--no-progress"]) == 0
    assert main(["publish", version, "--bucket", "models-primary", "--no-progress"]) == 0  # idempotent
    assert main(["verify", "--bucket", "models-primary", "--model-name", "recommender", "--version", "1"]) == 0
    assert main(["verify", "--bucket", "models-primary", "--model-name", "recommender", "--version", "9"]) == 1
    other = tmp_path / "other"
    assert main(["build", "--out", str(other), *TINY, "--seed", "1"]) == 0
    assert main(["publish", str(other / "recommender" / "1"), "--bucket", "models-primary", "--no-progress"]) == 1


def test_docs_list_the_build_commands_numeric_defaults():
    import re
    from pathlib import Path

    from recsys_dr.model.cli import build_parser

    text = (Path(__file__).resolve().parents[2] / "docs" / "model.md").read_text()
    para = text[text.index("Main `build` options (defaults in brackets)"):]
    para = para[:para.index("git-ignored")]
    listed = dict(re.findall(r"`(--[a-z-]+)[^`]*`(?: \([^)]*\))?(?: L)? \[([^\]]+)\]", para))
    build = build_parser()._subparsers._group_actions[0].choices["build"]
    training = next(g for g in build._action_groups if g.title == "training")._group_actions
    numeric = {a.option_strings[0]: a.default for a in training if type(a.default) in (int, float)}
    assert len(numeric) >= 12 and set(numeric) <= set(listed)  # every training option is listed
    assert {k: listed[k] for k in numeric} == {k: str(v) for k, v in numeric.items()}


def test_the_pseudonym_key_is_read_from_a_file_never_from_the_command_line(tmp_path, capsys):
    # A key in argv shows in the process list and the shell history.
    # nor as an abbreviation of --pseudonym-key-file
    for argv in (["build", "--out", str(tmp_path)], ["evaluate", "--model-dir", str(tmp_path)]):
        with pytest.raises(SystemExit) as exc:
            main([*argv, "--pseudonym-key", "secret"])
        assert exc.value.code == 2
    assert "unrecognized arguments: --pseudonym-key secret" in capsys.readouterr().err
    from recsys_dr.model.cli import _pseudonym_key, build_parser

    args = build_parser().parse_args(["build", "--pseudonym-key-file", KEY_FILE])
    assert _pseudonym_key(args) == "test"
    (tmp_path / "empty").write_text("\n")
    assert main(["build", "--out", str(tmp_path), "--pseudonym-key-file", str(tmp_path / "empty")]) == 2
    assert f"--pseudonym-key-file {tmp_path / 'empty'} is empty" in capsys.readouterr().err
