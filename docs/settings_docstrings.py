"""A griffe extension for the component API page: each settings class gets its generated docstring.

A settings class's `Args:` section (per argument: type, meaning, what is allowed, default and
stack-file key) is written from its field declarations when `__doc__` is read
(`recsys_dr.components.settings.base.args_docstring`), so reading the source alone finds only the
summary line. This extension imports the settings classes, and only them, to read it; importing
the whole package instead would run its `__main__` modules.
"""

from __future__ import annotations

import importlib
from typing import Any

import griffe

SETTINGS_PACKAGE = "recsys_dr.components.settings."


class SettingsDocstrings(griffe.Extension):
    def on_class_members(self, *, cls: griffe.Class, **kwargs: Any) -> None:
        if not cls.path.startswith(SETTINGS_PACKAGE):
            return
        module = importlib.import_module(cls.module.path)
        runtime = getattr(module, cls.name, None)
        if isinstance(runtime, type) and "Args:" in (runtime.__doc__ or ""):
            cls.docstring = griffe.Docstring(runtime.__doc__, parent=cls)
