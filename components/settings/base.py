"""The settings base: one declaration per setting, and error messages in the project's wording.

Every setting is a pydantic field declared once with `setting(...)`: type, default, bounds,
allowed values and description. The stack-file key is the field's camelCase alias; Python
callers use the snake_case name, which is what signatures, generated docstrings (`Args:`) and
static type checkers see. Validation messages name the key, the value received and what is
allowed, in the names of whoever wrote the value: a stack file gets
"`recsys-dr:gpu.maxSize` must be <= 450 (...). Received: 1000000000", Python code gets
"`gpu.max_size` must be <= 450 (...). Received: 1000000000".
"""

from __future__ import annotations

import difflib
import inspect
import re
import textwrap
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import pulumi
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError, PydanticUndefined

INT32_MAX = 2**31 - 1  # Kubernetes int32 fields (replicas, HPA bounds): apimachinery's API conventions
INT64_MAX = 2**63 - 1  # TF Serving model versions are int64 (model_servers' ModelSpec.version)


def setting(
    default: Any = PydanticUndefined,
    *,
    description: str,
    allowed: str,
    limit: str | None = None,
    default_factory: Any = None,
    **constraints: Any,
) -> Any:
    """Declare one setting.

    Args:
        default: value when the key is absent; leave out for a required setting.
        description: one sentence for the configuration reference and the JSON Schema.
        allowed: what is allowed, phrased to follow "must be" ("one of: warm, pilot-light").
        limit: why an upper bound exists (shown when it is exceeded), e.g. its AWS source.
        default_factory: callable for mutable defaults.
        constraints: pydantic constraints (`ge`, `le`, `min_length`, `pattern`, ...).
    """
    extra: dict[str, Any] = {"allowed": allowed}
    if limit:
        extra["limit"] = limit
    if default_factory is not None:
        return Field(default_factory=default_factory, description=description, json_schema_extra=extra, **constraints)
    return Field(default, description=description, json_schema_extra=extra, **constraints)


def problem(message: str) -> PydanticCustomError:
    """A validator's finding. `{key}` in `message` becomes the full key of the place it was raised."""
    return PydanticCustomError("recsys_dr", message)


# pydantic builds nested settings through their __init__ (a custom __init__ makes it do so),
# so the outermost construction alone turns pydantic's errors into ours.
_DEPTH: ContextVar[int] = ContextVar("settings_depth", default=0)
_KEY_PREFIX: ContextVar[str] = ContextVar("settings_key_prefix", default="")
_ACROSS_SECTIONS: ContextVar[bool] = ContextVar("settings_across_sections", default=True)
# Inside `stack_file_keys`: keys are the camelCase aliases only, and the caller formats
# pydantic's errors itself (a ValueError raised from __init__ would be wrapped by pydantic as a
# "value error"). Outside: keys are the snake_case names only, errors are raised to Python.
_STACK_FILE: ContextVar[bool] = ContextVar("settings_stack_file", default=False)


@contextmanager
def stack_file_keys(prefix: str, *, across_sections: bool = True) -> Iterator[None]:
    """Validate raw stack-file values (camelCase keys): pydantic's errors pass through for the
    caller to word with `error_messages(..., prefix=prefix)`; optionally skip the cross-section rules."""
    tokens = (_KEY_PREFIX.set(prefix), _ACROSS_SECTIONS.set(across_sections), _STACK_FILE.set(True))
    try:
        yield
    finally:
        _KEY_PREFIX.reset(tokens[0])
        _ACROSS_SECTIONS.reset(tokens[1])
        _STACK_FILE.reset(tokens[2])


def key_prefix() -> str:
    return _KEY_PREFIX.get()


def across_sections() -> bool:
    return _ACROSS_SECTIONS.get()


