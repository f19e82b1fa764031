"""The benchmark chart: the peers' time ÷ xentfast's, from the README's table.

The docs draw it at build time (docs/benchmarks.md); the README shows the
copy in docs/_static/peer_ratios.svg, which ``python docs/charts.py`` writes
again after the tables are regenerated (``python -m xentfast bench --peers``).
"""
import pathlib
import re
import sys

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"
SVG = pathlib.Path(__file__).resolve().parent / "_static" / "peer_ratios.svg"
TABLE_TITLE = "### xentfast against NumPy, SciPy, scikit-learn and PyTorch"
PEERS = ("NumPy reference", "SciPy", "scikit-learn", "PyTorch")
UNITS = {"ns": 1e-9, "µs": 1e-6, "ms": 1e-3, "s": 1.0}


def seconds(cell):
    """'74.7 ms (2.9x)' -> 0.0747; '—' -> None."""
    match = re.match(r"\s*([\d.]+)\s*(ns|µs|ms|s)\b", cell)
    return float(match.group(1)) * UNITS[match.group(2)] if match else None


def peer_table(readme_text):
    """The rows of the README's peers table, as dicts keyed by its header."""
    section = readme_text.split(TABLE_TITLE, 1)[1]
    lines = [line for line in section.splitlines() if line.startswith("|")]
    header = [cell.strip() for cell in lines[0].strip("|").split("|")]
    rows = []
    for line in lines[2:]:
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        if len(cells) != len(header):
            break                                   # the next table
        rows.append(dict(zip(header, cells)))
    return rows


def peer_ratios(rows, n="10,000,000", dtype="float64"):
    """{function: {peer: peer time ÷ xentfast time}} at one size and dtype."""
    ratios = {}
    for row in rows:
        if row["n"] != n or row["dtype"] != dtype:
            continue
        ours = seconds(row["xentfast"])
        ratios[row["function"]] = {peer: seconds(row[peer]) / ours for peer in PEERS
                                   if seconds(row[peer]) is not None}
    return ratios


def draw(figure, ratios, title):
    """Horizontal bars, one group per function (the table's order, top down),
    one bar per peer (in PEERS' order, top down); log scale."""
    axes = figure.subplots()
    functions = list(ratios)[::-1]
    height = 0.8 / len(PEERS)
    for k, peer in enumerate(PEERS):
        offset = ((len(PEERS) - 1) / 2 - k) * height
        shown = [(i + offset, ratios[f][peer]) for i, f in enumerate(functions)
                 if peer in ratios[f]]
        axes.barh([y for y, _ in shown], [v for _, v in shown], height=height, label=peer)
    axes.axvline(1.0, color="black", linewidth=0.8)
    axes.set_xscale("log")
    ticks = [t for t in (1, 2, 5, 10, 20, 50, 100)
             if t <= 1.5 * max(max(r.values()) for r in ratios.values())]
    axes.set_xticks(ticks, [f"{t}x" for t in ticks])
    axes.minorticks_off()
    axes.set_yticks(range(len(functions)), functions)
    axes.set_xlabel("peer's time ÷ xentfast's (> 1x: xentfast is faster), one thread each")
    axes.set_title(title)
    axes.grid(axis="x", alpha=0.3)
    axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small")
    figure.tight_layout()


def make_figure(readme_text, Figure):
    rows = peer_table(readme_text)
    figure = Figure(figsize=(9, 5.5))
    draw(figure, peer_ratios(rows), "n = 10,000,000 float64")
    return figure


def main():
    import matplotlib
    from matplotlib.figure import Figure
    matplotlib.rcParams["svg.hashsalt"] = "xentfast"    # the same file for the same data
    matplotlib.rcParams["svg.fonttype"] = "none"        # text as text: small, searchable
    figure = make_figure(README.read_text(encoding="utf-8"), Figure)
    figure.savefig(SVG, metadata={"Date": None})
    print(f"wrote {SVG}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
