/* Softmax cross-entropy of sixteen short float32 rows at a time, one-hot index
 * targets, no weights (AVX-512 set; included from _vmath.pxd after the double
 * exponential's pieces, xf_exp_reduce_v8 and the 2^(j/16) table).
 *
 * The row-by-row path scans each row for its max, then sums its exponentials
 * and takes a log, per row: for rows of ten that bookkeeping, not the
 * arithmetic, is most of the time.  Here the rows' entries are shuffled class
 * by class into vector lanes (lane r holds row r), so that the max, the
 * exponentials, the sum and the log run across the rows at once, and the
 * gradient is shuffled back the same way (vpermt2ps; gathers and scatters cost
 * about 14 cycles per 8 floats on Zen 4).  The arithmetic is the row-by-row
 * path's, in double: z_j - m exact, e_j = exp(z_j - m), s = the sum of e_j over
 * j but the first max (Blanchard, Higham & Higham), loss = w (log(1 + s) - (z_t -
 * m)), grad_j = w e_j / (1 + s) but at the target: w ((0 - s) / (1 + s)) where it
 * is a max, w (e_t / (1 + s) - 1) elsewhere.  e_j (xf_exp_nonpositive_rough_v8),
 * s (added in class order) and log(1 + s) (xf_log1p_nonnegative_v8) differ from
 * the row path's by 2^-34 relative at most: far below a float32 ulp.
 */
#ifndef XENTFAST_SOFTMAX_ROWS_H
#define XENTFAST_SOFTMAX_ROWS_H

#include "_inline.h"

#define XF_SOFTMAX_ROWS_MAX_K 16

/* e^x for x <= 0 (or nan) to about 2^-34 relative: xf_exp_nonpositive_v8's
 * reduction (xf_exp_reduce_v8: x = (n/16) ln 2 + r, |r| <= ln2/32) without the
 * low parts of ln 2 / 16 and of the table (each below 2^-45 here) and with e^r - 1
 * = r + r^2 (1/2 + r/6 + r^2/24) (truncation r^5/120 < 2^-34.5): 11 operations
 * instead of 18.  For
 * the softmax rows, whose results are float32: an e_j within 2^-34 moves the
 * loss (about s where it is small) and the gradient e_j / (1 + s) by far less
 * than their float32 rounding. */
XF_INLINE __m512d xf_exp_nonpositive_rough_v8(__m512d x) {
    __m512d n16;
    __m512i j;
    __m512d r = xf_exp_reduce_v8(x, &n16, &j);
    __m512d t = _mm512_permutex2var_pd(XF_EXP2_SIXTEENTHS_LOW, j, XF_EXP2_SIXTEENTHS_HIGH);
    __m512d q = _mm512_fmadd_pd(_mm512_fmadd_pd(r, _mm512_set1_pd(1.0 / 24.0),
                                                _mm512_set1_pd(1.0 / 6.0)),
                                r, _mm512_set1_pd(0.5));
    __m512d p = _mm512_fmadd_pd(_mm512_mul_pd(r, r), q, r);
    return _mm512_scalef_pd(_mm512_fmadd_pd(t, p, t), n16);
}

/* log(1 + u) for u in [0, 1] (and nan), no division: j = min(round(16 u), 15)
 * picks c_j = 1/(1 + j/16) rounded and -log c_j = LH + LL (a double pair, to
 * 2^-106), one permute each; r = (1 + u) c_j - 1 = u c_j + (c_j - 1) by one FMA
 * (c_j - 1 exact by Sterbenz; r = u for j = 0), |r| <= 0.0323; log(1 + r) = r +
 * r^2 q(r), q the Taylor polynomial of degree 9 (truncation below 2^-58 of the
 * result).  T = LH + r by Fast2Sum (|LH| > |r| where LH != 0), the rest in a
 * tail: within about 0.8 ulp (the last rounding, and r's where j >= 1). */
