"""A small JSON API on the Item model, written with the async ORM (aget, acreate, async for)."""

import json

from django.http import JsonResponse

from ..http import json_api
from ..models import Category, Item
from ..params import BadRequest, number


def as_json(item):
    return {
        "id": item.id,
        "name": item.name,
        "category": item.category.name if item.category_id else None,
        "created": item.created.isoformat(),
    }


def _parse_new_item(request):
    try:
        body = json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError):
        raise BadRequest('body must be JSON, e.g. {"name": "teapot"}') from None
    if not isinstance(body, dict):
        raise BadRequest("body must be a JSON object")
    name, category = body.get("name"), body.get("category")
    if not isinstance(name, str) or not 1 <= len(name.strip()) <= 100:
        raise BadRequest("name must be a string of 1 to 100 characters")
    if category is not None and (not isinstance(category, str) or not 1 <= len(category) <= 100):
        raise BadRequest("category must be a string of 1 to 100 characters, or absent")
    return name.strip(), category


@json_api("GET", "POST")
async def items(request):
    """GET lists items with `async for` (select_related avoids the lazy-relation trap); POST acreates one."""
    if request.method == "POST":
        name, category_name = _parse_new_item(request)
        category = None
        if category_name:
            category, _ = await Category.objects.aget_or_create(name=category_name)
        item = await Item.objects.acreate(name=name, category=category)
        return JsonResponse(as_json(item), status=201)
    limit = number(request, "limit", 100, low=1, high=1000, kind=int)
    rows = [as_json(item) async for item in Item.objects.select_related("category")[:limit]]
    return JsonResponse({"items": rows, "count": await Item.objects.acount()})


@json_api("GET", "DELETE")
async def item_detail(request, item_id):
    """GET one item with aget, DELETE it with adelete; unknown ids answer a JSON 404."""
    try:
        item = await Item.objects.select_related("category").aget(id=item_id)
    except Item.DoesNotExist:
        return JsonResponse({"error": f"no item with id {item_id}"}, status=404)
    if request.method == "DELETE":
        await item.adelete()
        return JsonResponse({"deleted": item_id})
    return JsonResponse(as_json(item))
