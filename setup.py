"""Build xentfast's Cython extensions, with OpenMP where the compiler has it.

The kernel modules are compiled once per kernel set from the same generated C:
for the baseline instruction set as ``xentfast.<module>`` (SSE2 on x86-64;
on aarch64 the default, which includes NEON) and, on x86-64 with gcc or
clang, with AVX2 + FMA as ``xentfast._avx2.<module>`` and with AVX-512 (F,
CD, VL, DQ, BW: the x86-64-v4 level) as ``xentfast._avx512.<module>``.
``xentfast._kernels`` picks one at import from the CPU's features.

What keeps the build short: Cython's utility code (memoryviews and the
like, most of every generated C file) goes into one shared module,
``xentfast._cyutility``, compiled once instead of once per module and set;
the extensions compile in parallel (one job per usable core); release
builds carry no debug information.

Environment:
  XENTFAST_OPENMP=0       build without OpenMP even if the compiler has it.
  XENTFAST_AVX2=0         build only the baseline kernels (no AVX2, no AVX-512).
  XENTFAST_DEBUG=1        keep debug information (-g) and symbols.
  XENTFAST_SANITIZE=1     build with AddressSanitizer and UndefinedBehaviorSanitizer
                          (gcc/clang; for testing only: tools/sanitize.sh runs the suite).
  XENTFAST_BUILD_JOBS=N   parallel compile jobs (default: the usable cores;
                          ``build_ext -j N`` overrides it).
  XENTFAST_LIBOMP_PREFIX  where libomp is installed, for Apple clang (default:
                          Homebrew's, from ``brew --prefix libomp``).
"""
import glob
import os
import subprocess
import sys
import sysconfig
import tempfile
import textwrap
import warnings

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

try:
    from setuptools._distutils.ccompiler import get_default_compiler
except ImportError:  # older setuptools
    from distutils.ccompiler import get_default_compiler

# Modules with hot loops: built for each kernel set.
KERNEL_MODULES = ["_activations", "_information", "_losses", "_linear"]
# Modules without hot loops: built once.
SUPPORT_MODULES = ["_validate", "_build_info", "_objective", "_solvers", "_penalised",
                   "_threads"]
# Cython's utility code, shared by all of the above (Cython >= 3.1).
SHARED_UTILITY_MODULE = "xentfast._cyutility"

CYTHON_DIRECTIVES = {
    "language_level": 3,
    "boundscheck": False,
    "wraparound": False,
    "cdivision": True,
    "initializedcheck": False,
    # The modules keep no mutable C-level state between calls; a free-threaded
    # Python may run them without re-enabling the GIL.
    "freethreading_compatible": True,
}
DEFINE_MACROS = [("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")]

# Flags per compiler family: "gcc" (also clang, which takes the same flags),
# "msvc".  -O3 lets gcc vectorise the loops.  -fno-trapping-math lets it turn
# the branch-free selects of _vmath.pxd into vector blends (we never enable FP
# traps; results are unchanged); -fno-math-errno, that libm calls set no
# errno.  -g0 overrides the -g of Python's own CFLAGS.  Never -ffast-math (it
# may delete isnan tests and flush subnormals process-wide), never
# -march=native.  MSVC's defaults (/O2, no debug information) are kept.
RELEASE_COMPILE_ARGS = {"gcc": ["-O3", "-fno-math-errno", "-fno-trapping-math", "-g0"],
                        "msvc": []}
DEBUG_COMPILE_ARGS = {"gcc": ["-O3", "-fno-math-errno", "-fno-trapping-math", "-g"],
                      "msvc": ["/Zi"]}
# XENTFAST_SANITIZE=1 (gcc, clang): compiled and linked into every extension.
SANITIZE_FLAGS = ["-fsanitize=address,undefined", "-fno-omit-frame-pointer"]
# Each extra kernel set: its package and its flags.  AVX-512 prefers 512-bit
# vectors (gcc's default is 256 bits even where AVX-512 is on).
KERNEL_SET_COMPILE_ARGS = {
    "_avx2": ["-mavx2", "-mfma"],
    "_avx512": ["-mavx2", "-mfma", "-mavx512f", "-mavx512cd", "-mavx512vl", "-mavx512dq",
                "-mavx512bw", "-mprefer-vector-width=512"],
}

