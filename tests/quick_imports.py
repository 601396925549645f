"""Loaded first (`-p tests.quick_imports` in pyproject.toml), before nbval imports nbformat.

tutorial.notebooks keeps jsonschema from importing rfc3987_syntax (~1 s of parser building in
every pytest worker, for an "iri" format check notebook validation never asks for): importing it
here, first, does that for the whole test run.
"""

import tutorial.notebooks  # noqa: F401 (imported for what it does before nbformat)
