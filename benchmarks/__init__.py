"""Reproducible load comparison of the companion site: Django sync/async, WSGI/ASGI, a Starlette peer.

    python -m benchmarks           # the full run (≤ 10 min): every configuration, C = 1 … 1000
    python -m benchmarks --quick   # the quick run (≤ 60 s): six configurations, C = 1, 50, 200

Results (a Markdown table and a PNG plot) go to benchmarks/results/. Lesson 15 reads them.
"""
