"""The demo app's views, one module per topic; urls.py lists them all."""
