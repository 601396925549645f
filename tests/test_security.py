"""Nothing exposed: no committed secret, DEBUG off by default, deploy checks clean, Lab keeps its token."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SITE = ROOT / "companion_site"


def django_python(code, **env):
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=SITE,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", **env},
        capture_output=True,
        text=True,
        check=False,
    )


def test_no_secret_key_is_committed():
    settings = (SITE / "config" / "settings.py").read_text()
    assert "django-insecure" not in settings
    assert 'os.environ.get("DJANGO_SECRET_KEY")' in settings


def test_each_process_without_a_key_gets_a_different_random_one():
    code = "import django; django.setup(); from django.conf import settings; print(settings.SECRET_KEY)"
    keys = {django_python(code).stdout.strip() for _ in range(2)}
    assert len(keys) == 2 and all(len(key) >= 50 for key in keys)


def test_debug_is_off_unless_asked():
    code = "import django; django.setup(); from django.conf import settings; print(settings.DEBUG)"
    assert django_python(code).stdout.strip() == "False"
    assert django_python(code, DJANGO_DEBUG="1").stdout.strip() == "True"


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
