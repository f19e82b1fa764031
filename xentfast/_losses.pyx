# Layer 2 kernels for the cross-entropy losses and their gradients.
#
# Arrays arrive flat and C-contiguous.  An optional array (weight, pos_weight,
# class_weight, per-element loss or gradient output) is passed with length 0
# when absent (None for binary_cross_entropy_with_logits_kernel).  Reductions write one partial sum per block of BLOCK elements
# (or rows) and add the block sums with compensation at the end, so the total
# does not depend on the thread count.  For reduction="mean" the caller passes
# the denominator: the loss is divided by it and gradients are scaled by its
# reciprocal; and the power of two by which the weights were scaled to get it
# (weight_total), which the kernels apply to every weight.
from cython.parallel cimport prange, threadid
from libc.stdlib cimport malloc, free
import numpy as np
cimport numpy as cnp
from cython cimport floating
from libc.math cimport fabs, frexp, ldexp, INFINITY, NAN
from libc.float cimport DBL_MIN

from xentfast._scalar cimport (xlogy, xlog1my, sum16, compensated_add, unweighted_linear_term,
                               unweighted_loss_f32,
                               compensated_result)
from xentfast._arrays cimport plain_array
from xentfast._parallel cimport worth_threads, small_work, BLOCK
from xentfast._vmath cimport (exp_nonpositive, log1p_unit, FLOAT32_ARITHMETIC, exp_parts_f32_array,
                             AVX512_EXP, exp_nonpositive_array, bce_block_f32, sum16_f32,
                             log1p_parts_f32, sigmoid_both_f32, SOFTMAX_ROWS_MAX_K,
                             SoftmaxPlan, softmax_plan_init, softmax_ce_rows16_f32)
from xentfast._rows cimport (RowNormalizer, normalize_row, ROW_FINITE, ROW_ONE_POS_INF,
                             RowKind, RowChunk, ROW_CHUNK, rows_per_chunk, normalize_rows,
                             exp_block, EXP_BLOCK)


cnp.import_array()


cdef inline Py_ssize_t n_blocks(Py_ssize_t n) noexcept nogil:
    return (n + BLOCK - 1) // BLOCK


cdef enum:
    # Up to this many blocks, the block results live on the stack: for small
    # inputs an array allocation costs more than the work.
    STACK_BLOCKS = 16
    # Up to this many classes, softmax_block keeps a row's target coefficients on
    # the stack; longer rows get a buffer allocated by the caller.
    STACK_CLASSES = 256


cdef inline double sum_of_blocks(const double* block_sums, Py_ssize_t count) noexcept nogil:
    cdef double total = 0.0, compensation = 0.0
    cdef Py_ssize_t b
    for b in range(count):
        compensated_add(&total, &compensation, block_sums[b])
    return compensated_result(total, compensation)


cdef struct BlockResults:
    # Each block's partial sum and bad-input flag: on the stack up to
    # STACK_BLOCKS blocks, else allocated (block_results_open / _close).
    Py_ssize_t count
    double* sums
    int* bad
    double stack_sums[STACK_BLOCKS]
    int stack_bad[STACK_BLOCKS]


cdef inline bint block_results_open(BlockResults* blocks, Py_ssize_t count) noexcept nogil:
    # False if out of memory.  Do not copy the struct: it may point into itself.
    blocks.count = count
    blocks.sums = blocks.stack_sums
    blocks.bad = blocks.stack_bad
    if count > STACK_BLOCKS:
        blocks.sums = <double*>malloc(count * sizeof(double))
        blocks.bad = <int*>malloc(count * sizeof(int))
        if blocks.sums == NULL or blocks.bad == NULL:
            free(blocks.sums)
            free(blocks.bad)
            return False
    return True


cdef inline double block_results_close(BlockResults* blocks, int* any_bad) noexcept nogil:
    # The compensated sum of the block sums; any_bad[0] = 1 if a block set its flag.
    cdef Py_ssize_t b
    cdef int bad = 0
    cdef double total = sum_of_blocks(blocks.sums, blocks.count)
    for b in range(blocks.count):
        bad |= blocks.bad[b]
    any_bad[0] = bad
    if blocks.count > STACK_BLOCKS:
        free(blocks.sums)
        free(blocks.bad)
    return total


# --- the divisor of reduction="mean" ------------------------------------------
#
# "mean" divides by the total weight W.  A subnormal W has lost digits and 1 / W
# overflows; a W that overflows gives inf / inf.  So the weights are scaled by a
# power of two s that brings W into [0.5, 1): the kernels multiply every weight
# by s (exact unless w s is subnormal, where it is negligible against W s) and
# divide by W s.  A W that overflows is summed again with the weights scaled by
# the largest one's power of two.
#
# With class weights (index targets), W = Σ w class_weight[target] can be tiny
# while a sample weight w is large: w s would overflow.  The sample weights then
# take the part of s they can (weight_room) and the rest goes on the row's
# coefficients a = class_weight * target (target_coefficients), after that
# product: a class weight that no target uses may be huge, and 0 * inf is nan.

cdef inline double scale_for_total(double total) noexcept nogil:
    # s = 2^-e with total = f 2^e, f in [0.5, 1); at most 2^1023 (the largest power
    # of two), which still brings a subnormal total above 2^-52.  1 for a total of 0.
    cdef int e
    if total == 0.0:
        return 1.0
    frexp(total, &e)
    return ldexp(1.0, -e if -e < 1023 else 1023)


cdef inline double scale_for_largest(double largest) noexcept nogil:
    # s = 2^-e with largest = f 2^e: every weight times s is below 1 (s at most
    # 2^1023, as in scale_for_total).
    cdef int e
    frexp(largest, &e)
    return ldexp(1.0, -e if -e < 1023 else 1023)


cdef inline double weight_room(double largest) noexcept nogil:
    # The largest power of two r (at most 2^1023) with largest * r finite:
    # 2^(1024 - e) for largest = f 2^e.
    cdef int e
    if largest == 0.0:
        return ldexp(1.0, 1023)
    frexp(largest, &e)
    return ldexp(1.0, 1024 - e if 1024 - e < 1023 else 1023)


cdef inline int power_of_two_floor(double x) noexcept nogil:
    # e with 2^e <= x < 2^(e + 1), for x > 0
    cdef int e
    frexp(x, &e)
    return e - 1


cdef double scaled_weight_sum(const floating* weight, Py_ssize_t n, double scale,
                              double* block_sums) noexcept nogil:
    # Σ weight[i] * scale, in blocks added with compensation (block_sums: n_blocks(n)).
    cdef Py_ssize_t b, i
    cdef double acc
    for b in range(n_blocks(n)):
        acc = 0.0
        for i in range(b * BLOCK, min(b * BLOCK + BLOCK, n)):
            acc += weight[i] * scale
        block_sums[b] = acc
    return sum_of_blocks(block_sums, n_blocks(n))


def weight_total(const floating[::1] weight):
    """(W s, s): the weights' sum W scaled by the power of two s for reduction="mean"
    (see above); the kernels are then passed denominator W s and weight_scale s."""
    cdef Py_ssize_t i, n = weight.shape[0]
    cdef double[::1] block_sums = np.empty(n_blocks(n))
    cdef const floating* w = &weight[0] if n > 0 else NULL
    cdef double total, scale, largest = 0.0
    with nogil:
        total = scaled_weight_sum(w, n, 1.0, &block_sums[0] if n > 0 else NULL)
        if total == INFINITY:
            for i in range(n):
                largest = weight[i] if weight[i] > largest else largest
            scale = scale_for_largest(largest)
            total = scaled_weight_sum(w, n, scale, &block_sums[0])
        else:
            scale = scale_for_total(total)
            total = total * scale
    return total, scale


