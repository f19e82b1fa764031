"""The kernel set in use: the widest one the CPU runs and the build made,
AVX-512, then AVX2 + FMA, then the baseline.  XENTFAST_KERNELS=baseline,
avx2 or avx512 forces one (and fails to import if it cannot run here).

The API modules import their kernels from here, never directly.
"""
import importlib
import os

from xentfast import _build_info

# Widest first: (name given in XENTFAST_KERNELS, KERNEL_SET, package, can this CPU run it).
_SETS = (
    ("avx512", "avx512", "xentfast._avx512", _build_info.CPU_HAS_AVX512),
    ("avx2", "avx2-fma", "xentfast._avx2", _build_info.CPU_HAS_AVX2_FMA),
    ("baseline", "baseline", "xentfast", True),
)

_forced = os.environ.get("XENTFAST_KERNELS", "").strip().lower()
if _forced not in ("", "auto") + tuple(choice for choice, *_ in _SETS):
    raise ImportError("XENTFAST_KERNELS must be 'baseline', 'avx2', 'avx512' or 'auto', "
                      f"got {_forced!r}")


def _load(package):
    return tuple(importlib.import_module(f"{package}.{name}")
                 for name in ("_activations", "_information", "_linear", "_losses"))


KERNEL_SET = None
_modules = None
for _choice, _name, _package, _cpu_runs_it in _SETS:
    if _forced not in ("", "auto") and _forced != _choice:
        continue
    if not _cpu_runs_it:
        if _forced:
            raise ImportError(f"XENTFAST_KERNELS={_forced}, but this CPU cannot run that "
                              "kernel set")
        continue
    try:
        _modules = _load(_package)
    except ImportError:  # a build without this set (not x86-64, or XENTFAST_AVX2=0)
        if _forced:
            raise ImportError(f"XENTFAST_KERNELS={_forced}, but this build has no such "
                              "kernel set") from None
        continue
    KERNEL_SET = _name
    break
_activations, _information, _linear, _losses = _modules
