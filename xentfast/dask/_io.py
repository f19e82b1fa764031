"""A Dask array over a .npy file that the tasks read where they run.

``da.from_array(np.load(path, mmap_mode="r"))`` puts the memory map in the
graph, and a ``distributed.Client`` pickles it, which copies the whole file into
the worker that first needs it.  ``from_npy`` puts only the path there: each
task maps the file and returns a view of its rows, so a worker holds the pages
of the blocks it is working on, never the file (out of core).
"""
import dask.array as da
import numpy as np


class _NpyFile:
    """The array of a .npy file, opened (memory-mapped) on each read; pickled as its path."""

    def __init__(self, path):
        self.path = str(path)
        header = np.load(self.path, mmap_mode="r")
        self.shape, self.dtype, self.ndim = header.shape, header.dtype, header.ndim

    def __getitem__(self, key):
        return np.load(self.path, mmap_mode="r")[key]


def from_npy(path, chunks="auto"):
    """A Dask array over the .npy file at ``path`` (memory-mapped in the tasks, never
    loaded whole), chunked by ``chunks`` as ``dask.array.from_array`` takes them; for
    ``LogisticRegression.fit``, chunk by rows only: ``chunks=(rows, -1)``.  The file
    must be readable at the same path where the tasks run (a shared file system on a
    multi-machine cluster)."""
    return da.from_array(_NpyFile(path), chunks=chunks, asarray=False, fancy=False)
