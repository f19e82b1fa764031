"""The kernel modules compiled for AVX2 + FMA (x86-64 only); see xentfast._kernels."""
