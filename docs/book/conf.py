"""Sphinx + myst-nb: the lessons as a static site, executed fresh, from the notebooks CI runs.

Built by `make book` (`sphinx-build -c docs/book . docs/book/_build/html`): the source folder is
the repository itself, so a lesson's links to its exercise and to README.md resolve as they do on
GitHub, and the book has no copy of any notebook.
"""

project = "Async Django, hands-on"
author = "the tutorial's authors"
copyright = "the tutorial's authors"

extensions = ["myst_nb"]
root_doc = "docs/book/index"
# Only these are pages: the lessons, the exercises as learners get them (never solutions/).
include_patterns = [
    "benchmarks/results/full.md",
    "benchmarks/results/websockets_held.md",
    "docs/book/index.md",
    "README.md",
    "notebooks/*.ipynb",
    "exercises/*.ipynb",
    "docs/*.png",
    "docs/instructors.md",
]
exclude_patterns = ["docs/book/_build/**", ".venv/**"]

# Every lesson runs top to bottom in a fresh kernel, as `make test` runs it: what the page shows
# is what this version of the code does today. A cell that fails without its raises-exception
# tag is a warning, and `make book` turns warnings into a failed build (-W) after building every
# page (--keep-going): one run names every lesson that broke. A tagged cell shows its exception,
# as in JupyterLab.
nb_execution_mode = "force"
nb_execution_timeout = 180
nb_execution_raise_on_error = False
nb_execution_show_tb = True
nb_execution_in_temp = False  # cwd = notebooks/, as under nbval and JupyterLab
# Exercises are shown as you get them: running them would only print "Not started" hints.
nb_execution_excludepatterns = ["exercises/*"]
nb_merge_streams = True

myst_enable_extensions = ["colon_fence"]
myst_heading_anchors = 3  # README.md#lessons, the lessons' Contents link
# A check's one-line hint is no IPython traceback for the highlighter; that is fine.
suppress_warnings = ["myst.header", "misc.highlighting_failure"]
# Links between lessons use JupyterLab's heading anchors ("#The-pool"), which the learner's Lab
# follows; MyST slugs headings otherwise, so such a link reaches the page but not the heading.
# This also silences a link to a page the book leaves out: include_patterns above lists them.
suppress_warnings += ["myst.xref_missing"]

html_theme = "sphinx_book_theme"
html_title = project
html_theme_options = {
    "show_toc_level": 2,
    "home_page_in_toc": True,
    "use_download_button": True,
}
# The site's own root: a page that sends the reader to the book's first page.
html_extra_path = ["root"]