OPENMP_PROBE = textwrap.dedent("""
    #include <omp.h>
    int main(void) {
        int n = 0;
        #pragma omp parallel reduction(+:n)
        n += 1;
        return omp_get_max_threads() > 0 && n > 0 ? 0 : 1;
    }
""")


def environment_flag(name, default):
    return os.environ.get(name, default).strip() not in ("0", "")


def usable_cores():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def targets_x86_64():
    # sysconfig names the target, also when cross-compiling (cibuildwheel sets
    # _PYTHON_HOST_PLATFORM); universal2 builds get the baseline only.
    return sysconfig.get_platform().lower().endswith(("x86_64", "amd64"))


def extra_kernel_sets(compiler_family):
    """The kernel sets beyond the baseline that this build makes.  They need
    x86-64 and gcc or clang: _build_info detects the CPU's AVX2 and AVX-512
    with __builtin_cpu_supports, which MSVC lacks (there the sets would never
    be picked, so they are not built)."""
    if compiler_family != "gcc" or not targets_x86_64():
        return []
    if not environment_flag("XENTFAST_AVX2", "1"):
        return []
    return list(KERNEL_SET_COMPILE_ARGS)


def compiler_family(compiler):
    return "msvc" if compiler.compiler_type == "msvc" else "gcc"


