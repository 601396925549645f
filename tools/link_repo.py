"""Put this repository on the current interpreter's path with a .pth file (no package build).

`make` runs it inside .venv; conda users run `python tools/link_repo.py` once in their env.
"""

import sysconfig
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
pth = Path(sysconfig.get_paths()["purelib"]) / "async_django_tutorial.pth"
pth.write_text(f"{ROOT}\n")
print(f"linked {ROOT} into {pth.parent}")
