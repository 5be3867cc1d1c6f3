"""Entry point: ``python -m recsys_dr.model ...`` (see :mod:`model.cli`)."""

import os
import sys

# Keep TensorFlow's C++ start-up chatter out of the CLI output unless asked for.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from recsys_dr.model.cli import main  # noqa: E402

sys.exit(main())
