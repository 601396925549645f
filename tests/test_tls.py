"""tutorial/tls.py: the tutorial's own clients share one verifying TLS context."""

import asyncio
import ssl

from tutorial.checks.counting import CountingTransport
from tutorial.tls import shared_context


def test_one_context_per_process_and_it_verifies():
    context = shared_context()
    assert shared_context() is context
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert context.cert_store_stats()["x509_ca"] > 0


def test_a_checks_transport_uses_it():
    async def made():
        return CountingTransport()

    assert asyncio.run(made())._inner._pool._ssl_context is shared_context()
