"""docs/configuration.md lists exactly what the binaries' configuration tables declare."""
import os
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
r = subprocess.run([sys.executable, str(ROOT / "tools" / "gen-config-doc.py"), "--check"],
                   env=dict(os.environ))
sys.exit(r.returncode)
