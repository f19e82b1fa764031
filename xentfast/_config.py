"""Thread count and build configuration."""
import os
import platform
import sys

import numpy as np

from xentfast import _build_info, _kernels

__version__ = "0.1.0"


def _usable_cores():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _threads_from_environment():
    """XENTFAST_NUM_THREADS, else OMP_NUM_THREADS (first level), else the usable cores."""
    for variable in ("XENTFAST_NUM_THREADS", "OMP_NUM_THREADS"):
        value = os.environ.get(variable, "").split(",")[0].strip()
        if value:
            try:
                n = int(value)
            except ValueError:
                continue
            if n >= 1:
                return n
    return _usable_cores()


_num_threads = _threads_from_environment()


def set_num_threads(n):
    """Set how many threads the kernels may use.

    Parameters
    ----------
    n : int
        At least 1.  The default is ``XENTFAST_NUM_THREADS``, else
        ``OMP_NUM_THREADS``, else the usable cores.

    Raises
    ------
    ValueError
        If ``n`` is not an integer ≥ 1 (bools are refused too).

    See Also
    --------
    get_num_threads, show_config

    Notes
    -----
    Results do not depend on the thread count: reductions are summed in fixed
    blocks whose sums are added with compensation.  Small inputs run on one
    thread whatever the setting (a parallel region costs more than it saves).

    Examples
    --------
    >>> import xentfast
    >>> before = xentfast.get_num_threads()
    >>> xentfast.set_num_threads(1)
    >>> xentfast.get_num_threads()
    1
    >>> xentfast.set_num_threads(before)
    """
    global _num_threads
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"the number of threads must be an integer >= 1, got {n!r}")
    _num_threads = int(n)


def get_num_threads():
    """How many threads the kernels use.

    Returns
    -------
    int
        The setting of :func:`set_num_threads` (or its default); 1 in a build
        without OpenMP.

    See Also
    --------
    set_num_threads, show_config

    Examples
    --------
    >>> import xentfast
    >>> xentfast.get_num_threads() >= 1
    True
    """
    return _num_threads if _build_info.HAVE_OPENMP else 1


def show_config(print_out=True):
    """Report the version, compiler, OpenMP, threads and kernel set.

    Parameters
    ----------
    print_out : bool, default True
        Print the report, one ``key: value`` line each.

    Returns
    -------
    dict
        The same facts: "xentfast", "python", "numpy", "machine", "compiler",
        "openmp", "threads", "usable cores", "kernel set" ("baseline",
        "avx2-fma" or "avx512") and "cpu has avx2+fma".

    See Also
    --------
    get_num_threads

    Examples
    --------
    >>> import xentfast
    >>> config = xentfast.show_config(print_out=False)
    >>> config["kernel set"] in ("baseline", "avx2-fma", "avx512")
    True
    """
    config = {
        "xentfast": __version__,
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "machine": platform.machine(),
        "compiler": _build_info.COMPILER,
        "openmp": _build_info.HAVE_OPENMP,
        "threads": get_num_threads(),
        "usable cores": _usable_cores(),
        "kernel set": _kernels.KERNEL_SET,
        "cpu has avx2+fma": _build_info.CPU_HAS_AVX2_FMA,
    }
    if print_out:
        width = max(map(len, config))
        for key, value in config.items():
            print(f"{key:>{width}}: {value}")
    return config
