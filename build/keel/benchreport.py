# benchreport.py - the `keel bench` report: Keel's figures beside its peers'
# (measured in the same run on the same machine), the ratios, and the
# issue's targets with the measured ratio and, where one is missed, what
# limits it. Pure functions over Google Benchmark JSON entries: bench.py
# runs the binaries and guests, this module only reads their results.
#
# A result is (suite, impl, entry): suite "host" for the benchmark
# binaries, "guest-tcg"/"guest-kvm" for the QEMU guests; impl "keel" for
# Keel's binaries and guest, otherwise the peer's name. One measure is one
# benchmark name within a suite, registered by Keel and by its peers.

import re

KEEL = "keel"

# Counters that are the measure itself rather than a side figure; the
# first one an entry has replaces its time in comparisons.
VALUE_COUNTERS = {"bytes_per_byte": "B/B"}

_TIME_SCALE = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}


# Suffixes Google Benchmark appends for how a run was timed, not what it
# measures: one implementation may time manually where another does not.
_RUN_SUFFIX = re.compile(r"/(?:manual_time|real_time|iterations:\d+|min_time:[\d.]+|repeats:\d+)")


def measure_name(name):
    """A benchmark's name without the run-configuration suffixes."""
    return _RUN_SUFFIX.sub("", name)


def impl_of_binary(binary_name):
    """keel_bench_peer_<impl> -> impl; every other keel_bench* -> keel."""
    m = re.match(r"keel_bench_peer_(\w+)$", binary_name)
    return m.group(1) if m else KEEL


def value(entry):
    """(number, unit) of an entry's measure, or None when it failed.
    Times are normalised to nanoseconds."""
    if entry is None or entry.get("error_occurred"):
        return None
    for counter, unit in VALUE_COUNTERS.items():
        if isinstance(entry.get(counter), (int, float)):
            return float(entry[counter]), unit
    if "real_time" not in entry:
        return None
    scale = _TIME_SCALE.get(entry.get("time_unit", "ns"), 1.0)
    return float(entry["real_time"]) * scale, "ns"


def format_value(v):
    if v is None:
        return "-"
    number, unit = v
    if unit != "ns":
        return f"{number:.3g} {unit}"
    for limit, div, name in ((1e3, 1, "ns"), (1e6, 1e3, "us"), (1e9, 1e6, "ms")):
        if number < limit:
            return f"{number / div:,.1f} {name}"
    return f"{number / 1e9:,.2f} s"


class Results:
    """Every entry of one `keel bench` run, by suite, impl and name."""

    def __init__(self):
        self.by_key = {}  # (suite, impl, name) -> entry
        self.order = []  # (suite, name) in first-seen order, Keel's first
        self.impls = {}  # suite -> [impl, ...] in first-seen order

    def add(self, suite, impl, entries):
        # With --benchmark_repetitions the median stands for the measure;
        # the single repetitions and the other aggregates are not kept.
        medians = {
            measure_name(e.get("run_name", e.get("name", "")))
            for e in entries
            if e.get("run_type") == "aggregate" and e.get("aggregate_name") == "median"
        }
        for e in entries:
            if e.get("run_type") == "aggregate":
                if e.get("aggregate_name") != "median":
                    continue
                name = measure_name(e.get("run_name", e.get("name", "")))
            else:
                name = measure_name(e.get("name", ""))
                if name in medians:
                    continue
            self.by_key[(suite, impl, name)] = e
            if (suite, name) not in self.order:
                self.order.append((suite, name))
            self.impls.setdefault(suite, [])
            if impl not in self.impls[suite]:
                self.impls[suite].append(impl)

    def get(self, suite, impl, name):
        return self.by_key.get((suite, impl, name))

    def suites(self):
        return list(self.impls)

    def peers(self, suite):
        return [i for i in self.impls.get(suite, []) if i != KEEL]

    def names(self, suite, impl=None):
        return [
            n
            for s, n in self.order
            if s == suite and (impl is None or (suite, impl, n) in self.by_key)
        ]


def ratio(a, b):
    if a is None or b is None or b[1] != a[1] or b[0] <= 0:
        return None
    return a[0] / b[0]


def best_peer(results, suite, name):
    """(peer, value) of the peer with the lowest value for name, or
    (None, None) when no peer measured it."""
    measured = [(p, value(results.get(suite, p, name))) for p in results.peers(suite)]
    measured = [(p, v) for p, v in measured if v is not None]
    return min(measured, key=lambda pv: pv[1][0]) if measured else (None, None)


