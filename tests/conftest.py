"""Shared test fixtures: where the real test data lives, and small helpers."""
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _shared_data() -> Path | None:
    """The real-data fixture folder (a Tiny-ImageNet subset) lives beside the project, never inside it."""
    candidates = [os.environ.get("HSLIB_TEST_DATA"), ROOT.parent / "shared" / "data"]
    for c in candidates:
        if c and (Path(c) / "tiny-imagenet-200" / "wnids.txt").exists():
            return Path(c)
    return None


SHARED_DATA = _shared_data()


@pytest.fixture
def shared_data() -> Path:
    if SHARED_DATA is None:
        pytest.skip("no tiny-imagenet-200 fixture found (set HSLIB_TEST_DATA, or place ../shared/data beside the repo)")
    return SHARED_DATA
