"""recsys-dr: two-region disaster-recovery serving of a TensorFlow recommender on GPU EKS.

Every installed import name lives under this one namespace, so the library sits in any
user's virtualenv beside their own `components/` or `model/` packages:

    from recsys_dr.components import TwoRegionRecommender

The sub-packages live in the repository's top-level folders (`components/`, `model/`,
`stacks/`, ...) and are mapped here by `setup.py` (setuptools `package_dir`).
"""

__version__ = "0.4.0"
