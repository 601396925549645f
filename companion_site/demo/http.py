"""Small decorators that keep every answer JSON, for sync and async views alike."""

import functools
import inspect

from django.http import JsonResponse

from .params import BadRequest, bad_request


def json_api(*methods):
    """Allow only `methods` (405 with a JSON message otherwise) and turn BadRequest into a 400.

    Works on `def` and `async def` views: Django looks at the wrapper to decide whether the
    view is async, so the wrapper must be a coroutine function exactly when the view is one.
    """

    def not_allowed(request):
        response = JsonResponse(
            {"error": f"{request.method} is not allowed here; use {', '.join(methods)}"},
            status=405,
        )
        response["Allow"] = ", ".join(methods)
        return response

    def decorate(view):
        if inspect.iscoroutinefunction(view):

            @functools.wraps(view)
            async def wrapper(request, *args, **kwargs):
                if request.method not in methods:
                    return not_allowed(request)
                try:
                    return await view(request, *args, **kwargs)
                except BadRequest as error:
                    return bad_request(error)

        else:

            @functools.wraps(view)
            def wrapper(request, *args, **kwargs):
                if request.method not in methods:
                    return not_allowed(request)
                try:
                    return view(request, *args, **kwargs)
                except BadRequest as error:
                    return bad_request(error)

        wrapper.csrf_exempt = True  # a JSON API for scripts on 127.0.0.1, no browser forms
        return wrapper

    return decorate
