"""The components' Python API: snake_case names in signatures, docstrings and errors.

Stack files spell settings in camelCase (`gpu.maxSize`); Python code passes the field names
(`GpuPoolSettings(max_size=...)`), and whatever it is told names what it wrote.
"""

from __future__ import annotations

import ast
import dataclasses
import importlib
import inspect
import pkgutil
import re
from pathlib import Path

import pytest

import recsys_dr.components as components
from recsys_dr.components.settings import (
    DnsSettings,
    GpuPoolSettings,
    ModelSettings,
    RegionPair,
    ServingSettings,
    Settings,
    SettingsError,
    TwoRegionRecommenderArgs,
)
from recsys_dr.components.settings.base import default_text, python_names
from recsys_dr.model.manifest import write_manifest
from recsys_dr.stacks.settings import ConfigError, load_settings
from tests.stacks.test_settings import shipped


def settings_classes() -> list[type[Settings]]:
    found, pending = [], list(Settings.__subclasses__())
    while pending:
        model = pending.pop()
        found.append(model)
        pending += model.__subclasses__()
    return sorted(found, key=lambda m: m.__name__)


SETTINGS = settings_classes()
ALIASES = {f.alias for model in SETTINGS for n, f in model.model_fields.items() if f.alias and f.alias != n}
CAMEL_WORD = re.compile(r"\b[a-z][a-z0-9]*(?:[A-Z][a-z0-9]*)+\b")


def stack_file_keys_in(text: str) -> set[str]:
    return set(CAMEL_WORD.findall(text)) & ALIASES


def python_error(build) -> SettingsError:
    with pytest.raises(SettingsError) as caught:
        build()
    return caught.value


REQUIRED = dict(
    regions=RegionPair(primary="eu-west-1", standby="eu-central-1"),
    model=ModelSettings(name="search-ranker", version=12, manifest_sha256="0" * 64),
    dns=DnsSettings(record_name="rank.search.example.eu", zone_id="Z0123456789ABCDEFGHIJ"),
)


@pytest.mark.parametrize("model", SETTINGS, ids=lambda m: m.__name__)
def test_signature_has_the_python_names_and_the_declared_defaults(model):
    parameters = inspect.signature(model).parameters
    assert list(parameters) == list(model.model_fields)
    for name, info in model.model_fields.items():
        if info.default_factory is None and not info.is_required():
            assert parameters[name].default == info.default
        assert parameters[name].kind is inspect.Parameter.KEYWORD_ONLY


@pytest.mark.parametrize("model", SETTINGS, ids=lambda m: m.__name__)
def test_docstring_documents_every_argument_with_its_type_and_default(model):
    doc = inspect.getdoc(model)
    summary, _, args = doc.partition("\nArgs:\n")
    assert args, f"{model.__name__} has no Args: section"
    entries = re.findall(r"^    (\w+) \((.+?)\): ", args, flags=re.MULTILINE)
    assert [name for name, _ in entries] == list(model.model_fields)
    flat = " ".join(args.split())
    for name, info in model.model_fields.items():
        entry = flat.split(f"{name} (", 1)[1]
        assert info.description.split()[0] in entry.split("):", 1)[1][:80]
        # The default a caller gets, as Python spells it (`Default: 2.`, `Default: None.`, `Required.`).
        assert " ".join(default_text(info).split()) in entry
        if not info.is_required() and info.default_factory is None:
            assert f"Default: {info.default!r}." in entry
    assert not stack_file_keys_in(summary + re.sub(r"Stack-file\s+key:\s+`\w+`", "", args)), "docstrings name Python's arguments"


def test_docstring_default_is_what_the_constructor_gives():
    # The docstring's value and the object built without the argument agree.
    built = GpuPoolSettings()
    for name in GpuPoolSettings.model_fields:
        stated = re.search(rf"{name} \(.*?Default: (.+?)\. Stack-file", " ".join(inspect.getdoc(GpuPoolSettings).split()))
        value = getattr(built, name)
        if isinstance(value, Settings):  # a nested section: built with its own defaults
            assert stated.group(1) == f"{type(value).__name__}() (its own defaults)" and value == type(value)()
        else:
            assert stated.group(1) == repr(value)


