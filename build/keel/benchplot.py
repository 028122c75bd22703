# benchplot.py - `keel bench --plot`: charts of one run with gnuplot (PNG
# and SVG under out/bench/plots/): pool latency per size across the
# allocators, pool throughput across processors, and the scheduler's
# select-next cost against ready threads and occupied levels.

import os
import re
import subprocess

import benchreport
from common import KeelError

# (file stem, title, x label, y label, log x, log y, suite, name regex,
# metric). The regex's group "x" is the x value; a series per
# implementation (select-next, whose regex also has "levels", draws two per
# implementation: ready threads at one level, and levels). The metric is
# "time" (the measure's value) or a counter, plotted in millions.
CHARTS = [
    (
        "pool_latency",
        "Pool alloc+free pair latency (host, one processor)",
        "block size (bytes)",
        "ns per pair",
        True,
        True,
        "host",
        r"pool_alloc_free/size:(?P<x>\d+)$",
        "time",
    ),
    (
        "pool_scaling",
        "Pool alloc+free throughput, 64 B, across processors",
        "processors (threads)",
        "million pairs per second",
        False,
        False,
        "host",
        r"pool_scaling/size:64/threads:(?P<x>\d+)$",
        "items_per_second",
    ),
    (
        "sched_select_next",
        "Scheduler select-next cost against ready threads and occupied levels",
        "ready threads / occupied priority levels",
        "ns per select",
        True,
        False,
        "host",
        r"sched_select_next/levels:(?P<levels>\d+)/ready:(?P<x>\d+)$",
        "time",
    ),
]


def _series(results, suite, pattern, metric):
    """{series name: [(x, y)]} for every entry matching pattern."""
    rx = re.compile(pattern)
    series = {}
    for impl in results.impls.get(suite, []):
        for name in results.names(suite, impl):
            m = rx.search(name)
            entry = results.get(suite, impl, name)
            if not m or entry is None or entry.get("error_occurred"):
                continue
            if metric == "time":
                v = benchreport.value(entry)
                y = v[0] if v else None
            else:
                y = entry.get(metric)
                y = y / 1e6 if isinstance(y, (int, float)) else None
            if y is None:
                continue
            key = impl
            if "levels" in m.groupdict():
                # select-next: one line varying ready threads at one level,
                # one varying levels (as many threads as levels).
                levels, ready = int(m.group("levels")), int(m.group("x"))
                if levels == 1:
                    key = f"{impl}: ready threads (1 level)"
                    series.setdefault(key, []).append((ready, y))
                if levels == ready:
                    key = f"{impl}: occupied levels (1 thread each)"
                    series.setdefault(key, []).append((levels, y))
                continue
            series.setdefault(key, []).append((float(m.group("x")), y))
    return {k: sorted(v) for k, v in series.items() if v}


def plot_all(results, directory):
    os.makedirs(directory, exist_ok=True)
    written = []
    for stem, title, xlabel, ylabel, logx, logy, suite, pattern, metric in CHARTS:
        series = _series(results, suite, pattern, metric)
        if not series:
            continue
        data_path = os.path.join(directory, f"{stem}.dat")
        with open(data_path, "w") as f:
            for name, points in series.items():
                f.write(f'# "{name}"\n')
                for x, y in points:
                    f.write(f"{x:g} {y:g}\n")
                f.write("\n\n")
        plots = ", ".join(
            f"'{data_path}' index {i} with linespoints lw 2 title '{name}'"
            for i, name in enumerate(series)
        )
        for term, ext in (("pngcairo size 900,560", "png"), ("svg size 900,560", "svg")):
            path = os.path.join(directory, f"{stem}.{ext}")
            script = "\n".join(
                [
                    f"set terminal {term} font ',11'",
                    f"set output '{path}'",
                    f"set title '{title}'",
                    f"set xlabel '{xlabel}'",
                    f"set ylabel '{ylabel}'",
                    "set logscale x 2" if logx else "",
                    "set logscale y" if logy else "set yrange [0:*]",
                    "set grid",
                    "set key outside right",
                    f"plot {plots}",
                ]
            )
            try:
                proc = subprocess.run(
                    ["gnuplot"], input=script, text=True, stderr=subprocess.PIPE, timeout=60
                )
            except FileNotFoundError:
                raise KeelError("gnuplot is not installed (./keel setup installs gnuplot-nox)")
            if proc.returncode != 0:
                raise KeelError(f"gnuplot failed for {stem}: {proc.stderr[-2000:]}")
            written.append(path)
    return written
