/* log(1 + f) in float32 arithmetic, 16 lanes (AVX-512 set), for f = fh + fl in
 * [-1/2, 1] with |fl| small against fh: no division, a table in registers.
 * Shared by log_sigmoid / softplus / BCE (f = e^-|x| in [0, 1], _vmath.pxd) and
 * the information measures' log q and log(p / q) (_information_f32.h).
 *
 * The entry: j = min(round(16 fh), 15) picks c_j ~ 1/(1 + j/16) (entries
 * 0-15); where fh < -1/64 (two_sided only), t = round(-32 fh) in [1, 16] picks
 * c ~ 1/(1 - t/32) (entries 16-31).  Each c has 12 significant bits (c_0 = 1),
 * and -log c = LH + LL (a float32 pair, to about 2^-48).  Then (1 + f) c = 1 +
 * rh + rl: fh c = P + Pl exactly (FMA), and rh = P + (c - 1) is exact: Sterbenz
 * for j >= 2 and t >= 2 (P and 1 - c within [1/2, 2] of each other), rh = fh for
 * entry 0, and for j = 1 and t = 1 because |rh| < 2^-5 and both terms are
 * multiples of 2^-29 (checked for every float32 fh in [-1/2, 1]).  rl = fl c +
 * Pl, and |rh| <= 0.03223 < 1/31.
 *
 * log(1 + f) = LH + LL + log(1 + r), log(1 + r) = rh + rh^2 q(rh) + rl (1 - rh)
 * (the rl^2 left out is below 2^-48), q of degree 3 fitted to (log(1 + r) - r) /
 * r^2 on Chebyshev nodes of |r| <= 1/31 (2^-24 relative; the term is below 2^-6
 * of the result).  T = LH + rh and its error by Fast2Sum (|LH| > |rh| where LH
 * != 0); small holds the rest, below 2^-6 of the result and rounded at its own
 * size.  T + small is within about 2^-28.5 relative of log(1 + f) (the roundings
 * of rh^2, q's Horner step and small, each 2^-24 on a term below 1/62 of the
 * result, and q's fit; 2^-28.8 measured).
 */
#ifndef XENTFAST_LOG1P_F32_H
#define XENTFAST_LOG1P_F32_H

#include "_inline.h"

#if defined(__AVX512F__) && defined(__AVX512DQ__)
#include <immintrin.h>

/* Keeps the compiler from fusing a rounded product into the next addition
 * (-ffp-contract=fast, gcc's default, may turn P + (c - 1) into an FMA of the exact
 * product, which would no longer leave Pl as P's error). */
#if defined(__GNUC__) || defined(__clang__)
#define XF_KEEP_ROUNDED(x) __asm__("" : "+v"(x))
#else
#define XF_KEEP_ROUNDED(x) ((void)0)
#endif

/* two_sided and low_part are constants at each call: two_sided 0 where fh >= 0
 * (one register per table), low_part 0 where fl is 0 (an FMA saved: the compiler
 * cannot drop fl c itself, which is nan for an infinite c). */
