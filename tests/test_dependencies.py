"""requirements.txt (pip) and environment.yml (conda) name the same packages with the same ranges."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def pip_requirements():
    lines = (ROOT / "requirements.txt").read_text().splitlines()
    return {normalise(line) for line in lines if line.strip() and not line.lstrip().startswith("#")}


def conda_pip_section():
    text = (ROOT / "environment.yml").read_text()
    section = text.split("- pip:", 1)[1]
    return {normalise(line) for line in section.splitlines() if line.strip().startswith("- ")}


def normalise(line):
    spec = line.strip().removeprefix("- ").split("#")[0].strip()
    name, _, rest = re.match(r"([A-Za-z0-9_.\-\[\],]+)(.*)", spec).group(1, 0, 2)
    return name.lower().replace("_", "-") + rest.replace(" ", "")


def test_pip_and_conda_name_the_same_packages_and_ranges():
    pip, conda = pip_requirements(), conda_pip_section()
    assert pip == conda, (
        f"only in requirements.txt: {pip - conda}; only in environment.yml: {conda - pip}"
    )


def test_conda_environment_uses_python_313_from_conda_forge():
    text = (ROOT / "environment.yml").read_text()
    assert "conda-forge" in text
    assert re.search(r"^\s*- python=3\.13\s*$", text, re.M)


def test_python_version_file_asks_for_313():
    assert (ROOT / ".python-version").read_text().strip() == "3.13"


def test_every_requirement_has_a_range_not_an_exact_pin():
    for requirement in pip_requirements():
        assert "==" not in requirement, f"{requirement}: use a range, not an exact pin"
        assert "<" in requirement and ">=" in requirement, (
            f"{requirement}: give a lower and upper bound"
        )


def test_django_is_61():
    assert any(r.startswith("django>=6.1") for r in pip_requirements())
