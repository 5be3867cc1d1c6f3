"""The wheel installs one import name, `recsys_dr`, and works beside a user's own packages."""

from __future__ import annotations

import subprocess
import zipfile

import pytest

from recsys_dr import __version__

pytestmark = pytest.mark.slow


def test_wheel_has_one_top_level_package(installed_wheel):
    with zipfile.ZipFile(installed_wheel.wheel) as wheel:
        names = wheel.namelist()
    top_level = {name.split("/")[0] for name in names if not name.split("/")[0].endswith(".dist-info")}
    assert top_level == {"recsys_dr"}
    # Package data the installed code reads at run time.
    assert "recsys_dr/components/serving/fetch_and_verify.sh" in names
    assert "recsys_dr/stacks/Pulumi.prod.yaml" in names
    # PEP 561: type checkers read the inline annotations of an installed package that has it.
    assert "recsys_dr/py.typed" in names


def test_imports_beside_a_user_project_with_its_own_components_and_model(installed_wheel, tmp_path):
    # The most natural names for a Pulumi monorepo's own folders: they must not shadow ours.
    for package in ("components", "model", "stacks"):
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text(f"OWNER = 'user-{package}'\n")
    code = (
        "import components, model, stacks\n"
        "from recsys_dr.components import TwoRegionRecommender\n"
        "from recsys_dr.model.manifest import MANIFEST_NAME\n"
        "import recsys_dr.components.serving.manifests as m\n"
        "assert (components.OWNER, model.OWNER, stacks.OWNER) == ('user-components', 'user-model', 'user-stacks')\n"
        "assert '/site-packages/recsys_dr/' in m.__file__, m.__file__\n"
        "print(TwoRegionRecommender.__module__)\n"
    )
    result = subprocess.run([installed_wheel.python, "-c", code], cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "recsys_dr.components.recommender_dr"


def test_console_script_prints_its_version(installed_wheel):
    result = subprocess.run([installed_wheel.bin / "recsys-dr", "--version"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"recsys-dr {__version__}"
