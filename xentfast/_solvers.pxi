# Layer 2: the solvers that minimise the LinearProblem objective, included
# into _linear.pyx so that they call its kernel directly (and so that each
# kernel set, baseline or AVX2, has its own solvers).  Each runs its whole
# loop without the GIL, taking it only to call the progress callback
# once per iteration (when there is one).
#
#   gd        gradient descent, the article's method: w <- w - step ∇f(w)
#   nesterov  accelerated gradient with gradient-based adaptive restart
#             (O'Donoghue & Candès 2015)
#   sgd       mini-batch gradient descent, reshuffled every epoch, step decaying
#             as 1/sqrt(epoch)
#   lbfgs     limited-memory BFGS (two-loop recursion, 10 pairs) with a
#             backtracking Armijo line search
cdef enum:
    LBFGS_MEMORY = 10
    MAX_BACKTRACKS = 40

cdef double LOSS_ROUNDING = 1e-14   # relative rounding error of a computed loss


# --- small vector helpers (p = number of parameters, a few thousand at most) ---

cdef inline double vdot(const double* a, const double* b, Py_ssize_t p) noexcept nogil:
    cdef double total = 0.0
    cdef Py_ssize_t j
    for j in range(p):
        total += a[j] * b[j]
    return total


cdef inline double max_abs(const double* a, Py_ssize_t p) noexcept nogil:
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
    """Records the loss of every iteration and forwards it to a Python callback.

    An exception raised by the callback (KeyboardInterrupt included) stops the
    solver at the end of that iteration; ``raise_if_failed`` re-raises it.
    """
    cdef double[::1] losses
    cdef Py_ssize_t count
    cdef object callback
    cdef object error
    cdef bint stop

    def __init__(self, Py_ssize_t max_iter, callback):
        self.losses = np.empty(max_iter + 1)
        self.count = 0
        self.callback = callback
        self.error = None
        self.stop = False

    cdef void record(self, Py_ssize_t iteration, double loss, double grad_max) noexcept nogil:
        if self.count < self.losses.shape[0]:
            self.losses[self.count] = loss
            self.count += 1
        if self.callback is not None:
            with gil:
                try:
                    self.callback(iteration, loss, grad_max)
                except BaseException as error:
                    self.error = error
                    self.stop = True

    def curve(self):
        return np.asarray(self.losses[:self.count]).copy()

    def raise_if_failed(self):
        if self.error is not None:
            raise self.error


def lipschitz_bound(LinearProblem problem, int n_iter=12, seed=0):
    """An estimate of the gradient's Lipschitz constant L.

    The Hessian of the mean cross-entropy is at most c·Xaᵀ S Xa / Σs (c = 1/4
    for the logistic, 1/2 for the softmax), plus α.  The largest eigenvalue of
    Xaᵀ S Xa / Σs comes from the power iteration, one pass over X each.
    """
    cdef Problem* P = &problem.problem
    cdef Py_ssize_t p = n_params(P), it, j
    cdef double[::1] v = np.random.default_rng(seed).standard_normal(p)
    cdef double[::1] hv = np.empty(p)
    cdef double norm, eigenvalue = 0.0
    with nogil:
        norm = sqrt(vdot(&v[0], &v[0], p))
        for j in range(p):
            v[j] /= norm
        for it in range(n_iter):
            loss_and_grad(P, &v[0], &hv[0], NULL, 0, GRAM_RESIDUAL)
            eigenvalue = sqrt(vdot(&hv[0], &hv[0], p))
            if eigenvalue == 0.0:
                break
            for j in range(p):
                v[j] = hv[j] / eigenvalue
    curvature = 0.25 if P.n_classes == 1 else 0.5
    return curvature * eigenvalue + P.alpha


def gradient_descent(LinearProblem problem, double[::1] w, double step, bint backtrack,
                     Py_ssize_t max_iter, double tol, Progress progress):
    """Gradient descent from w (updated in place); returns (n_iter, grad_max)."""
    cdef Problem* P = &problem.problem
    cdef Py_ssize_t p = n_params(P), it = 0, tries
    cdef double[::1] grad = np.empty(p), trial = np.empty(p), trial_grad = np.empty(p)
    cdef double loss, trial_loss, grad_max
    with nogil:
        loss = loss_and_grad(P, &w[0], &grad[0], NULL, 0, CROSS_ENTROPY_RESIDUAL)
        grad_max = max_abs(&grad[0], p)
        progress.record(0, loss, grad_max)
        while it < max_iter and grad_max > tol and not progress.stop:
            it += 1
            tries = 0
            while True:
                step_to(&trial[0], &w[0], -step, &grad[0], p)
                trial_loss = loss_and_grad(P, &trial[0], &trial_grad[0], NULL, 0,
                                           CROSS_ENTROPY_RESIDUAL)
                # A step that raises the loss is halved (for good), unless the user
                # fixed it.  Rises within rounding of the loss do not count: near the
                # minimum they are noise, and halving on them would stall the descent.
                if (not backtrack or trial_loss <= loss + LOSS_ROUNDING * fabs(loss)
                        or tries >= MAX_BACKTRACKS):
                    break
                step *= 0.5
                tries += 1
            vcopy(&w[0], &trial[0], p)
            vcopy(&grad[0], &trial_grad[0], p)
            loss = trial_loss
            grad_max = max_abs(&grad[0], p)
            progress.record(it, loss, grad_max)
            if progress.stop:
                break
    return it, grad_max


