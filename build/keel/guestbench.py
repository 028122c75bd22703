# guestbench.py - Keel's half of `keel bench --guest`: boot the kernel in
# QEMU with `bench` on its command line, read the kbench lines
# (kernel/include/kbench.h: one Google Benchmark JSON entry per line) and
# the boot phase lines from the serial console, and return the run as
# Google Benchmark JSON ({"context": ..., "benchmarks": [...]}).
#
#   python3 build/keel/guestbench.py [--accel tcg|kvm] [--quick] [--filter GLOB]
#
# The Linux guest peer (linuxguest.py) boots with the same QEMU settings,
# GUEST_QEMU, so the two can be compared entry by entry.

import datetime
import json
import os
import re
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import gnbuild  # noqa: E402
import images  # noqa: E402
import qemu  # noqa: E402
from common import KeelError, aux_dir, rel, tail  # noqa: E402

# Shared with the Linux guest peer: -m 256M -smp 2, QEMU's default CPU
# model, -accel tcg or kvm.
GUEST_QEMU = dict(memory="256M", smp=2)

BENCHTIME_MS = 100  # minimum measured time per benchmark (the kernel's default)
QUICK_BENCHTIME_MS = 5  # --quick: every benchmark runs and reports, briefly
TIMEOUT = {"tcg": 300, "kvm": 600}  # seconds per boot

# What the kernel registers (kernel/kbench); a run without a filter must
# report each of them, as a result or as an error entry.
EXPECTED = [
    "guest_pingpong/cross:0",
    "guest_pingpong/cross:1",
    "guest_dpc_latency/cross:0",
    "guest_dpc_latency/cross:1",
    "guest_ipi_roundtrip",
    "guest_pool_alloc_free/size:16",
    "guest_pool_alloc_free/size:64",
    "guest_pool_alloc_free/size:256",
    "guest_pool_alloc_free/size:1024",
    "guest_pool_alloc_free/size:4096",
    "guest_thread_create_exit",
    "guest_irql_raise_lower",
]

KBENCH_LINE = re.compile(r"^kbench: (\{.*\})\s*$")
KBENCH_DONE = re.compile(r"^kbench: done\s*$", re.M)
BOOT_LINE = re.compile(r"^boot: (.+?) at (\d+(?:\.\d+)?) ms\s*$")
READY_PHASE = "system ready"
FIRST_PHASE = "loader entry"
TIMESTAMP_LINE = re.compile(r"^kbench: .* timestamp (\d+) Hz\s*$", re.M)


class Console:
    """What a bench boot printed: kbench entries (dicts, in order), boot
    phases [(name, ms since loader entry)], whether "kbench: done" came,
    and the lines that looked like kbench entries but did not parse."""

    def __init__(self, entries, phases, done, bad_lines):
        self.entries = entries
        self.phases = phases
        self.done = done
        self.bad_lines = bad_lines


def parse_console(text):
    entries, phases, bad = [], [], []
    for line in text.replace("\r\n", "\n").split("\n"):
        m = KBENCH_LINE.match(line)
        if m:
            try:
                entry = json.loads(m.group(1))
            except ValueError:
                bad.append(line)
                continue
            if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
                bad.append(line)
                continue
            entries.append(entry)
            continue
        m = BOOT_LINE.match(line)
        if m:
            phases.append((m.group(1), float(m.group(2))))
    return Console(entries, phases, KBENCH_DONE.search(text) is not None, bad)


def gbench_entry(name, family_index, instance_index, fields):
    """Google Benchmark's fields around the kernel's (which win)."""
    entry = {
        "name": name,
        "family_index": family_index,
        "per_family_instance_index": instance_index,
        "run_name": name,
        "run_type": "iteration",
        "repetitions": 1,
        "repetition_index": 0,
        "threads": 1,
    }
    entry.update(fields)
    entry["name"] = name
    return entry


