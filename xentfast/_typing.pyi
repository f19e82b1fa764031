# Type aliases shared by xentfast's stubs.  A stub-only module: there is no
# xentfast/_typing.py at run time (the stubtest allowlist says so).
from typing import Any, Literal, TypeAlias, TypeVar

import numpy as np
import numpy.typing as npt

# The working dtype of a result: float32 and float64 inputs keep theirs.
F = TypeVar("F", np.float32, np.float64)
# Real scalars that are computed in float64: Python numbers (and np.float64,
# a subclass of float), NumPy integers and bools.  (float16 and longdouble
# scalars are computed in float64 too, but NumPy's stubs make them overlap
# with float32, so they fall to the array overloads.)
Float64Scalar: TypeAlias = float | np.integer[Any] | np.bool_
# Any real scalar.
RealScalar: TypeAlias = float | np.integer[Any] | np.bool_ | np.floating[Any]
# An array given as out=: it is filled and returned.
OutT = TypeVar("OutT", bound=npt.NDArray[np.floating[Any]])
# The reductions of the losses that give one number.
ScalarReduction: TypeAlias = Literal["mean", "sum"]
