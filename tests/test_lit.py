"""Run the lit/FileCheck suite under tests/lit as part of pytest."""
import os
import subprocess
import sys

LIT_DIR = os.path.join(os.path.dirname(__file__), "lit")


def test_lit_suite():
    r = subprocess.run([sys.executable, "-c", "import lit.main; lit.main.main()", "-q", LIT_DIR], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
