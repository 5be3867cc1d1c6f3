"""Package exports that load on first use (PEP 562 module `__getattr__`).

The component packages export their classes this way so that the settings can import a
package's pure tables (instance sizes, defaults) without importing its components, which
import the settings. Type checkers do not run `__getattr__`: each package also imports its
exports under `if TYPE_CHECKING:` as `from .module import Name as Name` (the re-export form of
a py.typed package); tests/components/test_python_api.py checks the two lists agree.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from importlib import import_module
from typing import Any


def lazy_exports(package: str, exports: Mapping[str, str]) -> tuple[list[str], Callable[[str], Any]]:
    """`(__all__, __getattr__)` for `package`, where `exports` maps a name to the module defining it.

    Example: `__all__, __getattr__ = lazy_exports(__name__, {"GpuCluster": "gpu_cluster"})`.
    """

    def __getattr__(name: str) -> Any:  # noqa: N807 - the module hook's name
        if name in exports:
            return getattr(import_module(f"{package}.{exports[name]}"), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return sorted(exports), __getattr__