XF_INLINE __m512d xf_log1p_unit_v8(__m512d u) {
    const __m512d c_low = _mm512_setr_pd(
        1.0, 0.9411764705882353, 0.8888888888888888, 0.8421052631578947,
        0.8, 0.7619047619047619, 0.7272727272727273, 0.6956521739130435);
    const __m512d c_high = _mm512_setr_pd(
        0.6666666666666666, 0.64, 0.6153846153846154, 0.5925925925925926,
        0.5714285714285714, 0.5517241379310345, 0.5333333333333333, 0.5161290322580645);
    const __m512d lh_low = _mm512_setr_pd(
        0.0, 0.060624621816434854, 0.11778303565638351, 0.17185025692665928,
        0.2231435513142097, 0.2719337154836418, 0.3184537311185346, 0.3629054936893685);
    const __m512d lh_high = _mm512_setr_pd(
        0.40546510810816444, 0.4462871026284195, 0.48550781578170077, 0.5232481437645479,
        0.5596157879354228, 0.5947071077466928, 0.6286086594223742, 0.661398482245365);
    const __m512d ll_low = _mm512_setr_pd(
        0.0, 2.6424025938726934e-18, -1.1971685747593662e-18, -6.022453821011369e-18,
        -9.091270597324798e-18, 7.833196376974436e-19, -6.407962483026777e-19,
        6.2632141603179415e-18);
    const __m512d ll_high = _mm512_setr_pd(
        -2.881138025962641e-18, 1.6511928324886544e-17, -1.6618350693852045e-17,
        2.3677269014906905e-17, -2.8656225429134744e-17, 2.7629477772138132e-17,
        -5.360577204673081e-17, 2.015224182999491e-17);
    /* 16 u + 1.5 * 2^52 holds round(16 u) in its low bits */
    const __m512d shift = _mm512_set1_pd(6755399441055744.0);
    __m512i j = _mm512_castpd_si512(_mm512_min_pd(
        _mm512_fmadd_pd(u, _mm512_set1_pd(16.0), shift),
        _mm512_set1_pd(6755399441055759.0)));                     /* shift + 15 */
    __m512d c = _mm512_permutex2var_pd(c_low, j, c_high);
    __m512d lh = _mm512_permutex2var_pd(lh_low, j, lh_high);
    __m512d ll = _mm512_permutex2var_pd(ll_low, j, ll_high);
    __m512d r = _mm512_fmadd_pd(u, c, _mm512_sub_pd(c, _mm512_set1_pd(1.0)));
    __m512d q = _mm512_set1_pd(1.0 / 11.0);
    q = _mm512_fmadd_pd(q, r, _mm512_set1_pd(-0.1));
    q = _mm512_fmadd_pd(q, r, _mm512_set1_pd(1.0 / 9.0));
    q = _mm512_fmadd_pd(q, r, _mm512_set1_pd(-0.125));
    q = _mm512_fmadd_pd(q, r, _mm512_set1_pd(1.0 / 7.0));
    q = _mm512_fmadd_pd(q, r, _mm512_set1_pd(-1.0 / 6.0));
    q = _mm512_fmadd_pd(q, r, _mm512_set1_pd(0.2));
    q = _mm512_fmadd_pd(q, r, _mm512_set1_pd(-0.25));
    q = _mm512_fmadd_pd(q, r, _mm512_set1_pd(1.0 / 3.0));
    q = _mm512_fmadd_pd(q, r, _mm512_set1_pd(-0.5));
    __m512d T = _mm512_add_pd(lh, r);
    __m512d tail = _mm512_add_pd(_mm512_add_pd(_mm512_sub_pd(lh, T), r),
                                 _mm512_fmadd_pd(_mm512_mul_pd(r, r), q, ll));
    return _mm512_add_pd(T, tail);
}

/* log(1 + s) for finite s >= 0, given inv = 1/(1 + s) (rounded): w = 1 + s
 * rounded and its error err = s - (w - 1), both exact (w - 1 is a multiple of
 * w's last bit, and close to s); w = 2^E M with M in [1, 2), so log(1 + s) = E
 * ln 2 + log(1 + (M - 1)) + log(1 + err / w), the last as err inv (|err / w| <=
 * 2^-53; it is the whole result where s < 2^-53 and w = 1). */
XF_INLINE __m512d xf_log1p_nonnegative_v8(__m512d s, __m512d inv) {
    const __m512d one = _mm512_set1_pd(1.0);
    __m512d w = _mm512_add_pd(one, s);
    __m512d err = _mm512_sub_pd(s, _mm512_sub_pd(w, one));
    __m512d M = _mm512_getmant_pd(w, _MM_MANT_NORM_1_2, _MM_MANT_SIGN_zero);
    __m512d E = _mm512_getexp_pd(w);
    __m512d log_M = xf_log1p_unit_v8(_mm512_sub_pd(M, one));
    /* ln 2 = LN2_HI + LN2_LO, E LN2_HI exact (E <= 1023) */
    __m512d low = _mm512_fmadd_pd(E, _mm512_set1_pd(1.9082149292705877e-10),
                                  _mm512_mul_pd(err, inv));
    return _mm512_add_pd(_mm512_fmadd_pd(E, _mm512_set1_pd(6.93147180369123816490e-01),
                                         log_M), low);
}

/* The lane shuffles that move sixteen rows of k floats (k vectors, row-major)
 * into k vectors of one class each (lane r = row r), and back.  Position p =
 * r k + j of the rows sits in vector p / 16, lane p % 16; vpermt2ps picks
 * lanes from a pair of vectors, so a class gathers from each pair in turn
 * (masked: the lanes whose position lies in that pair), and a vector of rows
 * from each pair of classes.  About k^2 / 16 shuffles per row each way. */
