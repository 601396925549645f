"""The lesson 09 check passes a dual-mode middleware and names each wrong one."""

import asyncio
import uuid

import pytest
from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async

from tutorial.checks import ExerciseFailed
from tutorial.checks import lesson09 as checks


class RequestIdMiddleware:
    sync_capable = True
    async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request):
        if self.is_async:
            return self.__acall__(request)
        return self._stamp(request, self.get_response(request))

    async def __acall__(self, request):
        return self._stamp(request, await self.get_response(request))

    @staticmethod
    def _stamp(request, response):
        response["X-Request-Id"] = request.headers.get("X-Request-Id") or uuid.uuid4().hex
        return response


class SyncOnly(RequestIdMiddleware):
    async_capable = False


class NotMarked(RequestIdMiddleware):
    def __init__(self, get_response):
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)


class HopsToAThread(RequestIdMiddleware):
    async def __acall__(self, request):
        # get_response is async here; calling it in a thread and running it there is the hop
        response = await sync_to_async(lambda: asyncio.run(self.get_response(request)))()
        return self._stamp(request, response)


class SameIdForAll(RequestIdMiddleware):
    @staticmethod
    def _stamp(request, response):
        response["X-Request-Id"] = request.headers.get("X-Request-Id") or "fixed"
        return response


class IgnoresTheClientsId(RequestIdMiddleware):
    @staticmethod
    def _stamp(request, response):
        response["X-Request-Id"] = uuid.uuid4().hex
        return response


class NoHeader(RequestIdMiddleware):
    @staticmethod
    def _stamp(request, response):
        return response


class Untouched:
    sync_capable = True
    async_capable = True

    def __init__(self, get_response):
        raise NotImplementedError


def failure(answer):
    with pytest.raises(ExerciseFailed) as caught:
        asyncio.run(checks.request_id_middleware(answer))
    return caught.value


def test_a_dual_mode_middleware_passes(capsys):
    asyncio.run(checks.request_id_middleware(RequestIdMiddleware))
    assert "✓" in capsys.readouterr().out


def test_untouched_exercise_fails_as_not_started():
    assert failure(Untouched).kind == "not_started"


@pytest.mark.parametrize(
    ("answer", "phrase"),
    [
        (SyncOnly, "async_capable"),
        (NotMarked, "markcoroutinefunction"),
        (HopsToAThread, "another thread"),
        (SameIdForAll, "same id"),
        (IgnoresTheClientsId, "the response says"),
        (NoHeader, "no X-Request-Id header"),
        (RequestIdMiddleware(lambda r: r), "Pass the class itself"),
    ],
)
def test_wrong_middlewares_fail_with_a_hint(answer, phrase):
    error = failure(answer)
    assert error.kind == "wrong"
    assert phrase in error.hint
