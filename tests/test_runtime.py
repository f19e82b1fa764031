"""How xentfast behaves inside a real process: after fork, under threadpoolctl's
limits, with bad thread counts and when memory runs out.

Anything that could hang or crash the interpreter (fork, memory limits, thread
creation) runs in a child Python with a timeout, so a regression fails the test
instead of hanging or killing the run.
"""
import os
import subprocess
import sys

import numpy as np
import pytest

import xentfast
from xentfast import _build_info, _threads

from util import python_child, under_address_sanitizer

TIMEOUT = 120  # seconds for a child Python; the scripts take about one

needs_openmp = pytest.mark.skipif(not _build_info.HAVE_OPENMP, reason="a build without OpenMP")
needs_two_cores = pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2
                                     if hasattr(os, "sched_getaffinity") else True,
                                     reason="needs two usable cores (Linux)")


def run_python(script, env=None):
    """Run ``script`` in a new interpreter; return its stdout (fails on error or timeout)."""
    environment = dict(os.environ)
    for variable in ("XENTFAST_NUM_THREADS", "OMP_NUM_THREADS"):
        environment.pop(variable, None)
    environment.update(env or {})
    try:
        done = python_child(script, timeout=TIMEOUT, env=environment)
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"the child Python hung (killed after {TIMEOUT} s); its output: "
                    f"{e.stdout!r} {e.stderr!r}")
    assert done.returncode == 0, (
        f"the child Python failed with return code {done.returncode}:\n{done.stdout}\n"
        f"{done.stderr}")
    return done.stdout


# ---------------------------------------------------------------------------
# fork

# Run in a child Python: a parallel region in the parent, then a fork whose
# child calls parallel-sized kernels.  The parent waits at most 30 s for it.
FORK_SCRIPT = """
    import os, sys, time
    import numpy as np
    import xentfast as xf

    x = np.linspace(-5, 5, 10**6)
    X, y = x.reshape(-1, 20), (x[::20] > 0).astype(float)
    expected = xf.sigmoid(x)            # large enough to run on every thread
    loss, grad = xf.logistic_loss_and_grad(np.zeros(21), X, y)
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            ok = (np.array_equal(xf.sigmoid(x), expected)
                  and np.isfinite(xf.softmax_cross_entropy(x.reshape(-1, 10),
                                                           np.zeros(10**5, np.intp)))
                  and np.allclose(xf.logistic_loss_and_grad(np.zeros(21), X, y)[1], grad)
                  and xf.get_num_threads() == 1)
            code = 0 if ok else 3
        finally:
            os._exit(code)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            print("child exit", os.waitstatus_to_exitcode(status))
            break
        time.sleep(0.05)
    else:
        os.kill(pid, 9)
        print("child hung")
    print("parent threads", xf.get_num_threads())
"""


@needs_openmp
def test_forked_child_runs_parallel_sized_calls():
    output = run_python(FORK_SCRIPT)
    assert "child exit 0" in output, output
    # the parent keeps its threads
    assert f"parent threads {len(os.sched_getaffinity(0))}" in output, output


POOL_SCRIPT = """
    import multiprocessing
    import numpy as np
    import xentfast as xf

    def work(seed):
        x = np.random.default_rng(seed).normal(size=(20_000, 10))
        return float(xf.logsumexp(x, axis=None)), float(xf.sigmoid(x).sum())

    if __name__ == "__main__":
        expected = [work(seed) for seed in range(4)]    # parallel regions in the parent
        with multiprocessing.get_context("fork").Pool(2) as pool:
            result = pool.map_async(work, range(4)).get(timeout=60)
        print("same" if result == expected else f"different: {result} {expected}")
"""


@needs_openmp
def test_fork_pool_workers_do_not_hang():
    # multiprocessing.Pool with the fork start method (joblib's multiprocessing
    # backend, gunicorn and celery workers do the same)
    assert run_python(POOL_SCRIPT).strip() == "same"