cdef double scaled_index_target_sum(const Py_ssize_t* targets, Py_ssize_t n,
                                    const floating* weight, const floating* class_weight,
                                    Py_ssize_t ignore_index, bint has_ignore_index,
                                    double scale, double class_scale, double* block_sums,
                                    double* largest, double* largest_weight,
                                    bint* subnormal) noexcept nogil:
    # Σ over samples not ignored of (weight[s] scale) (class_weight[targets[s]]
    # class_scale) (NULL weight or class_weight: 1s); the largest term at largest[0],
    # the largest weight[s] scale at largest_weight[0], and at subnormal[0] whether a
    # positive scaled class weight or a positive term with one was subnormal or 0
    # (it lost digits, or all of them).
    cdef Py_ssize_t b, i
    cdef double acc, w, c, raw, product, top = 0.0, top_weight = 0.0
    cdef bint lost = False
    for b in range(n_blocks(n)):
        acc = 0.0
        for i in range(b * BLOCK, min(b * BLOCK + BLOCK, n)):
            if has_ignore_index and targets[i] == ignore_index:
                continue
            w = (weight[i] if weight != NULL else 1.0) * scale
            top_weight = w if w > top_weight else top_weight
            if class_weight != NULL:
                raw = class_weight[targets[i]]
                c = raw * class_scale
                product = w * c
                lost |= (raw > 0.0) & ((c < DBL_MIN) | ((w > 0.0) & (product < DBL_MIN)))
                w = product
            acc += w
            top = w if w > top else top
        block_sums[b] = acc
    largest[0] = top
    largest_weight[0] = top_weight
    subnormal[0] = lost
    return sum_of_blocks(block_sums, n_blocks(n))


cdef inline double exact_product(double w, double c, int exponent) noexcept nogil:
    # w c 2^exponent formed from the two mantissas and moved by ldexp: one rounding,
    # where scaled factors would pass through the subnormals.
    cdef int weight_exponent, class_exponent
    cdef double weight_mantissa = frexp(w, &weight_exponent)
    cdef double class_mantissa = frexp(c, &class_exponent)
    return ldexp(weight_mantissa * class_mantissa, weight_exponent + class_exponent + exponent)


cdef double exact_index_target_sum(const Py_ssize_t* targets, Py_ssize_t n,
                                   const floating* weight, const floating* class_weight,
                                   Py_ssize_t ignore_index, bint has_ignore_index,
                                   int exponent, double* block_sums) noexcept nogil:
    # Σ over samples not ignored of exact_product(weight[s], class_weight[targets[s]],
    # exponent) (NULL weight: 1s).
    cdef Py_ssize_t b, i
    cdef double acc
    for b in range(n_blocks(n)):
        acc = 0.0
        for i in range(b * BLOCK, min(b * BLOCK + BLOCK, n)):
            if has_ignore_index and targets[i] == ignore_index:
                continue
            acc += exact_product(weight[i] if weight != NULL else 1.0,
                                 class_weight[targets[i]], exponent)
        block_sums[b] = acc
    return sum_of_blocks(block_sums, n_blocks(n))


cdef bint largest_product_exponent(const Py_ssize_t* targets, Py_ssize_t n,
                                   const floating* weight, const floating* class_weight,
                                   Py_ssize_t ignore_index, bint has_ignore_index,
                                   int* top) noexcept nogil:
    # The largest floor(log2 weight[s]) + floor(log2 class_weight[targets[s]]) over
    # samples not ignored whose product is positive, at top[0] (every such product
    # times 2^-top[0] is then in [1, 4) or below); False if there is none.
    cdef Py_ssize_t i
    cdef int term
    cdef bint found = False
    cdef double w_i, c_i
    for i in range(n):
        if has_ignore_index and targets[i] == ignore_index:
            continue
        w_i = weight[i] if weight != NULL else 1.0
        c_i = class_weight[targets[i]]
        if w_i > 0.0 and c_i > 0.0:
            term = power_of_two_floor(w_i) + power_of_two_floor(c_i)
            top[0] = max(top[0], term) if found else term
            found = True
    return found


cdef bint exact_total_exponent(const Py_ssize_t* targets, Py_ssize_t n,
                               const floating* weight, const floating* class_weight,
                               Py_ssize_t ignore_index, bint has_ignore_index,
                               int class_exponent, double* block_sums,
                               int* exponent) noexcept nogil:
    # e with Σ over samples not ignored of weight[s] class_weight[targets[s]]
    # 2^class_exponent = f 2^e, f in [0.5, 1), from the exact products (the sum
    # may lie far below the subnormals); False if every product is 0.
    cdef int top = 0, unit_exponent
    if not largest_product_exponent(targets, n, weight, class_weight, ignore_index,
                                    has_ignore_index, &top):
        return False
    # every product times 2^-top is in [1, 4): the sum is normal
    frexp(exact_index_target_sum(targets, n, weight, class_weight, ignore_index,
                                 has_ignore_index, -top, block_sums), &unit_exponent)
    exponent[0] = unit_exponent + top + class_exponent
    return True


def index_target_factors(const Py_ssize_t[::1] targets, const floating[::1] weight,
                         const floating[::1] class_weight, Py_ssize_t ignore_index,
                         bint has_ignore_index):
    """Each sample's weight[s] class_weight[targets[s]] (a length-0 weight: 1s; 0 for
    an ignored sample), formed exactly (exact_product) and scaled by the power of
    two that brings the largest below 1: with one-hot targets the loss of a sample
    carries its weight and its class weight as one factor, whose range the two
    separate factors may not fit in (reduction="mean" when
    index_target_weight_total lost digits).  float64."""
    cdef Py_ssize_t i, n = targets.shape[0]
    cdef const Py_ssize_t* t = &targets[0] if n > 0 else NULL
    cdef const floating* cw = &class_weight[0]
    cdef const floating* w = &weight[0] if weight.shape[0] > 0 else NULL
    cdef cnp.ndarray[double, ndim=1, mode="c"] factors = np.zeros(n)
    cdef double* out = &factors[0] if n > 0 else NULL
    cdef int largest = 0
    with nogil:
        largest_product_exponent(t, n, w, cw, ignore_index, has_ignore_index, &largest)
        for i in range(n):
            if not (has_ignore_index and t[i] == ignore_index):
                # 0 where the weight or the class weight is 0
                out[i] = exact_product(w[i] if w != NULL else 1.0, cw[t[i]], -largest - 2)
    return factors


