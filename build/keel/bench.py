# bench.py - `keel bench [--quick] [--host|--guest] [--accel A] [--plot]`:
# runs every benchmark binary of //bench (host toolchain: optimised, no
# sanitizers) - Keel's and its peers' - and the guests (Keel's in-kernel
# suite and the Linux peer, in QEMU under TCG and KVM), keeps Google
# Benchmark JSON under out/bench/, and prints Keel against each peer with
# the ratio and the targets (benchreport.py). The machines are
# noisy: ratios measured side by side travel, absolute times do not.

import datetime
import json
import os
import platform
import subprocess

import benchreport
from common import KeelError, ROOT, aux_dir, log, rel
from gnbuild import build_dir, gen, ninja

# Quick mode: enough iterations to exercise every benchmark, not to measure.
QUICK_ARGS = ["--benchmark_min_time=0.01"]

ACCELS = ("tcg", "kvm")


def list_benchmarks(out):
    proc = subprocess.run(
        ["gn", "ls", out, "//bench/*", "--type=executable", "--as=output"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    # Host benchmark executables land directly in out/; programs for other
    # machines (the Linux guest's init) are kept in subdirectories.
    return sorted(os.path.join(out, l) for l in proc.stdout.split() if "/" not in l)


def run_binary(binary, quick, extra_args=(), timeout=900):
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
    if "Failed to match any benchmarks" in proc.stdout:
        return {"benchmarks": []}  # a filter that selects none here
    try:
        return json.load(open(json_path))
    except (OSError, ValueError) as e:
        raise KeelError(f"{name}: cannot read {rel(json_path)}: {e}")


def run_host(out, quick, results, extra_args=()):
    """Every host benchmark binary; returns [(binary, entries)]."""
    binaries = [b for b in list_benchmarks(out) if os.path.exists(b)]
    if not binaries:
        raise KeelError("no benchmark binaries under //bench (host toolchain) were built")
    runs = []
    for binary in binaries:
        name = os.path.basename(binary)
        log(f"bench: {name}")
        entries = run_binary(binary, quick, extra_args).get("benchmarks", [])
        results.add("host", benchreport.impl_of_binary(name), entries)
        runs.append((binary, entries))
    return runs


def run_guests(out, quick, accels, results):
    """Keel's in-kernel suite and the Linux peer, booted with the same QEMU
    settings, per accelerator; returns [(label, entries)]."""
    import guestbench
    import linuxguest

    runs = []
    for accel in accels:
        suite = f"guest-{accel}"
        for impl, runner in ((benchreport.KEEL, guestbench.run_keel_guest), ("linux", linuxguest.run_linux_guest)):
            log(f"bench: {impl} guest ({accel.upper()})")
            try:
                data = runner(out, accel, quick)
            except KeelError as e:
                if quick or accel == "tcg":
                    raise
                # A guest that cannot run under this host's KVM (Linux does
                # not boot under some nested hypervisors) is a row that says
                # so, not the end of the whole run.
                data = _failed_guest(results, suite, accel, str(e))
                log(f"bench: {impl} guest ({accel.upper()}) failed: {str(e).splitlines()[0]}")
            path = aux_dir("bench", f"{suite}-{impl}{'-quick' if quick else ''}.json")
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w") as f:
                json.dump(data, f, indent=1)
            entries = data.get("benchmarks", [])
            results.add(suite, impl, entries)
            runs.append((f"{suite}-{impl}", entries))
    return runs


def _failed_guest(results, suite, accel, message):
    """Error entries for every guest measure Keel reported in the suite, so
    the report shows why the peer's column is empty."""
    first = message.splitlines()[0][:200]
    names = results.names(suite, benchreport.KEEL) or ["guest_boot/ready"]
    return {
        "context": {"accel": accel, "error": message[-4000:]},
        "benchmarks": [
            {"name": n, "run_type": "iteration", "error_occurred": True, "error_message": first}
            for n in names
        ],
    }


def machine_description():
    model = ""
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{model or platform.processor()}, {os.cpu_count()} processors, {platform.system()} {platform.release()}"


def report(results, quick):
    """The comparison tables and the targets, as text (printed) and as
    markdown + JSON under out/bench/ (docs/benchmarks.md quotes them)."""
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    machine = machine_description()
    text, md = [], [f"Measured {stamp} on {machine}" + (" (quick run: not a measurement)" if quick else "") + "."]
    for suite in results.suites():
        rows = benchreport.comparison_rows(results, suite)
        text += [f"\n{suite}: Keel against its peers (ratio = Keel / peer; lower is better)", benchreport.text_table(rows)]
        md += [f"\n### {suite}\n", benchreport.markdown_table(rows)]
    targets = benchreport.target_rows(results)
    text += ["\ntargets (issue 4):", benchreport.text_table(targets)]
    md += ["\n### Targets\n", benchreport.markdown_table(targets)]
    suffix = "-quick" if quick else ""
    os.makedirs(aux_dir("bench"), exist_ok=True)
    with open(aux_dir("bench", f"report{suffix}.md"), "w") as f:
        f.write("\n".join(md) + "\n")
    with open(aux_dir("bench", f"report{suffix}.json"), "w") as f:
        json.dump(
            {
                "machine": machine,
                "date": stamp,
                "quick": quick,
                "targets": [
                    dict(zip(("target", "measure", "reference", "limit", "ratio", "status", "family"), row))
                    for row in benchreport.evaluate_targets(results)
                ],
            },
            f,
            indent=1,
        )
    return "\n".join(text)


def cmd_bench(args):
    out = build_dir(False)
    gen(out)
    ninja(out)
    host = not args.guest or args.host
    guest = not args.host or args.guest
    if args.bench_args and not args.guest:
        guest = False  # Google Benchmark flags select host benchmarks
    if args.accel:
        accels = tuple(args.accel.split(","))
    else:
        accels = ("tcg",) if args.quick else ACCELS
    extra = list(args.bench_args)
    if args.repetitions:
        # The median of N runs per benchmark (benchreport reads it).
        extra += [f"--benchmark_repetitions={args.repetitions}"]
    results = benchreport.Results()
    if host:
        run_host(out, args.quick, results, extra)
    if guest:
        run_guests(out, args.quick, accels, results)
    print(report(results, args.quick), flush=True)
    print(f"\nJSON and report: {rel(aux_dir('bench'))}/", flush=True)
    if args.plot:
        import benchplot

        for path in benchplot.plot_all(results, aux_dir("bench", "plots")):
            print(f"plot: {rel(path)}")
    return 0
