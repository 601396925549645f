"""One TLS context for the tutorial's own HTTP clients (checks, load, probes).

httpx builds a TLS context for every client it makes and loads the CA bundle into it: ~30 ms
of CPU each time, and on the event loop for an AsyncClient, where a check that times the loop
would see it. The tutorial's clients talk plain HTTP to 127.0.0.1, so the context is never used;
they share this one, which verifies as httpx's default would, should a URL ever be https.
Code in the lessons makes its clients as anyone would: lesson 06 measures what that costs.
"""

import functools

import httpx


@functools.cache
def shared_context():
    """httpx's default TLS context, built once per process."""
    return httpx.create_ssl_context()
