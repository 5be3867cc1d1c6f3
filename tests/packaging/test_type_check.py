"""A user's program importing the components, type-checked with mypy as a user would run it.

Twice: against the checkout's own install (`make install`'s strict editable install, whose
link tree mypy and Pylance follow; the default editable mode's import hook is invisible to
them) and against the wheel (which must ship `py.typed`, PEP 561).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

# mypy follows imports into pulumi_aws's root module, which imports every service (thousands of
# modules, gigabytes of memory); skipping the roots is the workaround of pulumi/pulumi#6837.
MYPY_CONFIG = """\
[tool.mypy]
strict_optional = true

[[tool.mypy.overrides]]
module = ["pulumi_aws", "pulumi_kubernetes"]
follow_imports = "skip"
"""

CORRECT = """\
import pulumi
from recsys_dr.components import GpuClusterArgs, TwoRegionRecommender, TwoRegionRecommenderArgs
from recsys_dr.components.settings import DnsSettings, GpuPoolSettings, ModelSettings, RegionPair

args = TwoRegionRecommenderArgs(
    regions=RegionPair(primary="eu-west-1", standby="eu-central-1"),
    model=ModelSettings(name="search-ranker", version=12, manifest_sha256="0" * 64),
    dns=DnsSettings(record_name="rank.search.example.eu", zone_id="Z0123456789ABCDEFGHIJ"),
    standby_mode="pilot-light",
    gpu=GpuPoolSettings(instance_types=["g6.xlarge"], max_size=3),
)
ranker = TwoRegionRecommender("ranker", args, opts=pulumi.ResourceOptions())
nodes: int = args.gpu.max_size
cluster = GpuClusterArgs(region="eu-west-1", gpu=args.gpu, vpc_cidr="10.8.0.0/16")
"""

# The stack file's spelling of a key, a number written as text, a misspelt component argument.
TYPOS = """\
from recsys_dr.components import GpuClusterArgs
from recsys_dr.components.settings import GpuPoolSettings

camel = GpuPoolSettings(maxSize=3)
text = GpuPoolSettings(max_size="3")
cluster = GpuClusterArgs(region="eu-west-1", vpc_cidrs="10.8.0.0/16")
"""

EXPECTED_TYPOS = [
    'typos.py:4: error: Unexpected keyword argument "maxSize" for "GpuPoolSettings"; did you mean "max_size"?  [call-arg]',
    'typos.py:5: error: Argument "max_size" to "GpuPoolSettings" has incompatible type "str"; expected "int"  [arg-type]',
    'typos.py:6: error: Unexpected keyword argument "vpc_cidrs" for "GpuClusterArgs"; did you mean "vpc_cidr"?  [call-arg]',
]


def mypy(python: Path, project: Path) -> list[str]:
    (project / "pyproject.toml").write_text(MYPY_CONFIG)
    (project / "correct.py").write_text(CORRECT)
    (project / "typos.py").write_text(TYPOS)
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--python-executable", str(python), "--no-error-summary",
         "--hide-error-context", "--no-pretty", "correct.py", "typos.py"],
        cwd=project, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode in (0, 1), result.stderr
    return [line for line in result.stdout.splitlines() if re.match(r"\w+\.py:\d+: error", line)]


def test_a_user_program_type_checks_against_the_checkout_install(tmp_path):
    errors = mypy(Path(sys.executable), tmp_path)
    assert not any("import-not-found" in e for e in errors), "not a strict editable install: run `make install`\n" + "\n".join(errors)
    assert errors == EXPECTED_TYPOS


@pytest.mark.slow
def test_a_user_program_type_checks_against_the_wheel(installed_wheel, tmp_path):
    assert mypy(installed_wheel.python, tmp_path) == EXPECTED_TYPOS
