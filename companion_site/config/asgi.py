"""ASGI entry point: `uvicorn config.asgi:application` (or daphne, hypercorn, granian)."""

import os

import django
from django.conf import settings
from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

if not settings.COMPANION_REUSE_THREADS:
    application = get_asgi_application()
else:  # lesson 15: requests borrow a thread instead of starting two
    django.setup(set_prefix=False)  # what get_asgi_application() does before its handler
    from config.reused_threads import ReusedThreadsASGIHandler

    application = ReusedThreadsASGIHandler()