# Each settings class's docstring as written: the stack file's JSON Schema describes the section
# with it (the generated `Args:` section is for Python callers).
_SUMMARIES: dict[type, str] = {}
# Stack-file key -> Python name, over every settings class declared so far.
_ALIASES: dict[str, str] = {}


def _stack_file_description(schema: dict[str, Any], model: type) -> None:
    if _SUMMARIES.get(model):
        schema["description"] = _SUMMARIES[model]
    else:
        schema.pop("description", None)


class Settings(BaseModel):
    """Base of every settings section: frozen, strict types, unknown keys refused."""

    # Python callers pass the field names (so `inspect.signature`, mypy and Pylance agree with
    # what is accepted); stack files pass the aliases (`stack_file_keys`, pydantic's `by_alias`).
    model_config = ConfigDict(
        frozen=True, strict=True, extra="forbid", alias_generator=to_camel,
        validate_by_name=True, validate_by_alias=False, protected_namespaces=(),
        json_schema_extra=_stack_file_description,
    )

    def __init__(self, /, **data: Any) -> None:
        """Validate the arguments (see `Args:` above); raise `SettingsError` listing every problem."""
        token = _DEPTH.set(_DEPTH.get() + 1)
        stack_file = _STACK_FILE.get()
        try:
            # BaseModel.__init__ with the caller's names: pydantic builds nested settings
            # through this __init__ too, so a stack file's nested sections keep their aliases.
            self.__pydantic_validator__.validate_python(data, self_instance=self, by_alias=stack_file, by_name=not stack_file)
        except ValidationError as error:
            if _DEPTH.get() > 1 or stack_file:
                raise
            raise SettingsError(type(self).__name__, error_messages(error, type(self), prefix="", python=True)) from None
        finally:
            _DEPTH.reset(token)

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        _SUMMARIES[cls] = inspect.cleandoc(cls.__dict__.get("__doc__") or "")
        _ALIASES.update({f.alias: n for n, f in cls.model_fields.items() if f.alias and f.alias != n})
        # help(), IDE hovers at run time and API docs read the generated `Args:` section; it cannot
        # drift from the fields.
        cls.__doc__ = _ArgsDocstring()  # type: ignore[assignment]


class _ArgsDocstring:
    """A settings class's `__doc__`, written when read (CPython calls `__get__` of a class's
    `__doc__`), so it may name keys of classes declared after it (`failoverControl`)."""

    def __get__(self, instance: object, owner: type[BaseModel]) -> str:
        return args_docstring(owner)


class SettingsError(pulumi.InputPropertiesError, ValueError):
    """Settings are invalid; `problems` lists every finding, each naming key, value and what is allowed."""

    def __init__(self, subject: str, problems: Sequence[str]) -> None:
        self.problems = list(dict.fromkeys(problems))
        count = len(self.problems)
        super().__init__(
            f"Invalid {subject} ({count} problem{'s' if count != 1 else ''}):\n" + "\n".join(f"  - {p}" for p in self.problems),
            errors=[pulumi.InputPropertyErrorDetails(property_path=_key_of(p), reason=p) for p in self.problems],
        )


def _key_of(message: str) -> str:
    match = re.search(r"`([^`]+)`", message)
    return match.group(1) if match else ""


def args_docstring(model: type[BaseModel]) -> str:
    """The class docstring followed by an `Args:` section generated from the declarations:
    per argument its Python name, type, meaning, what is allowed, default and stack-file key."""
    summary = python_names(_SUMMARIES[model])
    lines = [summary, "", "Args:"] if summary else ["Args:"]
    for name, info in model.model_fields.items():
        allowed = _extra(info, "allowed")
        text = python_names(" ".join(p for p in (info.description, f"Allowed: {allowed.rstrip('.')}." if allowed else None) if p))
        text += f" {default_text(info)}" + (f" Stack-file key: `{info.alias}`." if info.alias and info.alias != name else "")
        lines.append(textwrap.fill(text, width=100, initial_indent=f"    {name} ({annotation_text(model, name)}): ",
                                   subsequent_indent=" " * 8, break_long_words=False, break_on_hyphens=False))
    return "\n".join(lines) + "\n"


