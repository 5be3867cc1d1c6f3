"""Build the wheel once and install it into a fresh venv, as a user's project would.

The venv gets the wheel only (`--no-deps`); its dependencies come from the project's
.venv through a path entry, which adds those directories to `sys.path` but runs none of
their `.pth` files, so the editable install of the checkout is not visible there.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
import venv
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class InstalledWheel:
    wheel: Path
    python: Path
    bin: Path


@pytest.fixture(scope="session")
def installed_wheel(tmp_path_factory) -> InstalledWheel:
    root = tmp_path_factory.mktemp("wheel")
    # An in-tree build/ left by an earlier build would carry deleted modules into the wheel; the
    # strict editable install's link tree (build/__editable__.*) is what this session imports.
    for stale in (REPO / "build").glob("*"):
        if not stale.name.startswith("__editable__."):
            shutil.rmtree(stale) if stale.is_dir() else stale.unlink()
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "-w", str(root / "dist"), str(REPO)],
        check=True, cwd=root,
    )
    (wheel,) = (root / "dist").glob("recsys_dr-*.whl")
    env_dir = root / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    site = Path(subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                               check=True, capture_output=True, text=True).stdout.strip())
    (site / "project-deps.pth").write_text(sysconfig.get_path("purelib") + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-deps",
                    "--no-index", str(wheel)], check=True)
    return InstalledWheel(wheel=wheel, python=python, bin=env_dir / "bin")
