"""`secure:` values are planned and masked, ESC imports warned, any stack file planned."""

from __future__ import annotations

import json

from recsys_dr.cli.main import main

from .conftest import FIXTURE_CONFIG, FIXTURE_PROGRAM
from .shipped import STACKS, mutated, setting

SECURE = {"secure": "v1:AAAABBBBCCCC:ZGVmaW5pdGVseS1ub3QtYS1yZWFsLXNlY3JldA=="}


def test_secret_zone_id_of_shipped_prod_is_planned_and_masked(tmp_path):
    plan = mutated("prod", tmp_path, lambda d: setting(d, "dns").update(zoneId=SECURE))
    text = plan.to_json()
    assert "Z0PLANSECRET" not in text and "Z0PROD123456789EXAMPLE" not in text
    assert plan.document["config"]["recsys-dr:dns"] == "[secret]"
    records = plan.of_type("aws:route53/record:Record")
    assert records and all(r["inputs"]["zoneId"] == "[secret]" for r in records)


def test_a_stand_in_the_program_rejects_is_reported_as_a_secret_never_shown(tmp_path, capsys):
    (tmp_path / "__main__.py").write_text(
        "import pulumi\n"
        "token = pulumi.Config('x').require('token')\n"
        "if not token.startswith('tok-'):\n"
        "    raise ValueError(f\"`x:token` must start with 'tok-'. Received: {token!r}\")\n"
    )
    (tmp_path / "Pulumi.s.yaml").write_text("config:\n  x:token:\n    secure: v1:abc\n")
    assert main(["plan", "s", "--program-dir", str(tmp_path), "--quiet", "--out", str(tmp_path / "p.json")]) == 2
    err = capsys.readouterr().err
    assert "`x:token` must start with 'tok-'. Received: '[secret]'" in err
    assert "`x:token` is a `secure:` value: the plan cannot decrypt it" in err
    assert "plan-secret-1" not in err


def test_esc_environment_import_warns_and_still_plans(tmp_path, capsys):
    config = tmp_path / "config"
    config.mkdir()
    text = (FIXTURE_CONFIG / "Pulumi.fixture.yaml").read_text()
    (config / "Pulumi.fixture.yaml").write_text("environment:\n  - recsys/prod-secrets\n" + text)
    out = tmp_path / "p.json"
    assert main(["plan", "fixture", "--program-dir", str(FIXTURE_PROGRAM), "--config-dir", str(config),
                 "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "imports ESC environment recsys/prod-secrets: not resolved offline" in " ".join(printed.split())
    (warning,) = json.loads(out.read_text())["warnings"]
    assert "recsys/prod-secrets" in warning


def test_esc_warning_accompanies_a_configuration_error(tmp_path, capsys):
    (tmp_path / "Pulumi.fixture.yaml").write_text("environment: [recsys/prod]\nconfig:\n  aws:region: us-east-1\n")
    assert main(["plan", "fixture", "--program-dir", str(FIXTURE_PROGRAM), "--config-dir", str(tmp_path),
                 "--quiet", "--out", str(tmp_path / "p.json")]) == 2
    err = capsys.readouterr().err
    assert "recsys-dr: warning:" in err and "imports ESC environment recsys/prod" in err


def test_stack_file_outside_the_checkout_gives_the_environment(tmp_path):
    stack_file = tmp_path / "Pulumi.fixture.yaml"
    stack_file.write_text((FIXTURE_CONFIG / "Pulumi.fixture.yaml").read_text())
    out = tmp_path / "p.json"
    assert main(["plan", "--stack-file", str(stack_file), "--program-dir", str(FIXTURE_PROGRAM),
                 "--out", str(out), "--quiet"]) == 0
    document = json.loads(out.read_text())
    assert document["environment"] == "fixture"
    assert document["stackConfig"] == "Pulumi.fixture.yaml"  # no absolute path


def test_stack_file_with_an_explicit_environment(tmp_path):
    stack_file = tmp_path / "staging.yaml"
    stack_file.write_text((FIXTURE_CONFIG / "Pulumi.fixture.yaml").read_text())
    out = tmp_path / "p.json"
    assert main(["plan", "staging", "--stack-file", str(stack_file), "--program-dir", str(FIXTURE_PROGRAM),
                 "--out", str(out), "--quiet"]) == 0
    assert json.loads(out.read_text())["environment"] == "staging"


def test_stack_file_name_without_environment_exits_2(tmp_path, capsys):
    (tmp_path / "prod.yaml").write_text("config: {}\n")
    assert main(["plan", "--stack-file", str(tmp_path / "prod.yaml"), "--quiet"]) == 2
    assert "cannot tell the environment from the file name" in capsys.readouterr().err


def test_plan_needs_an_environment_or_a_stack_file(capsys):
    assert main(["plan", "--quiet"]) == 2
    assert "give an environment" in capsys.readouterr().err


def test_default_program_is_the_installed_stacks_package():
    from recsys_dr.review.plan import default_program_dir

    assert default_program_dir() == STACKS.resolve()


def _fixture_with_token(folder, ciphertext):
    folder.mkdir(parents=True, exist_ok=True)
    text = (FIXTURE_CONFIG / "Pulumi.fixture.yaml").read_text()
    (folder / "Pulumi.fixture.yaml").write_text(text.replace(
        "v1:AAAABBBBCCCC:ZGVmaW5pdGVseS1ub3QtYS1yZWFsLXNlY3JldA==", ciphertext))
    from recsys_dr.review.plan import render

    return render("fixture", program_dir=FIXTURE_PROGRAM, config_dir=folder)


def test_a_new_secret_ciphertext_is_reported_as_a_changed_secret(tmp_path):
    from recsys_dr.review.diff import diff_plans
    from recsys_dr.review.diff_markdown import render_markdown
    from recsys_dr.review.diff_text import render_text

    base = _fixture_with_token(tmp_path / "a", "v1:AAAA:b25l")
    same = _fixture_with_token(tmp_path / "b", "v1:AAAA:b25l")
    head = _fixture_with_token(tmp_path / "c", "v1:BBBB:dHdv")
    assert diff_plans(base.document, same.document).secrets_changed == []
    result = diff_plans(base.document, head.document)
    assert result.secrets_changed == ["recsys-dr:grafanaToken"]
    assert "Secrets changed" in render_text(result) and "`recsys-dr:grafanaToken`" in render_markdown(result)
    assert "dHdv" not in head.to_json()  # the digest, never the ciphertext or the stand-in
