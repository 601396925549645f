"""Loaded first (`-p tests.quick_imports` in pyproject.toml), before nbval imports nbformat.

nbformat imports jsonschema, which imports rfc3987_syntax when it is installed (an extra of
jupyter-events): that module builds three Earley parsers at import, ~1 s of CPU in every pytest
worker, for an "iri" format check that notebook validation never asks for. Marking it missing
makes jsonschema skip that one check, as it does wherever the package is not installed.
"""

import sys

sys.modules.setdefault("rfc3987_syntax", None)
