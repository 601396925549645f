"""Nothing exposed: no committed secret, DEBUG off by default, deploy checks clean, Lab keeps its token."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SITE = ROOT / "companion_site"


def django_python(code, env=None, **extra):
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=SITE,
        env={
            **(os.environ if env is None else env),
            "DJANGO_SETTINGS_MODULE": "config.settings",
            **extra,
        },
        capture_output=True,
        text=True,
        check=False,
    )


def test_no_secret_key_is_committed():
    settings = (SITE / "config" / "settings.py").read_text()
    assert "django-insecure" not in settings
    assert 'os.environ.get("DJANGO_SECRET_KEY")' in settings


@pytest.fixture(scope="module")
def two_processes():
    """{"plain": (SECRET_KEY, DEBUG), "debug": ...} of two processes without DJANGO_SECRET_KEY,
    the second with DJANGO_DEBUG=1: the two tests below read the same two (a start is ~0.35 s)."""
    code = (
        "import django; django.setup(); from django.conf import settings; "
        "print(settings.SECRET_KEY); print(settings.DEBUG)"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SECRET_KEY", "DJANGO_DEBUG")}
    ran = {
        name: django_python(code, env=env, **extra)
        for name, extra in (("plain", {}), ("debug", {"DJANGO_DEBUG": "1"}))
    }
    assert all(r.returncode == 0 for r in ran.values()), [r.stderr for r in ran.values()]
    return {name: tuple(r.stdout.split()) for name, r in ran.items()}


def test_each_process_without_a_key_gets_a_different_random_one(two_processes):
    keys = {key for key, _ in two_processes.values()}
    assert len(keys) == 2 and all(len(key) >= 50 for key in keys)


def test_debug_is_off_unless_asked(two_processes):
    assert two_processes["plain"][1] == "False"
    assert two_processes["debug"][1] == "True"


def test_deploy_checks_pass_with_the_production_settings():
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=SITE,
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings_production",
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        },
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr + result.stdout


def test_production_settings_refuse_to_run_without_a_key():
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SECRET_KEY"}
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=SITE,
        env={**env, "DJANGO_SETTINGS_MODULE": "config.settings_production"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0 and "DJANGO_SECRET_KEY" in result.stderr


def test_make_lab_keeps_jupyters_token_and_binds_loopback():
    from tools.lab import lab_command

    assert "tools/lab.py" in (ROOT / "Makefile").read_text().split("\nlab:", 1)[1].split("\n\n")[0]
    command = lab_command(8888)
    assert command[command.index("--ip") + 1] == "127.0.0.1"
    assert not any("token" in part.lower() for part in command), (
        "make lab must keep Jupyter's token"
    )