@pytest.mark.parametrize("model", SETTINGS, ids=lambda m: m.__name__)
def test_every_wrong_type_is_reported_with_python_names(model):
    # A value of no accepted type for every argument at once: every message names Python's arguments.
    error = python_error(lambda: model(**{name: object() for name in model.model_fields}))
    assert error.problems
    for problem in error.problems:
        assert problem.startswith("`") and not problem.startswith("`recsys-dr:")
        assert not stack_file_keys_in(problem), problem


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: GpuPoolSettings(max_size=4, min_size=5, desired_size=5),
         "`min_size` must be <= `max_size`. Received: min_size=5, max_size=4"),
        (lambda: GpuPoolSettings(max_size=10**9),
         "`max_size` must be <= 450 (EKS quota 'Nodes per managed node group', default 450). Received: 1000000000"),
        (lambda: ModelSettings(name="recs", version=1, manifest_sha256="ABC"),
         "`manifest_sha256` must be 64 lower-case hexadecimal digits. Received: 'ABC'"),
        (lambda: TwoRegionRecommenderArgs(**REQUIRED, gpu=GpuPoolSettings(max_size=1, min_size=1), standby_mode="cold"),
         "`standby_mode` must be one of: warm, pilot-light. Received: 'cold'"),
        (lambda: TwoRegionRecommenderArgs(**REQUIRED, gpu={"max_size": 4, "min_size": 5, "desired_size": 5}),
         "`gpu.min_size` must be <= `gpu.max_size`. Received: min_size=5, max_size=4"),
        (lambda: TwoRegionRecommenderArgs(**REQUIRED, serving=ServingSettings(gpus_per_pod=2)),
         "`serving.gpus_per_pod` must be <= the GPUs of `gpu.instance_types` g5.xlarge (1); the pod would stay Pending. Received: 2"),
        (lambda: TwoRegionRecommenderArgs(**{**REQUIRED, "dns": "rank.search.example.eu"}),
         "`dns` must be a DnsSettings (or a dict of its arguments). Received: 'rank.search.example.eu'"),
        (lambda: DnsSettings(record_name="rank.search.example.eu"),
         "exactly one of `zone_id` (existing hosted zone) and `zone_name` (zone to create) must be set. "
         "Received: zone_id=None, zone_name=None"),
        # The stack file's spelling, and a typo, in Python: the argument meant is named.
        (lambda: GpuPoolSettings(maxSize=4),
         "`maxSize` is not an argument of GpuPoolSettings; did you mean `max_size`? Allowed: instance_types, min_size, "
         "desired_size, max_size, os_family, capacity_type, disk_size_gib, capacity_reservations, image_cache"),
        (lambda: TwoRegionRecommenderArgs(**REQUIRED, gpu={"max_sise": 4}),
         "`gpu.max_sise` is not an argument of GpuPoolSettings; did you mean `max_size`? Allowed: instance_types, min_size, "
         "desired_size, max_size, os_family, capacity_type, disk_size_gib, capacity_reservations, image_cache"),
    ],
)
def test_python_errors_name_python_arguments(build, message):
    assert message in python_error(build).problems


def test_a_python_typo_is_not_the_stack_file_key():
    # Python accepts only its own names, as type checkers do: the camelCase key is refused there.
    assert "`maxSize` is not an argument" in python_error(lambda: GpuPoolSettings(maxSize=3)).problems[0]


def test_the_same_mistake_in_a_stack_file_keeps_the_yaml_names():
    raw = shipped("dev")
    raw["gpu"] = {**raw.get("gpu", {}), "minSize": 5, "desiredSize": 5, "maxSize": 4}
    with pytest.raises(ConfigError) as caught:
        load_settings(raw, "dev")
    assert "`recsys-dr:gpu.minSize` must be <= `recsys-dr:gpu.maxSize`. Received: minSize=5, maxSize=4" in caught.value.problems
    raw["gpu"] = {"max_size": 4}
    with pytest.raises(ConfigError, match=r"`recsys-dr:gpu.max_size` is not a known key; did you mean `maxSize`\?"):
        load_settings(raw, "dev")


def version_dir(root: Path) -> Path:
    directory = root / "recs" / "3"
    directory.mkdir(parents=True)
    (directory / "saved_model.pb").write_bytes(b"graph")
    write_manifest(directory, model_name="recs", version=3, metadata={})
    return directory


def test_a_wrong_digest_in_python_names_the_python_arguments(tmp_path):
    directory = version_dir(tmp_path)
    error = python_error(lambda: ModelSettings(name="recs", version=3, artifact_dir=str(directory), manifest_sha256="0" * 64))
    [problem] = error.problems
    assert problem.startswith("`artifact_dir` must hold the manifest `manifest_sha256` pins (the init container refuses any other).")