typedef struct {
    Py_ssize_t k, pairs;                                  /* pairs = ceil(k / 2) */
    /* the permutes' indices: for rows to classes one per class (the same for
       every pair: a small table matters, L1 is shared with the rows), for classes
       to rows one per row vector and pair */
    __m512i class_index[XF_SOFTMAX_ROWS_MAX_K];
    __m512i row_index[XF_SOFTMAX_ROWS_MAX_K][XF_SOFTMAX_ROWS_MAX_K / 2];
    /* [0]: rows to classes, [1]: classes to rows; output vector, source pair */
    __mmask16 take[2][XF_SOFTMAX_ROWS_MAX_K][XF_SOFTMAX_ROWS_MAX_K / 2];
} XfSoftmaxPlan;

enum { XF_TO_CLASSES = 0, XF_TO_ROWS = 1 };

static inline void xf_softmax_plan_init(XfSoftmaxPlan* plan, Py_ssize_t k) {
    int index[16];
    Py_ssize_t out, pair, lane;
    plan->k = k;
    plan->pairs = (k + 1) / 2;
    for (out = 0; out < k; out++) {
        /* class out: lane r is position r k + out, in pair (r k + out) / 32 */
        for (lane = 0; lane < 16; lane++)
            index[lane] = (int)((lane * k + out) % 32);
        plan->class_index[out] = _mm512_loadu_si512((const void*)index);
        for (pair = 0; pair < plan->pairs; pair++) {
            __mmask16 to_classes = 0, to_rows = 0;
            for (lane = 0; lane < 16; lane++)
                if ((lane * k + out) / 32 == pair)
                    to_classes |= (__mmask16)(1u << lane);
            plan->take[XF_TO_CLASSES][out][pair] = to_classes;
            /* row vector out: lane l is position 16 out + l, row r = p / k of class
               c = p % k, in the pair of classes 2 pair and 2 pair + 1 */
            for (lane = 0; lane < 16; lane++) {
                Py_ssize_t p = 16 * out + lane, c = p % k;
                index[lane] = (int)(p / k + 16 * (c % 2));
                if (c / 2 == pair)
                    to_rows |= (__mmask16)(1u << lane);
            }
            plan->row_index[out][pair] = _mm512_loadu_si512((const void*)index);
            plan->take[XF_TO_ROWS][out][pair] = to_rows;
        }
    }
}

/* out[0..k) from src[0..k): rows to classes or back (direction) */
XF_INLINE void xf_softmax_shuffle(const XfSoftmaxPlan* plan, int direction,
                                  const __m512* src, __m512* out) {
    Py_ssize_t i, pair, k = plan->k;
    for (i = 0; i < k; i++) {
        __m512 v = _mm512_setzero_ps();
        for (pair = 0; pair < plan->pairs; pair++) {
            __mmask16 take = plan->take[direction][i][pair];
            /* an odd k's last pair has one vector: the lanes from the other are not taken */
            if (take)
                v = _mm512_mask_mov_ps(v, take, _mm512_permutex2var_ps(
                    src[2 * pair], direction == XF_TO_CLASSES ? plan->class_index[i]
                                                              : plan->row_index[i][pair],
                    src[2 * pair + 1 < k ? 2 * pair + 1 : 2 * pair]));
        }
        out[i] = v;
    }
}

/* Rows 0..15 of k (2 <= k <= XF_SOFTMAX_ROWS_MAX_K) float32 logits at z (16 k
 * contiguous floats), their targets (0 <= t < k, else the rows are left to the
 * row path) and the sample weight w (the mean's scale).  Adds the sixteen losses
 * to *loss_sum (loss_out NULL) or stores them in loss_out[0..16); grad (NULL:
 * none) gets the gradient rows, times grad_scale.  Returns 0, touching nothing,
 * where a row holds a nan or an infinite max or a target is out of range. */
