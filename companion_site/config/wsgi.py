"""WSGI entry point: `gunicorn config.wsgi:application`. Async views still work here, each in a
one-off event loop per request — lesson 05 shows what that costs."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

application = get_wsgi_application()
