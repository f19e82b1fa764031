# Layer 2: the solvers that minimise an Objective (see _objective.pyx), each
# written once for every kind of data (dense or sparse X of any kernel set, or
# blocks on a Dask cluster).  They run without the GIL; they take it once per
# pass over the data to record progress, call the user's callback and check
# for signals, so that Ctrl-C stops a fit within one pass.
#
#   gd         gradient descent, the article's method: w <- w - step ∇f(w)
#   nesterov   accelerated gradient with gradient-based adaptive restart
#              (O'Donoghue & Candès 2015)
#   sgd        mini-batch gradient descent, reshuffled every epoch, step
#              decaying as 1/sqrt(epoch)
#   lbfgs      limited-memory BFGS (two-loop recursion, 10 pairs) with a
#              backtracking Armijo line search
#   newton     Newton's method: the Hessian from the same pass as the gradient,
#              a Cholesky solve (Levenberg-Marquardt damped where H is
#              singular) and an Armijo backtracking line search
#   newton_cg  trust-region Newton with Steihaug's truncated conjugate gradient
#              on Hessian-vector products, each one pass (Lin, Weng & Keerthi
#              2008, the method of liblinear's TRON), for too many parameters
#              for a Hessian matrix
from cpython.exc cimport PyErr_CheckSignals
from libc.math cimport fabs, sqrt, INFINITY
from libc.stdint cimport uint64_t

import numpy as np

from xentfast._objective cimport Objective
from xentfast._solver_common cimport (vdot, max_abs, vcopy, step_to, within_rounding,
                                      check_signals, evaluate, newton_line_search, accelerate,
                                      LOSS_ROUNDING, ARMIJO, MAX_BACKTRACKS)

cdef enum:
    LBFGS_MEMORY = 10
    MAX_CG_ITERATIONS = 250

cdef double PIVOT_TOLERANCE = 1e-10  # see cholesky()


cdef inline uint64_t splitmix64(uint64_t* state) noexcept nogil:
    # A small, well-mixed generator for the epoch shuffles (Steele et al. 2014).
    cdef uint64_t z
    state[0] += 0x9E3779B97F4A7C15ULL
    z = state[0]
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL
    return z ^ (z >> 31)


cdef void shuffle(Py_ssize_t* order, Py_ssize_t n, uint64_t* state) noexcept nogil:
    # Fisher-Yates; the modulo bias is negligible for n << 2^64.
    cdef Py_ssize_t i, j, tmp
    for i in range(n - 1, 0, -1):
        j = <Py_ssize_t>(splitmix64(state) % <uint64_t>(i + 1))
        tmp = order[i]
        order[i] = order[j]
        order[j] = tmp


cdef class Progress:
    """The objective after every iteration (the loss curve), and the user's
    callback(iteration, loss, grad_max).  record() also checks for signals, so
    an exception from the callback or a KeyboardInterrupt stops the solver
    and propagates out of it."""

    def __init__(self, callback=None):
        self.losses = []
        self.callback = callback

    cdef int record(self, Py_ssize_t iteration, double loss, double grad_max) except -1 nogil:
        with gil:
            self.losses.append(loss)
            if self.callback is not None:
                self.callback(iteration, loss, grad_max)
            PyErr_CheckSignals()
        return 0

    def curve(self):
        return np.array(self.losses, dtype=np.float64)


# --- first-order solvers ------------------------------------------------------

def lipschitz_bound(Objective f, int n_iter=12, seed=0):
    """An estimate of the gradient's Lipschitz constant L.

    The Hessian of the mean cross-entropy is at most c·Xaᵀ S Xa / Σs (c = 1/4
    for the logistic, 1/2 for the softmax), plus α.  The largest eigenvalue of
    Xaᵀ S Xa / Σs comes from the power iteration, one pass over X each.
    """
    cdef Py_ssize_t p = f.n_params, it, j
    cdef double[::1] v = np.random.default_rng(seed).standard_normal(p)
    cdef double[::1] hv = np.empty(p)
    cdef double norm, eigenvalue = 0.0
    with nogil:
        norm = sqrt(vdot(&v[0], &v[0], p))
        for j in range(p):
            v[j] /= norm
        for it in range(n_iter):
            f.gram_product(&v[0], &hv[0])
            check_signals()
            eigenvalue = sqrt(vdot(&hv[0], &hv[0], p))
            if not eigenvalue > 0.0:
                break
            for j in range(p):
                v[j] = hv[j] / eigenvalue
    curvature = 0.25 if f.n_classes == 1 else 0.5
    return curvature * eigenvalue + f.alpha


