# Layer 2: the solvers for an L1 penalty on top of the smooth objective,
#
#   F(w) = f(w) + l1 ||coef||₁      (the intercepts are not penalised)
#
# where f (the mean cross-entropy plus its L2 term) is what an Objective
# answers (see _objective.pyx): the data kernels are the same for every
# penalty, and only these solvers know the L1 term.  Zeros in their results
# are exact zeros.
#
#   proximal_newton    newton with l1: each iteration minimises Newton's
#                      quadratic model of f plus the L1 term by coordinate
#                      descent over the Hessian matrix (the method of glmnet
#                      and newGLMNET, Yuan, Ho & Lin 2012), then an Armijo
#                      line search on F (Lee, Sun & Saunders 2014)
#   proximal_gradient  gd with l1 (ISTA): w <- S(w - t ∇f, t l1), t halved
#                      while the quadratic upper bound does not hold
#   fista              nesterov with l1 (Beck & Teboulle 2009), with the
#                      gradient-mapping restart of O'Donoghue & Candès (2015)
#
# The tolerance applies to the smallest subgradient of F (proximal_newton,
# proximal_gradient) or to the gradient mapping (fista): both are the
# gradient where F is smooth, and 0 exactly at the minimum.
from libc.math cimport fabs, sqrt, INFINITY

import numpy as np

from xentfast._objective cimport Objective
from xentfast._solvers cimport Progress
from xentfast._solver_common cimport (vdot, vcopy, step_to, within_rounding, evaluate,
                                      is_coefficient, l1_norm, newton_line_search, accelerate,
                                      MAX_BACKTRACKS)

cdef enum:
    MAX_CD_SWEEPS = 1000

cdef double CD_TOLERANCE = 1e-8   # sweeps stop when no coordinate moves by more than this
                                  # share of the whole step (both in the H-norm)


cdef inline double soft_threshold(double x, double t) noexcept nogil:
    return x - t if x > t else (x + t if x < -t else 0.0)


cdef double subgradient_max(Objective f, const double* w, const double* grad,
                            double l1) noexcept nogil:
    # max |v| over the subgradient v of F at w with the smallest norm (nan if any is nan).
    cdef double m = 0.0, v
    cdef Py_ssize_t j
    for j in range(f.n_params):
        v = grad[j]
        if is_coefficient(f, j):
            if w[j] > 0.0:
                v = grad[j] + l1
            elif w[j] < 0.0:
                v = grad[j] - l1
            else:
                v = soft_threshold(grad[j], l1)
        if fabs(v) > m or v != v:
            m = fabs(v)
    return m


cdef void prox(Objective f, double* w, double threshold) noexcept nogil:
    # w <- the soft-thresholded w (coefficients only).
    cdef Py_ssize_t j
    for j in range(f.n_params):
        if is_coefficient(f, j):
            w[j] = soft_threshold(w[j], threshold)


# --- proximal Newton ----------------------------------------------------------------

cdef void minimise_model(Objective f, const double* hess, const double* grad,
                         const double* u, double l1, double* z, double* q) noexcept nogil:
    # z = argmin_z grad·(z - u) + ½ (z - u)ᵀ H (z - u) + l1 ||z_coef||₁, from z = u,
    # by cyclic coordinate descent; q = H (z - u) is kept up to date.  Coordinate
    # descent does not mind how the columns of X are scaled (its steps are
    # per-coordinate Newton steps), so ill-conditioning by scale costs nothing.
    cdef Py_ssize_t p = f.n_params, j, i, sweep
    cdef double a, new, delta, biggest, step_norm
    vcopy(z, u, p)
    for j in range(p):
        q[j] = 0.0
    for sweep in range(MAX_CD_SWEEPS):
        biggest = 0.0
        for j in range(p):
            a = hess[j * p + j]
            if not a > 0.0:
                continue  # a feature that is 0 everywhere: its coefficient stays
            new = a * z[j] - (grad[j] + q[j])
            new = (soft_threshold(new, l1) if is_coefficient(f, j) else new) / a
            delta = new - z[j]
            if delta != 0.0:
                z[j] = new
                for i in range(p):
                    q[i] += delta * hess[i * p + j]
                biggest = max(biggest, a * delta * delta)
        # ||z - u||²_H = (z - u)·q
        step_norm = 0.0
        for j in range(p):
            step_norm += (z[j] - u[j]) * q[j]
        if not biggest > CD_TOLERANCE * CD_TOLERANCE * step_norm:
            break


