# Helpers shared by the solver modules (_solvers.pyx, _penalised.pyx): small
# vector operations on the parameters (p of them), the pass-and-check-signals
# wrapper around Objective.evaluate, and the line searches' constants.
from cpython.exc cimport PyErr_CheckSignals
from libc.math cimport fabs, sqrt

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


cdef inline double accelerate(double* y, double* w, const double* w_new, double t,
                              double restart_test, Py_ssize_t p) noexcept nogil:
    # Nesterov/FISTA's momentum step, shared by nesterov and fista: restart the
    # momentum (t = 1) when the step went uphill (restart_test > 0), then
    # y = w_new + (t - 1)/t' (w_new - w) and w = w_new; returns t'.
    cdef Py_ssize_t j
    cdef double t_new, momentum
    if restart_test > 0.0:
        t = 1.0
    t_new = 0.5 * (1.0 + sqrt(1.0 + 4.0 * t * t))
    momentum = (t - 1.0) / t_new
    for j in range(p):
        y[j] = w_new[j] + momentum * (w_new[j] - w[j])
    vcopy(w, w_new, p)
    return t_new


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




cdef inline bint is_coefficient(Objective f, Py_ssize_t j) noexcept nogil:
    # Parameters are k rows of (n_features coefficients, then the intercept).
    return j % (f.n_features + f.fit_intercept) < f.n_features


cdef inline double l1_norm(Objective f, const double* w) noexcept nogil:
    # ||coef||₁ (the intercepts are not penalised)
    cdef double total = 0.0
    cdef Py_ssize_t j
    for j in range(f.n_params):
        if is_coefficient(f, j):
            total += fabs(w[j])
    return total


cdef inline int newton_line_search(Objective f, const double* w, const double* direction,
                                   double decrease, double F, double l1, double* trial,
                                   double* trial_F, double* trial_grad,
                                   double* trial_hess) except -1 nogil:
    # The search along a (proximal) Newton direction of F = f + l1 ||coef||₁, whose
    # model predicts the first-order change ``decrease`` (< 0).  The unit step is
    # evaluated with its gradient and Hessian (so an accepted unit step costs one
    # pass in all); a step that does not decrease F by ARMIJO·step·decrease is
    # halved (loss-only passes), and the accepted point's gradient and Hessian are
    # formed last.  Returns 1 when a step was accepted (its point, F, gradient and
    # Hessian in the trial buffers), 0 when none decreases F at this precision.
    cdef Py_ssize_t p = f.n_params, tries = 0
    cdef double step = 1.0, smooth
    cdef bint sufficient
    step_to(trial, w, step, direction, p)
    evaluate(f, trial, &smooth, trial_grad, trial_hess, False)
    trial_F[0] = smooth + (l1 * l1_norm(f, trial) if l1 > 0.0 else 0.0)
    while True:
        sufficient = (trial_F[0] <= F + ARMIJO * step * decrease
                      or (-decrease <= LOSS_ROUNDING * fabs(F)
                          and within_rounding(trial_F[0], F)))
        if sufficient or tries >= MAX_BACKTRACKS:
            break
        step *= 0.5
        tries += 1
        step_to(trial, w, step, direction, p)
        evaluate(f, trial, &smooth, NULL, NULL, False)
        trial_F[0] = smooth + (l1 * l1_norm(f, trial) if l1 > 0.0 else 0.0)
    if not sufficient:
        return 0
    if tries > 0:
        evaluate(f, trial, &smooth, trial_grad, trial_hess, False)
    return 1
