# Helpers shared by the solver modules (_solvers.pyx, _penalised.pyx): small
# vector operations on the parameters (p of them), the pass-and-check-signals
# wrapper around Objective.evaluate, and the line searches' constants.
from cpython.exc cimport PyErr_CheckSignals
from libc.math cimport fabs

from xentfast._objective cimport Objective

cdef enum:
    MAX_BACKTRACKS = 40

cdef extern from *:
    """
    #define XF_LOSS_ROUNDING 1e-14  /* relative rounding error of a computed loss */
    #define XF_ARMIJO 1e-4          /* sufficient decrease: f(w + t d) <= f(w) + ARMIJO t grad.d */
    """
    const double LOSS_ROUNDING "XF_LOSS_ROUNDING"
    const double ARMIJO "XF_ARMIJO"


cdef inline double vdot(const double* a, const double* b, Py_ssize_t p) noexcept nogil:
    cdef double total = 0.0
    cdef Py_ssize_t j
    for j in range(p):
        total += a[j] * b[j]
    return total


cdef inline double max_abs(const double* a, Py_ssize_t p) noexcept nogil:
    # nan counts as the largest, so that a nan gradient never looks converged.
    cdef double m = 0.0
    cdef Py_ssize_t j
    for j in range(p):
        if fabs(a[j]) > m or a[j] != a[j]:
            m = fabs(a[j])
    return m


cdef inline void vcopy(double* dst, const double* src, Py_ssize_t p) noexcept nogil:
    cdef Py_ssize_t j
    for j in range(p):
        dst[j] = src[j]


cdef inline void step_to(double* dst, const double* w, double step, const double* direction,
                         Py_ssize_t p) noexcept nogil:
    # dst = w + step * direction
    cdef Py_ssize_t j
    for j in range(p):
        dst[j] = w[j] + step * direction[j]


cdef inline bint within_rounding(double new, double old) noexcept nogil:
    # new is no larger than old, up to the rounding error of a computed loss.
    return new <= old + LOSS_ROUNDING * fabs(old)


cdef inline int check_signals() except -1 nogil:
    # Ctrl-C (or any Python signal handler that raises) stops the solver here.
    with gil:
        PyErr_CheckSignals()
    return 0


cdef inline int evaluate(Objective f, const double* w, double* loss, double* grad,
                         double* hess, bint keep_curvature) except -1 nogil:
    # A pass over all samples, then a check for signals.
    f.evaluate(w, NULL, 0, loss, grad, hess, keep_curvature)
    return check_signals()


