"""Without Dask, ``import xentfast.dask`` raises an ImportError that names the extra,
and the rest of xentfast works.  Runs in a subprocess where importing dask fails,
whether or not Dask is installed here."""
from util import python_child

SCRIPT = """
import sys
sys.modules["dask"] = None          # import dask now raises ImportError
import numpy as np
import xentfast
assert abs(xentfast.sigmoid(np.zeros(1))[0] - 0.5) < 1e-15
model = xentfast.LogisticRegression().fit(np.array([[0.0], [1.0], [2.0], [3.0]]), [0, 0, 1, 1])
try:
    import xentfast.dask
except ImportError as error:
    print(error)
else:
    raise SystemExit("xentfast.dask imported without Dask")
"""


def test_import_without_dask_names_the_extra():
    result = python_child(SCRIPT)
    assert result.returncode == 0, result.stderr
    assert 'pip install "xentfast[dask]"' in result.stdout
