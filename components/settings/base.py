"""The settings base: one declaration per setting, and error messages in the project's wording.

Every setting is a pydantic field declared once with `setting(...)`: type, default, bounds,
allowed values and description. The stack-file key is the field's camelCase alias; Python
callers use the snake_case name. Validation messages name the key, the value received and
what is allowed ("`recsys-dr:gpu.maxSize` must be an integer from 1 to 450 ... Received: 10**9").
"""

from __future__ import annotations

import re
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
        description: one sentence for the README reference and the JSON Schema.
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
# Inside `stack_file_keys` the caller formats pydantic's errors itself (a ValueError raised
# from __init__ would be wrapped by pydantic as a "value error").
_RAW_ERRORS: ContextVar[bool] = ContextVar("settings_raw_errors", default=False)


@contextmanager
def stack_file_keys(prefix: str, *, across_sections: bool = True) -> Iterator[None]:
    """Validate raw stack-file values: pydantic's errors pass through for the caller to word with
    `error_messages(..., prefix=prefix)`; optionally skip the cross-section rules."""
    tokens = (_KEY_PREFIX.set(prefix), _ACROSS_SECTIONS.set(across_sections), _RAW_ERRORS.set(True))
    try:
        yield
    finally:
        _KEY_PREFIX.reset(tokens[0])
        _ACROSS_SECTIONS.reset(tokens[1])
        _RAW_ERRORS.reset(tokens[2])


def key_prefix() -> str:
    return _KEY_PREFIX.get()


def across_sections() -> bool:
    return _ACROSS_SECTIONS.get()


class Settings(BaseModel):
    """Base of every settings section: frozen, strict types, unknown keys refused."""

    model_config = ConfigDict(
        frozen=True, strict=True, extra="forbid", alias_generator=to_camel,
        validate_by_name=True, validate_by_alias=True, protected_namespaces=(),
    )

    def __init__(self, **data: Any) -> None:
        token = _DEPTH.set(_DEPTH.get() + 1)
        try:
            super().__init__(**data)
        except ValidationError as error:
            if _DEPTH.get() > 1 or _RAW_ERRORS.get():
                raise
            raise SettingsError(type(self).__name__, error_messages(error, type(self), prefix="")) from None
        finally:
            _DEPTH.reset(token)


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


def _walk(model: type[BaseModel], loc: Sequence[str | int]) -> tuple[list[str], Any, type[BaseModel] | None]:
    """(alias path, field info of the last field, the model holding it) for a pydantic error location."""
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
            name = next((n for n, f in fields.items() if part in (n, f.alias)), None)
            if name is None:  # an unknown key
                path.append(part)
                holder, info, current = current, None, None
                continue
            info, holder = fields[name], current
            path.append(info.alias or name)
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


def error_messages(error: ValidationError, model: type[BaseModel], *, prefix: str) -> list[str]:
    """Turn pydantic's errors into the project's one-line messages (key, value received, allowed)."""
    messages = []
    for item in error.errors(include_url=False):
        path, info, holder = _walk(model, item["loc"])
        key = _join_key(prefix, path)
        kind, received = item["type"], item.get("input")
        if kind == "recsys_dr":  # a validator's own wording, one finding a line
            messages += item["msg"].replace("{key}", key).split("\n")
        elif kind == "missing":
            messages.append(f"`{key}` is required and missing")
        elif kind == "extra_forbidden":
            known = [f.alias or n for n, f in holder.model_fields.items()] if holder else []
            if len(path) == 1:
                messages.append(f"`{key}` is not a setting of this project. Allowed: {', '.join(sorted(known))}")
            else:
                messages.append(f"`{key}` is not a known key. Allowed: {', '.join(known)}")
        elif kind in ("less_than_equal", "less_than") and _extra(info, "limit"):
            bound = item["ctx"].get("le", item["ctx"].get("lt"))
            sign = "<=" if kind == "less_than_equal" else "<"
            messages.append(f"`{key}` must be {sign} {bound} ({_extra(info, 'limit')}). Received: {received!r}")
        elif kind == "model_type" or kind == "model_attributes_type":
            known = ", ".join(f.alias or n for n, f in _model_of(info.annotation).model_fields.items()) if info else ""
            messages.append(f"`{key}` must be an object with keys {known}. Received: {received!r}")
        elif info is not None and _extra(info, "allowed"):
            messages.append(f"`{key}` must be {_extra(info, 'allowed')}. Received: {received!r}")
        else:  # a list item or a dict value: say what pydantic says, with the key
            messages.append(f"`{key}` {item['msg'][0].lower()}{item['msg'][1:]}. Received: {received!r}")
    return messages


def raise_if_problems(subject: str, problems: Sequence[str]) -> None:
    """Raise one `SettingsError` listing every problem, or return if there are none."""
    if problems:
        raise SettingsError(subject, problems)


def region_problems(key: str, region: object) -> list[str]:
    """For child args that take a plain region (the stack's regions are a `RegionPair`)."""
    from recsys_dr.components.settings.aws_limits import KNOWN_REGIONS, closed_set

    if region not in KNOWN_REGIONS:
        return [f"`{key}` must be an AWS region with EKS, one of: {closed_set(KNOWN_REGIONS)}. Received: {region!r}"]
    return []
