import subprocess, sys
from concurrent.futures import ThreadPoolExecutor
cmds = [l.strip() for l in open(sys.argv[1]) if l.strip()]
n = int(sys.argv[2]) if len(sys.argv) > 2 else 2
def run(c):
    r = subprocess.run(c, shell=True, capture_output=True, text=True, cwd=str(__import__("pathlib").Path(__file__).resolve().parents[3]))
    print((r.stdout.strip().splitlines() or [""])[-1] if r.returncode == 0 else "FAIL " + c + "\n" + r.stderr[-1500:], flush=True)
with ThreadPoolExecutor(n) as ex:
    list(ex.map(run, cmds))
print("ALL DONE", flush=True)
