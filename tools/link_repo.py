"""Put this repository on the current interpreter's path with a .pth file (no package build).

`make` runs it inside .venv; conda users run `python tools/link_repo.py` once in their env.
It also tells this environment's IPython kernels to load `tutorial.tracebacks` at start, so
even before any `import tutorial` (after a kernel restart) a traceback is short and a missing
set-up cell is named.
"""

import json
import sys
import sysconfig
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
pth = Path(sysconfig.get_paths()["purelib"]) / "async_django_tutorial.pth"
pth.write_text(f"{ROOT}\n")
print(f"linked {ROOT} into {pth.parent}")

# IPython reads {sys.prefix}/etc/ipython/ipython_kernel_config.json for this environment only.
config = Path(sys.prefix) / "etc" / "ipython" / "ipython_kernel_config.json"
wanted = {"InteractiveShellApp": {"extensions": ["tutorial.tracebacks"]}}
if config.exists() and "tutorial.tracebacks" not in config.read_text():
    print(f"left {config} as it is: add 'tutorial.tracebacks' to its extensions yourself")
else:
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(json.dumps(wanted, indent=1) + "\n")
    print(f"kernels load tutorial.tracebacks ({config})")
