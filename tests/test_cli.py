"""The command line (the ``xentfast`` console command and ``python -m xentfast``)
and the train command's progress output."""
import io
import os
import subprocess
import sys
import sysconfig

import pytest

import xentfast
from xentfast import _train


def run(args, cwd):
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=300)


def console_command():
    name = "xentfast.exe" if os.name == "nt" else "xentfast"
    return os.path.join(sysconfig.get_path("scripts"), name)


def test_console_command_version_and_info(tmp_path):
    result = run([console_command(), "--version"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"xentfast {xentfast.__version__}"
    result = run([console_command(), "info"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert "kernel set" in result.stdout and "openmp" in result.stdout


def test_python_m_version_outside_the_source_tree(tmp_path):
    result = run([sys.executable, "-m", "xentfast", "--version"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"xentfast {xentfast.__version__}"
    usage = run([sys.executable, "-m", "xentfast", "--help"], tmp_path).stdout
    assert usage.startswith("usage: python -m xentfast")


class Terminal(io.StringIO):
    def isatty(self):
        return True


def report(bar, iterations):
    for iteration in range(iterations + 1):
        bar(iteration, 1.0 / (iteration + 1), 10.0 ** -iteration)
    bar.finish()


def test_progress_draws_a_bar_only_on_a_terminal():
    stream = Terminal()
    report(_train.ProgressBar(max_iter=25, n_rows=100, stream=stream, interval=0.0), 25)
    text = stream.getvalue()
    assert text.count("\r") == 27 and text.count("\n") == 1   # 26 reports and the final draw
    assert "[########################]" in text.split("\r")[-1]


def test_progress_off_a_terminal_is_a_line_every_n_iterations():
    stream = io.StringIO()
    report(_train.ProgressBar(max_iter=25, n_rows=100, stream=stream, every=10), 25)
    lines = stream.getvalue().splitlines()
    assert "\r" not in stream.getvalue()
    assert [int(line.split("/")[0]) for line in lines] == [0, 10, 20, 25]  # and the last
    assert all("loss" in line and "rows/s" in line for line in lines)


def test_progress_off_a_terminal_can_be_silent():
    stream = io.StringIO()
    report(_train.ProgressBar(max_iter=25, n_rows=100, stream=stream, every=0), 25)
    assert stream.getvalue() == ""


def test_train_command_progress_every(capsys):
    assert _train.main(["--n-samples", "300", "--n-features", "3", "--solver", "gd",
                        "--max-iter", "12", "--tol", "0", "--progress-every", "5"]) == 0
    err = capsys.readouterr().err
    assert [int(line.split("/")[0]) for line in err.splitlines()] == [0, 5, 10, 12]


@pytest.mark.parametrize("every", ["-1", "x"])
def test_train_command_refuses_bad_progress_every(every):
    with pytest.raises(SystemExit):
        _train.main(["--progress-every", every])