def test_component_argument_errors_name_python_arguments():
    serving = components.ModelServingArgs(region="eu-west-1", model=REQUIRED["model"], replicas=9)
    with pytest.raises(SettingsError) as caught:
        components.ModelServing("recs", serving, wiring=None)
    assert "between serving.min_replicas and serving.max_replicas. Received: replicas=9, min_replicas=1, max_replicas=4" in str(caught.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("`recsys-dr:gpu.maxSize` and `gpu.minSize`", "`recsys-dr:gpu.max_size` and `gpu.min_size`"),
        ("Received: minSize=4, maxSize=2", "Received: min_size=4, max_size=2"),
        # Values stay as given: quoted, in ARNs and paths.
        ("Received: 'maxSize'", "Received: 'maxSize'"),
        ("arn:aws:iam::123456789012:role/maxSize", "arn:aws:iam::123456789012:role/maxSize"),
        # A camelCase word that is no setting stays.
        ("scalingConfig", "scalingConfig"),
    ],
)
def test_python_names_rewrites_only_declared_keys(text, expected):
    assert python_names(text) == expected


def test_every_declared_key_has_its_python_name():
    for model in SETTINGS:
        for name, info in model.model_fields.items():
            assert python_names(f"`{info.alias or name}`") == f"`{name}`"


def component_args_classes() -> list[type]:
    """Every `*Args` / `*Wiring` dataclass a caller builds for a component."""
    found = set()
    for info in pkgutil.walk_packages(components.__path__, prefix="recsys_dr.components."):
        module = importlib.import_module(info.name)
        found |= {c for _, c in inspect.getmembers(module, inspect.isclass)
                  if dataclasses.is_dataclass(c) and c.__name__.endswith(("Args", "Wiring")) and c.__module__ == module.__name__}
    return sorted(found, key=lambda c: c.__name__)


# "Default 60.", "Default "recsys".", "Default True." in an argument's text: the stated default.
STATED_DEFAULT = re.compile(r"Default:? (\d+|True|False|\"[^\"]*\")[.;,)]")


@pytest.mark.parametrize("args_class", component_args_classes(), ids=lambda c: c.__name__)
def test_component_args_document_every_argument_and_its_default(args_class):
    doc = inspect.getdoc(args_class)
    section = re.split(r"\n(?:Attributes|Args):\n", doc, maxsplit=1)[1]
    entries = dict(re.findall(r"^    ((?:\w+(?: / )?)+): (.*(?:\n        .*)*)", section, flags=re.MULTILINE))
    documented = {name: text for names, text in entries.items() for name in names.split(" / ")}
    for field in dataclasses.fields(args_class):
        assert field.name in documented, f"{args_class.__name__}.{field.name} is not documented"
        stated = STATED_DEFAULT.search(" ".join(documented[field.name].split()))
        if stated and field.default is not dataclasses.MISSING:
            value = stated.group(1)
            assert value == (f'"{field.default}"' if isinstance(field.default, str) else repr(field.default)), field.name


def lazy_packages() -> list:
    """Packages of `recsys_dr.components` that load their exports on first use (PEP 562 `__getattr__`)."""
    packages = [importlib.import_module(i.name) for i in pkgutil.walk_packages(components.__path__, prefix="recsys_dr.components.") if i.ispkg]
    return [p for p in packages if "__getattr__" in vars(p)]


@pytest.mark.parametrize("package", lazy_packages(), ids=lambda p: p.__name__)
def test_lazy_exports_are_visible_to_type_checkers(package):
    # Type checkers cannot run `__getattr__`: each export is also imported under TYPE_CHECKING,
    # in the `X as X` form that marks a re-export of a py.typed package (PEP 484, pyright).
    tree = ast.parse(Path(package.__file__).read_text(encoding="utf-8"))
    block = next(n for n in tree.body if isinstance(n, ast.If) and getattr(n.test, "id", None) == "TYPE_CHECKING")
    imported = {
        alias.asname: (node.module, alias.name)
        for node in block.body if isinstance(node, ast.ImportFrom) for alias in node.names
    }
    assert sorted(imported) == sorted(package.__all__)
    for name, (module, original) in imported.items():
        assert name == original
        assert getattr(package, name) is getattr(importlib.import_module(module), name)