def index_target_weight_total(const Py_ssize_t[::1] targets, const floating[::1] weight,
                              const floating[::1] class_weight, Py_ssize_t ignore_index,
                              bint has_ignore_index, bint every_class_counts):
    """(W s, s_w, c, s_a, lost) for index targets and reduction="mean".

    The class weights are scaled by the power of two c that brings the largest
    one that enters a loss into [0.5, 1): that of a target class of a sample not
    ignored, or of any class when every_class_counts (label smoothing); at most
    as far as no class weight times c overflows.  Then
    W = Σ over samples not ignored of weight[s] * class_weight[targets[s]] c
    (a length-0 weight or class_weight: 1s), and s is as in weight_total, split
    as s = s_w s_a: s_w for the sample weights (as much as the largest takes
    without overflow, at most 2^1023), s_a for the coefficients (the rest, so
    that W s lies in [0.5, 1) for a subnormal W too; only with class weights:
    without them no coefficients are formed, and every weight is at most W).
    The kernel is passed denominator W s, weight_scale s_w, class_scale c and
    coefficient_scale s_a.  lost: a scaled target class weight, or its product
    with a sample weight, lost digits (subnormal) or all of them (0); W is then
    summed exactly, but the coefficients the kernel forms have lost them too (see
    index_target_factors).
    """
    cdef Py_ssize_t i, j, n = targets.shape[0]
    cdef double[::1] block_sums = np.empty(n_blocks(n))
    cdef const Py_ssize_t* t = &targets[0] if n > 0 else NULL
    cdef const floating* w = &weight[0] if weight.shape[0] > 0 else NULL
    cdef const floating* cw = &class_weight[0] if class_weight.shape[0] > 0 else NULL
    cdef double* sums = &block_sums[0] if n > 0 else NULL
    cdef double total, weight_scale, class_scale = 1.0, coefficient_scale = 1.0
    cdef double largest = 0.0, largest_weight, largest_class = 0.0
    cdef int exponent = 0
    cdef bint subnormal, lost, positive
    with nogil:
        if cw != NULL:
            for j in range(class_weight.shape[0]):
                largest_class = cw[j] if cw[j] > largest_class else largest_class
            if every_class_counts:
                largest = largest_class
            else:
                for i in range(n):
                    if not (has_ignore_index and t[i] == ignore_index):
                        largest = cw[t[i]] if cw[t[i]] > largest else largest
            if largest > 0.0:
                # no class weight times c may overflow, not even one no target uses
                # (its coefficient 0 times inf is nan)
                class_scale = min(scale_for_largest(largest), weight_room(largest_class))
        total = scaled_index_target_sum(t, n, w, cw, ignore_index, has_ignore_index, 1.0,
                                        class_scale, sums, &largest, &largest_weight,
                                        &subnormal)
        lost = subnormal
        if total == INFINITY:
            # every term is at most a (finite) weight, so largest is finite
            weight_scale = scale_for_largest(largest)
            total = scaled_index_target_sum(t, n, w, cw, ignore_index, has_ignore_index,
                                            weight_scale, class_scale, sums, &largest,
                                            &largest_weight, &subnormal)
        else:
            positive = total > 0.0
            if positive:
                frexp(total, &exponent)
            if subnormal:
                # W lost digits, maybe all of them (it underflowed to 0 for a sample
                # weight 2e-320 of a class weight 2^-34): its exponent from the exact
                # products
                positive = exact_total_exponent(t, n, w, cw, ignore_index, has_ignore_index,
                                                power_of_two_floor(class_scale), sums,
                                                &exponent)
            # s = 2^-e for W = f 2^e (scale_for_total), split as s_w s_a
            weight_scale = min(ldexp(1.0, min(-exponent, 1023)) if positive else 1.0,
                               weight_room(largest_weight))
            if cw != NULL and positive:
                # s_a: the rest of 2^-e, not capped at 2^1023 with s_w
                coefficient_scale = ldexp(
                    1.0, min(-exponent - power_of_two_floor(weight_scale), 1023))
            if subnormal:
                total = exact_index_target_sum(
                    t, n, w, cw, ignore_index, has_ignore_index,
                    power_of_two_floor(weight_scale) + power_of_two_floor(coefficient_scale)
                    + power_of_two_floor(class_scale), sums)
            else:
                total = total * weight_scale * coefficient_scale
    return total, weight_scale, class_scale, coefficient_scale, lost


# --- binary cross-entropy ---------------------------------------------------

cdef inline double bce_probs_term(double q, double y) noexcept nogil:
    # -(y log q + (1 - y) log(1 - q)); a term whose coefficient is 0 is 0.
    return -(xlogy(y, q) + xlog1my(1.0 - y, q))


cdef double bce_probs_block(const floating* probs, const floating* targets,
                            const floating* weight, floating* loss_out, Py_ssize_t n,
                            double weight_scale) noexcept nogil:
    # One block of n <= BLOCK elements: the losses into loss_out (its sum is then
    # unused) or, when loss_out is NULL, their sum.  NULL weight means 1.
    cdef Py_ssize_t i
    cdef double loss, acc = 0.0
    for i in range(n):
        loss = bce_probs_term(probs[i], targets[i])
        if weight != NULL:
            loss = (weight[i] * weight_scale) * loss
        if loss_out != NULL:
            loss_out[i] = <floating>loss
        else:
            acc = acc + loss
    return acc


cdef inline double bce_probs_block_at(Py_ssize_t b, const floating* q, const floating* y,
                                      const floating* w, floating* losses, Py_ssize_t n,
                                      double weight_scale) noexcept nogil:
    # bce_probs_block on block b of n elements.
    cdef Py_ssize_t start = b * BLOCK
    return bce_probs_block(q + start, y + start, w + start if w != NULL else NULL,
                           losses + start if losses != NULL else NULL,
                           min(BLOCK, n - start), weight_scale)


cdef double bce_probs_total(const floating* q, const floating* y, const floating* w,
                            floating* losses, Py_ssize_t n, double denominator,
                            double weight_scale, int n_threads, int* status) noexcept nogil:
    # The blocks of bce_probs_block over n elements; returns the sum of the losses /
    # denominator (nan when losses is given).  status: 0, or -1 if out of memory.
    cdef Py_ssize_t b
    cdef BlockResults blocks
    cdef double* block_sums
    cdef double total
    cdef int unused
    if not block_results_open(&blocks, n_blocks(n)):
        status[0] = -1
        return NAN
    block_sums = blocks.sums
    for b in range(blocks.count):
        blocks.bad[b] = 0
    if worth_threads(n, n_threads):
        for b in prange(blocks.count, schedule="static", num_threads=n_threads):
            block_sums[b] = bce_probs_block_at(b, q, y, w, losses, n, weight_scale)
    else:
        # Not even a one-thread parallel region: it costs more than a small input.
        for b in range(blocks.count):
            block_sums[b] = bce_probs_block_at(b, q, y, w, losses, n, weight_scale)
    total = block_results_close(&blocks, &unused)
    status[0] = 0
    return NAN if losses != NULL else total / denominator


cdef double checked_bce_probs_total(cnp.ndarray probs, cnp.ndarray targets,
                                    cnp.ndarray weight, cnp.ndarray loss_out,
                                    double denominator, double weight_scale,
                                    int n_threads, int* status, floating* element_type):
    # bce_probs_total on checked arrays; element_type (NULL) picks float or double.
    cdef Py_ssize_t n = cnp.PyArray_SIZE(probs)
    cdef const floating* q = <const floating*>cnp.PyArray_DATA(probs)
    cdef const floating* y = <const floating*>cnp.PyArray_DATA(targets)
    cdef const floating* w = (<const floating*>cnp.PyArray_DATA(weight)
                              if weight is not None else NULL)
    cdef floating* losses = <floating*>cnp.PyArray_DATA(loss_out) if loss_out is not None else NULL
    cdef double total
    if small_work(n):
        # small: keeping the GIL costs less than releasing and taking it back
        return bce_probs_total(q, y, w, losses, n, denominator, weight_scale, 1, status)
    with nogil:
        total = bce_probs_total(q, y, w, losses, n, denominator, weight_scale, n_threads,
                                status)
    return total


def binary_cross_entropy_kernel(cnp.ndarray probs not None, cnp.ndarray targets not None,
                                cnp.ndarray weight, cnp.ndarray loss_out, double denominator,
                                double weight_scale, int n_threads):
    """Per-element losses into loss_out (when given), else their sum / denominator,
    for C-contiguous float32 or float64 arrays of one dtype and size; weight and
    loss_out may be None: absent.  Every weight is multiplied by weight_scale (see
    weight_total).  The arrays themselves, not memoryviews (see _arrays.pxd)."""
    cdef int type_num = cnp.PyArray_TYPE(probs), status
    cdef Py_ssize_t n = cnp.PyArray_SIZE(probs)
    cdef double total
    if not (type_num in (cnp.NPY_DOUBLE, cnp.NPY_FLOAT) and plain_array(probs, type_num, n)
            and plain_array(targets, type_num, n)
            and (weight is None or plain_array(weight, type_num, n))
            and (loss_out is None or (plain_array(loss_out, type_num, n)
                                      and cnp.PyArray_ISWRITEABLE(loss_out)))):
        raise ValueError("probs, targets, weight and loss_out must be C-contiguous float32 "
                         "or float64 arrays of one dtype and size, loss_out writeable")
    if type_num == cnp.NPY_DOUBLE:
        total = checked_bce_probs_total(probs, targets, weight, loss_out, denominator,
                                        weight_scale, n_threads, &status, <double*>NULL)
    else:
        total = checked_bce_probs_total(probs, targets, weight, loss_out, denominator,
                                        weight_scale, n_threads, &status, <float*>NULL)
    if status < 0:
        raise MemoryError()
    return total


