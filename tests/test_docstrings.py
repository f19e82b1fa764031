"""Every public function and LogisticRegression has a numpydoc docstring with
the sections the docs promise, and its Examples run as shown (doctests)."""
import doctest
import inspect
import re

import pytest

import xentfast
from xentfast._registry import FUNCTIONS

# (name, the numpydoc sections its docstring must have)
FORMULA_SECTIONS = ("Parameters", "Returns", "Raises", "Notes", "Examples")
DOCUMENTED = [(f.name, FORMULA_SECTIONS) for f in FUNCTIONS] + [
    ("LogisticRegression", ("Parameters", "Attributes", "Raises", "Notes", "Examples")),
    ("logistic_regression_path", FORMULA_SECTIONS),
    ("set_num_threads", ("Parameters", "Raises", "Examples")),
    ("get_num_threads", ("Returns", "Examples")),
    ("show_config", ("Parameters", "Returns", "Examples")),
]


def sections(docstring):
    """The numpydoc section titles: a line underlined by dashes of its length."""
    return re.findall(r"^(\w[\w ]*)\n-+$", docstring, flags=re.MULTILINE)


def test_every_public_name_is_documented():
    assert {name for name, _ in DOCUMENTED} == set(xentfast.__all__) - {"__version__"}


@pytest.mark.parametrize("name, required", DOCUMENTED, ids=[name for name, _ in DOCUMENTED])
def test_numpydoc_sections(name, required):
    docstring = inspect.getdoc(getattr(xentfast, name))
    found = sections(docstring)
    assert [s for s in found if s in required] == list(required), found
    # numpydoc's order: a section may not come before one listed earlier.
    order = ["Parameters", "Attributes", "Returns", "Raises", "See Also", "Notes", "Examples"]
    positions = [order.index(s) for s in found]
    assert positions == sorted(positions), found
    summary = docstring.splitlines()[0]
    assert summary and not summary.startswith(" "), summary


@pytest.mark.parametrize("name", [name for name, _ in DOCUMENTED])
def test_examples_run(name):
    obj = getattr(xentfast, name)
    tests = doctest.DocTestFinder(exclude_empty=True).find(obj, name, globs={})
    tests = [t for t in tests if t.examples]
    assert tests, f"{name} has no examples"
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
    for test in tests:
        runner.run(test)
    assert runner.failures == 0
