"""ASGI entry point: `uvicorn config.asgi:application` (or daphne, hypercorn, granian)."""

import os

from django.conf import settings
from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

application = get_asgi_application()

if settings.COMPANION_REUSE_THREADS:  # lesson 13: requests borrow a thread instead of starting two
    from config.reused_threads import ReusedThreadsASGIHandler

    application = ReusedThreadsASGIHandler()
