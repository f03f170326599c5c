"""Run the commands of a file (one a line) from the repository root, two at a time;
print each run's last output line, or its error."""

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def run(command):
    r = subprocess.run(command, shell=True, capture_output=True, text=True, cwd=ROOT)
    lines = r.stdout.strip().splitlines() or [""]
    print(lines[-1] if r.returncode == 0 else f"FAIL {command}\n{r.stderr[-1500:]}", flush=True)


if __name__ == "__main__":
    commands = [line.strip() for line in open(sys.argv[1]) if line.strip()]
    with ThreadPoolExecutor(int(sys.argv[2]) if len(sys.argv) > 2 else 2) as pool:
        list(pool.map(run, commands))
    print("ALL DONE", flush=True)
