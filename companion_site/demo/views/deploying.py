"""What a deployment changes in a request: the scheme and client a proxy reports (lesson 12)."""

from django.http import JsonResponse

from ..http import json_api


@json_api("GET")
async def origin(request):
    """How Django sees this request behind a proxy: scheme, is_secure() and client address (lesson 12)."""
    return JsonResponse(
        {
            "scheme": request.scheme,
            "is_secure": request.is_secure(),
            "client": request.META.get("REMOTE_ADDR"),
        }
    )