def gradient_descent(Objective f, double[::1] w, double step, bint backtrack,
                     Py_ssize_t max_iter, double tol, Progress progress):
    """Gradient descent from w (updated in place); returns (n_iter, grad_max)."""
    cdef Py_ssize_t p = f.n_params, it = 0, tries
    cdef double[::1] grad = np.empty(p), trial = np.empty(p), trial_grad = np.empty(p)
    cdef double loss, trial_loss, grad_max
    with nogil:
        evaluate(f, &w[0], &loss, &grad[0], NULL, False)
        grad_max = max_abs(&grad[0], p)
        progress.record(0, loss, grad_max)
        while it < max_iter and grad_max > tol:
            it += 1
            tries = 0
            while True:
                step_to(&trial[0], &w[0], -step, &grad[0], p)
                evaluate(f, &trial[0], &trial_loss, &trial_grad[0], NULL, False)
                # A step that raises the loss is halved (for good), unless the user
                # fixed it.  Rises within rounding of the loss do not count: near the
                # minimum they are noise, and halving on them would stall the descent.
                if not backtrack or within_rounding(trial_loss, loss) or tries >= MAX_BACKTRACKS:
                    break
                step *= 0.5
                tries += 1
            vcopy(&w[0], &trial[0], p)
            vcopy(&grad[0], &trial_grad[0], p)
            loss = trial_loss
            grad_max = max_abs(&grad[0], p)
            progress.record(it, loss, grad_max)
    return it, grad_max


def nesterov(Objective f, double[::1] w, double step, Py_ssize_t max_iter, double tol,
             Progress progress):
    """Accelerated gradient from w (updated in place); returns (n_iter, grad_max).

    Gradients are taken at the extrapolated point y; the momentum restarts
    when the step goes against the gradient (g(y)·(w_new − w) > 0), which
    needs no extra pass over X.
    """
    cdef Py_ssize_t p = f.n_params, it = 0, j
    cdef double[::1] y = np.array(w, copy=True), grad = np.empty(p), w_new = np.empty(p)
    cdef double loss, grad_max, t = 1.0, restart_test
    with nogil:
        while True:
            evaluate(f, &y[0], &loss, &grad[0], NULL, False)
            grad_max = max_abs(&grad[0], p)
            progress.record(it, loss, grad_max)
            if grad_max != grad_max:
                break  # nan: nothing to follow
            if grad_max <= tol:
                vcopy(&w[0], &y[0], p)
                break
            if it >= max_iter:
                break
            it += 1
            step_to(&w_new[0], &y[0], -step, &grad[0], p)
            restart_test = 0.0
            for j in range(p):
                restart_test += grad[j] * (w_new[j] - w[j])
            t = accelerate(&y[0], &w[0], &w_new[0], t, restart_test, p)
    return it, grad_max


def stochastic_gradient_descent(Objective f, double[::1] w, double step,
                                Py_ssize_t batch_size, Py_ssize_t max_iter, double tol,
                                uint64_t seed, Progress progress):
    """Mini-batch SGD from w (updated in place); one iteration is one epoch.

    The step of epoch e is step / sqrt(e).  Stops when the epoch's mean loss
    changes by at most tol relative to itself.  Returns (n_epochs, last change).
    """
    cdef Py_ssize_t p = f.n_params, n = f.n_samples, epoch = 0, start, size, j
    cdef Py_ssize_t[::1] order = np.arange(n, dtype=np.intp)
    cdef double[::1] grad = np.empty(p)
    cdef double epoch_loss, previous = INFINITY, change = INFINITY, rate, batch_loss
    cdef uint64_t state = seed
    if batch_size > n:
        batch_size = n
    with nogil:
        while epoch < max_iter:
            epoch += 1
            shuffle(&order[0], n, &state)
            rate = step / sqrt(<double>epoch)
            epoch_loss = 0.0
            start = 0
            while start < n:
                size = batch_size if n - start > batch_size else n - start
                f.evaluate(&w[0], &order[start], size, &batch_loss, &grad[0], NULL, False)
                epoch_loss += batch_loss * size
                for j in range(p):
                    w[j] -= rate * grad[j]
                start += size
            epoch_loss /= n
            change = fabs(epoch_loss - previous) / (fabs(epoch_loss) if epoch_loss != 0 else 1.0)
            progress.record(epoch, epoch_loss, max_abs(&grad[0], p))
            if change <= tol:
                break
            previous = epoch_loss
    return epoch, change