XF_INLINE void xf_log1p_table_v16(__m512 fh, __m512 fl, const int two_sided,
                                  const int low_part, __m512* T_out, __m512* small_out) {
    const __m512 c_low = _mm512_setr_ps(
        1.0f, 0.941162109375f, 0.888916015625f, 0.842041015625f,
        0.800048828125f, 0.761962890625f, 0.727294921875f, 0.695556640625f,
        0.666748046875f, 0.639892578125f, 0.615478515625f, 0.592529296875f,
        0.571533203125f, 0.5517578125f, 0.533447265625f, 0.51611328125f);
    const __m512 lh_low = _mm512_setr_ps(
        0.0f, 0.0606398805975914f, 0.11775252223014832f, 0.1719265580177307f,
        0.2230825126171112f, 0.2718574106693268f, 0.31842321157455444f,
        0.36304283142089844f, 0.40534305572509766f, 0.4464549720287323f,
        0.4853552281856537f, 0.5233549475669861f, 0.5594326853752136f,
        0.5946460962295532f, 0.6283950805664062f, 0.6614289879798889f);
    const __m512 ll_low = _mm512_setr_ps(
        0.0f, 1.2432245510840545e-10f, -3.6862379815261193e-09f, -4.235227724080914e-09f,
        5.4034177132678e-09f, 1.377923730672137e-08f, 2.4315069957481228e-09f,
        8.005369700470055e-10f, -1.0479459078283071e-08f, -8.632794923357778e-09f,
        1.1345770545290179e-08f, 1.3425756506535436e-08f, 1.3853219016368712e-08f,
        -2.177654145896213e-08f, -2.137675281232987e-08f, 1.2309271824051393e-08f);
    const __m512 c_high = _mm512_setr_ps(
        1.0322265625f, 1.06689453125f, 1.103515625f, 1.14306640625f, 1.18505859375f,
        1.23095703125f, 1.27978515625f, 1.33349609375f, 1.39111328125f, 1.45458984375f,
        1.52392578125f, 1.60009765625f, 1.68408203125f, 1.77783203125f, 1.88232421875f, 2.0f);
    const __m512 lh_high = _mm512_setr_ps(
        -0.0317181795835495f, -0.06475212424993515f, -0.09850110858678818f,
        -0.1337144821882248f, -0.16979221999645233f, -0.20779193937778473f,
        -0.2466922104358673f, -0.28780412673950195f, -0.33010435104370117f,
        -0.37472397089004517f, -0.42128974199295044f, -0.4700646698474884f,
        -0.5212206244468689f, -0.5753946900367737f, -0.63250732421875f, -0.6931471824645996f);
    const __m512 ll_high = _mm512_setr_ps(
        -6.87235046648027e-10f, 2.879642968522944e-09f, 2.479854988024499e-09f,
        8.567124232250478e-10f, 4.2924935828025923e-10f, -1.6507366584761485e-09f,
        -6.728140711231845e-09f, -8.574804866157137e-09f, 2.705191182172939e-09f,
        4.336161207874056e-09f, -1.4118430868848009e-08f, 7.308072369482943e-09f,
        -2.330573511954981e-09f, 2.8020739506473546e-08f, 2.4380717889016523e-08f,
        1.9046542121259336e-09f);
    const __m512 one = _mm512_set1_ps(1.0f);
    /* x + 1.5 * 2^23 holds round(x) in its low bits: the entry, in the low five */
    const __m512 shift = _mm512_set1_ps(12582912.0f);
    const __m512 shift_15 = _mm512_set1_ps(12582927.0f);
    __m512 up = _mm512_min_ps(_mm512_fmadd_ps(fh, _mm512_set1_ps(16.0f), shift), shift_15);
    __m512i entry;
    __m512 c, lh, ll;
    if (two_sided) {
        __m512 down = _mm512_min_ps(_mm512_fmadd_ps(fh, _mm512_set1_ps(-32.0f), shift_15),
                                    _mm512_set1_ps(12582943.0f));   /* shift + 31 */
        __mmask16 below = _mm512_cmp_ps_mask(fh, _mm512_set1_ps(-0.015625f), _CMP_LT_OQ);
        entry = _mm512_castps_si512(_mm512_mask_blend_ps(below, up, down));
        c = _mm512_permutex2var_ps(c_low, entry, c_high);
        lh = _mm512_permutex2var_ps(lh_low, entry, lh_high);
        ll = _mm512_permutex2var_ps(ll_low, entry, ll_high);
    } else {
        entry = _mm512_castps_si512(up);
        c = _mm512_permutexvar_ps(entry, c_low);
        lh = _mm512_permutexvar_ps(entry, lh_low);
        ll = _mm512_permutexvar_ps(entry, ll_low);
    }
    __m512 P = _mm512_mul_ps(fh, c);
    XF_KEEP_ROUNDED(P);
    __m512 Pl = _mm512_fmsub_ps(fh, c, P);
    __m512 rh = _mm512_add_ps(P, _mm512_sub_ps(c, one));
    __m512 rl = low_part ? _mm512_fmadd_ps(fl, c, Pl) : Pl;
    __m512 q = _mm512_fmadd_ps(_mm512_set1_ps(0.20014992356300354f), rh,
                               _mm512_set1_ps(-0.25018441677093506f));
    q = _mm512_fmadd_ps(q, rh, _mm512_set1_ps(0.3333333134651184f));
    q = _mm512_fmadd_ps(q, rh, _mm512_set1_ps(-0.4999999701976776f));
    __m512 T = _mm512_add_ps(lh, rh);
    __m512 small = _mm512_add_ps(_mm512_add_ps(_mm512_sub_ps(lh, T), rh), ll);
    small = _mm512_add_ps(small, _mm512_fnmadd_ps(rl, rh, rl));
    *small_out = _mm512_fmadd_ps(_mm512_mul_ps(rh, rh), q, small);
    *T_out = T;
}
#endif
#endif
