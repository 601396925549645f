"""ASGI entry point: `uvicorn config.asgi:application` (or daphne, hypercorn, granian)."""

import os

import django
from django.conf import settings
from django.core.handlers.asgi import ASGIHandler

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django.setup(set_prefix=False)  # what get_asgi_application() does before building its handler

if settings.COMPANION_REUSE_THREADS:
    from config.reused_threads import ReusedThreadsASGIHandler

    application = ReusedThreadsASGIHandler()
else:
    application = ASGIHandler()  # = get_asgi_application(), Django's stock handler
