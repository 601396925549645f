"""ASGI entry point: `uvicorn config.asgi:application` (or daphne, hypercorn, granian).

Django's own ASGI handler speaks HTTP only. WebSocket connections go to Channels consumers
(lesson 14): the origin is checked against ALLOWED_HOSTS, the session's user is put in
scope["user"], and the path picks the consumer (config/routing.py).
"""

import os

import django
from django.conf import settings
from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

if not settings.COMPANION_REUSE_THREADS:
    django_http = get_asgi_application()
else:  # lesson 15: requests borrow a thread instead of starting two
    django.setup(set_prefix=False)  # what get_asgi_application() does before its handler
    from config.reused_threads import ReusedThreadsASGIHandler

    django_http = ReusedThreadsASGIHandler()

# Imported once Django is set up: the consumers import models.
from channels.auth import AuthMiddlewareStack
from channels.routing import ProtocolTypeRouter, URLRouter
from channels.security.websocket import AllowedHostsOriginValidator

from config.routing import websocket_urlpatterns

application = ProtocolTypeRouter(
    {
        "http": django_http,
        "websocket": AllowedHostsOriginValidator(
            AuthMiddlewareStack(URLRouter(websocket_urlpatterns))
        ),
    }
)
