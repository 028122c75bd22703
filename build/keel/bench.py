# bench.py - `keel bench [--quick] [--plot]`: run every benchmark binary of
# //bench (host toolchain: optimised, no sanitizers), keep Google
# Benchmark's JSON under out/bench/, print a table. A benchmark whose label
# is "vs NAME" is also reported as a ratio against NAME, its peer measured
# in the same run (the machines are noisy; ratios travel, absolute times
# do not).

import json
import os
import subprocess

from common import KeelError, ROOT, aux_dir, rel
from gnbuild import build_dir, gen, ninja

# Quick mode: enough iterations to exercise every benchmark, not to measure.
QUICK_ARGS = ["--benchmark_min_time=0.01"]


def list_benchmarks(out):
    proc = subprocess.run(
        ["gn", "ls", out, "//bench/*", "--type=executable", "--as=output"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    # Executables of the default (host) toolchain land directly in out/.
    return sorted(os.path.join(out, l) for l in proc.stdout.split() if "/" not in l)


def run_binary(binary, quick, extra_args=(), timeout=600):
    name = os.path.basename(binary)
    os.makedirs(aux_dir("bench"), exist_ok=True)
    json_path = aux_dir("bench", f"{name}{'-quick' if quick else ''}.json")
    cmd = [binary, f"--benchmark_out={json_path}", "--benchmark_out_format=json"]
    if quick:
        cmd += QUICK_ARGS
    cmd += list(extra_args)
    try:
        proc = subprocess.run(
            cmd,
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        raise KeelError(f"{name} timed out after {timeout} s")
    if proc.returncode != 0:
        raise KeelError(f"{name} exited with status {proc.returncode}:\n{proc.stdout[-3000:]}")
    try:
        data = json.load(open(json_path))
    except (OSError, ValueError) as e:
        raise KeelError(f"{name}: cannot read {rel(json_path)}: {e}")
    return json_path, data


def escape(text):
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


_STANDARD = {
    "name",
    "run_name",
    "run_type",
    "repetitions",
    "repetition_index",
    "threads",
    "iterations",
    "real_time",
    "cpu_time",
    "time_unit",
    "family_index",
    "per_family_instance_index",
    "aggregate_name",
    "aggregate_unit",
    "label",
    "error_occurred",
    "error_message",
}


def _fmt_time(value, unit):
    return f"{value:,.1f} {unit}"


def _fmt_counter(value):
    if abs(value) >= 1e9:
        return f"{value / 1e9:.2f}G"
    if abs(value) >= 1e6:
        return f"{value / 1e6:.2f}M"
    if abs(value) >= 1e3:
        return f"{value / 1e3:.2f}k"
    return f"{value:.3g}"


def table(entries):
    by_name = {e["name"]: e for e in entries}
    rows = [("benchmark", "time", "cpu", "iterations", "counters")]
    for e in entries:
        if e.get("error_occurred"):
            rows.append((e["name"], "ERROR", "", "", e.get("error_message", "")))
            continue
        counters = [
            f"{k}={_fmt_counter(v)}"
            for k, v in e.items()
            if k not in _STANDARD and isinstance(v, (int, float))
        ]
        label = e.get("label", "")
        if label.startswith("vs "):
            peer = by_name.get(label[3:].strip())
            if peer and peer.get("real_time") and peer.get("time_unit") == e.get("time_unit"):
                counters.append(f"{e['real_time'] / peer['real_time']:.2f}x {peer['name']}")
        rows.append(
            (
                e["name"],
                _fmt_time(e["real_time"], e["time_unit"]),
                _fmt_time(e["cpu_time"], e["time_unit"]),
                f"{e['iterations']:,}",
                " ".join(counters),
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = []
    for i, r in enumerate(rows):
        lines.append(
            f"{r[0]:<{widths[0]}}  {r[1]:>{widths[1]}}  {r[2]:>{widths[2]}}  "
            f"{r[3]:>{widths[3]}}  {r[4]}".rstrip()
        )
        if i == 0:
            lines.append("-" * len(lines[0]))
    return "\n".join(lines)


def _nanoseconds(e):
    scale = {"ns": 1, "us": 1e3, "ms": 1e6, "s": 1e9}.get(e.get("time_unit"), 1)
    return e.get("real_time", 0) * scale


def plot(entries, svg_path):
    """Terminal bars plus an SVG bar chart (log scale), no dependencies."""
    import math

    good = [e for e in entries if not e.get("error_occurred")]
    if not good:
        return ""
    top = max(_nanoseconds(e) for e in good)
    width = max(len(e["name"]) for e in good)
    # Log scale: the times span orders of magnitude.
    lo = math.log10(max(min(_nanoseconds(e) for e in good), 0.1)) - 0.5
    hi = math.log10(max(top, 1)) + 0.2

    def fraction(ns):
        return max(0.0, (math.log10(max(ns, 0.1)) - lo) / (hi - lo))

    text = [f"{'':<{width}}  real time per iteration, log scale"]
    for e in good:
        bar = "#" * max(1, round(50 * fraction(_nanoseconds(e))))
        text.append(f"{e['name']:<{width}}  {bar} {_nanoseconds(e):,.1f} ns")
    row, left, chart = 22, 12 + 7 * width, 500
    height = 40 + row * len(good)
    svg = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{left + chart + 160}" height="{height}" '
        'font-family="monospace" font-size="12">',
        f'<text x="10" y="18">real time per iteration (ns, log scale)</text>',
    ]
    for i, e in enumerate(good):
        ns = _nanoseconds(e)
        w = max(1.0, chart * fraction(ns))
        y = 30 + i * row
        svg.append(f'<text x="10" y="{y + 14}">{escape(e["name"])}</text>')
        svg.append(f'<rect x="{left}" y="{y}" width="{w:.1f}" height="{row - 6}" fill="#4a7bd0"/>')
        svg.append(f'<text x="{left + w + 6:.1f}" y="{y + 14}">{ns:,.1f} ns</text>')
    svg.append("</svg>")
    with open(svg_path, "w") as f:
        f.write("\n".join(svg) + "\n")
    return "\n".join(text)


def run_all(out, quick, echo_table=True, do_plot=False, extra_args=()):
    binaries = [b for b in list_benchmarks(out) if os.path.exists(b)]
    if not binaries:
        raise KeelError("no benchmark binaries under //bench (host toolchain) were built")
    runs = []
    for binary in binaries:
        json_path, data = run_binary(binary, quick, extra_args)
        entries = data.get("benchmarks", [])
        runs.append((binary, entries))
        if echo_table:
            print(f"{os.path.basename(binary)} ({rel(json_path)}):")
            print(table(entries), flush=True)
        if do_plot:
            svg = json_path[: -len(".json")] + ".svg"
            print(plot(entries, svg))
            print(f"plot: {rel(svg)}", flush=True)
    return runs


def cmd_bench(args):
    out = build_dir(False)
    gen(out)
    ninja(out)
    run_all(out, args.quick, True, args.plot, args.bench_args)
    return 0