# --- L-BFGS -----------------------------------------------------------------------

cdef void two_loop(const double* grad, double* direction, const double* S, const double* Y,
                   const double* rho, double* alpha_buf, Py_ssize_t n_pairs, Py_ssize_t newest,
                   Py_ssize_t p, double gamma) noexcept nogil:
    # direction = -H grad, H the L-BFGS inverse-Hessian estimate (Nocedal & Wright, Alg. 7.4).
    cdef Py_ssize_t m, slot, j
    cdef double beta
    for j in range(p):
        direction[j] = -grad[j]
    for m in range(n_pairs):
        slot = (newest - m + LBFGS_MEMORY) % LBFGS_MEMORY
        alpha_buf[slot] = rho[slot] * vdot(S + slot * p, direction, p)
        for j in range(p):
            direction[j] -= alpha_buf[slot] * Y[slot * p + j]
    for j in range(p):
        direction[j] *= gamma
    for m in range(n_pairs - 1, -1, -1):
        slot = (newest - m + LBFGS_MEMORY) % LBFGS_MEMORY
        beta = rho[slot] * vdot(Y + slot * p, direction, p)
        for j in range(p):
            direction[j] += (alpha_buf[slot] - beta) * S[slot * p + j]


def lbfgs(Objective f, double[::1] w, Py_ssize_t max_iter, double tol, Progress progress):
    """L-BFGS from w (updated in place); returns (n_iter, grad_max)."""
    cdef Py_ssize_t p = f.n_params, it = 0, tries, n_pairs = 0, newest = 0, j
    cdef double[::1] grad = np.empty(p), trial = np.empty(p), trial_grad = np.empty(p)
    cdef double[::1] direction = np.empty(p)
    cdef double[::1] S = np.empty(LBFGS_MEMORY * p), Y = np.empty(LBFGS_MEMORY * p)
    cdef double[::1] rho = np.empty(LBFGS_MEMORY), alpha_buf = np.empty(LBFGS_MEMORY)
    cdef double loss, trial_loss, grad_max, slope, step, sy, yy, gamma = 1.0
    cdef bint sufficient
    with nogil:
        evaluate(f, &w[0], &loss, &grad[0], NULL, False)
        grad_max = max_abs(&grad[0], p)
        progress.record(0, loss, grad_max)
        while it < max_iter and grad_max > tol:
            it += 1
            two_loop(&grad[0], &direction[0], &S[0], &Y[0], &rho[0], &alpha_buf[0],
                     n_pairs, newest, p, gamma)
            slope = vdot(&grad[0], &direction[0], p)
            if not slope < 0.0:
                # Not a descent direction (lost curvature): restart from steepest descent.
                n_pairs = 0
                for j in range(p):
                    direction[j] = -grad[j]
                slope = -vdot(&grad[0], &grad[0], p)
            # Without curvature pairs the first step is scaled to length 1.
            step = 1.0 if n_pairs > 0 or -slope <= 1.0 else 1.0 / sqrt(-slope)
            tries = 0
            while True:
                step_to(&trial[0], &w[0], step, &direction[0], p)
                evaluate(f, &trial[0], &trial_loss, &trial_grad[0], NULL, False)
                sufficient = trial_loss <= loss + ARMIJO * step * slope
                if sufficient or tries >= MAX_BACKTRACKS:
                    break
                # Minimum of the quadratic through f(0), f'(0) and f(step), kept in [0.1, 0.5] step.
                step = step * min(0.5, max(0.1, -slope * step
                                           / (2.0 * (trial_loss - loss - slope * step))))
                tries += 1
            if not sufficient:
                break  # no decrease is possible at this precision: stop, not spin
            # Keep the pair s = trial - w, y = trial_grad - grad only if it has curvature
            # (it always has for a strictly convex objective; rounding can spoil it).
            sy = 0.0
            yy = 0.0
            for j in range(p):
                sy += (trial[j] - w[j]) * (trial_grad[j] - grad[j])
                yy += (trial_grad[j] - grad[j]) * (trial_grad[j] - grad[j])
            if sy > 1e-12 * yy and yy > 0.0:
                newest = (newest + 1) % LBFGS_MEMORY
                for j in range(p):
                    S[newest * p + j] = trial[j] - w[j]
                    Y[newest * p + j] = trial_grad[j] - grad[j]
                rho[newest] = 1.0 / sy
                gamma = sy / yy
                n_pairs = n_pairs + 1 if n_pairs < LBFGS_MEMORY else LBFGS_MEMORY
            vcopy(&w[0], &trial[0], p)
            vcopy(&grad[0], &trial_grad[0], p)
            loss = trial_loss
            grad_max = max_abs(&grad[0], p)
            progress.record(it, loss, grad_max)
    return it, grad_max


