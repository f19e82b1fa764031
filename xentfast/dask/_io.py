"""A Dask array over a .npy file that the tasks read where they run.

``da.from_array(np.load(path, mmap_mode="r"))`` puts the memory map in the
graph, and a ``distributed.Client`` pickles it, which copies the whole file into
the worker that first needs it.  ``from_npy`` puts only the path there: each
task maps the file and returns a view of its rows, so a worker holds the pages
of the blocks it is working on, never the file (out of core).
"""
import warnings

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


def persist_rows(X, y, rows_per_chunk):
    """NumPy X (n, d) and y (n,) from the client persisted on the workers in row blocks
    (the bench and train --dask).  Blocks sent from the client arrive unaligned, so
    np.require copies X's there, once (else every fit would: the kernels take aligned
    blocks only); the caller waits for them with ``distributed.wait``."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "Sending large graph": the data start here
        X_blocks = da.from_array(X, chunks=(rows_per_chunk, X.shape[1])).map_blocks(
            np.require, requirements="A").persist()
        y_blocks = da.from_array(y, chunks=rows_per_chunk).persist()
    return X_blocks, y_blocks