cdef inline int target_outside_unit(floating y) noexcept nogil:
    # A target outside [0, 1] or nan, without a branch (the loops calling it
    # vectorise), compared in y's own precision.
    return (y < 0.0) | (y > 1.0) | (y != y)


cdef double bce_logits_block(const floating* z, const floating* y, const floating* weight,
                             const floating* pos_weight, floating* loss_out,
                             floating* grad_out, Py_ssize_t n, double weight_scale,
                             double grad_scale, int* bad_target) noexcept nogil:
    # One block of n <= BLOCK elements; returns the sum of its losses (when
    # loss_out is NULL; sixteen partial sums, not one dependent chain).  NULL
    # weight/pos_weight mean 1 (weights are multiplied by weight_scale), NULL
    # grad_out: no gradient.  bad_target[0] is set
    # to 1 if a target lies outside [0, 1] or is nan: the targets' check, fused
    # into the first pass (the caller raises).
    #
    # loss = -(pw y log σ(z) + (1 - y) log σ(-z)),  dloss/dz = (1 - y) σ(z) - pw y σ(-z).
    # -log σ(±z) = log(1 + e^-|z|) ∓ min(±z, 0) share one exp and one log1p, and
    # σ(±z) are both formed from e^-|z| without 1 - σ, so nothing cancels.
    # The loops are branch-free (selects only) so that they vectorise; the
    # gradient has its own loop, skipped when it is not wanted.  A term whose
    # coefficient is 0 is 0.
    cdef double pos_loss[BLOCK]
    cdef double neg_loss[BLOCK]
    cdef double exps[BLOCK]
    cdef double pos_grad[BLOCK]
    cdef double neg_grad[BLOCK]
    cdef double pos_weights[BLOCK]
    cdef double weights[BLOCK]
    cdef Py_ssize_t i
    cdef double zi, yi, e, log_term, inv, pw, pos, neg
    cdef float exp_h[BLOCK]
    cdef float exp_lo[BLOCK]
    cdef float exp_scale[BLOCK]
    cdef float sig_positive[BLOCK]
    cdef float sig_negative[BLOCK]
    cdef float log_hi, log_lo, sig_large, sig_small, scale_hi, scale_lo
    cdef floating* binary_grad = NULL   # where bce_block_f32 writes a 0/1 targets gradient
    cdef int bad = 0, soft = 1      # soft: some target is not 0 or 1 (assumed unless checked)
    cdef bint weighted
    # e^-|z| into exps and log(1 + e^-|z|) into neg_loss (until the next loop
    # replaces it), in double; unweighted float32 input where the kernel set has an
    # FMA takes the float32 route below instead (see _vmath.pxd).
    # The targets are checked in this loop too: it reads them from memory while
    # the arithmetic hides the wait (the next loop finds them in cache).
    # The exponentials and the logs run in separate loops: two short loop bodies
    # vectorise better than one long one (fewer values live in registers).
    weighted = weight != NULL or pos_weight != NULL
    if floating is float and FLOAT32_ARITHMETIC and not weighted:
        # The whole loss in float32 (16 lanes), within 2 float32 ulp
        # (tests/test_float32.py).  Not with weights: a weight can bring a term
        # that float32 flushes to 0 (e^-|z| below 2^-149) back into range.
        if AVX512_EXP:
            # the losses (into loss_out, else exp_h), the targets' checks, σ(±|z|) and
            # the gradient for targets 0 and 1 in one vector loop (_vmath.pxd).  That
            # gradient is σ(z) (y = 0) or -σ(-z) (y = 1), times grad_scale as a float32
            # pair, with no arithmetic in double.  σ's error (0.6 ulp at most) is
            # relative and may count as twice that in ulp of the product, then one
            # rounding: within 2 ulp (1.62 measured with the mean's scale, 0.55
            # without), as the double route, which redoes it below if a target is
            # neither 0 nor 1 (or the scale is out of the pair's range).
            if fabs(grad_scale) >= 1e-30 and fabs(grad_scale) <= 1e30:
                binary_grad = grad_out
            scale_hi = <float>grad_scale
            scale_lo = <float>(grad_scale - <double>scale_hi)
            bce_block_f32(z, y, n, loss_out if loss_out != NULL else exp_h,
                          sig_positive if grad_out != NULL else NULL, sig_negative,
                          binary_grad, scale_hi, scale_lo, &bad, &soft)
        else:
            for i in range(n):
                yi = y[i]
                bad |= target_outside_unit(yi)
            exp_parts_f32_array(z, exp_h, exp_lo, exp_scale, n)
            for i in range(n):
                log1p_parts_f32(exp_h[i], exp_lo[i], exp_scale[i], &log_hi, &log_lo)
                pos_loss[i] = unweighted_loss_f32(z[i], y[i], log_hi, log_lo)
    else:
        if floating is double and AVX512_EXP:
            # the exponentials in vector lanes; the targets' check joins the next loop
            exp_nonpositive_array(z, exps, n, True)
        else:
            for i in range(n):
                yi = y[i]
                bad |= target_outside_unit(yi)
                exps[i] = exp_nonpositive(-fabs(z[i]))
        if weighted:
            for i in range(n):
                if floating is double and AVX512_EXP:
                    bad |= target_outside_unit(y[i])
                neg_loss[i] = log1p_unit(exps[i])
        else:
            for i in range(n):
                if floating is double and AVX512_EXP:
                    bad |= target_outside_unit(y[i])
                pos_loss[i] = log1p_unit(exps[i]) + unweighted_linear_term(z[i], y[i])
    if weighted:
        for i in range(n):
            zi = z[i]
            yi = y[i]
            log_term = neg_loss[i]
            pos_loss[i] = yi * (log_term - (zi if zi < 0.0 else 0.0)) if yi != 0.0 else 0.0
            neg_loss[i] = ((1.0 - yi) * (log_term + (zi if zi > 0.0 else 0.0))
                           if yi != 1.0 else 0.0)
    bad_target[0] = bad
    if grad_out != NULL and not weighted and not (binary_grad != NULL and not soft):
        # (where binary_grad is set and the targets are all 0 or 1, bce_block_f32
        # wrote the gradient)
        # Unweighted: the gradient goes straight to grad_out, in one pass.
        for i in range(n):
            zi = z[i]
            yi = y[i]
            if floating is float and FLOAT32_ARITHMETIC:
                # σ(±|z|) in float32 (16 lanes, each within 1 ulp), combined in double
                if AVX512_EXP:
                    sig_large = sig_positive[i]
                    sig_small = sig_negative[i]
                else:
                    sigmoid_both_f32(exp_h[i], exp_lo[i], exp_scale[i], &sig_large, &sig_small)
                grad_out[i] = <floating>(((1.0 - yi) * (sig_large if zi >= 0.0 else sig_small)
                                          - yi * (sig_small if zi >= 0.0 else sig_large))
                                         * grad_scale)
            else:
                e = exps[i]
                # in double for float32 too (the baseline set): a float32 division
                # left σ within about 1.5 ulp, which the mean's scale can make 2.08
                # ulp of the product (tests/test_float32.py)
                inv = 1.0 / (1.0 + e)
                grad_out[i] = <floating>((-yi * ((e if zi >= 0.0 else 1.0) * inv)
                                          + (1.0 - yi) * ((1.0 if zi >= 0.0 else e) * inv))
                                         * grad_scale)
    if weighted:
        # The optional weights are copied in loops of their own (a missing one
        # becomes 1s): a load through a NULL pointer under a condition would be
        # vectorised as a masked load, which is legal but very slow.
        for i in range(n):
            pos_weights[i] = 1.0
            weights[i] = 1.0
        if pos_weight != NULL:
            for i in range(n):
                pos_weights[i] = pos_weight[i]
        if weight != NULL:
            for i in range(n):
                weights[i] = weight[i] * weight_scale
        for i in range(n):
            pw = pos_weights[i]
            pos = pw * pos_loss[i] if pw != 0.0 else 0.0
            pos_loss[i] = weights[i] * (pos + neg_loss[i])
        if grad_out != NULL:
            for i in range(n):
                zi = z[i]
                yi = y[i]
                e = exps[i]
                inv = 1.0 / (1.0 + e)
                pos_grad[i] = -yi * ((e if zi >= 0.0 else 1.0) * inv)
                neg_grad[i] = (1.0 - yi) * ((1.0 if zi >= 0.0 else e) * inv)
            for i in range(n):
                grad_out[i] = <floating>(weights[i] * (pos_weights[i] * pos_grad[i]
                                                       + neg_grad[i]) * grad_scale)
        for i in range(n):
            # nan logits propagate even where both coefficients are 0
            pos_loss[i] = z[i] if z[i] != z[i] else pos_loss[i]
    if floating is float and FLOAT32_ARITHMETIC and AVX512_EXP and not weighted:
        # bce_block_f32 wrote the losses to loss_out, or else to exp_h
        return 0.0 if loss_out != NULL else sum16_f32(exp_h, n)
    # pos_loss now holds the losses.
    if loss_out != NULL:
        for i in range(n):
            loss_out[i] = <floating>pos_loss[i]
        return 0.0
    return sum16(pos_loss, n)


