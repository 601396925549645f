"""What the companion site would need behind a real HTTPS proxy; `manage.py check --deploy` passes.

The tutorial never serves this one: it exists so lesson 12 and the tests can show what "deploy"
adds to the settings a learner runs locally.
"""

import os

from .settings import *  # noqa: F403

DEBUG = False
# A deployment must bring its own key; failing loudly beats a random one per worker.
SECRET_KEY = os.environ["DJANGO_SECRET_KEY"]
SECURE_SSL_REDIRECT = True
# The load balancer's health check speaks plain HTTP to the worker: never redirect it.
SECURE_REDIRECT_EXEMPT = [r"^health/$"]
SECURE_HSTS_SECONDS = 60 * 60 * 24 * 365
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
# Trust the proxy's word that the client spoke HTTPS. Only safe when the proxy sets (or strips)
# this header on every request: otherwise any client can send it (lesson 12).
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