def ms_entry(name, family_index, instance_index, ms):
    """A one-iteration entry of ms milliseconds (boot times)."""
    fields = {"iterations": 1, "real_time": ms, "cpu_time": ms, "time_unit": "ms"}
    return gbench_entry(name, family_index, instance_index, fields)


def benchmark_entries(console, host_ready_ms=None):
    """The JSON "benchmarks" list: the kbench entries, then one entry per
    boot phase (guest_boot/phase:<name>, ms since loader entry; "system
    ready" is guest_boot/ready) and the host-observed launch-to-ready."""
    out = []
    families = {}
    for entry in console.entries:
        family = entry["name"].split("/", 1)[0]
        index = families.setdefault(family, [len(families), 0])
        out.append(gbench_entry(entry["name"], index[0], index[1], entry))
        index[1] += 1
    family_index = len(families)
    instance = 0
    for phase, ms in console.phases:
        if phase == READY_PHASE:
            name = "guest_boot/ready"
        else:
            name = "guest_boot/phase:" + phase.replace(" ", "_")
        out.append(ms_entry(name, family_index, instance, ms))
        instance += 1
    if host_ready_ms is not None:
        name = "guest_boot/host_observed_ready"
        out.append(ms_entry(name, family_index, instance, host_ready_ms))
    return out


def check_console(console, status, filter_glob=None):
    """Why a bench boot is not a valid result, or None."""
    if status != qemu.STATUS_SUCCESS:
        return f"QEMU {qemu.describe_status(status)}, expected exit 0x10 (status 33)"
    if not console.done:
        return "no 'kbench: done' line"
    if console.bad_lines:
        return "unparsable kbench lines:\n" + "\n".join(console.bad_lines[:5])
    if not console.entries:
        return "no kbench entries"
    names = [e["name"] for e in console.entries]
    if len(set(names)) != len(names):
        return "a benchmark reported twice"
    if not filter_glob:
        missing = [n for n in EXPECTED if n not in names]
        if missing:
            return "benchmarks missing from the run: " + ", ".join(missing)
    phases = [p for p, _ in console.phases]
    if FIRST_PHASE not in phases or READY_PHASE not in phases:
        return "boot phase lines missing ('loader entry' .. 'system ready')"
    for e in console.entries:
        if e.get("error_occurred"):
            continue
        for key in ("iterations", "real_time", "cpu_time"):
            if not isinstance(e.get(key), (int, float)):
                return f"{e['name']}: no numeric {key}"
        if e["iterations"] < 1 or e.get("time_unit") != "ns":
            return f"{e['name']}: iterations {e['iterations']}, unit {e.get('time_unit')}"
    return None


