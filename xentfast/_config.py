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
    """Cap the number of threads the kernels use at ``n`` (an integer from 1 to 1024).

    The count used is the smaller of ``n`` and OpenMP's maximum for the calling
    thread, which ``OMP_NUM_THREADS`` and ``threadpoolctl.threadpool_limits`` set.
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
    """Report the version, compiler, OpenMP, threads and kernel set; return them as a dict."""
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
