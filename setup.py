"""Build the Cython kernels, with OpenMP where the compiler has it.

Environment:
  XENTFAST_OPENMP=0   build without OpenMP even if the compiler supports it.
"""
import os
import sys
import tempfile
import textwrap
import warnings

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

KERNEL_MODULES = ("_activations", "_information", "_losses", "_validate", "_linear",
                  "_optimize", "_build_info")

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
OPENMP_FLAGS = {"msvc": (["/openmp"], []), "unix": (["-fopenmp"], ["-fopenmp"])}

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
            if use_openmp:
                ext.extra_compile_args += compile_flags
                ext.extra_link_args += link_flags
        super().build_extensions()


extensions = [
    Extension(
        f"xentfast.{name}",
        [f"xentfast/{name}.pyx"],
        include_dirs=[np.get_include()],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
    )
    for name in KERNEL_MODULES
]

setup(
    ext_modules=cythonize(extensions, compiler_directives=CYTHON_DIRECTIVES),
    cmdclass={"build_ext": BuildExtWithOpenMP},
)