def qemu_version():
    try:
        out = subprocess.run(
            ["qemu-system-x86_64", "--version"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            timeout=10,
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    m = re.search(r"version (\S+)", out)
    return m.group(1) if m else out.strip().split("\n")[0]


def _context(accel, console_text, benchtime_ms, kernel):
    m = TIMESTAMP_LINE.search(console_text)
    build = re.search(r"^Keel (\S+) \(NT 10\.0 x64, (\w+) build\)", console_text, re.M)
    try:
        load = list(os.getloadavg())
    except OSError:
        load = []
    return {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "host_name": socket.gethostname(),
        "executable": rel(kernel),
        "num_cpus": os.cpu_count(),
        "load_avg": load,
        "library_build_type": build.group(2) if build else "unknown",
        "keel_version": build.group(1) if build else "unknown",
        "accel": accel,
        "qemu": qemu_version(),
        "smp": GUEST_QEMU["smp"],
        "memory": GUEST_QEMU["memory"],
        "benchtime_ms": benchtime_ms,
        "guest_timestamp_hz": int(m.group(1)) if m else None,
    }


def run_keel_guest(out_dir, accel, quick, filter_glob=None, benchtime_ms=None, echo=False):
    """Boots out_dir's kernel with the in-kernel benchmarks under accel
    ("tcg" or "kvm") and returns Google Benchmark JSON. Raises KeelError
    (with the console tail) unless the guest reported every benchmark,
    printed "kbench: done" and exited with 0x10."""
    if accel not in TIMEOUT:
        raise KeelError(f"guest bench: accel must be tcg or kvm, not {accel!r}")
    if accel == "kvm" and not qemu.kvm_works():
        raise KeelError("guest bench: KVM does not work here (no /dev/kvm, or the probe failed)")
    kernel = os.path.join(out_dir, gnbuild.NTOSKRNL)
    loader = os.path.join(out_dir, gnbuild.LOADER)
    for path in (kernel, loader):
        if not os.path.exists(path):
            raise KeelError(f"guest bench: {rel(path)} not built")
    image = images.compose(aux_dir("images", "bench.cpio"), kernel)

    if benchtime_ms is None:
        benchtime_ms = QUICK_BENCHTIME_MS if quick else BENCHTIME_MS
    cmdline = "bench" + (f"={filter_glob}" if filter_glob else "") + f" benchtime={benchtime_ms}"
    cmd = qemu.command(loader, image, cmdline, accel=accel, **GUEST_QEMU)

    # Launch to the "system ready" line as the host sees it: firmware and
    # QEMU start-up included, as the Linux peer's launch-to-init.
    seen = {}

    def watch(line):
        if READY_PHASE not in seen:
            m = BOOT_LINE.match(line.rstrip("\r"))
            if m and m.group(1) == READY_PHASE:
                seen[READY_PHASE] = time.monotonic()
        return False

    launched = time.monotonic()
    status, text, seconds = qemu.run_headless(cmd, TIMEOUT[accel], echo=echo, stop_when=watch)
    console = parse_console(text)
    why = check_console(console, status, filter_glob)
    if why is not None:
        raise KeelError(
            f"guest bench ({accel}): {why}\n$ {' '.join(cmd)}\n"
            f"QEMU {qemu.describe_status(status)} after {seconds:.1f} s; console tail:\n"
            + tail(text, 30)
        )
    host_ready_ms = None
    if READY_PHASE in seen:
        host_ready_ms = round((seen[READY_PHASE] - launched) * 1000.0, 3)
    return {
        "context": _context(accel, text, benchtime_ms, kernel),
        "benchmarks": benchmark_entries(console, host_ready_ms),
    }


def _table(entries):
    rows = []
    for e in entries:
        if e.get("error_occurred"):
            rows.append(f"{e['name']:<40} ERROR {e.get('error_message', '')}")
        else:
            rows.append(
                f"{e['name']:<40} {e['real_time']:>16,.3f} {e['time_unit']:<2} "
                f"{e['iterations']:>10,}"
            )
    return "\n".join(rows)


def main(argv=None):
    import argparse

    from common import build_dir

    p = argparse.ArgumentParser(description="Keel's in-kernel benchmarks in QEMU")
    p.add_argument("--accel", choices=("tcg", "kvm"), default="tcg")
    p.add_argument("--quick", action="store_true", help=f"benchtime={QUICK_BENCHTIME_MS} ms")
    p.add_argument("--filter", help="glob(s) over benchmark names, comma-separated")
    p.add_argument("--benchtime", type=int, help="minimum ms per benchmark")
    p.add_argument("--echo", action="store_true", help="copy the serial console to stdout")
    p.add_argument("-o", "--output", help="JSON file (default out/bench/keel_guest-ACCEL.json)")
    args = p.parse_args(argv)
    try:
        data = run_keel_guest(
            build_dir(False), args.accel, args.quick, args.filter, args.benchtime, args.echo
        )
    except KeelError as e:
        print(f"keel: error: {e}", file=sys.stderr)
        return 1
    path = args.output or aux_dir(
        "bench", f"keel_guest-{args.accel}{'-quick' if args.quick else ''}.json"
    )
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        json.dump(data, f, indent=2)
        f.write("\n")
    print(_table(data["benchmarks"]))
    print(f"{rel(path)} ({args.accel}, qemu {data['context']['qemu']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