def libomp_prefix():
    """Where libomp is for Apple clang: XENTFAST_LIBOMP_PREFIX, else Homebrew's."""
    prefix = os.environ.get("XENTFAST_LIBOMP_PREFIX")
    if prefix:
        return prefix
    try:
        found = subprocess.run(["brew", "--prefix", "libomp"], capture_output=True,
                               text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return None
    return found.stdout.strip() or None


def openmp_candidates(family):
    """(compile flags, link flags) to try in order, for this compiler and platform."""
    if family == "msvc":
        return [(["/openmp"], [])]
    candidates = [(["-fopenmp"], ["-fopenmp"])]     # gcc; clang with libomp
    if sys.platform == "darwin":
        # Apple clang has OpenMP only through the preprocessor and libomp.
        prefix = libomp_prefix()
        include = [f"-I{prefix}/include"] if prefix else []
        library = [f"-L{prefix}/lib"] if prefix else []
        candidates.append((["-Xpreprocessor", "-fopenmp"] + include, library + ["-lomp"]))
    return candidates


def compiles_with_openmp(compiler, compile_flags, link_flags):
    """Compile and link a tiny OpenMP program with the extensions' compiler."""
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


def find_openmp(compiler, family):
    """The OpenMP flags that work here, or None (with a warning) for a serial build."""
    if not environment_flag("XENTFAST_OPENMP", "1"):
        return None
    for compile_flags, link_flags in openmp_candidates(family):
        if compiles_with_openmp(compiler, compile_flags, link_flags):
            return compile_flags, link_flags
    hint = (" (on macOS: brew install libomp, or set XENTFAST_LIBOMP_PREFIX)"
            if sys.platform == "darwin" else "")
    warnings.warn(f"xentfast: the C compiler has no OpenMP{hint}; building the kernels "
                  f"single-threaded (show_config() will say so)", stacklevel=1)
    return None


class BuildExtWithOpenMP(build_ext):
    """Cython, flags per compiler, OpenMP where it works, one job per usable core."""

    def finalize_options(self):
        super().finalize_options()
        if not self.parallel:
            self.parallel = int(os.environ.get("XENTFAST_BUILD_JOBS") or usable_cores())

    def run(self):
        # Cython runs here rather than when setup.py is read, so making an sdist
        # or the metadata generates no C.  It runs once per module; the extra
        # kernel sets compile the same C again (see kernel_set_source).
        family = "msvc" if (self.compiler or get_default_compiler()) == "msvc" else "gcc"
        wanted = [None] + extra_kernel_sets(family)
        # In place: the distribution's list is the same object, and setuptools
        # has prepared these Extension objects.
        self.extensions[:] = [ext for ext in self.extensions if kernel_set_of(ext) in wanted]
        generated = cythonize(
            [ext for ext in self.extensions if kernel_set_of(ext) is None],
            compiler_directives=CYTHON_DIRECTIVES,
            shared_utility_qualified_name=SHARED_UTILITY_MODULE,
            # In parallel where processes fork; elsewhere multiprocessing would
            # re-run this file.
            nthreads=self.parallel if sys.platform.startswith("linux") else 0)
        sources = {ext.name: ext.sources for ext in generated}
        for ext in self.extensions:
            if kernel_set_of(ext) is None:
                ext.sources = sources[ext.name]
            else:
                write_kernel_set_source(ext)
        super().run()

    def build_extensions(self):
        family = compiler_family(self.compiler)
        debug = environment_flag("XENTFAST_DEBUG", "0")
        openmp = find_openmp(self.compiler, family)
        sanitize = family == "gcc" and environment_flag("XENTFAST_SANITIZE", "0")
        for ext in self.extensions:
            ext.extra_compile_args += (DEBUG_COMPILE_ARGS if debug else RELEASE_COMPILE_ARGS)[family]
            kernel_set = kernel_set_of(ext)
            if kernel_set is not None:
                ext.extra_compile_args += KERNEL_SET_COMPILE_ARGS[kernel_set]
            if openmp is not None:
                ext.extra_compile_args += openmp[0]
                ext.extra_link_args += openmp[1]
            if sanitize:
                ext.extra_compile_args += SANITIZE_FLAGS
                ext.extra_link_args += SANITIZE_FLAGS
            if family == "gcc" and not debug and sys.platform.startswith("linux"):
                ext.extra_link_args.append("-s")    # strip the symbol tables too
        super().build_extensions()


def kernel_set_of(ext):
    """'_avx2' for xentfast._avx2._losses; None for the baseline and support modules."""
    package = ext.name.split(".")[1]
    return package if package in KERNEL_SET_COMPILE_ARGS else None


def extension(name, source):
    # xentfast/ for the C headers there (_gram.h), also from the kernel sets' C.
    return Extension(name, [source], include_dirs=[np.get_include(), "xentfast"],
                     define_macros=DEFINE_MACROS)


def kernel_set_extension(package, module):
    """One kernel set's module, compiled from a C file of its own that includes
    the module's generated C.  Compiling xentfast/<module>.c itself for every
    set would give all of them one object file path, and parallel builds would
    overwrite each other's."""
    ext = extension(f"xentfast.{package}.{module}",
                    os.path.join("build", "kernel_sets", package, f"{module}.c"))
    # Rebuild when the generated C changes (the including file does not), or a
    # header it includes (Cython does not track those).
    ext.depends = [os.path.join("xentfast", f"{module}.c")] + sorted(
        glob.glob(os.path.join("xentfast", "*.h")))
    return ext


def write_kernel_set_source(ext):
    (path,), generated = ext.sources, ext.depends[0]
    content = f'#include "{os.path.abspath(generated).replace(os.sep, "/")}"\n'
    if not os.path.exists(path) or open(path).read() != content:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(content)


# build_ext runs Cython, and drops the kernel sets that this compiler and
# platform do not get.  The shared utility module's C is written by cythonize.
ext_modules = [extension(f"xentfast.{module}", f"xentfast/{module}.pyx")
               for module in KERNEL_MODULES + SUPPORT_MODULES]
ext_modules.append(Extension(SHARED_UTILITY_MODULE, [], include_dirs=[np.get_include()],
                             define_macros=DEFINE_MACROS))
ext_modules += [kernel_set_extension(package, module)
                for package in KERNEL_SET_COMPILE_ARGS for module in KERNEL_MODULES]

setup(
    ext_modules=ext_modules,
    cmdclass={"build_ext": BuildExtWithOpenMP},
)