def annotation_text(model: type, name: str) -> str:
    """A field's type as its declaration spells it (`list[str]`, `TlsCertificates | None`)."""
    for klass in model.__mro__:
        annotation = klass.__dict__.get("__annotations__", {}).get(name)
        if annotation is not None:
            return annotation if isinstance(annotation, str) else inspect.formatannotation(annotation)
    return "Any"


def default_text(info: Any) -> str:
    """"Required." or "Default: <value>." as a Python caller would write the value."""
    if info.is_required():
        return "Required."
    factory = info.default_factory
    if factory is None:
        return f"Default: {info.default!r}."
    if isinstance(factory, type) and issubclass(factory, BaseModel):
        return f"Default: {factory.__name__}() (its own defaults)."
    return f"Default: {factory()!r}."


# A camelCase word that is not part of a quoted value, an ARN or a path.
_CAMEL_WORD = re.compile(r"(?<![\w'\"/:@-])[a-z][a-z0-9]*(?:[A-Z][a-z0-9]*)+(?![\w'\"/-])")


def python_names(message: str) -> str:
    """A message written with stack-file keys, in the names of Python callers: every declared
    camelCase key becomes its snake_case field name (`gpu.maxSize` -> `gpu.max_size`,
    "Received: minSize=4" -> "Received: min_size=4"); values in quotes stay as received."""
    return _CAMEL_WORD.sub(lambda match: _ALIASES.get(match.group(0), match.group(0)), message)


def _walk(
    model: type[BaseModel], loc: Sequence[str | int], *, python: bool = False,
) -> tuple[list[str], Any, type[BaseModel] | None]:
    """(key path, field info of the last field, the model holding it) for a pydantic error location;
    the path uses field names for Python callers, aliases for stack files."""
    path: list[str] = []
    info = None
    holder: type[BaseModel] | None = None
    current: Any = model
    for part in loc:
        if isinstance(part, int):  # a list item: the key is the list's
            current = None
            continue
        if isinstance(current, type) and issubclass(current, BaseModel) and isinstance(part, str):
            fields = current.model_fields
            name = next((n for n, f in fields.items() if part == (n if python else f.alias or n)), None)
            if name is None:  # an unknown key
                path.append(part)
                holder, info, current = current, None, None
                continue
            info, holder = fields[name], current
            path.append(name if python else info.alias or name)
            current = _model_of(info.annotation)
        else:  # a mapping key (kept) or a union member's tag (dropped)
            if getattr(getattr(info, "annotation", None), "__origin__", None) is dict:
                path.append(str(part))
            current = None
    return path, info, holder


