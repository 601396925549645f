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
SECURE_HSTS_SECONDS = 60 * 60 * 24 * 365
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