# --- Newton with a Hessian matrix -------------------------------------------------

cdef bint cholesky(double* A, Py_ssize_t p) noexcept nogil:
    # A (p, p, row-major, symmetric) = L Lᵀ: L overwrites A's lower triangle.
    # False if A is not safely positive definite: a pivot that lost all but
    # PIVOT_TOLERANCE of its diagonal entry to cancellation is rounding noise
    # (a singular H, e.g. with more features than samples), and solving with it
    # would send the step far along a direction that only noise defines.
    cdef Py_ssize_t i, j, q
    cdef double s, diagonal
    for j in range(p):
        s = A[j * p + j]
        diagonal = s
        for q in range(j):
            s -= A[j * p + q] * A[j * p + q]
        if not s > PIVOT_TOLERANCE * diagonal:
            return False
        diagonal = sqrt(s)
        A[j * p + j] = diagonal
        for i in range(j + 1, p):
            s = A[i * p + j]
            for q in range(j):
                s -= A[i * p + q] * A[j * p + q]
            A[i * p + j] = s / diagonal
    return True


cdef void cholesky_solve(const double* L, double* x, Py_ssize_t p) noexcept nogil:
    # x <- (L Lᵀ)⁻¹ x: forward substitution with L, then back substitution with Lᵀ.
    cdef Py_ssize_t i, q
    cdef double s
    for i in range(p):
        s = x[i]
        for q in range(i):
            s -= L[i * p + q] * x[q]
        x[i] = s / L[i * p + i]
    for i in range(p - 1, -1, -1):
        s = x[i]
        for q in range(i + 1, p):
            s -= L[q * p + i] * x[q]
        x[i] = s / L[i * p + i]


cdef void newton_direction(const double* hess, const double* grad, double* factor,
                           double* direction, Py_ssize_t p) noexcept nogil:
    # direction = -H⁻¹ grad by the Cholesky factor of H where H is safely positive
    # definite.  Where it is not (more features than samples, or separable data
    # without a penalty, push curvature to 0 in some directions), -(H + λI)⁻¹ grad
    # with λ = max|grad| (at least 1e-10 max H_jj, raised until H + λI factorises):
    # a Levenberg-Marquardt step, which keeps the steps along flat directions
    # bounded by |grad| / λ, so that rounding noise cannot steer them.
    cdef Py_ssize_t j, q
    cdef double largest = 0.0, damping = 0.0
    while True:
        vcopy(factor, hess, p * p)
        for j in range(p):
            factor[j * p + j] += damping
        if cholesky(factor, p):
            break
        if damping == 0.0:
            for j in range(p):
                largest = max(largest, fabs(hess[j * p + j]))
            damping = max(max_abs(grad, p), 1e-10 * largest)
        else:
            damping *= 10.0
        if not damping < INFINITY:   # nan or inf in H: steepest descent
            for j in range(p):
                factor[j * p + j] = 1.0
                for q in range(j):
                    factor[j * p + q] = 0.0
            break
    for j in range(p):
        direction[j] = -grad[j]
    cholesky_solve(factor, direction, p)