def _model_of(annotation: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        if isinstance(arg, type) and issubclass(arg, BaseModel):
            return arg
    return None


def _extra(info: Any, name: str) -> Any:
    extra = getattr(info, "json_schema_extra", None) or {}
    return extra.get(name) if isinstance(extra, dict) else None


def _join_key(prefix: str, path: Sequence[str]) -> str:
    return prefix + ".".join(path)


def error_messages(error: ValidationError, model: type[BaseModel], *, prefix: str, python: bool = False) -> list[str]:
    """Turn pydantic's errors into the project's one-line messages (key, value received, allowed),
    with stack-file keys, or with Python's names when `python` (arguments given in Python code)."""
    messages = []
    for item in error.errors(include_url=False):
        path, info, holder = _walk(model, item["loc"], python=python)
        key = _join_key(prefix, path)
        messages += _message(item, key, path, info, holder, python=python).split("\n")
    return messages


def _message(item: Any, key: str, path: list[str], info: Any, holder: type[BaseModel] | None, *, python: bool) -> str:
    kind, received = item["type"], item.get("input")
    if kind == "recsys_dr":  # a validator's own wording, one finding a line; `{key}.x` at the top is `x`
        message = item["msg"].replace("{key}.", f"{key}." if key else "").replace("{key}", key)
        return python_names(message) if python else message
    if kind == "missing":
        return f"`{key}` is required and missing"
    if kind == "extra_forbidden":
        return _unknown_key(key, path, holder, python=python)
    if kind in ("less_than_equal", "less_than") and _extra(info, "limit"):
        bound = item["ctx"].get("le", item["ctx"].get("lt"))
        sign = "<=" if kind == "less_than_equal" else "<"
        return f"`{key}` must be {sign} {bound} ({_extra(info, 'limit')}). Received: {received!r}"
    if kind in ("model_type", "model_attributes_type"):
        section = _model_of(info.annotation) if info else None
        if python and section is not None:
            return f"`{key}` must be a {section.__name__} (or a dict of its arguments). Received: {received!r}"
        known = ", ".join(f.alias or n for n, f in section.model_fields.items()) if section else ""
        return f"`{key}` must be an object with keys {known}. Received: {received!r}"
    if info is not None and _extra(info, "allowed"):
        allowed = _extra(info, "allowed")
        return f"`{key}` must be {python_names(allowed) if python else allowed}. Received: {received!r}"
    # a list item or a dict value: say what pydantic says, with the key
    return f"`{key}` {item['msg'][0].lower()}{item['msg'][1:]}. Received: {received!r}"


def _unknown_key(key: str, path: list[str], holder: type[BaseModel] | None, *, python: bool) -> str:
    """An unknown key, with the one meant: the other spelling of a setting (`maxSize` given in
    Python, `max_size` in a stack file) or the closest name (a typo)."""
    fields = holder.model_fields if holder else {}
    names = {n: n if python else f.alias or n for n, f in fields.items()}  # field -> this caller's spelling
    given = path[-1] if path else key
    meant = names.get(given) or {f.alias: names[n] for n, f in fields.items()}.get(given)
    meant = meant or next(iter(difflib.get_close_matches(given, list(names.values()), n=1)), None)
    hint = f"; did you mean `{meant}`?" if meant else "."
    if python:
        owner = holder.__name__ if holder else "this class"
        return f"`{key}` is not an argument of {owner}{hint} Allowed: {', '.join(names.values())}"
    if len(path) == 1:
        return f"`{key}` is not a setting of this project{hint} Allowed: {', '.join(sorted(names.values()))}"
    return f"`{key}` is not a known key{hint} Allowed: {', '.join(names.values())}"


def raise_if_problems(subject: str, problems: Sequence[str]) -> None:
    """Raise one `SettingsError` listing every problem of arguments given in Python (messages
    written with stack-file keys name Python's), or return if there are none."""
    if problems:
        raise SettingsError(subject, [python_names(p) for p in problems])


def region_problems(key: str, region: object) -> list[str]:
    """For child args that take a plain region (the stack's regions are a `RegionPair`)."""
    from recsys_dr.components.settings.aws_limits import KNOWN_REGIONS, closed_set

    if region not in KNOWN_REGIONS:
        return [f"`{key}` must be an AWS region with EKS, one of: {closed_set(KNOWN_REGIONS)}. Received: {region!r}"]
    return []


def cpu_quantity(value: object, *, example: str = "3") -> str:
    """A Kubernetes CPU quantity as a string (YAML reads `cpu: 3` as a number; Kubernetes takes both
    forms), or the problem naming `{key}`, for a `cpu` field validator in "before" mode."""
    from recsys_dr.components.settings.aws_limits import CPU_QUANTITY

    if isinstance(value, bool) or not isinstance(value, (str, int)) or not CPU_QUANTITY.fullmatch(str(value)):
        raise problem(f'`{{key}}` must be a Kubernetes CPU quantity such as "{example}" or "1500m". Received: {value!r}')
    return str(value)