cdef inline double bce_logits_block_at(Py_ssize_t b, const floating* z, const floating* y,
                                       const floating* w, const floating* pw,
                                       floating* losses, floating* grads, Py_ssize_t n,
                                       double weight_scale, double grad_scale,
                                       int* bad_target) noexcept nogil:
    # bce_logits_block on block b of n elements.
    cdef Py_ssize_t start = b * BLOCK
    return bce_logits_block(
        z + start, y + start, w + start if w != NULL else NULL,
        pw + start if pw != NULL else NULL, losses + start if losses != NULL else NULL,
        grads + start if grads != NULL else NULL, min(BLOCK, n - start), weight_scale,
        grad_scale, bad_target)


cdef double bce_logits_total(const floating* z, const floating* y, const floating* w,
                             const floating* pw, floating* losses, floating* grads,
                             Py_ssize_t n, bint per_element, double denominator,
                             double weight_scale, int n_threads, int* status) noexcept nogil:
    # The blocks of bce_logits_block over n elements, on n_threads; returns the
    # sum of the losses / denominator (nan when per_element).  status: 0, or 1 if a
    # target lies outside [0, 1] or is nan, or -1 if out of memory.
    cdef Py_ssize_t b
    cdef BlockResults blocks
    cdef double* block_sums
    cdef int* block_bad
    cdef double total, grad_scale = 1.0 if per_element else 1.0 / denominator
    if not block_results_open(&blocks, n_blocks(n)):
        status[0] = -1
        return NAN
    block_sums = blocks.sums
    block_bad = blocks.bad
    if worth_threads(n, n_threads):
        for b in prange(blocks.count, schedule="static", num_threads=n_threads):
            block_sums[b] = bce_logits_block_at(b, z, y, w, pw, losses, grads, n, weight_scale,
                                                grad_scale, &block_bad[b])
    else:
        # Not even a one-thread parallel region: it costs more than a small input.
        for b in range(blocks.count):
            block_sums[b] = bce_logits_block_at(b, z, y, w, pw, losses, grads, n, weight_scale,
                                                grad_scale, &block_bad[b])
    total = block_results_close(&blocks, status)
    return NAN if per_element else total / denominator


def binary_cross_entropy_with_logits_kernel(
        const floating[::1] logits, const floating[::1] targets, const floating[::1] weight,
        const floating[::1] pos_weight, floating[::1] loss_out, floating[::1] grad_out,
        double denominator, double weight_scale, int n_threads):
    """Losses (per element into loss_out, else sum / denominator) and, when grad_out
    is given, the gradient of that loss with respect to the logits.  weight,
    pos_weight, loss_out and grad_out may be None: absent.  Every weight is
    multiplied by weight_scale (see weight_total).

    Returns (total, targets_ok): targets_ok is False if a target lies outside
    [0, 1] or is nan, and then the results are meaningless (the caller raises).
    """
    cdef Py_ssize_t n = logits.shape[0]
    cdef double total
    cdef int status
    if (targets.shape[0] != n or (weight is not None and weight.shape[0] != n)
            or (pos_weight is not None and pos_weight.shape[0] != n)
            or (loss_out is not None and loss_out.shape[0] != n)
            or (grad_out is not None and grad_out.shape[0] != n)):
        raise ValueError("every array must have the logits' length")
    cdef const floating* z = &logits[0] if n > 0 else NULL
    cdef const floating* y = &targets[0] if n > 0 else NULL
    cdef const floating* w = &weight[0] if weight is not None and n > 0 else NULL
    cdef const floating* pw = &pos_weight[0] if pos_weight is not None and n > 0 else NULL
    cdef floating* losses = &loss_out[0] if loss_out is not None and n > 0 else NULL
    cdef floating* grads = &grad_out[0] if grad_out is not None and n > 0 else NULL
    with nogil:
        total = bce_logits_total(z, y, w, pw, losses, grads, n, loss_out is not None,
                                 denominator, weight_scale, n_threads, &status)
    if status < 0:
        raise MemoryError()
    return total, status == 0


cdef double plain_total(cnp.ndarray logits, cnp.ndarray targets, cnp.ndarray grad_out,
                        double denominator, int n_threads, int* status,
                        floating* element_type):
    # bce_logits_total on checked arrays; element_type (NULL) picks float or double.
    cdef const floating* z = <const floating*>cnp.PyArray_DATA(logits)
    cdef const floating* y = <const floating*>cnp.PyArray_DATA(targets)
    cdef floating* grads = <floating*>cnp.PyArray_DATA(grad_out) if grad_out is not None else NULL
    cdef Py_ssize_t n = cnp.PyArray_SIZE(logits)
    cdef double total
    if small_work(n):
        # small: keeping the GIL costs less than releasing and taking it back
        return bce_logits_total(z, y, <const floating*>NULL, <const floating*>NULL,
                                <floating*>NULL, grads, n, False, denominator, 1.0,
                                n_threads, status)
    with nogil:
        total = bce_logits_total(z, y, <const floating*>NULL, <const floating*>NULL,
                                 <floating*>NULL, grads, n, False, denominator, 1.0,
                                 n_threads, status)
    return total


def binary_cross_entropy_with_logits_plain(cnp.ndarray logits not None,
                                           cnp.ndarray targets not None,
                                           cnp.ndarray grad_out, double denominator,
                                           int n_threads):
    """The unweighted, reduced case of binary_cross_entropy_with_logits_kernel for
    arrays of any shape (grad_out may be None).  It takes the arrays themselves:
    acquiring memoryviews costs more than the work on a small input.

    Returns (sum of the losses / denominator, targets_ok).
    """
    cdef int type_num = cnp.PyArray_TYPE(logits), status
    cdef Py_ssize_t n = cnp.PyArray_SIZE(logits)
    cdef double total
    if not (type_num in (cnp.NPY_DOUBLE, cnp.NPY_FLOAT) and plain_array(logits, type_num, n)
            and plain_array(targets, type_num, n)
            and (grad_out is None or (plain_array(grad_out, type_num, n)
                                      and cnp.PyArray_ISWRITEABLE(grad_out)))):
        raise ValueError("logits, targets and grad_out must be C-contiguous float32 or "
                         "float64 arrays of one dtype and size")
    if type_num == cnp.NPY_DOUBLE:
        total = plain_total(logits, targets, grad_out, denominator, n_threads, &status,
                            <double*>NULL)
    else:
        total = plain_total(logits, targets, grad_out, denominator, n_threads, &status,
                            <float*>NULL)
    if status < 0:
        raise MemoryError()
    return total, status == 0


