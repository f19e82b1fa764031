/* The Hessian's inner product: H += Twᵀ T over a tile of rows, where T holds
 * the rows (row-major, nt x dpad, zero-padded) and Tw the same rows scaled by
 * their curvature weights.  Only the panels on and above the diagonal are
 * accumulated (H is symmetric; the caller reads its upper triangle).
 *
 * A register-blocked outer-product kernel: a block of XF_GRAM_RB rows of H by
 * XF_GRAM_CB columns stays in vector registers while the tile streams through
 * (each tile row adds RB broadcasts times CB/VW vectors).  gcc does not find
 * this blocking from plain loops (it vectorises the reduction over rows
 * instead, 5x slower), so the accumulators are GCC/Clang vector types; other
 * compilers (MSVC) get plain loops with the same result.
 *
 * dpad must be a multiple of XF_GRAM_CB (itself a multiple of XF_GRAM_RB).
 */
#ifndef XENTFAST_GRAM_H
#define XENTFAST_GRAM_H

#include <stddef.h>
#include <string.h>

#if defined(__AVX512F__)
/* 512-bit vectors: one per block row, eight rows (the broadcasts fold into the
 * multiply-adds as embedded broadcasts), half the instructions of 256-bit ones. */
#define XF_GRAM_VW 8      /* doubles per vector */
#define XF_GRAM_NV 1      /* vectors per row of the block */
#define XF_GRAM_RB 8      /* rows of H per block */
#elif defined(__AVX__)
#define XF_GRAM_VW 4      /* 256-bit (AVX2 set) */
#define XF_GRAM_NV 2
#define XF_GRAM_RB 4
#else
#define XF_GRAM_VW 2      /* 128-bit (SSE2, NEON) */
#define XF_GRAM_NV 2
#define XF_GRAM_RB 4
#endif
#define XF_GRAM_CB (XF_GRAM_VW * XF_GRAM_NV)

#if defined(__GNUC__) || defined(__clang__)
typedef double xf_gram_vec __attribute__((vector_size(XF_GRAM_VW * sizeof(double))));

static void xentfast_gram_update(const double* T, const double* Tw, ptrdiff_t nt,
                                 ptrdiff_t dpad, double* H) {
    for (ptrdiff_t jb = 0; jb < dpad; jb += XF_GRAM_RB) {
        for (ptrdiff_t lb = (jb / XF_GRAM_CB) * XF_GRAM_CB; lb < dpad; lb += XF_GRAM_CB) {
            xf_gram_vec acc[XF_GRAM_RB][XF_GRAM_NV];
            for (int q = 0; q < XF_GRAM_RB; q++)
                for (int v = 0; v < XF_GRAM_NV; v++)
                    acc[q][v] = (xf_gram_vec){0};
            for (ptrdiff_t t = 0; t < nt; t++) {
                const double* a = T + t * dpad + lb;
                const double* b = Tw + t * dpad + jb;
                xf_gram_vec x[XF_GRAM_NV];
                for (int v = 0; v < XF_GRAM_NV; v++)
                    memcpy(&x[v], a + v * XF_GRAM_VW, sizeof(xf_gram_vec));
                for (int q = 0; q < XF_GRAM_RB; q++) {
                    double bq = b[q];
                    for (int v = 0; v < XF_GRAM_NV; v++)
                        acc[q][v] += bq * x[v];
                }
            }
            for (int q = 0; q < XF_GRAM_RB; q++)
                for (int v = 0; v < XF_GRAM_NV; v++)
                    for (int l = 0; l < XF_GRAM_VW; l++)
                        H[(jb + q) * dpad + lb + v * XF_GRAM_VW + l] += acc[q][v][l];
        }
    }
}
#else
static void xentfast_gram_update(const double* T, const double* Tw, ptrdiff_t nt,
                                 ptrdiff_t dpad, double* H) {
    for (ptrdiff_t jb = 0; jb < dpad; jb += XF_GRAM_RB) {
        for (ptrdiff_t lb = (jb / XF_GRAM_CB) * XF_GRAM_CB; lb < dpad; lb += XF_GRAM_CB) {
            double acc[XF_GRAM_RB][XF_GRAM_CB];
            for (int q = 0; q < XF_GRAM_RB; q++)
                for (int l = 0; l < XF_GRAM_CB; l++)
                    acc[q][l] = 0.0;
            for (ptrdiff_t t = 0; t < nt; t++)
                for (int q = 0; q < XF_GRAM_RB; q++)
                    for (int l = 0; l < XF_GRAM_CB; l++)
                        acc[q][l] += Tw[t * dpad + jb + q] * T[t * dpad + lb + l];
            for (int q = 0; q < XF_GRAM_RB; q++)
                for (int l = 0; l < XF_GRAM_CB; l++)
                    H[(jb + q) * dpad + lb + l] += acc[q][l];
        }
    }
}
#endif

#endif