def nesterov(LinearProblem problem, double[::1] w, double step, Py_ssize_t max_iter,
             double tol, Progress progress):
    """Accelerated gradient from w (updated in place); returns (n_iter, grad_max).

    Gradients are taken at the extrapolated point y; the momentum restarts
    when the step goes against the gradient (g(y)·(w_new − w) > 0), which
    needs no extra pass over X.
    """
    cdef Problem* P = &problem.problem
    cdef Py_ssize_t p = n_params(P), it = 0, j
    cdef double[::1] y = np.array(w, copy=True), grad = np.empty(p), w_new = np.empty(p)
    cdef double loss, grad_max, t = 1.0, t_new, momentum, restart_test
    with nogil:
        while True:
            loss = loss_and_grad(P, &y[0], &grad[0], NULL, 0, CROSS_ENTROPY_RESIDUAL)
            grad_max = max_abs(&grad[0], p)
            progress.record(it, loss, grad_max)
            if grad_max <= tol or progress.stop:
                vcopy(&w[0], &y[0], p)
                break
            if it >= max_iter:
                break
            it += 1
            step_to(&w_new[0], &y[0], -step, &grad[0], p)
            restart_test = 0.0
            for j in range(p):
                restart_test += grad[j] * (w_new[j] - w[j])
            if restart_test > 0.0:
                t = 1.0
            t_new = 0.5 * (1.0 + sqrt(1.0 + 4.0 * t * t))
            momentum = (t - 1.0) / t_new
            for j in range(p):
                y[j] = w_new[j] + momentum * (w_new[j] - w[j])
            vcopy(&w[0], &w_new[0], p)
            t = t_new
    return it, grad_max


def stochastic_gradient_descent(LinearProblem problem, double[::1] w, double step,
                                Py_ssize_t batch_size, Py_ssize_t max_iter, double tol,
                                uint64_t seed, Progress progress):
    """Mini-batch SGD from w (updated in place); one iteration is one epoch.

    The step of epoch e is step / sqrt(e).  Stops when the epoch's mean loss
    changes by at most tol relative to itself.  Returns (n_epochs, last change).
    """
    cdef Problem* P = &problem.problem
    cdef Py_ssize_t p = n_params(P), n = P.n_samples, epoch = 0, start, size, j
    cdef Py_ssize_t[::1] order = np.arange(n, dtype=np.intp)
    cdef double[::1] grad = np.empty(p)
    cdef double epoch_loss, previous = INFINITY, change = INFINITY, rate, batch_loss
    cdef uint64_t state = seed
    with nogil:
        while epoch < max_iter:
            epoch += 1
            shuffle(&order[0], n, &state)
            rate = step / sqrt(<double>epoch)
            epoch_loss = 0.0
            start = 0
            while start < n:
                size = batch_size if n - start > batch_size else n - start
                batch_loss = loss_and_grad(P, &w[0], &grad[0], &order[start], size,
                                           CROSS_ENTROPY_RESIDUAL)
                epoch_loss += batch_loss * size
                for j in range(p):
                    w[j] -= rate * grad[j]
                start += size
            epoch_loss /= n
            change = fabs(epoch_loss - previous) / (fabs(epoch_loss) if epoch_loss != 0 else 1.0)
            progress.record(epoch, epoch_loss, max_abs(&grad[0], p))
            if change <= tol or progress.stop:
                break
            previous = epoch_loss
    return epoch, change


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


def lbfgs(LinearProblem problem, double[::1] w, Py_ssize_t max_iter, double tol,
          Progress progress):
    """L-BFGS from w (updated in place); returns (n_iter, grad_max)."""
    cdef Problem* P = &problem.problem
    cdef Py_ssize_t p = n_params(P), it = 0, tries, n_pairs = 0, newest = 0, j
    cdef double[::1] grad = np.empty(p), trial = np.empty(p), trial_grad = np.empty(p)
    cdef double[::1] direction = np.empty(p)
    cdef double[::1] S = np.empty(LBFGS_MEMORY * p), Y = np.empty(LBFGS_MEMORY * p)
    cdef double[::1] rho = np.empty(LBFGS_MEMORY), alpha_buf = np.empty(LBFGS_MEMORY)
    cdef double loss, trial_loss, grad_max, slope, step, sy, yy, gamma = 1.0
    cdef bint sufficient
    with nogil:
        loss = loss_and_grad(P, &w[0], &grad[0], NULL, 0, CROSS_ENTROPY_RESIDUAL)
        grad_max = max_abs(&grad[0], p)
        progress.record(0, loss, grad_max)
        while it < max_iter and grad_max > tol and not progress.stop:
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
                trial_loss = loss_and_grad(P, &trial[0], &trial_grad[0], NULL, 0,
                                           CROSS_ENTROPY_RESIDUAL)
                sufficient = trial_loss <= loss + 1e-4 * step * slope
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
            if progress.stop:
                break
    return it, grad_max
