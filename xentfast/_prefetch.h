/* A hint that a block of memory is read soon (into L2: locality 2, prefetcht1;
 * on AMD Zen 4 prefetcht0 into L1 made the pass twice as slow, evicting the tile
 * being worked on).  The pass over a C-ordered X asks for the rows one tile
 * ahead while it forms the current tile's logits, so that the next tile's
 * transfer overlaps this one's arithmetic (the evaluation and the gradient read
 * nothing new from memory); without it a pass took 1.5x longer.  A prefetch
 * never faults; the callers still keep the address inside the array. */
#ifndef XENTFAST_PREFETCH_H
#define XENTFAST_PREFETCH_H

#include <stddef.h>

#if defined(__GNUC__) || defined(__clang__)
#define XF_PREFETCH_LINE(p) __builtin_prefetch((const void*)(p), 0, 2)
#elif defined(_MSC_VER) && (defined(_M_X64) || defined(_M_IX86))
#include <xmmintrin.h>
#define XF_PREFETCH_LINE(p) _mm_prefetch((const char*)(p), _MM_HINT_T1)
#else
#define XF_PREFETCH_LINE(p) ((void)(p))
#endif

static inline void xentfast_prefetch(const void* start, size_t bytes)
{
    const char* p = (const char*)start;
    size_t offset;
    for (offset = 0; offset < bytes; offset += 64)
        XF_PREFETCH_LINE(p + offset);
}

#endif
