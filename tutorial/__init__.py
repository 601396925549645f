"""Helpers for the Async Django, hands-on notebooks: start the site, fire load, plot, check."""

from . import tracebacks as _tracebacks

# In a kernel: an exception raised deep in Django shows its type, message and your line, not
# 40 frames (see tutorial.tracebacks). Outside IPython this does nothing.
_tracebacks.install()