def proximal_newton(Objective f, double[::1] w, double l1, Py_ssize_t max_iter, double tol,
                    Progress progress):
    """Proximal Newton from w (updated in place); returns (n_iter, subgradient max)."""
    cdef Py_ssize_t p = f.n_params, it = 0, j
    cdef double[::1] grad = np.empty(p), trial = np.empty(p), trial_grad = np.empty(p)
    cdef double[::1] z = np.empty(p), q = np.empty(p), direction = np.empty(p)
    cdef double[:, ::1] hess = np.empty((p, p)), trial_hess = np.empty((p, p))
    cdef double smooth, F, trial_F, grad_max, decrease
    with nogil:
        evaluate(f, &w[0], &smooth, &grad[0], &hess[0, 0], False)
        F = smooth + l1 * l1_norm(f, &w[0])
        grad_max = subgradient_max(f, &w[0], &grad[0], l1)
        progress.record(0, F, grad_max)
        while it < max_iter and grad_max > tol:
            it += 1
            minimise_model(f, &hess[0, 0], &grad[0], &w[0], l1, &z[0], &q[0])
            for j in range(p):
                direction[j] = z[j] - w[j]
            # The model's first-order decrease (< 0 unless w is optimal).
            decrease = vdot(&grad[0], &direction[0], p) + l1 * (l1_norm(f, &z[0])
                                                                 - l1_norm(f, &w[0]))
            if not decrease < 0.0:
                break
            if not newton_line_search(f, &w[0], &direction[0], decrease, F, l1, &trial[0],
                                      &trial_F, &trial_grad[0], &trial_hess[0, 0]):
                break  # no decrease is possible at this precision
            vcopy(&w[0], &trial[0], p)
            vcopy(&grad[0], &trial_grad[0], p)
            vcopy(&hess[0, 0], &trial_hess[0, 0], p * p)
            F = trial_F
            grad_max = subgradient_max(f, &w[0], &grad[0], l1)
            progress.record(it, F, grad_max)
    return it, grad_max


# --- proximal gradient: ISTA and FISTA ---------------------------------------------

def proximal_gradient(Objective f, double[::1] w, double l1, double step, bint backtrack,
                      Py_ssize_t max_iter, double tol, Progress progress):
    """ISTA from w (updated in place); returns (n_iter, subgradient max)."""
    cdef Py_ssize_t p = f.n_params, it = 0, tries, j
    cdef double[::1] grad = np.empty(p), trial = np.empty(p), trial_grad = np.empty(p)
    cdef double smooth, trial_smooth, grad_max, bound, moved
    with nogil:
        evaluate(f, &w[0], &smooth, &grad[0], NULL, False)
        grad_max = subgradient_max(f, &w[0], &grad[0], l1)
        progress.record(0, smooth + l1 * l1_norm(f, &w[0]), grad_max)
        while it < max_iter and grad_max > tol:
            it += 1
            tries = 0
            while True:
                step_to(&trial[0], &w[0], -step, &grad[0], p)
                prox(f, &trial[0], step * l1)
                evaluate(f, &trial[0], &trial_smooth, &trial_grad[0], NULL, False)
                if not backtrack or tries >= MAX_BACKTRACKS:
                    break
                # f(trial) <= f(w) + ∇f·(trial - w) + ||trial - w||² / (2 step)
                bound = smooth
                for j in range(p):
                    moved = trial[j] - w[j]
                    bound += grad[j] * moved + moved * moved / (2.0 * step)
                if within_rounding(trial_smooth, bound):
                    break
                step *= 0.5
                tries += 1
            vcopy(&w[0], &trial[0], p)
            vcopy(&grad[0], &trial_grad[0], p)
            smooth = trial_smooth
            grad_max = subgradient_max(f, &w[0], &grad[0], l1)
            progress.record(it, smooth + l1 * l1_norm(f, &w[0]), grad_max)
    return it, grad_max


def fista(Objective f, double[::1] w, double l1, double step, Py_ssize_t max_iter,
          double tol, Progress progress):
    """FISTA from w (updated in place); returns (n_iter, gradient-mapping max)."""
    cdef Py_ssize_t p = f.n_params, it = 0, j
    cdef double[::1] y = np.array(w, copy=True), grad = np.empty(p), w_new = np.empty(p)
    cdef double smooth, mapping_max, t = 1.0, restart_test, mapping
    with nogil:
        while True:
            evaluate(f, &y[0], &smooth, &grad[0], NULL, False)
            step_to(&w_new[0], &y[0], -step, &grad[0], p)
            prox(f, &w_new[0], step * l1)
            # The gradient mapping (y - w_new) / step: ∇f(y) where nothing is thresholded.
            mapping_max = 0.0
            restart_test = 0.0
            for j in range(p):
                mapping = (y[j] - w_new[j]) / step
                if fabs(mapping) > mapping_max or mapping != mapping:
                    mapping_max = fabs(mapping)
                restart_test += (y[j] - w_new[j]) * (w_new[j] - w[j])
            progress.record(it, smooth + l1 * l1_norm(f, &y[0]), mapping_max)
            if mapping_max != mapping_max:
                break
            if mapping_max <= tol or it >= max_iter:
                vcopy(&w[0], &w_new[0], p)  # the prox point: its zeros are exact
                break
            it += 1
            t = accelerate(&y[0], &w[0], &w_new[0], t, restart_test, p)
    return it, mapping_max
