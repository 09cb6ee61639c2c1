"""Fixtures for the namespace-lab integration tests (run as root)."""

import os
import shutil
import sys
from pathlib import Path

import pytest

TESTS_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(TESTS_DIR))

from lab.netlab import Lab  # noqa: E402

REQUIRED_TOOLS = ("ip", "nft", "conntrack", "sysctl", "wireguard-go", "wg", "tcpdump", "ping")


@pytest.fixture(scope="session", autouse=True)
def lab_requirements():
    """Skip everything unless we are root and the lab's tools are installed."""
    if os.geteuid() != 0:
        pytest.skip("the namespace lab needs root")
    missing = [t for t in REQUIRED_TOOLS if shutil.which(t) is None]
    if missing:
        pytest.skip(f"missing tools: {', '.join(missing)}")


@pytest.fixture
def lab():
    """A fresh standard lab (cone NATs on both sides), torn down after the test."""
    with Lab() as lab:
        lab.build_standard()
        yield lab