# --- softmax cross-entropy ----------------------------------------------------

cdef struct MeanScales:
    # The powers of two by which the sample weights (1 when absent), the class
    # weights and the coefficients class_weight * target are multiplied (1 unless
    # reduction="mean": see weight_total and index_target_weight_total).
    double weight_scale
    double class_scale
    double coefficient_scale


cdef inline void target_coefficients(Py_ssize_t k, Py_ssize_t target, const floating* probs,
                                     const floating* class_weight, double class_scale,
                                     double coefficient_scale, double hot, double smooth,
                                     double* a) noexcept nogil:
    # a_j = (t_j class_weight[j] class_scale) coefficient_scale with the smoothed target
    # t_j = hot * target_j + smooth, hot = 1 - ε, smooth = ε / k (coefficient_scale is 1
    # without class weights).  Separate loops, none loading through a pointer that may
    # be NULL: a vectorised masked load from NULL is legal but very slow.
    cdef Py_ssize_t j
    if probs != NULL:
        for j in range(k):
            a[j] = hot * probs[j] + smooth
    else:
        for j in range(k):
            a[j] = smooth
        a[target] += hot
    if class_weight != NULL:
        for j in range(k):
            a[j] = a[j] * (class_weight[j] * class_scale) * coefficient_scale


cdef inline double softmax_row_loss(const floating* z, Py_ssize_t k, const double* a,
                                    double w, floating* grad, double grad_scale, RowKind kind,
                                    double row_max, Py_ssize_t argmax, double rest,
                                    double log1p_rest, const double* exps) noexcept nogil:
    # loss = -w Σ_j a_j log_softmax(z)_j = w (A log(1 + s) - Σ_j a_j (z_j - m)),
    # with A = Σ_j a_j; both parts are >= 0, so nothing cancels.
    # grad_j = w (A softmax(z)_j - a_j).  exps: exp(z_j - m), or NULL to compute here.
    # At the argmax j*, softmax is 1/(1 + s), which rounds to 1 once s < 2^-53 and
    # takes the digits of A p - a with it: there grad = w (A' - a_j* s) / (1 + s)
    # with A' = Σ_{j != j*} a_j (the same value, exactly rearranged; nothing cancels
    # but the true difference), formed as A'/(1 + s) - a_j* (s/(1 + s)).
    cdef Py_ssize_t j, start, n
    cdef double a_total = 0.0, a_other = 0.0, shifted = 0.0, loss, inv_total
    cdef double block[EXP_BLOCK]
    for j in range(k):
        a_total += a[j]
        a_other += a[j] if j != argmax else 0.0
    if kind == ROW_FINITE:
        for j in range(k):
            shifted += a[j] * (z[j] - row_max) if a[j] != 0.0 else 0.0
        loss = w * (a_total * log1p_rest - shifted)
        if grad != NULL:
            inv_total = 1.0 / (1.0 + rest)
            if exps != NULL:
                for j in range(k):
                    grad[j] = <floating>(w * (a_total * exps[j] * inv_total - a[j]) * grad_scale)
            else:
                # a long row: its exponentials a block at a time
                start = 0
                while start < k:
                    n = exp_block(z + start, k - start, row_max, block)
                    for j in range(n):
                        grad[start + j] = <floating>(
                            w * (a_total * block[j] * inv_total - a[start + j]) * grad_scale)
                    start += n
            # s / (1 + s) <= 1 first: a[j*] s alone may overflow (s is up to k - 1)
            grad[argmax] = <floating>(w * (a_other * inv_total - a[argmax] * (rest * inv_total))
                                      * grad_scale)
        return loss
    if kind == ROW_ONE_POS_INF:
        # log_softmax is 0 at the +inf entry and -inf elsewhere; softmax is one-hot.
        loss = 0.0
        for j in range(k):
            if a[j] != 0.0 and j != argmax:
                loss = INFINITY
        loss = w * loss
        if grad != NULL:
            for j in range(k):
                grad[j] = <floating>(w * (a_other if j == argmax else 0.0 - a[j]) * grad_scale)
        return loss
    # nan somewhere, several +inf, or all -inf: no limit exists.
    if grad != NULL:
        for j in range(k):
            grad[j] = <floating>NAN
    return NAN


cdef inline double one_hot_limit_loss(Py_ssize_t k, Py_ssize_t target, double w,
                                      floating* grad, double grad_scale, RowKind kind,
                                      Py_ssize_t argmax) noexcept nogil:
    # softmax_row_loss for a row that is not finite with a = one-hot at target,
    # without the coefficient buffer (so one-hot targets never need one).
    cdef Py_ssize_t j
    if kind == ROW_ONE_POS_INF:
        if grad != NULL:
            for j in range(k):
                grad[j] = <floating>(w * ((1.0 if j == argmax else 0.0)
                                          - (1.0 if j == target else 0.0)) * grad_scale)
        return w * (0.0 if target == argmax else INFINITY)
    if grad != NULL:
        for j in range(k):
            grad[j] = <floating>NAN
    return NAN


cdef inline double one_hot_row_loss(const floating* z, Py_ssize_t k, Py_ssize_t target,
                                    double w, floating* grad, double grad_scale,
                                    double row_max, Py_ssize_t argmax, double rest,
                                    double log1p_rest, const double* exps) noexcept nogil:
    # softmax_row_loss for a finite row with a = one-hot at target, without the
    # coefficient buffer: loss = w (log(1 + s) - (z_t - m)), grad_j = w (softmax_j - [j = t]).
    # softmax_t - 1 is -s / (1 + s) when t is the argmax (1/(1 + s) rounds to 1
    # once s < 2^-53), else at most -1/2: nothing cancels.
    cdef Py_ssize_t j, start, n
    cdef double inv_total, p_target
    cdef double block[EXP_BLOCK]
    if grad != NULL:
        inv_total = 1.0 / (1.0 + rest)
        if exps != NULL:
            for j in range(k):
                grad[j] = <floating>(w * (exps[j] * inv_total) * grad_scale)
            p_target = exps[target] * inv_total
        else:
            # a long row: its exponentials a block at a time
            start = 0
            while start < k:
                n = exp_block(z + start, k - start, row_max, block)
                for j in range(n):
                    grad[start + j] = <floating>(w * (block[j] * inv_total) * grad_scale)
                start += n
            p_target = exp_nonpositive(z[target] - row_max) * inv_total
        # (0 - s, not -s: a row whose s underflows to 0 gets +0, as p - 1 gave)
        grad[target] = <floating>(w * ((0.0 - rest) * inv_total if target == argmax
                                       else p_target - 1.0) * grad_scale)
    return w * (log1p_rest - (z[target] - row_max))


cdef inline double softmax_sample_loss(
        const floating* z, Py_ssize_t k, Py_ssize_t r, const Py_ssize_t* index_targets,
        const floating* prob_targets, const floating* weight, const floating* class_weight,
        double hot, double smooth, Py_ssize_t ignore_index, bint has_ignore_index,
        bint one_hot, floating* grad_out, const MeanScales* scales, double grad_scale,
        double* a, RowKind kind, double row_max, Py_ssize_t argmax, double rest,
        double log1p_rest,
        const double* exps, int* bad_index) noexcept nogil:
    # The loss of sample r (z points at its row), and its gradient row when grad_out
    # is given.  An index outside [0, k) that is not ignore_index sets bad_index[0]
    # (the caller raises) and is never used.
    cdef Py_ssize_t j, target = index_targets[r] if index_targets != NULL else -1
    cdef double w = (weight[r] if weight != NULL else 1.0) * scales.weight_scale
    cdef floating* grad = grad_out + r * k if grad_out != NULL else NULL
    cdef bint ignored = index_targets != NULL and has_ignore_index and target == ignore_index
    if index_targets != NULL and not ignored and (target < 0 or target >= k):
        bad_index[0] = 1
        ignored = True
    if ignored:
        if grad != NULL:
            for j in range(k):
                grad[j] = 0
        return 0.0
    if one_hot and kind == ROW_FINITE:
        return one_hot_row_loss(z, k, target, w, grad, grad_scale, row_max, argmax, rest,
                                log1p_rest, exps)
    if one_hot:
        return one_hot_limit_loss(k, target, w, grad, grad_scale, kind, argmax)
    target_coefficients(k, target, prob_targets + r * k if prob_targets != NULL else NULL,
                        class_weight, scales.class_scale, scales.coefficient_scale, hot,
                        smooth, a)
    return softmax_row_loss(z, k, a, w, grad, grad_scale, kind, row_max, argmax, rest,
                            log1p_rest, exps)


