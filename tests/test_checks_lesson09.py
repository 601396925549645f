"""The lesson 09 check passes a dual-mode middleware and names each wrong one."""

import asyncio
import inspect
import uuid

import pytest
from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.utils.deprecation import MiddlewareMixin

from tests.run_check import failure as failure_of
from tests.run_check import run as run_check
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
    return failure_of(checks.request_id_middleware, answer)


def test_a_dual_mode_middleware_passes(capsys):
    run_check(checks.request_id_middleware, RequestIdMiddleware)
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


class WithMiddlewareMixin(MiddlewareMixin):
    """Dual-mode by inheritance, and right in both modes — but its async path hops to a thread."""

    def process_response(self, request, response):
        response["X-Request-Id"] = request.headers.get("X-Request-Id") or uuid.uuid4().hex
        return response


def test_middleware_mixin_is_named_for_its_thread_hop():
    error = failure(WithMiddlewareMixin)
    assert error.kind == "wrong" and "MiddlewareMixin runs process_request" in error.hint


# 2 · UserHeaderMiddleware, in the site's real stack (needs the database: sessions, users)

in_the_database = pytest.mark.django_db(transaction=True)


class UserHeaderMiddleware:
    async_capable = True
    sync_capable = False

    def __init__(self, get_response):
        self.get_response = get_response
        inspect.markcoroutinefunction(self)

    async def __call__(self, request):
        response = await self.get_response(request)
        user = await request.auser()
        response["X-User"] = user.username if user.is_authenticated else "anonymous"
        return response


@in_the_database
def test_an_async_native_user_header_passes(capsys):
    run_check(checks.user_header, UserHeaderMiddleware)
    assert "✓ [09_user_header]" in capsys.readouterr().out


@in_the_database
def test_untouched_user_header_fails_as_not_started():
    class UserHeaderMiddleware:
        async_capable = True
        sync_capable = False

        def __init__(self, get_response):
            self.get_response = get_response
            raise NotImplementedError

    assert failure_of(checks.user_header, UserHeaderMiddleware).kind == "not_started"


class ReadsRequestUser(UserHeaderMiddleware):
    async def __call__(self, request):
        response = await self.get_response(request)
        response["X-User"] = request.user.username or "anonymous"  # sync queries, on the loop
        return response


@in_the_database
def test_request_user_in_async_code_is_named():
    error = failure_of(checks.user_header, ReadsRequestUser)
    assert error.kind == "sync_orm" and "await request.auser()" in error.hint


@in_the_database
def test_request_user_under_django_allow_async_unsafe_is_named(monkeypatch):
    # The shortcut: switch the guard off and read request.user the sync way, on the loop.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

    error = failure_of(checks.user_header, ReadsRequestUser)
    assert error.kind == "sync_orm" and "DJANGO_ALLOW_ASYNC_UNSAFE" in error.hint
    assert len(error.hint.splitlines()) <= 5


@in_the_database
def test_a_middleware_mixin_that_reads_request_user_in_a_thread_is_named():
    class InAThread(MiddlewareMixin):
        def process_response(self, request, response):
            user = request.user
            response["X-User"] = user.username if user.is_authenticated else "anonymous"
            return response

    error = failure_of(checks.user_header, InAThread)
    assert error.kind == "wrong" and "ran in another thread" in error.hint


@in_the_database
def test_an_unmarked_async_call_is_named():
    class Unmarked(UserHeaderMiddleware):
        def __init__(self, get_response):
            self.get_response = get_response

    error = failure_of(checks.user_header, Unmarked)
    assert error.kind == "not_async" and "markcoroutinefunction" in error.hint


@in_the_database
def test_a_sync_only_middleware_is_named():
    class SyncOnlyHeader:
        def __init__(self, get_response):
            self.get_response = get_response

        def __call__(self, request):
            return self.get_response(request)

    assert "async_capable is not True" in failure_of(checks.user_header, SyncOnlyHeader).hint


@in_the_database
def test_a_wrong_header_for_anonymous_is_named():
    class StrOfUser(UserHeaderMiddleware):
        async def __call__(self, request):
            response = await self.get_response(request)
            response["X-User"] = str(await request.auser())
            return response

    assert "expected 'anonymous'" in failure_of(checks.user_header, StrOfUser).hint


# 3 · create_account


async def create_account(username, password):
    from django.contrib.auth.hashers import make_password
    from django.contrib.auth.models import User

    hashed = await sync_to_async(make_password, thread_sensitive=False)(password)
    await User.objects.acreate(username=username, password=hashed)


@in_the_database
def test_hashing_in_a_thread_passes(capsys):
    run_check(checks.create_account, create_account)
    assert "✓ [09_create_account]" in capsys.readouterr().out


@in_the_database
def test_untouched_create_account_fails_as_not_started():
    async def create_account(username, password):
        raise NotImplementedError

    assert failure_of(checks.create_account, create_account).kind == "not_started"


@in_the_database
def test_acreate_user_hashes_on_the_loop():
    async def create_account(username, password):
        from django.contrib.auth.models import User

        await User.objects.acreate_user(username, password=password)

    error = failure_of(checks.create_account, create_account)
    assert error.kind == "blocked" and "acreate_user" in error.hint


@in_the_database
def test_a_password_saved_in_clear_is_named():
    async def create_account(username, password):
        from django.contrib.auth.models import User

        await User.objects.acreate(username=username, password=password)

    assert "in clear" in failure_of(checks.create_account, create_account).hint


@in_the_database
def test_a_user_never_saved_is_named():
    async def create_account(username, password):
        from django.contrib.auth.hashers import make_password

        await sync_to_async(make_password, thread_sensitive=False)(password)

    assert "No user" in failure_of(checks.create_account, create_account).hint


@in_the_database
def test_a_hash_made_fast_on_the_loop_is_named():
    # The shortcut: hashing on the loop, but with so few rounds that the loop never stalls.
    async def create_account(username, password):
        from django.contrib.auth.hashers import PBKDF2PasswordHasher
        from django.contrib.auth.models import User

        hasher = PBKDF2PasswordHasher()
        hashed = hasher.encode(password, hasher.salt(), iterations=1000)
        await User.objects.acreate(username=username, password=hashed)

    error = failure_of(checks.create_account, create_account)
    assert error.kind == "wrong" and "fewer rounds" in error.hint
    assert len(error.hint.splitlines()) <= 5


@in_the_database
def test_the_sync_orm_under_django_allow_async_unsafe_is_named(monkeypatch):
    # The shortcut: the hash in a thread, but the user saved the sync way, on the loop.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

    async def create_account(username, password):
        from django.contrib.auth.hashers import make_password
        from django.contrib.auth.models import User

        hashed = await sync_to_async(make_password, thread_sensitive=False)(password)
        User.objects.create(username=username, password=hashed)

    error = failure_of(checks.create_account, create_account)
    assert error.kind == "sync_orm" and "acreate" in error.hint
    assert "DJANGO_ALLOW_ASYNC_UNSAFE" in error.hint
