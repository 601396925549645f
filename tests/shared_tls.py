"""Test runs only: httpx builds one default TLS context per process, not one per client.

httpx loads the CA bundle again for every Client and AsyncClient it makes (~30 ms of CPU each,
more on a loaded machine), and each `httpx.get(...)` makes one: the suite made hundreds, in its
own processes alone, all for plain HTTP to 127.0.0.1. The shared context is the one httpx
would build (certifi's bundle, or SSL_CERT_FILE / SSL_CERT_DIR as they are when it is asked
for): it verifies exactly as a new one would. Any other `verify` or `cert` builds as before.
Installed in every test process (tests/quick_imports.py), and nowhere else: the kernels and
sites of the run build a context per client as a learner's do (lesson 06 measures that cost).
"""

import functools
import os

import httpx._transports.default as _transports

_build = _transports.create_ssl_context


@functools.cache
def _default_context(trust_env, cert_file, cert_dir):
    return _build(verify=True, cert=None, trust_env=trust_env)


def _create_ssl_context(verify=True, cert=None, trust_env=True):
    if verify is True and cert is None:
        where = (os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR"))
        return _default_context(trust_env, *(where if trust_env else (None, None)))
    return _build(verify=verify, cert=cert, trust_env=trust_env)


def install():
    """Make httpx's transports (both sync and async) share the default context from now on."""
    _transports.create_ssl_context = _create_ssl_context


def installed():
    return _transports.create_ssl_context is _create_ssl_context
