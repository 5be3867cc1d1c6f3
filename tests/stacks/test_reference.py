"""The configuration reference and the stack-file schema come from the declarations and stay current."""

from __future__ import annotations

from pathlib import Path

import jsonschema
import pytest
import yaml

from recsys_dr.components.settings import TwoRegionRecommenderArgs
from recsys_dr.stacks import reference

STACKS = Path(__file__).resolve().parents[2] / "stacks"


def test_docs_reference_page_is_generated_from_the_declarations():
    page = reference.REFERENCE_PAGE.read_text(encoding="utf-8")
    assert page == reference.reference_markdown(), "run: python -m recsys_dr.stacks.reference --write"


def test_schema_file_is_generated_from_the_declarations():
    assert reference.SCHEMA_FILE.read_text(encoding="utf-8") == reference.schema_text(), "run: python -m recsys_dr.stacks.reference --write"


def test_every_declared_setting_has_a_row():
    table = reference.reference_markdown()
    for key in ("`regions.standby`", "`gpu.maxSize`", "`serving.tlsCertificateArns.standby`", "`cluster.vpcCidrs.primary`", "`tags`"):
        assert f"| {key} |" in table


def test_every_setting_says_what_is_allowed_and_what_it_means():
    def walk(model, prefix=""):
        for name, info in model.model_fields.items():
            yield prefix + (info.alias or name), info
            sub = getattr(info.annotation, "model_fields", None) and info.annotation
            if sub:
                yield from walk(sub, prefix + (info.alias or name) + ".")

    for key, info in walk(TwoRegionRecommenderArgs):
        assert info.description, key
        assert (info.json_schema_extra or {}).get("allowed"), key


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_shipped_stack_files_match_the_schema(env):
    document = yaml.safe_load((STACKS / f"Pulumi.{env}.yaml").read_text())
    jsonschema.validate(document, reference.stack_file_schema())


@pytest.mark.parametrize("key", ["recsys_dr:standbyMode", "recsys-dr:gpus"])
def test_schema_refuses_a_key_nothing_reads(key):
    document = yaml.safe_load((STACKS / "Pulumi.dev.yaml").read_text())
    document["config"][key] = "warm"
    # additionalProperties: false beside the providers' patternProperties.
    with pytest.raises(jsonschema.ValidationError, match=rf"{key!r} does not match any of the regexes"):
        jsonschema.validate(document, reference.stack_file_schema())
