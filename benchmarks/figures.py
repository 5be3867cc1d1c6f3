"""Where a benchmark's printed figures also go: a JSON file (`--json`), sorted, for comparing runs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def write_figures(path: Path, figures: dict[str, Any]) -> None:
    """Write `figures` to `path` (creating its folder) and say where."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(figures, indent=2, sort_keys=True) + "\n")
    print(f"figures written to {path}")
