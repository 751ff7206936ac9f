"""Run every benchmark under bench/ in turn."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

for script in sorted(Path(__file__).parent.glob("*.py")):
    # The load test runs for minutes and has its own target (make load).
    if script.name not in ("run_all.py", "support.py", "load.py", "api_app.py"):
        print(f"== {script.name}", flush=True)
        subprocess.run([sys.executable, str(script)], check=True)
