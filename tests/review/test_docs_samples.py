"""The plan, diff, PR-comment and graph samples of docs/reviewing.md are what the commands print."""

import pytest

from .docs_samples import PAGE, page_blocks, rewrite, samples


@pytest.fixture(scope="module")
def produced():
    return samples()


@pytest.mark.parametrize("name", ["plan-summary", "diff-text", "pr-comment", "graph"])
def test_docs_sample_matches_the_command(produced, name):
    blocks = page_blocks(PAGE.read_text(encoding="utf-8"))
    assert name in blocks, f"{PAGE.name} has no <!-- sample:{name} --> block"
    assert blocks[name] == produced[name], "refresh with: .venv/bin/python -m tests.review.docs_samples"


def test_samples_are_reproducible(produced):
    assert samples() == produced


def test_rewrite_touches_only_the_marked_blocks():
    text = "a\n<!-- sample:x -->\nold\n<!-- /sample -->\nb\n"
    assert rewrite(text, {"x": "new"}) == "a\n<!-- sample:x -->\nnew\n<!-- /sample -->\nb\n"
