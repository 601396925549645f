"""Django's protective middleware without the thread hops: the same methods, run on the event loop.

Django's built-in middleware are `MiddlewareMixin` classes. Under ASGI their async path sends
every `process_request` and `process_response` through `sync_to_async` — to the request's thread
and back, about ten hops per request for the default stack. Each class here subclasses Django's
own and changes only that: its async path calls the *same* methods directly, because they do
only CPU work on the request and response objects (headers, cookies, a URL lookup). Two
exceptions keep Django's behaviour by other means:

- the session's save touches the database: the async path awaits the session's own a-methods
  (`asave`, `aget_expiry_age`, ...), as Django's async session API does;
- a CSRF check of an unsafe request (POST, PUT, ...) reads the body (a multipart upload may
  spill to disk) and may render the failure page: that one still runs in the request's thread,
  so only unsafe requests pay its hop; GET and HEAD are accepted on the loop. With
  CSRF_USE_SESSIONS (the token in the session, which may need a query) the CSRF middleware
  keeps all of Django's hops.

Under WSGI (no event loop) they are exactly Django's classes. `COMPANION_NATIVE_MIDDLEWARE=1`
swaps them in for Django's, in the same order (config/settings.py);
demo/tests/test_middleware_native.py runs both stacks side by side on the same requests.
"""

import time

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth import middleware as auth
from django.contrib.sessions import middleware as sessions
from django.contrib.sessions.backends.base import UpdateError
from django.contrib.sessions.exceptions import SessionInterrupted
from django.middleware import clickjacking, common, csrf, security
from django.utils.cache import patch_vary_headers
from django.utils.http import http_date

SAFE_METHODS = ("GET", "HEAD", "OPTIONS", "TRACE")  # what CsrfViewMiddleware accepts unchecked


class OnTheLoop:
    """Mixin for a MiddlewareMixin subclass: its async path makes no thread hop.

    `aprocess_response` is the async twin of `process_response`; by default it is the sync
    method called directly (CPU work only). A subclass whose response step does I/O overrides it.
    """

    async def __acall__(self, request):
        response = None
        if hasattr(self, "process_request"):
            response = self.process_request(request)
        response = response or await self.get_response(request)
        if hasattr(self, "process_response"):
            response = await self.aprocess_response(request, response)
        return response

    async def aprocess_response(self, request, response):
        return self.process_response(request, response)


class SecurityMiddleware(OnTheLoop, security.SecurityMiddleware):
    """Django's SecurityMiddleware (HSTS, nosniff, referrer and COOP headers, SSL redirect)."""


class CommonMiddleware(OnTheLoop, common.CommonMiddleware):
    """Django's CommonMiddleware (APPEND_SLASH / PREPEND_WWW redirects, disallowed user agents)."""


class XFrameOptionsMiddleware(OnTheLoop, clickjacking.XFrameOptionsMiddleware):
    """Django's XFrameOptionsMiddleware (X-Frame-Options: DENY unless exempt)."""


class AuthenticationMiddleware(OnTheLoop, auth.AuthenticationMiddleware):
    """Django's AuthenticationMiddleware: `request.user` (lazy) and `request.auser`, set on the loop."""


class CsrfViewMiddleware(OnTheLoop, csrf.CsrfViewMiddleware):
    """Django's CsrfViewMiddleware; only unsafe requests' checks still run in a thread.

    With CSRF_USE_SESSIONS the token lives in the session, which the database may have to
    load: then every step runs in the request's thread, exactly as Django's own does.
    """

    def __init__(self, get_response):
        super().__init__(get_response)
        self.on_the_loop = not settings.CSRF_USE_SESSIONS
        if self.async_mode and self.on_the_loop:
            # Django reads `process_view` from the instance and adapts it by its kind: an
            # async one is awaited as it is, a sync one would cost a hop on every request.
            self.process_view = self._aprocess_view

    async def __acall__(self, request):
        if self.on_the_loop:
            return await super().__acall__(request)
        return await csrf.CsrfViewMiddleware.__acall__(self, request)  # MiddlewareMixin's hops

    async def _aprocess_view(self, request, callback, callback_args, callback_kwargs):
        check = super().process_view
        if request.method in SAFE_METHODS or getattr(callback, "csrf_exempt", False):
            return check(request, callback, callback_args, callback_kwargs)  # no body read
        return await sync_to_async(check)(request, callback, callback_args, callback_kwargs)


class SessionMiddleware(OnTheLoop, sessions.SessionMiddleware):
    """Django's SessionMiddleware; the async path saves with the session's a-methods."""

    async def aprocess_response(self, request, response):
        # Django's process_response line for line, with each session call that may query the
        # database awaited through its async twin.
        try:
            accessed = request.session.accessed
            modified = request.session.modified
            empty = request.session.is_empty()
        except AttributeError:
            return response
        if settings.SESSION_COOKIE_NAME in request.COOKIES and empty:
            response.delete_cookie(
                settings.SESSION_COOKIE_NAME,
                path=settings.SESSION_COOKIE_PATH,
                domain=settings.SESSION_COOKIE_DOMAIN,
                samesite=settings.SESSION_COOKIE_SAMESITE,
            )
            need_vary_cookie = True
        else:
            need_vary_cookie = accessed
            if (modified or settings.SESSION_SAVE_EVERY_REQUEST) and not empty:
                if await request.session.aget_expire_at_browser_close():
                    max_age = None
                    expires = None
                else:
                    max_age = await request.session.aget_expiry_age()
                    expires = http_date(time.time() + max_age)
                if response.status_code < 500:  # Django skips the save for 5xx responses
                    try:
                        await request.session.asave()
                    except UpdateError:
                        raise SessionInterrupted(
                            "The request's session was deleted before the request completed. "
                            "The user may have logged out in a concurrent request, for example."
                        ) from None
                    response.set_cookie(
                        settings.SESSION_COOKIE_NAME,
                        request.session.session_key,
                        max_age=max_age,
                        expires=expires,
                        domain=settings.SESSION_COOKIE_DOMAIN,
                        path=settings.SESSION_COOKIE_PATH,
                        secure=settings.SESSION_COOKIE_SECURE or None,
                        httponly=settings.SESSION_COOKIE_HTTPONLY or None,
                        samesite=settings.SESSION_COOKIE_SAMESITE,
                    )
                    need_vary_cookie = True
        if need_vary_cookie:
            patch_vary_headers(response, ("Cookie",))
        return response