def comparison_rows(results, suite):
    """One row per measure Keel has in the suite: Keel's value, each peer's
    value with Keel's ratio to it, and the ratio to the best peer."""
    peers = results.peers(suite)
    header = ["benchmark", KEEL] + peers + (["vs best peer"] if peers else [])
    rows = [header]
    keel_names = results.names(suite, KEEL)
    for name in keel_names:
        mine = value(results.get(suite, KEEL, name))
        cells = [name, format_value(mine) if mine else _error(results.get(suite, KEEL, name))]
        # A label "vs OTHER" names a reference measured by the same binary.
        label = (results.get(suite, KEEL, name) or {}).get("label", "")
        if mine and label.startswith("vs "):
            other = label[3:].strip()
            r = ratio(mine, value(results.get(suite, KEEL, other)))
            if r is not None:
                cells[1] += f" ({r:.2f}x {other})"
        for peer in peers:
            theirs = value(results.get(suite, peer, name))
            r = ratio(mine, theirs)
            if theirs is None:
                failed = results.get(suite, peer, name)
                cells.append("failed" if failed and failed.get("error_occurred") else "")
            elif r is not None:
                cells.append(f"{format_value(theirs)} ({r:.2f}x)")
            else:
                cells.append(format_value(theirs))
        if peers:
            r = ratio(mine, best_peer(results, suite, name)[1])
            cells.append(f"{r:.2f}x" if r is not None else "")
        rows.append(cells)
    # Measures only peers have (their floors and extras) come after Keel's.
    for name in results.names(suite):
        if name in keel_names:
            continue
        cells = [name, "-"]
        for peer in peers:
            cells.append(format_value(value(results.get(suite, peer, name))))
        if peers:
            cells.append("")
        rows.append(cells)
    return rows


def _error(entry):
    if entry is None:
        return "-"
    return "ERROR: " + entry.get("error_message", "failed")


# Targets ---------------------------------------------------------------------
#
# Each target compares one of Keel's measures with a reference:
#   ("best_peer", suite, name)            the lowest peer value of the same name
#   ("keel", suite, other_name)           another of Keel's measures
#   ("absolute", suite, name)             the value itself (e.g. bytes per byte)
# A name ending in "*" stands for every Keel measure with that prefix.

POOL_SMALL = (16, 32, 64, 128, 256)
OVERHEAD_SMALL = (16, 32, 48, 64, 96, 128, 192, 256)

def _vs_best_peer(text, name, limit, family, suite="host"):
    return (text, ("best_peer", suite, name), limit, family)


TARGETS = (
    [
        _vs_best_peer(f"pool alloc+free pair {s} B, one processor", f"pool_alloc_free/size:{s}", 1.0, "pool-pair")
        for s in POOL_SMALL
    ]
    + [
        _vs_best_peer(f"pool 1,000 allocs then 1,000 frees, {s} B", f"pool_batch/size:{s}", 1.2, "pool-batch")
        for s in (16, 64, 256)
    ]
    + [
        _vs_best_peer(f"pool cross-processor frees, {s} B", f"pool_cross_processor/size:{s}", 1.2, "pool-cross")
        for s in (16, 64, 256)
    ]
    + [
        _vs_best_peer(
            "pool alloc+free, 64 B, on 1..all processors", "pool_scaling/size:64/threads:*", 1.2, "pool-scaling"
        )
    ]
    + [
        (
            f"pool memory overhead, {s} B (bytes reserved per byte)",
            ("absolute", "host", f"pool_overhead/size:{s}"),
            1.25,
            "pool-overhead",
        )
        for s in OVERHEAD_SMALL
    ]
    + [
        (
            "select-next, 32 levels vs 1",
            ("keel", "host", "sched_select_next/levels:32/ready:32", "sched_select_next/levels:1/ready:1"),
            1.1,
            "select-next",
        ),
        (
            "select-next, 10,000 ready threads vs 1",
            ("keel", "host", "sched_select_next/levels:1/ready:10000", "sched_select_next/levels:1/ready:1"),
            1.1,
            "select-next",
        ),
        (
            "thread switch: event ping-pong on one processor vs bare register swap",
            ("keel", "host", "sched_pingpong/cross:0", "sched_register_swap"),
            3.0,
            "switch",
        ),
    ]
    + [
        target
        for accel in ("tcg", "kvm")
        for target in (
            _vs_best_peer(
                f"guest event ping-pong, one processor ({accel.upper()}) vs Linux futex",
                "guest_pingpong/cross:0",
                0.5,
                "guest-pingpong",
                suite=f"guest-{accel}",
            ),
            _vs_best_peer(
                f"guest boot to system ready ({accel.upper()}) vs Linux boot to init",
                "guest_boot/ready",
                0.1,
                "guest-boot",
                suite=f"guest-{accel}",
            ),
        )
    ]
)

# What limits a target where it is missed, by target family; shown beside
# a missed row. Keep these true to the latest measurements
# (docs/benchmarks.md).
LIMITS = {
    "pool-pair": (
        "instructions: a pair executes ~310 (callgrind: ExAllocatePool2 140 + "
        "ExFreePoolWithTag 170) against 43 for mimalloc and 67 for tcmalloc - NT's rules "
        "and checks the peers do not have: raise to DISPATCH_LEVEL and back, per-tag "
        "accounting, encoded free links, page/entry validation with double-free and "
        "wrong-tag detection on every free"
    ),
    "pool-batch": "the same per-block work as the pair (IRQL, tag accounting, free-time checks)",
    "pool-scaling": (
        "the per-block work of the pair row on each processor; the per-processor lists share "
        "nothing on the fast path, so the ratio follows the one-processor one"
    ),
    "select-next": (
        "not the queues (one bit scan, one list head; another processor's queues are "
        "read only when its ready bit is set): a ~20 ns measure moved by the other "
        "processor's traffic on this shared machine"
    ),
    "switch": lambda results: _switch_limit(results),
}


