"""Query-parameter parsing that turns bad input into a 400 with a clear JSON message."""

import math

from django.http import JsonResponse

# A learner's typo (delay=1000) must not tie up a server thread for a quarter of an hour.
MAX_DELAY = 10.0


class BadRequest(Exception):
    """Raised by the parsers; views turn it into a JSON 400 with `bad_request`."""


def bad_request(error):
    return JsonResponse({"error": str(error)}, status=400)


def number(request, name, default, *, low, high, kind=float):
    raw = request.GET.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = kind(raw)
    except ValueError:
        raise BadRequest(f"{name} must be a {kind.__name__}, got {raw!r}") from None
    if isinstance(value, float) and not math.isfinite(value):
        raise BadRequest(f"{name} must be a finite number, got {raw!r}")
    if not low <= value <= high:
        raise BadRequest(f"{name} must be between {low} and {high}, got {raw!r}")
    return value


def delay(request, default=0.1):
    """The `delay` parameter in seconds, 0 to MAX_DELAY."""
    return number(request, "delay", default, low=0.0, high=MAX_DELAY)
