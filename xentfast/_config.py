"""Thread count and build configuration."""
import os
import platform
import sys
import warnings

import numpy as np

from xentfast import _build_info, _kernels, _threads

__version__ = "0.1.0"


def _usable_cores():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


# set_num_threads accepts 1 to MAX_THREADS.  The cap never raises the count above
# the OpenMP maximum (the usable cores unless OMP_NUM_THREADS says otherwise), so
# a large value is harmless; a value beyond any real machine is a mistake.
MAX_THREADS = 1024


def _valid_thread_count(n):
    return (not isinstance(n, bool) and isinstance(n, (int, np.integer))
            and 1 <= n <= MAX_THREADS)


def _cap_from_environment():
    """XENTFAST_NUM_THREADS as a cap (0: unset).  An invalid value is ignored, with a warning."""
    value = os.environ.get("XENTFAST_NUM_THREADS", "").strip()
    if not value:
        return 0
    try:
        n = int(value)
    except ValueError:
        n = None
    if not _valid_thread_count(n):
        warnings.warn(f"XENTFAST_NUM_THREADS={value!r} ignored: it must be an integer "
                      f"from 1 to {MAX_THREADS}", RuntimeWarning, stacklevel=2)
        return 0
    return n


_threads.set_cap(_cap_from_environment())


def set_num_threads(n):
    """Cap the number of threads the kernels use at ``n``.

    Parameters
    ----------
    n : int
        From 1 to 1024.  The kernels use the smaller of ``n`` and OpenMP's
        maximum for the calling thread (the usable cores, unless
        ``OMP_NUM_THREADS`` or ``threadpoolctl.threadpool_limits`` say
        otherwise): the cap never adds threads.  The default cap is
        ``XENTFAST_NUM_THREADS`` (none when unset); a forked child starts
        with a cap of 1.

    Raises
    ------
    ValueError
        If ``n`` is not an integer from 1 to 1024 (bools are refused too).

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
    if not _valid_thread_count(n):
        raise ValueError(f"the number of threads must be an integer from 1 to {MAX_THREADS}, "
                         f"got {n!r}")
    _threads.set_cap(int(n))


# How many threads the kernels use: see xentfast._threads.
get_num_threads = _threads.get_num_threads


def _serial_after_fork():
    # libgomp's thread pool does not survive fork(): in a child of a process that
    # ran a parallel region, the first parallel region would wait forever for the
    # parent's threads.  The child runs its kernels on one thread (a region of one
    # thread does not use the pool) until it calls set_num_threads.
    _threads.set_cap(1)


os.register_at_fork(after_in_child=_serial_after_fork)


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
        "openmp", "threads" (in effect), "openmp max threads", "thread cap
        (set_num_threads)" (None when there is none), "usable cores", "kernel
        set" ("baseline", "avx2-fma" or "avx512") and "cpu has avx2+fma".

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
        "openmp max threads": _threads.openmp_max_threads(),
        "thread cap (set_num_threads)": _threads.get_cap() or None,
        "usable cores": _usable_cores(),
        "kernel set": _kernels.KERNEL_SET,
        "cpu has avx2+fma": _build_info.CPU_HAS_AVX2_FMA,
    }
    if print_out:
        width = max(map(len, config))
        for key, value in config.items():
            print(f"{key:>{width}}: {value}")
    return config
