"""Reproducible load comparison of the companion site: Django sync/async, WSGI/ASGI, fair peers.

    python -m benchmarks           # the full run (≤ 12 min): every configuration three times,
                                   # C = 50, 200, 1000; held streams; a database in the loop
    python -m benchmarks --quick   # the quick run (≤ 60 s): four configurations at C = 200,
                                   # two held-stream and two database ones

Results (a Markdown table, a JSON file and a PNG plot) go to benchmarks/results/. Lesson 15
reads them. Sections: views that wait on I/O (benchmarks.configs), trivial views, long-lived
connections (benchmarks.held), a database in the loop (benchmarks.database).
"""
