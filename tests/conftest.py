"""Shared fixtures: the public test material (recordings, conformance suites, SVAMP/GSM8K) and
output folders.

The third-party material is not in the repository. Tests that need it take the `shared_data`
fixture and are skipped, with the path they looked at, when it is absent; every other test uses
material the project makes itself. Point HYBRID_NC_TEST_DATA at a copy to run them from a clone in
any folder (default: ../shared/data beside the clone).
"""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

from shared_material import NO_DATA, SHARED_DATA  # noqa: E402  (tests/ is on sys.path here)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The external test material; skips the test when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(NO_DATA)
    return SHARED_DATA


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    """Where tests leave files worth looking at (screenshots, frames): test-artifacts/."""
    path = ROOT / "test-artifacts"
    path.mkdir(exist_ok=True)
    return path
