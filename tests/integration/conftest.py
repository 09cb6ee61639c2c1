"""Fixtures for the namespace-lab integration tests (run as root)."""

import os
import shutil
import sys
from pathlib import Path

import pytest

TESTS_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(TESTS_DIR))

from lab.netlab import Lab  # noqa: E402
from lab.pave_lab import PaveLab  # noqa: E402

REQUIRED_TOOLS = ("ip", "nft", "conntrack", "sysctl", "wireguard-go", "wg", "tcpdump", "ping")


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "release_only: run in the release pass only, not again under the sanitizers (timing and scale "
        "checks whose code paths the other tests already run there); tests/run-all deselects them "
        "in the sanitizer pass and says how many")


@pytest.fixture(scope="session", autouse=True)
def lab_requirements():
    """The integration tests need root and the lab's tools: without them they fail (a test that
    cannot run is not a pass). `bash scripts/install-deps` installs the tools."""
    if os.geteuid() != 0:
        pytest.fail("the integration tests need root (network namespaces)")
    missing = [t for t in REQUIRED_TOOLS if shutil.which(t) is None]
    if missing:
        pytest.fail(f"missing tools: {', '.join(missing)} (run scripts/install-deps)")


@pytest.fixture
def lab():
    """A fresh standard lab (cone NATs on both sides), torn down after the test."""
    with Lab() as lab:
        lab.build_standard()
        yield lab


@pytest.fixture
def plab(lab):
    """The standard lab with its swarm running (dhtnode and a PAVE node on boot, the relay behind
    NAT B): a PaveLab whose client is started by the test."""
    p = PaveLab(lab)
    p.start_swarm()
    yield p