cdef void fix_softmax_gauge(Objective f, double* hess) noexcept nogil:
    # The softmax is unchanged when one vector is added to every class's
    # parameters, so its Hessian is singular along those directions: the
    # intercepts' (they are not penalised) and, without a penalty, the
    # coefficients'.  The gradient has no component there (the residuals of
    # each sample sum to 0 over the classes), so adding μ times the projector
    # onto those directions leaves the Newton step unchanged while making H
    # positive definite.  μ: the mean diagonal entry, to keep the scale.
    cdef Py_ssize_t k = f.n_classes, d = f.n_features, ps = d + f.fit_intercept
    cdef Py_ssize_t p = f.n_params, c, c2, j
    cdef double mu = 0.0
    if k == 1:
        return
    for j in range(p):
        mu += hess[j * p + j]
    mu /= p
    for j in range(ps):
        if j < d and f.alpha > 0.0:
            continue
        for c in range(k):
            for c2 in range(k):
                hess[(c * ps + j) * p + c2 * ps + j] += mu / k


def newton(Objective f, double[::1] w, Py_ssize_t max_iter, double tol, Progress progress):
    """Newton's method from w (updated in place); returns (n_iter, grad_max).

    Each iteration: the Newton direction from the Cholesky factor of the
    Hessian; a unit step, taken when it decreases the objective enough
    (Armijo), else halved until it does.  The pass that evaluates the unit
    step also forms the gradient and Hessian there, so an accepted unit step
    costs one pass in all.
    """
    cdef Py_ssize_t p = f.n_params, it = 0
    cdef double[::1] grad = np.empty(p), trial = np.empty(p), trial_grad = np.empty(p)
    cdef double[::1] direction = np.empty(p)
    cdef double[:, ::1] hess = np.empty((p, p)), trial_hess = np.empty((p, p))
    cdef double[:, ::1] factor = np.empty((p, p))
    cdef double loss, trial_loss, grad_max, slope
    with nogil:
        evaluate(f, &w[0], &loss, &grad[0], &hess[0, 0], False)
        grad_max = max_abs(&grad[0], p)
        progress.record(0, loss, grad_max)
        while it < max_iter and grad_max > tol:
            it += 1
            fix_softmax_gauge(f, &hess[0, 0])
            newton_direction(&hess[0, 0], &grad[0], &factor[0, 0], &direction[0], p)
            slope = vdot(&grad[0], &direction[0], p)
            if not slope < 0.0:
                break  # no descent direction at this precision
            if not newton_line_search(f, &w[0], &direction[0], slope, loss, 0.0, &trial[0],
                                      &trial_loss, &trial_grad[0], &trial_hess[0, 0]):
                break  # no decrease is possible at this precision: stop, not spin
            vcopy(&w[0], &trial[0], p)
            vcopy(&grad[0], &trial_grad[0], p)
            vcopy(&hess[0, 0], &trial_hess[0, 0], p * p)
            loss = trial_loss
            grad_max = max_abs(&grad[0], p)
            progress.record(it, loss, grad_max)
    return it, grad_max


# --- trust-region Newton-CG on Hessian-vector products ---------------------------

cdef double steihaug_cg(Objective f, const double* grad, double radius, double forcing,
                        double* s, double* r, double* d, double* Hd,
                        Py_ssize_t p) except? -1.0 nogil:
    # Approximately minimise g·s + ½ sᵀHs over ||s|| <= radius by conjugate
    # gradients from s = 0 (Steihaug 1983): stop when the residual r = -g - Hs
    # has shrunk by ``forcing``, at the trust region's boundary, or along a
    # direction of non-positive curvature.  Returns the model's decrease
    # -(g·s + ½ sᵀHs) = ½ (r·s - g·s)... computed as -½ (g·s - r·s).
    cdef Py_ssize_t j, iteration
    cdef double rr, rr_new, dHd, a, sd, dd, ss, tau, g_norm = sqrt(vdot(grad, grad, p))
    for j in range(p):
        s[j] = 0.0
        r[j] = -grad[j]
        d[j] = r[j]
    rr = vdot(r, r, p)
    for iteration in range(MAX_CG_ITERATIONS):
        if sqrt(rr) <= forcing * g_norm:
            break
        f.hessian_product(d, Hd)
        check_signals()
        dHd = vdot(d, Hd, p)
        if dHd > 0.0:
            a = rr / dHd
            # Would s + a d leave the region?
            ss = 0.0
            for j in range(p):
                ss += (s[j] + a * d[j]) * (s[j] + a * d[j])
        if not dHd > 0.0 or ss >= radius * radius:
            # Go to the boundary along d: the root tau > 0 of ||s + tau d|| = radius.
            sd = vdot(s, d, p)
            dd = vdot(d, d, p)
            ss = vdot(s, s, p)
            tau = (-sd + sqrt(max(0.0, sd * sd + dd * (radius * radius - ss)))) / dd
            for j in range(p):
                s[j] += tau * d[j]
                r[j] -= tau * Hd[j]
            break
        for j in range(p):
            s[j] += a * d[j]
            r[j] -= a * Hd[j]
        rr_new = vdot(r, r, p)
        for j in range(p):
            d[j] = r[j] + (rr_new / rr) * d[j]
        rr = rr_new
    # r = -g - Hs, so sᵀHs = -s·g - s·r and the decrease is -(g·s + ½ sᵀHs).
    return -0.5 * (vdot(grad, s, p) - vdot(r, s, p))


