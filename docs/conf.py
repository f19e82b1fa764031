"""Sphinx configuration.  Build with: sphinx-build -W -b html docs docs/_build/html

The API pages document the *installed* xentfast (pip install ".[docs]"): the
source tree has no compiled extensions, so it is not put on sys.path.  The
figures are drawn by the code at build time (matplotlib's plot directive).
"""
import os
import sys

import xentfast

project = "xentfast"
author = "the xentfast developers"
copyright = "2026, the xentfast developers"
release = version = xentfast.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.mathjax",
    "numpydoc",
    "myst_parser",
    "matplotlib.sphinxext.plot_directive",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build"]
root_doc = "index"

# numpydoc: the docstrings' sections; no autosummary tables of class members.
numpydoc_show_class_members = False
numpydoc_xref_param_type = False
# Docstring checks at build time (with -W they fail the build): every
# documented object has a docstring with a summary, documents each of its
# parameters and no others, and has Returns where it returns something.
# (tests/test_docstrings.py checks the other sections and runs the Examples.)
numpydoc_validation_checks = {"GL08", "SS01", "PR01", "PR02", "RT01"}
numpydoc_validation_exclude = {r"\.__init__$"}

# MyST: the semantics, accuracy and benchmark pages include the README's
# sections, whose headings start below the page's own.
myst_heading_anchors = 3
suppress_warnings = ["myst.header"]

# The plot directive runs the figures' code from docs/ (so `import charts`
# works), without source links or extra formats.
plot_working_directory = os.path.dirname(os.path.abspath(__file__))
plot_html_show_source_link = False
plot_html_show_formats = False
plot_formats = [("png", 110)]
plot_rcparams = {"figure.figsize": (7, 4), "axes.grid": True, "grid.alpha": 0.3}

html_theme = "alabaster"
html_static_path = ["_static"]
html_theme_options = {"description": "Exact and fast entropy, cross-entropy, sigmoid and softmax",
                      "fixed_sidebar": True}
