"""Map the repository's top-level folders into the one `recsys_dr` import namespace.

The folders stay where DESIGN.md puts them (`components/`, `model/`, `stacks/`, ...); the
installed names are `recsys_dr.components`, `recsys_dr.model`, ... (setuptools `package_dir`).
Everything else about the distribution is in pyproject.toml.
"""

from setuptools import find_packages, setup

FOLDERS = ("components", "model", "stacks", "cli", "review", "operations", "policy", "sandbox")

packages = ["recsys_dr"]
package_dir = {"recsys_dr": "recsys_dr"}
for folder in FOLDERS:
    package_dir[f"recsys_dr.{folder}"] = folder
    packages += [f"recsys_dr.{folder}"] + [f"recsys_dr.{folder}.{sub}" for sub in find_packages(folder)]

setup(packages=packages, package_dir=package_dir)
