"""Views that Django's protections act on, for demo/tests/test_middleware_native.py only.

Unlike the site's JSON API (csrf_exempt, for scripts), these are what a browser-facing site has:
a CSRF-protected form, a session, a login, a page that may be framed. Bodies never contain a
token or a session key, so two runs can be compared byte for byte.
"""

from django.contrib.auth import alogin, alogout
from django.contrib.auth.models import User
from django.http import HttpResponse, JsonResponse
from django.middleware.csrf import get_token
from django.urls import include, path
from django.views.decorators.clickjacking import xframe_options_exempt, xframe_options_sameorigin


async def form(request):
    """GET: a form page (sets the CSRF cookie); POST: accepted only with a valid token."""
    if request.method == "POST":
        return JsonResponse({"accepted": request.POST.get("note", "")})
    return JsonResponse({"token_length": len(get_token(request))})


def sync_form(request):
    """The same form as a sync view: under ASGI Django runs it in the request's thread."""
    if request.method == "POST":
        return JsonResponse({"accepted": request.POST.get("note", "")})
    return JsonResponse({"token_length": len(get_token(request))})


async def remember(request):
    """Count visits in the session: modified on every request, so saved and re-cookied."""
    visits = await request.session.aget("visits", 0) + 1
    await request.session.aset("visits", visits)
    return JsonResponse({"visits": visits})


async def peek(request):
    """Read the session without changing it: accessed, so Vary: Cookie, but not saved."""
    return JsonResponse({"visits": await request.session.aget("visits", 0)})


async def browser_close(request):
    """A session that ends with the browser: a cookie without Max-Age."""
    await request.session.aset_expiry(0)
    await request.session.aset("visits", 1)
    return JsonResponse({"ok": True})


async def forget(request):
    """Empty the session: the middleware deletes the cookie."""
    await request.session.aflush()
    return JsonResponse({"ok": True})


async def login(request):
    """Log the user in (the session key cycles); creates them on first use."""
    user, _ = await User.objects.aget_or_create(username=request.POST.get("username", "ada"))
    await alogin(request, user)
    return JsonResponse({"ok": True})


async def logout(request):
    await alogout(request)
    return JsonResponse({"ok": True})


async def whoami(request):
    user = await request.auser()
    return JsonResponse({"authenticated": user.is_authenticated, "username": user.username})


async def fail(request):
    """A 500 after changing the session: Django does not save a session on a 5xx response."""
    await request.session.aset("visits", 99)
    return HttpResponse("broken", status=500)


@xframe_options_exempt
async def frameable(request):
    return HttpResponse("<p>any site may frame this</p>")


@xframe_options_sameorigin
async def same_origin_frame(request):
    return HttpResponse("<p>only this site may frame this</p>")


urlpatterns = [
    path("p/form/", form),
    path("p/sync-form/", sync_form),
    path("p/remember/", remember),
    path("p/peek/", peek),
    path("p/browser-close/", browser_close),
    path("p/forget/", forget),
    path("p/login/", login),
    path("p/logout/", logout),
    path("p/whoami/", whoami),
    path("p/fail/", fail),
    path("p/frameable/", frameable),
    path("p/same-origin-frame/", same_origin_frame),
    path("", include("config.urls")),  # and the whole site as it is
]
