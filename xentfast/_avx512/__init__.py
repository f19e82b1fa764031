"""The kernel modules compiled for AVX-512 (x86-64 only); see xentfast._kernels."""
