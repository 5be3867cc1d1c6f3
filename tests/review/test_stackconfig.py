import json

import pytest

from recsys_dr.review.stackconfig import (
    MASK,
    ConfigurationError,
    available_envs,
    env_from_stack_file,
    load_stack_config,
    mask_stand_ins,
    secret_stand_in,
)

from .conftest import FIXTURE_CONFIG


def write(tmp_path, env, text):
    (tmp_path / f"Pulumi.{env}.yaml").write_text(text)
    return tmp_path


def test_key_without_namespace_gets_the_project():
    config = load_stack_config(FIXTURE_CONFIG, "fixture", "recsys-dr")
    assert config.values["recsys-dr:standbyMode"] == "warm"
    assert "standbyMode" not in config.values


def test_objects_are_passed_as_json_strings():
    config = load_stack_config(FIXTURE_CONFIG, "fixture", "recsys-dr")
    assert json.loads(config.values["recsys-dr:regions"]) == {"primary": "us-east-1", "standby": "us-west-2"}
    assert json.loads(config.values["recsys-dr:model"]) == {"name": "recommender", "version": 3}
    assert config.display["recsys-dr:model"] == {"name": "recommender", "version": 3}


def test_secure_values_are_secret_stand_ins_and_masked_for_display():
    config = load_stack_config(FIXTURE_CONFIG, "fixture", "recsys-dr")
    assert config.secret_keys == ("recsys-dr:grafanaToken",)
    assert config.values["recsys-dr:grafanaToken"] == "plan-secret-1"
    assert config.stand_ins == {"plan-secret-1": "recsys-dr:grafanaToken"}
    assert config.display["recsys-dr:grafanaToken"] == MASK


def test_nested_secure_value_makes_the_whole_key_secret(tmp_path):
    write(tmp_path, "x", "config:\n  app:db:\n    host: h\n    password:\n      secure: v1:abc\n")
    config = load_stack_config(tmp_path, "x", "app")
    assert config.secret_keys == ("app:db",)
    assert json.loads(config.values["app:db"]) == {"host": "h", "password": "plan-secret-1"}
    assert config.stand_ins == {"plan-secret-1": "app:db.password"}
    assert config.display["app:db"] == MASK


@pytest.mark.parametrize(("path", "pattern"), [
    ("recsys-dr:dns.zoneId", r"Z[0-9A-Z]{1,31}"),  # Route 53 hosted-zone ids
    ("recsys-dr:serving.tlsCertificateArns[0]", r"arn:aws:[a-z-]+:[a-z0-9-]+:\d{12}:.+"),
    ("recsys-dr:cluster.publicAccessCidrs[1]", r"\d+\.\d+\.\d+\.\d+/32"),
    ("recsys-dr:grafanaToken", r"plan-secret-\d+"),
])
def test_secret_stand_ins_have_the_shape_of_their_key(path, pattern):
    import re

    assert re.fullmatch(pattern, secret_stand_in(path, 7))


def test_stand_ins_are_masked_inside_longer_strings():
    stand_ins = {"Z0PLANSECRET00000001": "recsys-dr:dns.zoneId"}
    value = {"zone": "Z0PLANSECRET00000001", "arn": ["arn:aws:route53:::hostedzone/Z0PLANSECRET00000001"]}
    assert mask_stand_ins(value, stand_ins) == {"zone": MASK, "arn": [f"arn:aws:route53:::hostedzone/{MASK}"]}


@pytest.mark.parametrize("environment", ["[team/common, team/prod]", "{imports: [team/common, team/prod]}"])
def test_esc_environment_import_is_a_warning(tmp_path, environment):
    write(tmp_path, "x", f"environment: {environment}\nconfig:\n  a: 1\n")
    (warning,) = load_stack_config(tmp_path, "x", "p").warnings
    assert "imports ESC environments team/common, team/prod: not resolved offline" in warning


def test_no_environment_no_warning():
    assert load_stack_config(FIXTURE_CONFIG, "fixture", "recsys-dr").warnings == ()


@pytest.mark.parametrize(("name", "env"), [("Pulumi.prod.yaml", "prod"), ("Pulumi.eu-2.yml", "eu-2")])
def test_env_comes_from_the_stack_file_name(name, env, tmp_path):
    assert env_from_stack_file(tmp_path / name) == env


def test_stack_file_name_without_env_is_a_configuration_error(tmp_path):
    with pytest.raises(ConfigurationError, match=r"cannot tell the environment from the file name"):
        env_from_stack_file(tmp_path / "prod.yaml")


def test_explicit_stack_file_of_any_name(tmp_path):
    (tmp_path / "staging-config.yaml").write_text("config:\n  a: 1\n")
    config = load_stack_config(tmp_path, "staging", "p", path=tmp_path / "staging-config.yaml")
    assert config.values == {"p:a": "1"}


def test_scalars_become_pulumi_strings(tmp_path):
    write(tmp_path, "x", "config:\n  flag: true\n  count: 3\n  ratio: 0.5\n  name: n\n")
    values = load_stack_config(tmp_path, "x", "p").values
    assert values == {"p:count": "3", "p:flag": "true", "p:name": "n", "p:ratio": "0.5"}


def test_missing_stack_file_names_the_known_environments():
    with pytest.raises(ConfigurationError, match=r"Pulumi.nope.yaml: no such stack file; .*badconfig, badyaml, fixture, insecure"):
        load_stack_config(FIXTURE_CONFIG, "nope", "recsys-dr")


def test_invalid_yaml_reports_line_and_column():
    with pytest.raises(ConfigurationError, match=r"Pulumi.badyaml.yaml: not valid YAML \(line \d+, column \d+\)"):
        load_stack_config(FIXTURE_CONFIG, "badyaml", "recsys-dr")


def test_malformed_keys_are_all_reported(tmp_path):
    write(tmp_path, "x", "config:\n  a:b:c: 1\n  ':d': 2\n")
    with pytest.raises(ConfigurationError) as caught:
        load_stack_config(tmp_path, "x", "p")
    assert len(caught.value.problems) == 2
    assert all("must be `<key>` or `<namespace>:<key>`" in p for p in caught.value.problems)


def test_config_must_be_a_mapping(tmp_path):
    write(tmp_path, "x", "config: [1, 2]\n")
    with pytest.raises(ConfigurationError, match="`config` must be a mapping"):
        load_stack_config(tmp_path, "x", "p")


@pytest.mark.parametrize("env", ["../dev", "", "a b", "-x"])
def test_environment_names_are_validated(env):
    with pytest.raises(ConfigurationError, match="is not a valid stack name"):
        load_stack_config(FIXTURE_CONFIG, env, "p")


def test_available_envs_lists_stack_files():
    assert available_envs(FIXTURE_CONFIG) == ["badconfig", "badyaml", "fixture", "insecure"]
