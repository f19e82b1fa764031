# The solvers' progress recorder, shared with _penalised.pyx.

cdef class Progress:
    cdef list losses
    cdef object callback
    cdef int record(self, Py_ssize_t iteration, double loss, double grad_max) except -1 nogil
