"""What a user of the installed package meets first: its metadata, the import
guard of an unbuilt source tree, the namespace, and the README's chart."""
import importlib.metadata
import pathlib
import shutil
import subprocess
import sys

import xentfast

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_metadata():
    assert importlib.metadata.version("xentfast") == xentfast.__version__
    metadata = importlib.metadata.metadata("xentfast")
    assert metadata["License-Expression"] == "BSD-3-Clause"
    assert "LICENSE" in (metadata.get_all("License-File") or [])
    scripts = importlib.metadata.entry_points(group="console_scripts", name="xentfast")
    assert [entry.value for entry in scripts] == ["xentfast.__main__:main"]


def test_license_file():
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert text.startswith("BSD 3-Clause License")
    assert "the xentfast developers" in text


def test_dir_lists_the_lazy_estimator_without_importing_it(tmp_path):
    code = ("import sys, xentfast; names = dir(xentfast); "
            "print('LogisticRegression' in names, "
            "'xentfast.logistic_regression' in sys.modules, "
            "set(xentfast.__all__) <= set(names))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120, cwd=tmp_path)
    assert result.stdout.split() == ["True", "False", "True"], result.stderr
    assert xentfast.LogisticRegression.__name__ == "LogisticRegression"


def import_error(folder):
    # -S: no site-packages, so neither an installed nor an editable xentfast
    # (whose import hook would take precedence) is found; only the folder.
    result = subprocess.run([sys.executable, "-S", "-c", "import xentfast"], cwd=folder,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    return result.stderr.strip().splitlines()[-1]


def copy_python_sources(destination):
    """The package's Python files alone: xentfast as it is in a fresh clone."""
    package = pathlib.Path(xentfast.__file__).parent
    shutil.copytree(package, destination / "xentfast",
                    ignore=lambda folder, names: [n for n in names
                                                  if not n.endswith((".py", ".pyi"))
                                                  and not (pathlib.Path(folder) / n).is_dir()])


def test_import_from_an_unbuilt_source_tree_says_what_to_do(tmp_path):
    copy_python_sources(tmp_path)
    (tmp_path / "setup.py").write_text("# the source tree's marker\n")
    message = import_error(tmp_path)
    assert message.startswith("ImportError: xentfast is being imported from its source tree")
    assert "pip install -e ." in message and "outside the source tree" in message


def test_import_of_a_broken_install_says_reinstall(tmp_path):
    copy_python_sources(tmp_path)
    message = import_error(tmp_path)
    assert message.startswith("ImportError: xentfast's compiled extensions cannot be imported")
    assert "reinstall" in message


def test_readme_shows_the_benchmark_chart_drawn_from_its_table():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "![" in readme and "(docs/_static/peer_ratios.svg)" in readme
    assert (ROOT / "docs" / "_static" / "peer_ratios.svg").read_text().startswith("<?xml")
    sys.path.insert(0, str(ROOT / "docs"))
    try:
        import charts
    finally:
        sys.path.remove(str(ROOT / "docs"))
    ratios = charts.peer_ratios(charts.peer_table(readme))
    assert "BCE with logits, mean" in ratios
    assert set(ratios["BCE with logits, mean"]) == {"NumPy reference", "scikit-learn", "PyTorch"}
    assert all(value > 0 for peers in ratios.values() for value in peers.values())
