"""STUN interop with an implementation PAVE did not write: Debian coturn.
turnutils_stunclient gets the right mapped address from a PAVE node, and PAVE's STUN client
gets the right mapping from a coturn server (all on loopback)."""

import subprocess
from pathlib import Path

from lab.swarm import pave_bin

SCRIPT = Path(__file__).resolve().parent / "stun_interop.sh"


def test_stun_interop_with_coturn():
    r = subprocess.run(["bash", str(SCRIPT), pave_bin(), "all"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and "PASS stun_interop" in r.stdout, r.stdout + r.stderr