@needs_openmp
def test_child_may_raise_its_thread_count_again():
    # The serial mark is only a default: set_num_threads in the child lifts it
    # (for parents that never ran a parallel region).
    output = run_python("""
        import os
        import xentfast as xf
        pid = os.fork()
        if pid == 0:
            before = xf.get_num_threads()
            xf.set_num_threads(2)
            os._exit(10 * before + min(xf.get_num_threads(), 2))
        _, status = os.waitpid(pid, 0)
        print(os.waitstatus_to_exitcode(status))
    """)
    assert output.strip() == str(10 + min(2, len(os.sched_getaffinity(0))))


# ---------------------------------------------------------------------------
# threadpoolctl and the thread count


@pytest.fixture
def no_thread_cap():
    """No set_num_threads cap during the test (whatever earlier tests left); restored after."""
    saved = _threads.get_cap()
    _threads.set_cap(0)
    yield
    _threads.set_cap(saved)

THREADS_SCRIPT = """
    import os
    import numpy as np
    import xentfast as xf
    from threadpoolctl import threadpool_limits

    def os_threads():
        return len(os.listdir("/proc/self/task"))

    x = np.zeros(10**6)
    before = os_threads()
    with threadpool_limits(limits=1, user_api="openmp"):
        inside = xf.get_num_threads()
        for f in (xf.sigmoid, xf.softplus, xf.entropy, xf.logsumexp):
            f(x)
        xf.binary_cross_entropy_with_logits(x, x, return_grad=True)
        xf.softmax_cross_entropy(x.reshape(-1, 10), np.zeros(10**5, np.intp))
    limited = os_threads()
    outside = xf.get_num_threads()
    xf.sigmoid(x)    # OpenMP starts its worker threads here
    print(before, inside, limited, outside, os_threads())
"""


@needs_openmp
@needs_two_cores
def test_threadpool_limits_stops_the_worker_threads():
    # libgomp keeps a region's worker threads alive afterwards, so the process's
    # thread count shows whether a parallel region ran on more than one thread.
    before, inside, limited, outside, after = map(int, run_python(THREADS_SCRIPT).split())
    assert inside == 1
    assert limited == before, "a kernel started threads inside threadpool_limits(1)"
    assert outside >= 2
    assert after > limited, "the control call started no thread: the test cannot fail"


@needs_openmp
def test_openmp_maximum_caps_the_count_in_process(no_thread_cap):
    threadpoolctl = pytest.importorskip("threadpoolctl")
    before = xentfast.get_num_threads()
    with threadpoolctl.threadpool_limits(limits=1, user_api="openmp"):
        assert xentfast.get_num_threads() == 1
        xentfast.set_num_threads(2)         # a cap: it cannot raise the OpenMP maximum
        assert xentfast.get_num_threads() == 1
    assert xentfast.get_num_threads() == min(2, before)
    xentfast.set_num_threads(1)
    try:
        with threadpoolctl.threadpool_limits(limits=2, user_api="openmp"):
            assert xentfast.get_num_threads() == 1  # the cap holds
    finally:
        xentfast.set_num_threads(before)


@needs_openmp
@pytest.mark.parametrize("env, expected", [
    ({"OMP_NUM_THREADS": "1"}, 1),
    ({"XENTFAST_NUM_THREADS": "1"}, 1),
    ({"XENTFAST_NUM_THREADS": "1", "OMP_NUM_THREADS": "2"}, 1),
    ({"XENTFAST_NUM_THREADS": "2", "OMP_NUM_THREADS": "1"}, 1),
    ({"OMP_NUM_THREADS": "3"}, 3),                 # OpenMP's own setting may oversubscribe
    ({"XENTFAST_NUM_THREADS": "100000"}, None),    # invalid: ignored, with a warning
    ({"XENTFAST_NUM_THREADS": "two"}, None),
])
def test_thread_count_from_environment(env, expected):
    output = run_python("""
        import warnings
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            import xentfast as xf
        print(xf.get_num_threads(), len(caught))
    """, env=env)
    threads, n_warnings = map(int, output.split())
    assert threads == (expected or len(os.sched_getaffinity(0)))
    assert n_warnings == (1 if expected is None else 0)


