"""The README's API table is the registry's, and its examples run as shown."""
import doctest
import pathlib
import re

import numpy as np

from xentfast._registry import FUNCTIONS, api_table

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"


def test_api_table_matches_registry():
    assert api_table() in README.read_text(encoding="utf-8")


def test_registry_names_are_exported():
    import xentfast
    for function in FUNCTIONS:
        assert callable(function.fast), function.name
        assert callable(function.reference), function.name
        assert function.name in xentfast.__all__


def test_readme_examples():
    # A closing code fence would otherwise read as expected output.
    text = re.sub(r"^```.*$", "", README.read_text(encoding="utf-8"), flags=re.MULTILINE)
    parser = doctest.DocTestParser()
    test = parser.get_doctest(text, {"np": np}, "README", str(README), 0)
    assert test.examples, "the README has no examples"
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
    runner.run(test)
    assert runner.failures == 0
