"""The pack wrapper needs pulumi_policy, which cannot live in the project's .venv
(it pins protobuf 5.x; TensorFlow needs >= 6.31). These tests run in a separate venv:

    python3 -m venv .venv-policy
    .venv-policy/bin/pip install -r policy/requirements.txt pytest
    .venv-policy/bin/python -m pytest tests/policy_pack

In an environment without pulumi_policy (the project's .venv) they are not collected, so
`pytest tests/` there neither fails nor reports them as skipped; run the command above.
"""

import importlib.util
import sys
from pathlib import Path

collect_ignore_glob = [] if importlib.util.find_spec("pulumi_policy") else ["test_*.py"]

# The Pulumi CLI runs the pack with its own folder as sys.path[0] (no recsys_dr installed
# in the pack's venv): import `pack` and `rules` the same way.
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "policy"))
