"""Stack files the Pulumi CLI would refuse are refused offline too, with one clear line."""

from __future__ import annotations

from pathlib import Path

import pytest

from recsys_dr.review.stackconfig import ConfigurationError, load_stack_config


def test_a_key_given_twice_is_refused(tmp_path):
    # PyYAML keeps the last value; Go yaml.v3 (the Pulumi CLI) refuses a duplicated key.
    (tmp_path / "Pulumi.dup.yaml").write_text("config:\n  recsys-dr:standbyMode: warm\n  recsys-dr:standbyMode: pilot-light\n")
    with pytest.raises(ConfigurationError, match=r"line 3, column 3\): key 'recsys-dr:standbyMode' is given twice \(first on line 2\)"):
        load_stack_config(tmp_path, "dup", "recsys-dr")


def test_a_nested_key_given_twice_is_refused(tmp_path):
    (tmp_path / "Pulumi.dup.yaml").write_text("config:\n  recsys-dr:gpu:\n    maxSize: 2\n    maxSize: 4\n")
    with pytest.raises(ConfigurationError, match=r"key 'maxSize' is given twice"):
        load_stack_config(tmp_path, "dup", "recsys-dr")


def test_a_latin1_stack_file_is_refused_without_a_traceback(tmp_path):
    (tmp_path / "Pulumi.latin.yaml").write_bytes("config:\n  recsys-dr:tags:\n    owner: José\n".encode("latin-1"))
    with pytest.raises(ConfigurationError, match=r"Pulumi.latin.yaml: not UTF-8 text \(byte 40: invalid continuation byte\)"):
        load_stack_config(tmp_path, "latin", "recsys-dr")


def test_a_key_in_a_misspelt_namespace_fails_the_plan(tmp_path, capsys):
    # A typo'd namespace would otherwise be ignored and the default (warm) used silently.
    from recsys_dr.cli.main import main

    shipped = (Path(__file__).resolve().parents[2] / "stacks" / "Pulumi.dev.yaml").read_text()
    stack_file = tmp_path / "Pulumi.typo.yaml"
    stack_file.write_text(shipped + "  recsys_dr:standbyMode: warm\n")
    assert main(["plan", "--stack-file", str(stack_file), "--out", str(tmp_path / "plan.json")]) == 2
    assert "`recsys_dr:standbyMode` is in namespace `recsys_dr`, which nothing in this program reads" in capsys.readouterr().err
