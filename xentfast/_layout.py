"""Memory layout between the API and the kernels: flat C-contiguous inputs,
rows along an axis, output allocation and ``out=`` handling.  No math."""
import numpy as np

from xentfast import _validate

EMPTY = {np.dtype(np.float32): np.empty(0, np.float32),
         np.dtype(np.float64): np.empty(0, np.float64)}


# ``arr`` itself if C-contiguous and aligned, else a copy that is: the layout
# every kernel reads (an unaligned array, e.g. a view at an odd byte offset of a
# buffer, is copied).
contiguous = _validate.c_contiguous_aligned


def flat(arr):
    """A C-contiguous, aligned 1-D view of ``arr`` (a copy only when its layout needs one)."""
    return contiguous(arr).reshape(-1)


def flat_or_empty(arr, dtype):
    return EMPTY[dtype] if arr is None else flat(arr)


def flat_or_none(arr):
    return None if arr is None else flat(arr)


def output_buffer(out, shape, dtype, *inputs):
    """Where a kernel should write: ``out`` itself when it is C-contiguous, aligned
    and does not overlap an input, else a new array."""
    if (out is not None and _validate.is_c_contiguous_aligned(out)
            and not any(np.may_share_memory(out, a) for a in inputs)):
        return out
    return np.empty(shape, dtype)


def finish(result, out):
    """Copy into ``out`` if the kernel wrote elsewhere; 0-d results become scalars."""
    if out is not None:
        if result is not out:
            out[...] = result
        return out
    return result[()] if result.ndim == 0 else result


def rows(x, axis):
    """The slices of ``x`` along ``axis`` as rows.

    Returns (flat C-contiguous data, row length k, the shape with ``axis``
    moved last).  ``axis=None`` makes one row of every element.
    """
    if axis is None:
        moved = x.reshape(-1)
    elif x.ndim == 0:
        moved = x.reshape(1)
    elif axis == x.ndim - 1:
        moved = x   # the usual case; np.moveaxis alone costs microseconds
    else:
        moved = np.moveaxis(x, axis, -1)
    return flat(moved), moved.shape[-1], moved.shape


def unmove(result, x_shape, axis):
    """Undo ``rows``: put the row axis of ``result`` back where ``axis`` was."""
    if axis is None or len(x_shape) == 0:
        return result.reshape(x_shape)
    if axis == len(x_shape) - 1:
        return result   # already in place; np.moveaxis alone costs microseconds
    return np.moveaxis(result, -1, axis)
