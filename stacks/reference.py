"""Generate the README's configuration reference and the stack file's JSON Schema from the
settings declarations (`recsys_dr.components.settings`), so neither can drift from the code.

    python -m recsys_dr.stacks.reference --write   # update README.md and stacks/stack-file.schema.json
    python -m recsys_dr.stacks.reference --check   # exit 1 if either is out of date
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from types import UnionType
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from recsys_dr.components.settings import TwoRegionRecommenderArgs
from recsys_dr.components.settings.base import _model_of

NAMESPACE = "recsys-dr"
STACKS = Path(__file__).resolve().parent
SCHEMA_FILE = STACKS / "stack-file.schema.json"
README = STACKS.parent / "README.md"
BEGIN, END = "<!-- config-reference:begin (generated: python -m recsys_dr.stacks.reference --write) -->", "<!-- config-reference:end -->"


def _type_name(annotation: Any) -> str:
    """The stack-file type of a field: string, integer, bool, list or object."""
    origin = get_origin(annotation)
    if origin is Literal:
        return "string"
    if origin is list:
        return "list"
    if origin is dict or (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
        return "object"
    if origin in (Union, UnionType):  # `X | None`: the type of X
        return _type_name(next(a for a in get_args(annotation) if a is not type(None)))
    return {str: "string", int: "integer", float: "number", bool: "bool"}.get(annotation, str(annotation))


def _default(info: Any) -> str:
    if info.is_required():
        return "required"
    value = info.get_default(call_default_factory=True)
    if value is None or value is PydanticUndefined:
        return "none"
    if isinstance(value, BaseModel):
        return "see below"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if value == [] or value == {}:
        return "none"
    return f"`{value}`" if not isinstance(value, list) else "`[" + ", ".join(map(str, value)) + "]`"


def _rows(model: type[BaseModel], prefix: str) -> list[tuple[str, str, str, str, str]]:
    rows = []
    nested = []
    for name, info in model.model_fields.items():
        key = f"{prefix}{info.alias or name}"
        extra = info.json_schema_extra or {}
        sub = _model_of(info.annotation)
        rows.append((f"`{key}`", _type_name(info.annotation), _default(info), extra.get("allowed", ""), info.description or ""))
        if sub is not None:
            nested.append((key, sub))
    for key, sub in nested:
        rows += _rows(sub, f"{key}.")
    return rows


def reference_markdown() -> str:
    """The configuration reference table, one row per declared setting."""
    lines = [
        f"All keys live in the `{NAMESPACE}` namespace of `stacks/Pulumi.<env>.yaml` "
        f"(`{NAMESPACE}:gpu: {{maxSize: 4}}` sets `gpu.maxSize`). Python callers pass the same settings "
        "with snake_case names (`GpuPoolSettings(max_size=4)`).",
        "",
        "| key | type | default | allowed | meaning |",
        "| --- | --- | --- | --- | --- |",
    ]
    for key, kind, default, allowed, description in _rows(TwoRegionRecommenderArgs, ""):
        lines.append(f"| {key} | {kind} | {default} | {allowed.replace('|', '/')} | {description.replace('|', '/')} |")
    return "\n".join(lines) + "\n"


def stack_file_schema() -> dict[str, Any]:
    """JSON Schema of a whole `Pulumi.<env>.yaml` (editor completion; `additionalProperties` refuses typos)."""
    schema = TwoRegionRecommenderArgs.model_json_schema(by_alias=True, mode="validation")
    definitions = schema.pop("$defs", {})
    properties = {f"{NAMESPACE}:{key}": value for key, value in schema["properties"].items()}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "recsys-dr stack file (stacks/Pulumi.<env>.yaml)",
        "type": "object",
        "properties": {
            "config": {
                "type": "object",
                "properties": properties,
                "required": [f"{NAMESPACE}:{key}" for key in schema.get("required", [])],
                # Provider and Pulumi keys are theirs to validate; any other namespace is a typo.
                "patternProperties": {"^(aws|kubernetes|pulumi):": {}},
                "additionalProperties": False,
            },
            "environment": {"description": "Pulumi ESC environments to import (not resolved by the offline plan)."},
            "secretsprovider": {"type": "string"},
            "encryptedkey": {"type": "string"},
            "encryptionsalt": {"type": "string"},
        },
        "$defs": definitions,
    }


def schema_text() -> str:
    return json.dumps(stack_file_schema(), indent=2, sort_keys=True) + "\n"


def readme_with_reference(readme: str) -> str:
    start, end = readme.index(BEGIN) + len(BEGIN), readme.index(END)
    return readme[:start] + "\n" + reference_markdown() + readme[end:]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m recsys_dr.stacks.reference", description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", action="store_true", help="update README.md and the schema file")
    mode.add_argument("--check", action="store_true", help="exit 1 when either is out of date")
    args = parser.parse_args(argv)
    readme = README.read_text(encoding="utf-8")
    wanted = {README: readme_with_reference(readme), SCHEMA_FILE: schema_text()}
    stale = [path for path, text in wanted.items() if not path.exists() or path.read_text(encoding="utf-8") != text]
    if args.write:
        for path in stale:
            path.write_text(wanted[path], encoding="utf-8")
        return 0
    for path in stale:
        print(f"{path.name} is out of date: run python -m recsys_dr.stacks.reference --write", file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
