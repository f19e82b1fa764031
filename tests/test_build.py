"""The compiled build is the one expected: OpenMP on, and the fastest kernel set
the CPU can run unless the baseline is forced.  A silent fallback would hide a
broken build, so these fail instead."""
import os

import numpy as np

import xentfast
from xentfast import _build_info, _kernels


def test_show_config_reports_the_build():
    config = xentfast.show_config(print_out=False)
    for key in ("xentfast", "numpy", "compiler", "openmp", "threads", "kernel set"):
        assert key in config
    assert config["kernel set"] == _kernels.KERNEL_SET


def test_openmp_is_on_unless_disabled():
    if os.environ.get("XENTFAST_OPENMP") == "0":
        assert not _build_info.HAVE_OPENMP
    else:
        assert _build_info.HAVE_OPENMP


def test_kernel_set_matches_the_cpu():
    forced = os.environ.get("XENTFAST_KERNELS", "").lower()
    if forced == "baseline" or not _build_info.CPU_HAS_AVX2_FMA:
        expected = "baseline"
    elif forced == "avx2" or not _build_info.CPU_HAS_AVX512:
        expected = "avx2-fma"
    else:
        expected = "avx512"
    assert _kernels.KERNEL_SET == expected
    module_folder = os.path.basename(os.path.dirname(_kernels._activations.__file__))
    folders = {"baseline": "xentfast", "avx2-fma": "_avx2", "avx512": "_avx512"}
    assert module_folder == folders[expected]


def test_kernels_are_compiled_modules():
    for module in (_kernels._activations, _kernels._information, _kernels._losses,
                   _kernels._linear):
        assert module.__file__.endswith((".so", ".pyd")), module.__file__


def test_thread_setting():
    before = xentfast.get_num_threads()
    try:
        xentfast.set_num_threads(1)
        assert xentfast.get_num_threads() == 1
        for bad in (0, -1, 1.5, "2", True):
            try:
                xentfast.set_num_threads(bad)
            except ValueError:
                pass
            else:
                raise AssertionError(f"set_num_threads({bad!r}) did not raise")
    finally:
        xentfast.set_num_threads(before)
    assert xentfast.sigmoid(np.zeros(3)).tolist() == [0.5, 0.5, 0.5]


def test_kernel_sets_are_built_from_the_same_source():
    # Every kernel set is compiled from the same generated C: the same functions
    # with the same docstrings.  A set left over from an older build would differ.
    import importlib

    def catalogue(package):
        functions = {}
        for name in ("_activations", "_information", "_linear", "_losses"):
            module = importlib.import_module(f"{package}.{name}")
            functions.update({f"{name}.{attr}": getattr(module, attr).__doc__
                              for attr in dir(module) if not attr.startswith("_")
                              and callable(getattr(module, attr))})
        return functions

    baseline = catalogue("xentfast")
    for package, cpu_runs_it in (("xentfast._avx2", _build_info.CPU_HAS_AVX2_FMA),
                                 ("xentfast._avx512", _build_info.CPU_HAS_AVX512)):
        if not cpu_runs_it:
            continue
        try:
            other = catalogue(package)
        except ImportError:
            continue  # a build without this set
        assert other == baseline, package
