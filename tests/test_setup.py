"""The set-up behind `make lab` / `make test`: a Python >= 3.12 or one clear line saying what to do."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIND_PYTHON = ROOT / "tools" / "find_python.sh"


def fake_python(folder, version):
    """An executable named python3 that behaves like an old interpreter for the version probe."""
    folder.mkdir(exist_ok=True)
    script = folder / "python3"
    major, minor = version.split(".")
    script.write_text(
        "#!/bin/sh\n"
        f'if [ "$1" = "--version" ]; then echo "Python {version}.9"; exit 0; fi\n'
        f"exit $([ {major} -gt 3 ] || [ {minor} -ge 12 ] && echo 0 || echo 1)\n"
    )
    script.chmod(0o755)
    return folder


def find_python(path, **env):
    return subprocess.run(
        ["/bin/sh", str(FIND_PYTHON)],
        env={"PATH": f"{path}:/usr/bin:/bin", **env},
        capture_output=True,
        text=True,
        check=False,
    )


def test_an_old_python_is_refused_in_one_clear_line(tmp_path):
    result = find_python(fake_python(tmp_path / "bin", "3.11"))
    assert result.returncode == 1
    assert "Python 3.12 or newer is needed" in result.stderr
    assert "found: Python 3.11.9" in result.stderr
    assert "pyenv install 3.13" in result.stderr


def test_the_python_running_these_tests_is_accepted(tmp_path):
    result = find_python(fake_python(tmp_path / "bin", "3.11"), PYTHON=sys.executable)
    assert result.returncode == 0
    assert result.stdout.strip() == sys.executable


def test_make_installs_again_only_when_requirements_change():
    makefile = (ROOT / "Makefile").read_text()
    assert "$(STAMP): requirements.txt" in makefile
    assert "lab: $(STAMP)" in makefile and "test: $(STAMP)" in makefile


def test_ci_runs_the_readmes_test_command():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in readme
    # `make test` as a step of its own (the book and hub steps follow it, each too heavy for it)
    assert "make test" in [line.strip() for line in ci.splitlines()]
    assert os.access(ROOT / ".ci" / "run", os.X_OK)


def conda_block():
    readme = (ROOT / "README.md").read_text()
    section = readme.split("### With conda instead", 1)[1]
    return section.split("```sh", 1)[1].split("```", 1)[0]


def test_the_conda_path_needs_neither_venv_nor_make():
    from tutorial.__main__ import parse

    commands = [line.split("#")[0].strip() for line in conda_block().strip().splitlines()]
    assert not any(".venv" in c or c.startswith("make ") for c in commands), commands
    tutorial_commands = [c.split()[3] for c in commands if c.startswith("python -m tutorial ")]
    assert {"progress", "watch", "clean-outputs"} <= set(tutorial_commands)
    for name in tutorial_commands:
        parse([name])  # a command that exists (argparse exits on an unknown one)
    assert "python tools/lab.py" in commands and "python tools/link_repo.py" in commands
