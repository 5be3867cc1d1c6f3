"""Fixtures for tests/operations: fake AWS credentials, a moto environment, fake endpoints."""

from __future__ import annotations

import pytest
from moto import mock_aws

from tests.operations.ops_fixtures import Environment


@pytest.fixture(autouse=True)
def aws_credentials(monkeypatch):
    """Never reach a real account: fake credentials, no profile, no IMDS lookups."""
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
        # moto's EKS node groups touch the EC2 backend, which otherwise loads ~30k default AMIs.
        "MOTO_EC2_LOAD_DEFAULT_AMIS": "false",
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)


@pytest.fixture
def aws(monkeypatch):
    # Speed only: moto's EKS builds a fresh boto3 Session (~90 ms) to validate each role ARN;
    # the fixtures' ARNs are well-formed, so skip that.
    monkeypatch.setattr("moto.eks.models.validate_role_arn", lambda arn: None, raising=False)
    with mock_aws():
        yield


@pytest.fixture
def env(aws, tmp_path):
    """Healthy warm-standby environment (failoverControl: health-check)."""
    environment = Environment(tmp_path)
    yield environment
    environment.stop()


@pytest.fixture
def arc_env(aws, tmp_path):
    """Healthy warm-standby environment with failoverControl: arc."""
    environment = Environment(tmp_path, failover_control="arc")
    yield environment
    environment.stop()


@pytest.fixture
def pilot_env(aws, tmp_path):
    """Healthy pilot-light environment (standby GPU pool at 0, serving still answering)."""
    environment = Environment(tmp_path, standby_mode="pilot-light")
    yield environment
    environment.stop()
