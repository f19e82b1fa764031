"""The kernel set in use: AVX2 + FMA where the CPU has them and the build made
them, else the baseline build.  XENTFAST_KERNELS=baseline forces the baseline.

The API modules import their kernels from here, never directly.
"""
import importlib
import os

from xentfast import _build_info

_forced = os.environ.get("XENTFAST_KERNELS", "").strip().lower()
if _forced not in ("", "auto", "baseline", "avx2"):
    raise ImportError(f"XENTFAST_KERNELS must be 'baseline', 'avx2' or 'auto', got {_forced!r}")


def _load(package):
    return tuple(importlib.import_module(f"{package}.{name}")
                 for name in ("_activations", "_information", "_linear", "_losses"))


KERNEL_SET = "baseline"
_modules = None
if _forced != "baseline" and _build_info.CPU_HAS_AVX2_FMA:
    try:
        _modules = _load("xentfast._avx2")
        KERNEL_SET = "avx2-fma"
    except ImportError:  # a build without the AVX2 modules (not x86-64, or XENTFAST_AVX2=0)
        pass
if _forced == "avx2" and KERNEL_SET != "avx2-fma":
    raise ImportError("XENTFAST_KERNELS=avx2, but this CPU or build has no AVX2 + FMA kernels")
_activations, _information, _linear, _losses = _modules or _load("xentfast")