def _switch_limit(results):
    """The switch target's floor from this run's own figures: a round trip
    takes the dispatcher lock four times (two KeSetEvent, two waits; one
    locked compare-exchange each, the least an SMP-safe call can do) and
    switches twice (the register swap measures two swaps)."""
    lock = value(results.get("host", KEEL, "sched_locked_pair"))
    swap = value(results.get("host", KEEL, "sched_register_swap"))
    floor = ""
    if lock is not None and swap is not None:
        budget, spent = 3 * swap[0], 4 * lock[0] + swap[0]
        floor = (
            f": 4 x {lock[0]:.1f} ns (sched_locked_pair) + {swap[0]:.1f} ns for the two swaps "
            f"= {spent:.0f} ns of the {budget:.0f} ns budget, {budget - spent:.0f} ns left for "
            "the bookkeeping of ~1,000 instructions"
        )
    return (
        "the lock protocol - a round trip is two KeSetEvent and two waits, each taking the "
        "dispatcher lock once with a locked compare-exchange" + floor + "; per-processor "
        "dispatcher locks would not lower that count on one processor (NT's object, thread "
        "and PRCB locks take more); KeSetEvent(..., TRUE) + wait (sched_pingpong_waitnext) "
        "takes the lock once per half"
    )


def _expand(results, suite, name):
    if not name.endswith("*"):
        return [name]
    return [n for n in results.names(suite, KEEL) if n.startswith(name[:-1])]


def evaluate_targets(results, suites=None):
    """[(description, measure, reference, limit, measured ratio or None,
    status, family)] for every target whose suite was run (or all suites
    given)."""
    rows = []
    ran = set(results.suites()) if suites is None else set(suites)
    for text, spec, limit, family in TARGETS:
        kind, suite = spec[0], spec[1]
        if suite not in ran:
            continue
        for name in _expand(results, suite, spec[2]):
            mine = value(results.get(suite, KEEL, name))
            if kind == "best_peer":
                ref_name, ref = best_peer(results, suite, name)
                reference = f"{ref_name or 'no peer'} {name}"
            elif kind == "keel":
                ref = value(results.get(suite, KEEL, spec[3]))
                reference = f"keel {spec[3]}"
            else:
                ref = (1.0, mine[1]) if mine else None
                reference = "(absolute)"
            measured = ratio(mine, ref)
            if measured is None:
                status = "not measured"
                errors = [
                    e.get("error_message", "")
                    for e in [results.get(suite, i, name) for i in results.impls.get(suite, [])]
                    if e and e.get("error_occurred")
                ]
                if errors:
                    status += ": " + errors[0]
            elif measured <= limit:
                status = "met"
            else:
                status = "MISSED"
            label = f"{text}: {name}" if spec[2].endswith("*") else text
            rows.append((label, f"{suite}: {name}", reference, limit, measured, status, family))
    return rows


def missing_inputs(results, suites):
    """Targets of the given suites whose measures were not produced: a
    renamed or failing benchmark must not silently empty a row."""
    return [
        f"{row[0]} ({row[1]} vs {row[2]})"
        for row in evaluate_targets(results, suites)
        if row[5].startswith("not measured")
    ] + [
        f"{text}: no Keel measure matches {spec[2]}"
        for text, spec, _, _ in TARGETS
        if spec[1] in suites and spec[2].endswith("*") and not _expand(results, spec[1], spec[2])
    ]


def target_rows(results, suites=None):
    rows = [["target", "limit", "measured", "status", "reference"]]
    for label, measure, reference, limit, measured, status, family in evaluate_targets(
        results, suites
    ):
        note = ""
        if status == "MISSED" and family in LIMITS:
            limit_text = LIMITS[family]
            note = " - " + (limit_text(results) if callable(limit_text) else limit_text)
        rows.append(
            [
                label,
                f"<= {limit:g}" + ("" if "absolute" in reference else "x"),
                "-" if measured is None else f"{measured:.2f}" + ("" if "absolute" in reference else "x"),
                status + note,
                reference,
            ]
        )
    return rows


def text_table(rows):
    widths = [max(len(str(r[i])) for r in rows if i < len(r)) for i in range(len(rows[0]))]
    lines = []
    for k, r in enumerate(rows):
        cells = [f"{str(c):<{widths[i]}}" for i, c in enumerate(r)]
        lines.append("  ".join(cells).rstrip())
        if k == 0:
            lines.append("-" * len(lines[0]))
    return "\n".join(lines)


def markdown_table(rows):
    def esc(c):
        return str(c).replace("|", "\\|")

    lines = ["| " + " | ".join(esc(c) for c in rows[0]) + " |"]
    lines.append("|" + "|".join("---" for _ in rows[0]) + "|")
    for r in rows[1:]:
        lines.append("| " + " | ".join(esc(c) for c in r) + " |")
    return "\n".join(lines)