@pytest.mark.parametrize("bad", [2**31, 40_000, 100_000, 1025, np.int64(2**40), 0, -1, 1.5,
                                 "2", True, None])
def test_set_num_threads_rejects_bad_counts(bad, no_thread_cap):
    before = xentfast.get_num_threads()
    try:
        with pytest.raises(ValueError, match="number of threads must be an integer from 1 to"):
            xentfast.set_num_threads(bad)
    finally:
        xentfast.set_num_threads(before)
    assert xentfast.get_num_threads() == before


def test_set_num_threads_accepts_up_to_the_maximum(no_thread_cap):
    before = xentfast.get_num_threads()
    try:
        xentfast.set_num_threads(np.int32(1))
        assert xentfast.get_num_threads() == 1
        xentfast.set_num_threads(1024)      # a cap above the cores is harmless
        assert xentfast.get_num_threads() == before
        assert xentfast.sigmoid(np.zeros(10**5)).sum() == 0.5 * 10**5
    finally:
        xentfast.set_num_threads(before)


# ---------------------------------------------------------------------------
# Out of memory

# RLIMIT_AS caps the address space at what the process uses plus `headroom`
# MiB; the thread pool is started first (its stacks take address space).
MEMORY_SCRIPT = """
    import resource
    import numpy as np
    import xentfast as xf

    def address_space():
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmSize:"))

    xf.sigmoid(np.zeros(10**6))
    {setup}
    limit = address_space() + {headroom} * 2**20
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    outcomes = set()
    for attempt in range(6):
        if attempt == 1:  # after the first failure, which may set up a malloc arena
            before = address_space()
        try:
            {call}
            outcomes.add("returned")
        except MemoryError:
            outcomes.add("MemoryError")
    grown = (address_space() - before) / 2**20
    small = xf.softmax_cross_entropy(np.zeros((3, 300)), np.zeros(3, np.intp), label_smoothing=0.1)
    print(sorted(outcomes), round(grown), round(float(small), 6))
"""

MEMORY_CASES = {
    # (setup, call, outcome).  One row of 5e7 classes: the target coefficients of
    # a long row need a buffer as long...
    "softmax-long-row": ("logits = np.zeros((1, 50_000_000)); targets = np.zeros(1, np.intp)",
                         "xf.softmax_cross_entropy(logits, targets, label_smoothing=0.1)",
                         "MemoryError"),
    "softmax-long-row-probs": ("logits = np.zeros((1, 20_000_000)); "
                               "targets = np.full((1, 20_000_000), 5e-8)",
                               "xf.softmax_cross_entropy(logits, targets, return_grad=True)",
                               "MemoryError"),
    # ...but one-hot targets need none, even for a row with nan (no limit)
    "softmax-one-hot-long-row-nan": ("logits = np.zeros((1, 50_000_000)); logits[0, 7] = np.nan; "
                                     "targets = np.zeros(1, np.intp)",
                                     "xf.softmax_cross_entropy(logits, targets)", "returned"),
    "bce-grad": ("z = np.zeros(40_000_000); y = np.zeros(40_000_000)",
                 "xf.binary_cross_entropy_with_logits(z, y, return_grad=True)", "MemoryError"),
    "sigmoid": ("x = np.zeros(40_000_000)", "xf.sigmoid(x)", "MemoryError"),
}


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RLIMIT_AS and /proc: Linux")
@pytest.mark.skipif(under_address_sanitizer(),
                    reason="AddressSanitizer's shadow memory needs more address space than "
                           "any RLIMIT_AS leaves")
@pytest.mark.parametrize("case", MEMORY_CASES)
def test_out_of_memory(case):
    setup, call, outcome = MEMORY_CASES[case]
    output = run_python(MEMORY_SCRIPT.format(setup=setup, call=call, headroom=200))
    outcomes, grown, small = output.rsplit(None, 2)
    assert outcomes == f"['{outcome}']", output
    assert int(grown) <= 8, f"{grown} MiB of address space leaked over 5 failed calls"
    assert float(small) == pytest.approx(np.log(300), abs=1e-6)  # the smoothed loss of 0 logits