def newton_cg(Objective f, double[::1] w, Py_ssize_t max_iter, double tol,
              Progress progress):
    """Trust-region Newton-CG from w (updated in place); returns (n_iter, grad_max).

    Each iteration solves the Newton system approximately by conjugate
    gradients (one pass over X per Hessian-vector product), within a trust
    region whose radius follows how well the quadratic model predicted the
    actual decrease.  The pass at a trial point also keeps what Hessian
    products need there, so an accepted step costs no extra pass.
    """
    cdef Py_ssize_t p = f.n_params, it = 0
    cdef double[::1] grad = np.empty(p), trial = np.empty(p), trial_grad = np.empty(p)
    cdef double[::1] s = np.empty(p), r = np.empty(p), d = np.empty(p), Hd = np.empty(p)
    cdef double loss, trial_loss, grad_max, radius, predicted, actual, ratio, s_norm, forcing
    with nogil:
        evaluate(f, &w[0], &loss, &grad[0], NULL, True)
        grad_max = max_abs(&grad[0], p)
        progress.record(0, loss, grad_max)
        # No trust region until a step disappoints: the first CG solution is taken
        # whole (the gradient's norm, TRON's first radius, is far too small when
        # the curvature is small, as with a weak penalty on rare features).
        radius = INFINITY
        while it < max_iter and grad_max > tol:
            it += 1
            # Superlinear convergence: the CG tolerance shrinks with the gradient.
            forcing = min(0.1, sqrt(sqrt(vdot(&grad[0], &grad[0], p))))
            predicted = steihaug_cg(f, &grad[0], radius, forcing, &s[0], &r[0], &d[0],
                                    &Hd[0], p)
            s_norm = sqrt(vdot(&s[0], &s[0], p))
            step_to(&trial[0], &w[0], 1.0, &s[0], p)
            evaluate(f, &trial[0], &trial_loss, &trial_grad[0], NULL, True)
            actual = loss - trial_loss
            if not predicted > LOSS_ROUNDING * fabs(loss):
                # The model predicts no decrease beyond rounding: converged as far as
                # this precision allows; take the step if it did not hurt.
                if within_rounding(trial_loss, loss):
                    vcopy(&w[0], &trial[0], p)
                    vcopy(&grad[0], &trial_grad[0], p)
                    loss = trial_loss
                    grad_max = max_abs(&grad[0], p)
                    progress.record(it, loss, grad_max)
                break
            ratio = actual / predicted
            # Radius update (Nocedal & Wright, Alg. 4.1).
            if not ratio >= 0.25:
                radius = 0.25 * s_norm
            elif ratio > 0.75 and s_norm >= 0.99 * radius:
                radius = 2.0 * radius   # (never true while the radius is infinite)
            if ratio > 1e-4:
                vcopy(&w[0], &trial[0], p)
                vcopy(&grad[0], &trial_grad[0], p)
                loss = trial_loss
            else:
                # Rejected: the kept curvature is the trial's; restore w's.
                evaluate(f, &w[0], &loss, &grad[0], NULL, True)
            grad_max = max_abs(&grad[0], p)
            progress.record(it, loss, grad_max)
            if not radius > 0.0:
                break
    return it, grad_max