cdef double softmax_block(const floating* z, Py_ssize_t k, Py_ssize_t first, Py_ssize_t stop,
                          const Py_ssize_t* index_targets, const floating* prob_targets,
                          const floating* weight, const floating* class_weight, double hot,
                          double smooth, Py_ssize_t ignore_index, bint has_ignore_index,
                          floating* loss_out, floating* grad_out, const MeanScales* scales,
                          double grad_scale, double* coefficients,
                          int* bad_index) noexcept nogil:
    # softmax_block_rows, but short float32 rows with one-hot targets and no weights
    # go sixteen at a time across vector lanes on the AVX-512 set (_softmax_rows.h).
    # The sixteen it declines (a nan, an infinite max, a target out of range: ignored
    # or bad) and the last few take the row path.  The groups start at ``first``
    # (a block's start), so the sums do not depend on the thread count.
    cdef Py_ssize_t r = first, end
    cdef int group_bad = 0
    cdef double total = 0.0
    cdef SoftmaxPlan plan
    if floating is float:
        if (SOFTMAX_ROWS_MAX_K > 0 and 2 <= k <= SOFTMAX_ROWS_MAX_K and stop - first >= 64
                and index_targets != NULL and weight == NULL and class_weight == NULL
                and smooth == 0.0 and hot == 1.0
                and (not has_ignore_index or ignore_index < 0 or ignore_index >= k)):
            softmax_plan_init(&plan, k)
            bad_index[0] = 0
            while r < stop:
                end = r + 16 if stop - r >= 16 else stop
                if end - r < 16 or not softmax_ce_rows16_f32(
                        &plan, z + r * k, index_targets + r, scales.weight_scale,
                        loss_out + r if loss_out != NULL else NULL, &total,
                        grad_out + r * k if grad_out != NULL else NULL, grad_scale):
                    total += softmax_block_rows(
                        z, k, r, end, index_targets, prob_targets, weight, class_weight,
                        hot, smooth, ignore_index, has_ignore_index, loss_out, grad_out,
                        scales, grad_scale, coefficients, &group_bad)
                    bad_index[0] |= group_bad
                r = end
            return total
    return softmax_block_rows(z, k, first, stop, index_targets, prob_targets, weight,
                              class_weight, hot, smooth, ignore_index, has_ignore_index,
                              loss_out, grad_out, scales, grad_scale, coefficients, bad_index)


cdef double softmax_block_rows(const floating* z, Py_ssize_t k, Py_ssize_t first,
                               Py_ssize_t stop, const Py_ssize_t* index_targets,
                               const floating* prob_targets, const floating* weight,
                               const floating* class_weight, double hot, double smooth,
                               Py_ssize_t ignore_index, bint has_ignore_index,
                               floating* loss_out, floating* grad_out,
                               const MeanScales* scales, double grad_scale,
                               double* coefficients, int* bad_index) noexcept nogil:
    # Rows [first, stop); returns the sum of their losses when loss_out is NULL.
    # bad_index: see softmax_sample_loss (set to 0 or 1 here).  coefficients: room
    # for k doubles, or NULL when k <= STACK_CLASSES (a buffer on the stack then).
    # Short rows are normalised a chunk at a time (normalize_rows), long rows one by one.
    cdef RowChunk chunk
    cdef RowNormalizer row
    cdef double stack_coefficients[STACK_CLASSES]
    cdef double* a = coefficients if coefficients != NULL else stack_coefficients
    cdef double loss, total = 0.0
    cdef Py_ssize_t r, i, start, n, per_chunk = rows_per_chunk(k)
    # Index targets without class weights or smoothing: the coefficients are one-hot.
    cdef bint one_hot = (index_targets != NULL and class_weight == NULL and smooth == 0.0
                         and hot == 1.0)
    bad_index[0] = 0
    if k <= ROW_CHUNK:
        start = first
        while start < stop:
            n = min(per_chunk, stop - start)
            normalize_rows(z + start * k, k, n, &chunk)
            for i in range(n):
                r = start + i
                loss = softmax_sample_loss(
                    z + r * k, k, r, index_targets, prob_targets, weight, class_weight, hot,
                    smooth, ignore_index, has_ignore_index, one_hot, grad_out, scales,
                    grad_scale, a,
                    chunk.kind[i], chunk.max[i], chunk.argmax[i], chunk.rest[i],
                    chunk.log1p_rest[i], chunk.exps + i * k, bad_index)
                if loss_out != NULL:
                    loss_out[r] = <floating>loss
                else:
                    total += loss
            start += n
    else:
        for r in range(first, stop):
            row = normalize_row(z + r * k, k)
            loss = softmax_sample_loss(
                z + r * k, k, r, index_targets, prob_targets, weight, class_weight, hot,
                smooth, ignore_index, has_ignore_index, one_hot, grad_out, scales,
                grad_scale, a,
                row.kind, row.max, row.argmax, row.rest, row.log1p_rest, NULL, bad_index)
            if loss_out != NULL:
                loss_out[r] = <floating>loss
            else:
                total += loss
    return total


def softmax_cross_entropy_kernel(
        const floating[::1] logits, Py_ssize_t k, const Py_ssize_t[::1] index_targets,
        const floating[::1] prob_targets, const floating[::1] weight,
        const floating[::1] class_weight, double label_smoothing, Py_ssize_t ignore_index,
        bint has_ignore_index, floating[::1] loss_out, floating[::1] grad_out,
        double denominator, double weight_scale, double class_scale,
        double coefficient_scale, int n_threads):
    """Softmax cross-entropy of the rows of logits (m, k), flattened.

    Targets are index_targets (length m, every index in [0, k) or ignore_index)
    or prob_targets (length m*k), the other one None.  weight (m), class_weight
    (k), loss_out (m) and grad_out (m*k) may be None: absent.  Per-sample losses
    go to loss_out when given, else the sum / denominator is returned; grad_out
    gets the gradient when given.  Every sample's weight (1 when absent) is
    multiplied by weight_scale, every class weight by class_scale and every
    coefficient class_weight * target by coefficient_scale (see weight_total
    and index_target_weight_total).

    Returns (total, indices_ok): indices_ok is False if an index target lies
    outside [0, k) and is not ignore_index (such a sample is skipped; the caller
    raises).
    """
    if k < 1 or logits.shape[0] % k != 0:
        raise ValueError("the logits must hold whole rows of k >= 1 values")
    cdef Py_ssize_t m = logits.shape[0] // k
    if ((index_targets is None) == (prob_targets is None)
            or (index_targets is not None and index_targets.shape[0] != m)
            or (prob_targets is not None and prob_targets.shape[0] != m * k)
            or (weight is not None and weight.shape[0] != m)
            or (class_weight is not None and class_weight.shape[0] != k)
            or (loss_out is not None and loss_out.shape[0] != m)
            or (grad_out is not None and grad_out.shape[0] != m * k)):
        raise ValueError("the arrays' lengths do not match the logits' rows")
    cdef int team = softmax_team(m, n_threads)
    cdef cnp.ndarray scratch = coefficient_rows(
        k, m, team, index_targets is not None and class_weight is None and label_smoothing == 0)
    cdef BlockResults blocks
    if not block_results_open(&blocks, n_blocks(m)):
        raise MemoryError()
    cdef int bad
    cdef bint per_element = loss_out is not None
    cdef double hot = 1.0 - label_smoothing, smooth = label_smoothing / k
    cdef double grad_scale = 1.0 if per_element else 1.0 / denominator
    cdef MeanScales scales
    scales.weight_scale = weight_scale
    scales.class_scale = class_scale
    scales.coefficient_scale = coefficient_scale
    cdef double total
    cdef const floating* z = &logits[0] if m > 0 else NULL
    cdef const Py_ssize_t* index = (&index_targets[0] if index_targets is not None and m > 0
                                    else NULL)
    cdef const floating* probs = (&prob_targets[0] if prob_targets is not None and m > 0
                                  else NULL)
    cdef const floating* w = &weight[0] if weight is not None and m > 0 else NULL
    cdef const floating* cw = &class_weight[0] if class_weight is not None else NULL
    cdef floating* losses = &loss_out[0] if per_element and m > 0 else NULL
    cdef floating* grads = &grad_out[0] if grad_out is not None and m > 0 else NULL
    cdef double* coefficients = <double*>cnp.PyArray_DATA(scratch) if scratch is not None else NULL
    with nogil:
        total = softmax_blocks(z, k, m, index, probs, w, cw, hot, smooth, ignore_index,
                               has_ignore_index, losses, grads, &scales, grad_scale,
                               coefficients, team, &blocks, &bad)
    return (NAN if per_element else total / denominator), not bad


