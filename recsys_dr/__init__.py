"""recsys-dr: two-region disaster-recovery serving of a TensorFlow recommender on GPU EKS.

Every installed import name lives under this one namespace, so the library sits in any
user's virtualenv beside their own `components/` or `model/` packages:

    from recsys_dr.components import TwoRegionRecommender

The sub-packages live in the repository's top-level folders (`components/`, `model/`,
`stacks/`, ...) and are mapped here by `setup.py` (setuptools `package_dir`).
"""

from pkgutil import extend_path

__version__ = "0.4.0"

# In a checkout this folder (first on sys.path when Python runs there) holds only this file;
# the sub-packages live in the strict editable install's link tree (`make install`), another
# `recsys_dr/` on sys.path: search both. An installed wheel has one, and this changes nothing.
__path__ = extend_path(__path__, __name__)