static inline int xf_softmax_ce_rows16_f32(const XfSoftmaxPlan* plan, const float* z,
                                           const Py_ssize_t* targets, double w,
                                           float* loss_out, double* loss_sum, float* grad,
                                           double grad_scale) {
    __m512 rows[XF_SOFTMAX_ROWS_MAX_K], classes[XF_SOFTMAX_ROWS_MAX_K];
    __m512d e[2][XF_SOFTMAX_ROWS_MAX_K];
    __m512d inv[2], top_value[2];
    __m512i t[2];
    __mmask8 target_is_max[2];
    const Py_ssize_t k = plan->k;
    const __m512d zero = _mm512_setzero_pd(), one = _mm512_set1_pd(1.0);
    const __m512d wv = _mm512_set1_pd(w);
    Py_ssize_t j;
    int h;
    __mmask16 unordered = 0;
    __m512 max16 = _mm512_set1_ps(-INFINITY);
    for (j = 0; j < k; j++)
        rows[j] = _mm512_loadu_ps(z + 16 * j);
    xf_softmax_shuffle(plan, XF_TO_CLASSES, rows, classes);
    for (j = 0; j < k; j++) {
        unordered |= _mm512_cmp_ps_mask(classes[j], classes[j], _CMP_UNORD_Q);
        max16 = _mm512_max_ps(max16, classes[j]);
    }
    t[0] = _mm512_loadu_si512((const void*)targets);
    t[1] = _mm512_loadu_si512((const void*)(targets + 8));
    /* unsigned: a negative target is out of range too */
    if (unordered
        | _mm512_cmp_ps_mask(_mm512_abs_ps(max16), _mm512_set1_ps(INFINITY), _CMP_EQ_OQ)
        | _mm512_cmp_epu64_mask(t[0], _mm512_set1_epi64((long long)k), _MM_CMPINT_NLT)
        | _mm512_cmp_epu64_mask(t[1], _mm512_set1_epi64((long long)k), _MM_CMPINT_NLT))
        return 0;
    for (h = 0; h < 2; h++) {
        __m512d m = _mm512_cvtps_pd(h ? _mm512_extractf32x8_ps(max16, 1)
                                      : _mm512_castps512_ps256(max16));
        /* s = the sum of e_j over the entries below the max, plus one for each
           max but the first (their e_j is 1): the row path's s, in another order.
           The maxes are counted apart: a 1 added to the small terms would round
           them away. */
        __m512d s = zero, maxes = _mm512_set1_pd(-1.0), z_target = zero, loss;
        for (j = 0; j < k; j++) {
            __m512d v = _mm512_cvtps_pd(h ? _mm512_extractf32x8_ps(classes[j], 1)
                                          : _mm512_castps512_ps256(classes[j]));
            __mmask8 is_target = _mm512_cmpeq_epi64_mask(t[h], _mm512_set1_epi64((long long)j));
            e[h][j] = xf_exp_nonpositive_rough_v8(_mm512_sub_pd(v, m));
            s = _mm512_mask_add_pd(s, _mm512_cmp_pd_mask(v, m, _CMP_LT_OQ), s, e[h][j]);
            maxes = _mm512_mask_add_pd(maxes, _mm512_cmp_pd_mask(v, m, _CMP_EQ_OQ), maxes, one);
            z_target = _mm512_mask_mov_pd(z_target, is_target, v);
        }
        s = _mm512_add_pd(s, maxes);
        inv[h] = _mm512_div_pd(one, _mm512_add_pd(one, s));
        loss = _mm512_mul_pd(wv, _mm512_sub_pd(xf_log1p_nonnegative_v8(s, inv[h]),
                                               _mm512_sub_pd(z_target, m)));
        if (loss_out != NULL)
            _mm256_storeu_ps(loss_out + 8 * h, _mm512_cvtpd_ps(loss));
        else
            *loss_sum += _mm512_reduce_add_pd(loss);
        target_is_max[h] = _mm512_cmp_pd_mask(z_target, m, _CMP_EQ_OQ);
        /* at a target that is a max: (0 - s) / (1 + s) (0 - s: +0 for s = 0) */
        top_value[h] = _mm512_mul_pd(_mm512_sub_pd(zero, s), inv[h]);
    }
    if (grad != NULL) {
        const __m512d scale = _mm512_set1_pd(w * grad_scale);
        for (j = 0; j < k; j++) {
            __m256 half[2];
            for (h = 0; h < 2; h++) {
                __mmask8 is_target = _mm512_cmpeq_epi64_mask(t[h], _mm512_set1_epi64((long long)j));
                __m512d p = _mm512_mul_pd(e[h][j], inv[h]);
                /* at the target: e_t / (1 + s) - 1, or (0 - s) / (1 + s) at a max */
                __m512d target_value = _mm512_mask_blend_pd(
                    target_is_max[h], _mm512_sub_pd(p, one), top_value[h]);
                half[h] = _mm512_cvtpd_ps(_mm512_mul_pd(
                    _mm512_mask_blend_pd(is_target, p, target_value), scale));
            }
            classes[j] = _mm512_insertf32x8(_mm512_castps256_ps512(half[0]), half[1], 1);
        }
        xf_softmax_shuffle(plan, XF_TO_ROWS, classes, rows);
        for (j = 0; j < k; j++)
            _mm512_storeu_ps(grad + 16 * j, rows[j]);
    }
    return 1;
}

#endif