cdef inline int softmax_team(Py_ssize_t m, int n_threads) noexcept nogil:
    # The threads for m rows: no more than their blocks.
    return <int>min(<Py_ssize_t>n_threads, max(n_blocks(m), 1))


cdef inline Py_ssize_t coefficient_stride(Py_ssize_t k) noexcept nogil:
    # k doubles padded to 64 bytes, so that threads do not share a cache line.
    return (k + 7) // 8 * 8


cdef cnp.ndarray coefficient_rows(Py_ssize_t k, Py_ssize_t m, int team, bint one_hot):
    # Rows longer than STACK_CLASSES get their target coefficients in a row of
    # this array per thread of softmax_blocks; None for shorter rows and one-hot
    # targets (which need none).  Allocated here, with the GIL, where a failure
    # raises MemoryError.
    if k <= STACK_CLASSES or one_hot:
        return None
    return np.empty((team if worth_threads(m * k, team) else 1) * coefficient_stride(k))


cdef double softmax_blocks(const floating* z, Py_ssize_t k, Py_ssize_t m,
                           const Py_ssize_t* index, const floating* probs, const floating* w,
                           const floating* cw, double hot, double smooth,
                           Py_ssize_t ignore_index, bint has_ignore_index, floating* losses,
                           floating* grads, const MeanScales* scales, double grad_scale,
                           double* coefficients, int team, BlockResults* blocks,
                           int* bad) noexcept nogil:
    # softmax_block over every block of rows, on team threads (softmax_team);
    # returns the sum of the block sums and closes ``blocks`` (see
    # block_results_close).  coefficients: coefficient_rows' buffer, or NULL.
    cdef Py_ssize_t b, stride = coefficient_stride(k)
    cdef double* block_sums = blocks.sums
    cdef int* block_bad = blocks.bad
    if worth_threads(m * k, team):
        for b in prange(blocks.count, schedule="static", num_threads=team):
            block_sums[b] = softmax_block(
                z, k, b * BLOCK, min(b * BLOCK + BLOCK, m), index, probs, w, cw, hot, smooth,
                ignore_index, has_ignore_index, losses, grads, scales, grad_scale,
                coefficients + threadid() * stride if coefficients != NULL else NULL,
                &block_bad[b])
    else:
        # Not even a one-thread parallel region: it costs more than a small input.
        for b in range(blocks.count):
            block_sums[b] = softmax_block(
                z, k, b * BLOCK, min(b * BLOCK + BLOCK, m), index, probs, w, cw, hot, smooth,
                ignore_index, has_ignore_index, losses, grads, scales, grad_scale,
                coefficients, &block_bad[b])
    return block_results_close(blocks, bad)


cdef double plain_softmax_total(cnp.ndarray logits, Py_ssize_t k, cnp.ndarray targets,
                                cnp.ndarray grad_out, double grad_scale, int team,
                                BlockResults* blocks, int* bad, floating* element_type):
    # softmax_blocks for one-hot index targets on checked arrays, unweighted (no
    # coefficient buffer: one-hot rows need none); element_type (NULL) picks
    # float or double.
    cdef const floating* z = <const floating*>cnp.PyArray_DATA(logits)
    cdef const Py_ssize_t* index = <const Py_ssize_t*>cnp.PyArray_DATA(targets)
    cdef floating* grads = <floating*>cnp.PyArray_DATA(grad_out) if grad_out is not None else NULL
    cdef Py_ssize_t m = cnp.PyArray_SIZE(targets)
    cdef MeanScales unit
    unit.weight_scale = 1.0
    unit.class_scale = 1.0
    unit.coefficient_scale = 1.0
    cdef double total
    if small_work(m * k):
        # small: keeping the GIL costs less than releasing and taking it back
        return softmax_blocks(z, k, m, index, <const floating*>NULL, <const floating*>NULL,
                              <const floating*>NULL, 1.0, 0.0, -1, False, <floating*>NULL,
                              grads, &unit, grad_scale, NULL, team, blocks, bad)
    with nogil:
        total = softmax_blocks(z, k, m, index, <const floating*>NULL, <const floating*>NULL,
                               <const floating*>NULL, 1.0, 0.0, -1, False, <floating*>NULL,
                               grads, &unit, grad_scale, NULL, team, blocks, bad)
    return total


def softmax_cross_entropy_plain(cnp.ndarray logits not None, cnp.ndarray targets not None,
                                cnp.ndarray grad_out, double denominator, int n_threads):
    """The reduced case of softmax_cross_entropy_kernel with class-index targets and
    no weights, smoothing or ignore_index, for logits (..., k) and intp targets (...)
    as arrays (grad_out of the logits' shape, or None): acquiring memoryviews costs
    more than the work on a small input.

    Returns (sum of the losses / denominator, indices_ok), as the kernel does.
    """
    cdef int type_num = cnp.PyArray_TYPE(logits)
    cdef Py_ssize_t k = logits.shape[logits.ndim - 1] if logits.ndim > 0 else 0
    cdef Py_ssize_t m = cnp.PyArray_SIZE(targets)
    if not ((type_num == cnp.NPY_DOUBLE or type_num == cnp.NPY_FLOAT) and k > 0
            and plain_array(logits, type_num, m * k) and plain_array(targets, cnp.NPY_INTP, m)
            and (grad_out is None or (plain_array(grad_out, type_num, m * k)
                                      and cnp.PyArray_ISWRITEABLE(grad_out)))):
        raise ValueError("logits (..., k), targets (...) and grad_out must be C-contiguous "
                         "arrays: float32 or float64 of one dtype, and intp targets")
    cdef int team = softmax_team(m, n_threads)
    cdef BlockResults blocks
    cdef int bad
    cdef double total
    if not block_results_open(&blocks, n_blocks(m)):
        raise MemoryError()
    if type_num == cnp.NPY_DOUBLE:
        total = plain_softmax_total(logits, k, targets, grad_out, 1.0 / denominator, team,
                                    &blocks, &bad, <double*>NULL)
    else:
        total = plain_softmax_total(logits, k, targets, grad_out, 1.0 / denominator, team,
                                    &blocks, &bad, <float*>NULL)
    return total / denominator, not bad
