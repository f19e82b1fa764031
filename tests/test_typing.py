"""The type stubs (xentfast/*.pyi, py.typed): mypy.stubtest against the imported
package, and mypy --strict on the README's examples and on small snippets.

Run just these with ``pytest tests/test_typing.py``; by hand, from outside the
source tree: ``python -m mypy.stubtest xentfast --allowlist
tests/stubtest_allowlist.txt`` (with the mypy options of MYPY_CONFIG below).
mypy is in the test extra.  The stubs do not depend on the kernel set, so the
runs that force one (XENTFAST_KERNELS) skip these.
"""
import doctest
import os
import pathlib
import re
import subprocess
import sys
import sysconfig
import tempfile
import textwrap

import pytest

import xentfast

pytest.importorskip("mypy")
pytestmark = pytest.mark.skipif(
    os.environ.get("XENTFAST_KERNELS", "") not in ("", "auto"),
    reason="the stubs do not depend on the kernel set: checked in the default run")

ROOT = pathlib.Path(__file__).resolve().parents[1]
ALLOWLIST = ROOT / "tests" / "stubtest_allowlist.txt"
# The private modules have no stubs: mypy reads their untyped source, so their
# errors are not the stubs' (but stubtest still compares them with the runtime).
MYPY_CONFIG = """\
[mypy]
strict = True
[mypy-xentfast.*]
ignore_errors = True
[mypy-xentfast._config,xentfast._path,xentfast._typing,xentfast.activations,\
xentfast.information,xentfast.losses,xentfast.linear_model,xentfast.logistic_regression,\
xentfast.reference]
ignore_errors = False
[mypy-sklearn.*,scipy.*,torch.*,threadpoolctl.*,matplotlib.*,mpmath.*,dask.*,pandas.*]
ignore_missing_imports = True
"""
# Shared by the runs of this file (mypy checks it is up to date itself).
CACHE = os.path.join(tempfile.gettempdir(), f"xentfast-mypy-cache-py{sys.version_info[0]}"
                                            f"{sys.version_info[1]}")


def mypy_environment():
    """The environment for mypy: MYPYPATH points at the package's folder when it
    is not in site-packages (an editable install, whose import hook mypy does not
    follow); mypy refuses site-packages itself on MYPYPATH."""
    env = dict(os.environ)
    parent = os.path.dirname(os.path.dirname(os.path.abspath(xentfast.__file__)))
    site_packages = {os.path.abspath(sysconfig.get_paths()[key]) for key in ("purelib", "platlib")}
    if parent not in site_packages:
        env["MYPYPATH"] = parent
    return env


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """A folder outside the source tree (so the installed package is imported),
    holding the mypy configuration."""
    folder = tmp_path_factory.mktemp("typing")
    (folder / "mypy.ini").write_text(MYPY_CONFIG)
    return folder


def run(args, workdir):
    return subprocess.run([sys.executable, "-m", *args], cwd=workdir, env=mypy_environment(),
                          capture_output=True, text=True, timeout=600)


def mypy(workdir, source, name="snippet.py"):
    (workdir / name).write_text(source)
    return run(["mypy", "--config-file", "mypy.ini", "--cache-dir", CACHE, name], workdir)


def test_package_is_typed():
    package = pathlib.Path(xentfast.__file__).parent
    assert (package / "py.typed").exists()
    for module in ("__init__", "activations", "information", "losses", "linear_model",
                   "logistic_regression", "_config", "_path", "reference"):
        assert (package / f"{module}.pyi").exists(), module


def test_stubtest(workdir):
    result = run(["mypy.stubtest", "xentfast", "--mypy-config-file", "mypy.ini",
                  "--allowlist", str(ALLOWLIST)], workdir)
    assert result.returncode == 0, result.stdout + result.stderr


def readme_examples_as_a_script():
    """The README's >>> examples, in order, as one Python file."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    text = re.sub(r"^```.*$", "", text, flags=re.MULTILINE)
    examples = doctest.DocTestParser().get_examples(text)
    assert examples, "the README has no examples"
    return "".join(example.source for example in examples)


def test_readme_examples_pass_mypy_strict(workdir):
    result = mypy(workdir, readme_examples_as_a_script(), "readme_examples.py")
    assert result.returncode == 0, result.stdout + result.stderr


def test_misspelled_keyword_is_a_type_error(workdir):
    good = textwrap.dedent("""\
        import numpy as np
        import xentfast

        z = np.zeros(3)
        y = np.ones(3)
        loss = xentfast.binary_cross_entropy_with_logits(z, y, reduction="sum")
    """)
    result = mypy(workdir, good, "good_keyword.py")
    assert result.returncode == 0, result.stdout + result.stderr
    result = mypy(workdir, good.replace("reduction=", "reducton="), "bad_keyword.py")
    assert result.returncode == 1
    assert 'Unexpected keyword argument "reducton"' in result.stdout, result.stdout
    # A misspelled value is caught too: reduction is one of three literals.
    result = mypy(workdir, good.replace('"sum"', '"summ"'), "bad_value.py")
    assert result.returncode == 1
    assert "No overload variant" in result.stdout, result.stdout


def test_overloads_follow_return_grad_dtype_and_0d(workdir):
    source = textwrap.dedent("""\
        import numpy as np
        import numpy.typing as npt
        import xentfast

        z32: npt.NDArray[np.float32] = np.zeros(4, np.float32)
        z64: npt.NDArray[np.float64] = np.zeros(4)
        reveal_type(xentfast.sigmoid(2.0))
        reveal_type(xentfast.sigmoid(np.float32(2.0)))
        reveal_type(xentfast.sigmoid(z32))
        reveal_type(xentfast.sigmoid([1, 2]))
        reveal_type(xentfast.binary_cross_entropy_with_logits(z32, z32))
        reveal_type(xentfast.binary_cross_entropy_with_logits(z64, z64, return_grad=True))
        reveal_type(xentfast.binary_cross_entropy_with_logits(z64, z64, reduction="none"))
        reveal_type(xentfast.entropy(z64, axis=None))
        reveal_type(xentfast.logistic_loss_and_grad(z64, z64.reshape(2, 2), z64[:2]))
        reveal_type(xentfast.LogisticRegression().fit(z64.reshape(2, 2), [0, 1]))
    """)
    result = mypy(workdir, source, "reveal.py")
    revealed = re.findall(r'Revealed type is "(.*)"', result.stdout)
    float32 = "numpy.floating[numpy._typing._nbit_base._32Bit]"
    array64 = "numpy.ndarray[tuple[Any, ...], numpy.dtype[numpy.float64]]"
    assert revealed == [
        "numpy.float64",
        float32,
        f"numpy.ndarray[tuple[Any, ...], numpy.dtype[{float32}]]",
        array64,
        float32,
        f"tuple[numpy.float64, {array64}]",
        array64,
        "numpy.float64",
        f"tuple[numpy.float64, {array64}]",
        "xentfast.logistic_regression.LogisticRegression",
    ], result.stdout
