"""Build the Cython kernels, with OpenMP where the compiler has it.

The kernel modules are compiled three times from the same .pyx on x86-64: for
the baseline instruction set (SSE2) as ``xentfast.<module>``, with AVX2 and FMA
as ``xentfast._avx2.<module>``, and with AVX-512 (F, CD, VL, DQ, BW: the
x86-64-v4 level) as ``xentfast._avx512.<module>``.  ``xentfast._kernels`` picks
one at import from the CPU's features.

Environment:
  XENTFAST_OPENMP=0   build without OpenMP even if the compiler supports it.
  XENTFAST_AVX2=0     build only the baseline kernels (no AVX2, no AVX-512).
  XENTFAST_SANITIZE=1 build with AddressSanitizer and UndefinedBehaviorSanitizer
                      (gcc/clang; for testing only: tools/sanitize.sh runs the suite).
"""
import os
import sysconfig
import tempfile
import textwrap
import warnings

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

# Modules with hot loops: built for each kernel set.
KERNEL_MODULES = ("_activations", "_information", "_losses", "_linear")
# Modules without hot loops: built once.
SUPPORT_MODULES = ("_validate", "_build_info", "_objective", "_solvers", "_penalised",
                   "_threads")

CYTHON_DIRECTIVES = {
    "language_level": 3,
    "boundscheck": False,
    "wraparound": False,
    "cdivision": True,
    "initializedcheck": False,
}

# -O3 lets gcc vectorise the loops.  -fno-trapping-math lets it turn the
# branch-free selects of _vmath.pxd into vector blends (we never enable FP
# traps; results are unchanged); -fno-math-errno, that libm calls set no errno.
# Never -ffast-math (it may delete isnan tests and flush subnormals
# process-wide), never -march=native.
UNIX_COMPILE_ARGS = ["-O3", "-fno-math-errno", "-fno-trapping-math"]
# Each extra kernel set: its package and its flags per compiler kind.  AVX-512
# prefers 512-bit vectors (gcc's default is 256 bits even where AVX-512 is on).
KERNEL_SET_COMPILE_ARGS = {
    "_avx2": {"unix": ["-mavx2", "-mfma"], "msvc": ["/arch:AVX2"]},
    "_avx512": {"unix": ["-mavx2", "-mfma", "-mavx512f", "-mavx512cd", "-mavx512vl",
                         "-mavx512dq", "-mavx512bw", "-mprefer-vector-width=512"],
                "msvc": ["/arch:AVX512"]},
}
OPENMP_FLAGS = {"msvc": (["/openmp"], []), "unix": (["-fopenmp"], ["-fopenmp"])}
# XENTFAST_SANITIZE=1: compiled and linked into every extension.
SANITIZE_FLAGS = ["-fsanitize=address,undefined", "-fno-omit-frame-pointer"]

OPENMP_PROBE = textwrap.dedent("""
    #include <omp.h>
    int main(void) {
        int n = 0;
        #pragma omp parallel reduction(+:n)
        n += 1;
        return omp_get_max_threads() > 0 && n > 0 ? 0 : 1;
    }
""")


def compiler_has_openmp(compiler, compile_flags, link_flags):
    """Compile and link a tiny OpenMP program with the extension compiler."""
    with tempfile.TemporaryDirectory() as tmp:
        source = os.path.join(tmp, "probe.c")
        with open(source, "w") as f:
            f.write(OPENMP_PROBE)
        try:
            objects = compiler.compile([source], output_dir=tmp, extra_postargs=compile_flags)
            compiler.link_executable(objects, "probe", output_dir=tmp,
                                     extra_postargs=link_flags)
        except Exception:
            return False
    return True


def targets_x86_64():
    platform = sysconfig.get_platform().lower()
    return platform.endswith(("x86_64", "amd64"))


class BuildExtWithOpenMP(build_ext):
    def build_extensions(self):
        kind = "msvc" if self.compiler.compiler_type == "msvc" else "unix"
        compile_flags, link_flags = OPENMP_FLAGS[kind]
        use_openmp = os.environ.get("XENTFAST_OPENMP", "1") != "0"
        if use_openmp and not compiler_has_openmp(self.compiler, compile_flags, link_flags):
            warnings.warn("xentfast: the C compiler has no OpenMP; building the kernels "
                          "single-threaded (show_config() will say so)")
            use_openmp = False
        for ext in self.extensions:
            if kind == "unix":
                ext.extra_compile_args += UNIX_COMPILE_ARGS
            package = ext.name.split(".")[1]
            if package in KERNEL_SET_COMPILE_ARGS:
                ext.extra_compile_args += KERNEL_SET_COMPILE_ARGS[package][kind]
            if use_openmp:
                ext.extra_compile_args += compile_flags
                ext.extra_link_args += link_flags
            if kind == "unix" and os.environ.get("XENTFAST_SANITIZE", "0") == "1":
                ext.extra_compile_args += SANITIZE_FLAGS
                ext.extra_link_args += SANITIZE_FLAGS
        super().build_extensions()


def extension(name, module):
    return Extension(name, [f"xentfast/{module}.pyx"], include_dirs=[np.get_include(), "xentfast"],
                     define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")])



baseline = cythonize([extension(f"xentfast.{m}", m) for m in KERNEL_MODULES + SUPPORT_MODULES],
                     compiler_directives=CYTHON_DIRECTIVES)
def kernel_set_source(package, module):
    """A C file of its own for one kernel set's module: it includes the module's
    generated C.  Compiling xentfast/<module>.c itself for every set would give
    all of them one object file path, and the builds would overwrite each other."""
    folder = os.path.join("build", "kernel_sets", package)
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, f"{module}.c")
    generated = os.path.abspath(os.path.join("xentfast", f"{module}.c")).replace(os.sep, "/")
    content = f'#include "{generated}"\n'
    if not os.path.exists(path) or open(path).read() != content:
        with open(path, "w") as f:
            f.write(content)
    return path


extra_sets = []
if targets_x86_64() and os.environ.get("XENTFAST_AVX2", "1") != "0":
    # The same generated C, compiled again for each extra kernel set.
    # depends: rebuild when the generated C changes (the including file does not).
    extra_sets = [Extension(f"xentfast.{package}.{module}", [kernel_set_source(package, module)],
                            depends=[os.path.join("xentfast", f"{module}.c")],
                            include_dirs=[np.get_include(), "xentfast"],
                            define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")])
                  for package in KERNEL_SET_COMPILE_ARGS for module in KERNEL_MODULES]

setup(
    ext_modules=baseline + extra_sets,
    cmdclass={"build_ext": BuildExtWithOpenMP},
)
