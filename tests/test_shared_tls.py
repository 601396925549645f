"""tests/shared_tls.py: one default TLS context per test process, verifying as httpx's own."""

import ssl

import certifi
import httpx

from tests import shared_tls


def transport_context(client):
    return client._transport._pool._ssl_context


def test_clients_share_the_default_context_in_this_run():
    assert shared_tls.installed()  # quick_imports installed it: an httpx upgrade must not undo it
    with httpx.Client() as one, httpx.Client() as two:
        assert transport_context(one) is transport_context(two)
        context = transport_context(one)
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert context.cert_store_stats()["x509_ca"] > 0  # the CA bundle is loaded


def test_other_settings_and_another_cert_file_build_their_own(monkeypatch):
    with httpx.Client() as default, httpx.Client(verify=False) as unverified:
        assert transport_context(unverified) is not transport_context(default)
        assert transport_context(unverified).verify_mode == ssl.CERT_NONE
        monkeypatch.setenv("SSL_CERT_FILE", certifi.where())
        with httpx.Client() as elsewhere:
            assert transport_context(elsewhere) is not transport_context(default)
