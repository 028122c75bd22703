# testing.py - `keel test`: every check the project has, each reported as
# pass/fail, ending with the line "N passed, N failed". Steps: lint (gn
# format, gn check, clang-format), build, hosted ktest, in-QEMU ktest, QEMU
# boot smoke tests, the DDK kit, fuzzers over their corpora, quick
# benchmarks. Individual ktest cases count as individual tests.

import concurrent.futures
import os
import re
import shutil
import subprocess
import tempfile
import time

import bench
import benchreport
import ddk
import fuzz
import gnbuild
import images
import ktap
import qemu
from common import KeelError, ROOT, aux_dir, capture, rel, tail

QEMU_TIMEOUT = 60  # seconds per boot (TCG)
QEMU_KTEST_SMP = (1, 4)  # processor counts the in-QEMU ktest pass boots with
HOSTED_TIMEOUT = 300
HOSTED_KTEST_PROCESSORS = (1, 4)  # ktest_hosted --processors N, one run each
FUZZ_TIMEOUT = 180

BANNER = re.compile(r"^Keel \d+\.\d+\.\d+ \(NT 10\.0 x64, (free|checked) build\)", re.M)
READY = re.compile(r"^boot: system ready at (\d+\.\d+) ms", re.M)
# *** STOP: 0x%08X (0x%016llX,0x%016llX,0x%016llX,0x%016llX): code, P1
STOP = re.compile(r"^\*\*\* STOP: 0x([0-9A-F]{8}) \(0x([0-9A-F]{16})(?:,0x[0-9A-F]{16}){3}\)", re.M)


class Results:
    def __init__(self):
        self.passed = 0
        self.failed = 0
        self.skipped = 0
        self.failures = []  # (name, message)

    def add(self, name, ok, message=None, echo=True):
        if ok:
            self.passed += 1
        else:
            self.failed += 1
            self.failures.append((name, message or ""))
        if echo:
            print(f"{'PASS' if ok else 'FAIL'} {name}", flush=True)
            if not ok and message:
                print(_indent(message), flush=True)
        return ok

    def skip(self, name, reason):
        self.skipped += 1
        print(f"SKIP {name}: {reason}", flush=True)


def _indent(text, prefix="    "):
    return "\n".join(prefix + l for l in text.rstrip("\n").split("\n"))


def _step(title):
    print(f"\n== {title}", flush=True)


def _source_files(exts, top=ROOT):
    found = []
    for d, dirs, names in os.walk(top):
        # Build directories ("out" anywhere, e.g. an in-tree sample build)
        # hold generated files, not sources.
        dirs[:] = sorted(
            x
            for x in dirs
            if not x.startswith(".")
            and x not in ("out", "__pycache__")
            and not os.path.exists(os.path.join(d, x, "build.ninja"))
        )
        found += [os.path.join(d, n) for n in sorted(names) if n.endswith(exts)]
    return found


# (1) lint ------------------------------------------------------------------


def self_test(results):
    """keel's own parser tests: a wrong parser would hide every failure."""
    import unittest

    import glob
    import importlib

    def flatten(suite):
        for item in suite:
            if isinstance(item, unittest.TestSuite):
                yield from flatten(item)
            else:
                yield item

    modules = sorted(
        os.path.basename(p)[:-3] for p in glob.glob(os.path.join(os.path.dirname(__file__), "*_test.py"))
    )
    cases = []
    for module in modules:
        cases += flatten(
            unittest.defaultTestLoader.loadTestsFromModule(importlib.import_module(module))
        )
    for case in cases:
        outcome = unittest.TestResult()
        case.run(outcome)
        problems = outcome.failures + outcome.errors
        results.add(
            f"keel: {case.id().split('.', 1)[1]}",
            not problems,
            "\n".join(text for _, text in problems),
            echo=bool(problems),
        )


def lint(results, out):
    _step("lint: gn format, gn check, clang-format")
    gn_files = _source_files((".gn", ".gni"))
    bad = []
    for f in gn_files:
        status, text = capture(["gn", "format", "--dry-run", f])
        if status != 0:
            bad.append(f"{rel(f)}" + (f": {text.strip()}" if status != 2 else ""))
    results.add(
        f"lint: gn format ({len(gn_files)} files)",
        not bad,
        "not formatted (run `gn format FILE`):\n" + "\n".join(bad),
    )

    status, text = capture(["gn", "check", rel(out)])
    results.add("lint: gn check", status == 0, tail(text, 40))

    c_files = _source_files((".c", ".h", ".cc"))
    bad = []
    # Batches keep the command line short; -Werror makes any change an error.
    for i in range(0, len(c_files), 100):
        batch = c_files[i : i + 100]
        status, text = capture(["clang-format", "--dry-run", "-Werror"] + batch)
        if status != 0:
            for f in batch:
                if f in text or rel(f) in text:
                    bad.append(rel(f))
    results.add(
        f"lint: clang-format ({len(c_files)} files)",
        not bad,
        "not formatted (run `clang-format -i FILE`):\n" + "\n".join(bad),
    )

    # The stop screen names every stop code the DDK defines.
    codes = re.findall(
        r"^#define\s+([A-Z0-9_]+)\s+\(\(ULONG\)",
        open(os.path.join(ROOT, "ddk/include/bugcodes.h")).read(),
        re.M,
    )
    names = open(os.path.join(ROOT, "kernel/ke/bugcheck.c")).read()
    unnamed = [c for c in codes if f"KI_NAME({c})" not in names]
    results.add(
        f"lint: every stop code has a name on the stop screen ({len(codes)} codes)",
        bool(codes) and not unnamed,
        "add KI_NAME(...) to kernel/ke/bugcheck.c for: " + " ".join(unnamed),
    )


# (2) build -----------------------------------------------------------------


def build(results, out):
    _step("build")
    start = time.monotonic()
    proc = subprocess.run(
        ["ninja", "-C", rel(out), "-k", "0"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    errors = [l for l in proc.stdout.split("\n") if l.startswith("FAILED:") or "error:" in l]
    results.add(
        f"build: ninja -C {rel(out)} ({time.monotonic() - start:.1f} s)",
        proc.returncode == 0,
        "\n".join(errors[:30]) or tail(proc.stdout, 40),
    )
    return proc.returncode == 0


def _have(out, path, built_ok):
    """An artifact later steps may use: present and, after a failed build,
    still current (ninja has nothing to do for it)."""
    full = os.path.join(out, path)
    if not os.path.exists(full):
        return None
    if not built_ok and not gnbuild.up_to_date(out, path):
        return None
    return full


# (3) hosted ktest ------------------------------------------------------------


def _ktap_results(results, prefix, text, extra_ok=True, extra_message=""):
    report = ktap.parse(text)
    counts = {"pass": 0, "fail": 0, "skip": 0}
    for case in report.cases:
        counts[case.status] += 1
        if case.status == "skip":
            results.skipped += 1
            continue
        results.add(
            f"{prefix}: {case.full_name}",
            case.status == "pass",
            "\n".join(case.diagnostics) or "failed (no diagnostics)",
            echo=case.status != "pass",
        )
    for error in report.errors:
        results.add(f"{prefix}: KTAP stream", False, error)
    if not extra_ok:
        results.add(f"{prefix}: run", False, extra_message)
    print(
        f"{prefix}: {counts['pass']} passed, {counts['fail']} failed, {counts['skip']} skipped",
        flush=True,
    )
    return report


def _run_hosted_ktap(results, name, argv, env=None):
    """Runs a hosted ktest binary and reports its KTAP case by case. Exit
    status 1 with failed cases is expected; anything else (a sanitizer
    abort, a timeout, a clean run exiting non-zero) is its own failure with
    the stderr tail. stdout carries the KTAP; sanitizer reports go to
    stderr, which is returned."""
    try:
        proc = subprocess.run(
            argv,
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            timeout=HOSTED_TIMEOUT,
        )
        status = proc.returncode
        stdout = proc.stdout.decode("utf-8", "replace")
        stderr = proc.stderr.decode("utf-8", "replace")
    except subprocess.TimeoutExpired as e:
        status = None
        stdout = (e.stdout or b"").decode("utf-8", "replace")
        stderr = (e.stderr or b"").decode("utf-8", "replace")
    report = ktap.parse(stdout)
    any_failed = any(c.status == "fail" for c in report.cases) or report.errors
    extra_ok = status == 0 or (status == 1 and any_failed)
    command = " ".join(os.path.basename(a) if i == 0 else a for i, a in enumerate(argv))
    message = (
        f"{command} {'timed out' if status is None else f'exited with status {status}'}\n"
        + tail(stderr, 40)
    )
    _ktap_results(results, name, stdout, extra_ok, message)
    return stderr


def hosted_ktest(results, out, built_ok):
    # Once per processor count: the hosted processors are host threads.
    for processors in HOSTED_KTEST_PROCESSORS:
        _hosted_ktest_run(results, out, built_ok, processors)
    _guarded(results, "bugcheck hosted", hosted_bugcheck, results, out, built_ok)


# KTEST_BUGCHECK cases (kernel/include/ktest.h): misuse that must end in a
# given stop code. Each one ends the system it runs in, so each gets its
# own: a child process hosted (ktest_hosted --bugcheck forks them and
# judges them itself, printing KTAP), a QEMU boot with bugcheck=NAME.
def hosted_bugcheck(results, out, built_ok):
    _step("bug check cases (hosted, one child process each)")
    binary = _have(out, gnbuild.KTEST_HOSTED, built_ok)
    if binary is None:
        results.add("bugcheck hosted", False, f"{gnbuild.KTEST_HOSTED} not built")
        return
    start = time.monotonic()
    _run_hosted_ktap(results, "bugcheck hosted", [binary, "--bugcheck"])
    print(f"     {time.monotonic() - start:.2f} s")


def _hosted_ktest_run(results, out, built_ok, processors):
    name = "ktest hosted" if processors == 1 else f"ktest hosted x{processors}"
    _step(f"ktest (hosted, ASan + UBSan, {processors} processor{'s' if processors > 1 else ''})")
    binary = _have(out, gnbuild.KTEST_HOSTED, built_ok)
    if binary is None:
        results.add(name, False, f"{gnbuild.KTEST_HOSTED} not built")
        return
    env = dict(os.environ)
    env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1")
    stderr = _run_hosted_ktap(results, name, [binary, "--processors", str(processors)], env)
    if stderr.strip() and ("ERROR: AddressSanitizer" in stderr or "runtime error:" in stderr):
        results.add(f"{name}: sanitizers clean", False, tail(stderr, 40))


# (4) + (5) QEMU --------------------------------------------------------------


class Boot:
    def __init__(self, status, output, seconds):
        self.status = status
        self.output = output
        self.seconds = seconds

    def ready_ms(self):
        m = READY.search(self.output)
        return float(m.group(1)) if m else None


def _boot(out, image, cmdline, timeout=QEMU_TIMEOUT, smp=1):
    loader = os.path.join(out, gnbuild.LOADER)
    cmd = qemu.command(loader, image, cmdline, smp=smp, accel="tcg")
    status, output, seconds = qemu.run_headless(cmd, timeout)
    return Boot(status, output, seconds)


def _bootable_kernel(results, out, built_ok, name):
    """ntoskrnl.exe when it and the loader are built (what _boot needs);
    otherwise a failed test `name` and None."""
    kernel = _have(out, gnbuild.NTOSKRNL, built_ok)
    if kernel is None or _have(out, gnbuild.LOADER, built_ok) is None:
        results.add(name, False, "ntoskrnl.exe or keelldr not built")
        return None
    return kernel


def _console(boot, lines=30):
    status = qemu.describe_status(boot.status)
    return f"QEMU: {status} after {boot.seconds:.1f} s; console tail:\n" + tail(boot.output, lines)


def qemu_ktest(results, out, built_ok, extra_drivers):
    _step("ktest (in QEMU, TCG)")
    kernel = _bootable_kernel(results, out, built_ok, "ktest qemu")
    if kernel is None:
        return
    image = images.compose(aux_dir("images", "ktest.cpio"), kernel, extra_drivers)
    # The whole suite on one processor and on four (SMP paths: IPIs,
    # remote wakeups, TLB shootdown); one extra boot.
    for smp in QEMU_KTEST_SMP:
        prefix = "ktest qemu" if smp == 1 else f"ktest qemu smp{smp}"
        boot = _boot(out, image, "ktest", timeout=180, smp=smp)
        extra_ok = boot.status in (qemu.STATUS_SUCCESS, qemu.STATUS_TEST_FAILED)
        report = _ktap_results(results, prefix, boot.output, extra_ok, _console(boot))
        failed = any(c.status == "fail" for c in report.cases) or bool(report.errors)
        if extra_ok:
            # The exit code must agree with the KTAP: 0x10 only when all passed.
            agree = (boot.status == qemu.STATUS_SUCCESS) == (not failed)
            results.add(f"{prefix}: exit status matches results", agree, _console(boot, 5))
        online = re.search(r"^smp: (\d+) processors? online", boot.output, re.M)
        results.add(
            f"{prefix}: {smp} processor{'s' if smp > 1 else ''} online",
            online is not None and int(online.group(1)) == smp,
            _console(boot, 40),
        )


def _bugcheck_cases(out, built_ok):
    """[(name, code, p1 or None)] from ktest_hosted --bugcheck-list (the
    same test sources are linked into ntoskrnl.exe)."""
    binary = _have(out, gnbuild.KTEST_HOSTED, built_ok)
    if binary is None:
        raise KeelError(f"{gnbuild.KTEST_HOSTED} not built (it lists the cases)")
    status, text = capture([binary, "--bugcheck-list"])
    if status != 0:
        raise KeelError(f"ktest_hosted --bugcheck-list exited with {status}\n" + tail(text, 20))
    cases = []
    for line in text.split("\n"):
        fields = line.split()
        if len(fields) in (2, 3) and "." in fields[0]:
            p1 = int(fields[2], 16) if len(fields) == 3 else None
            cases.append((fields[0], int(fields[1], 16), p1))
    return cases


# Extra console checks for some QEMU bug check cases: the pool names the
# block's tag before it stops.
BUGCHECK_CONSOLE = {
    "ex_pool_misuse.double_free": r"^pool: double free .*\(tag 'Ktbc'\)",
    "ex_pool_misuse.free_wrong_tag": r"^pool: free with the wrong tag \(tag 'Ktbc'\)",
}


def _judge_bugcheck_boot(name, code, p1, boot):
    """None when the boot stopped as the case expects, else why not."""
    m = STOP.search(boot.output)
    if boot.status == qemu.STATUS_SUCCESS and re.search(r"^ktest: SKIP ", boot.output, re.M):
        return "skip"
    if m is None:
        return "no *** STOP: line"
    got, got_p1 = int(m.group(1), 16), int(m.group(2), 16)
    if got != code:
        return f"stopped with 0x{got:08X}, expected 0x{code:08X}"
    if p1 is not None and got_p1 != p1:
        return f"stopped with 0x{got:08X} but P1 0x{got_p1:X}, expected P1 0x{p1:X}"
    if boot.status != qemu.STATUS_BUGCHECK:
        return f"QEMU status {boot.status}, expected {qemu.STATUS_BUGCHECK}"
    extra = BUGCHECK_CONSOLE.get(name)
    if extra and not re.search(extra, boot.output, re.M):
        return f"no console line matching {extra}"
    return None


def qemu_bugcheck(results, out, built_ok):
    _step("bug check cases (QEMU, TCG, one boot each)")
    kernel = _bootable_kernel(results, out, built_ok, "bugcheck qemu")
    if kernel is None:
        return
    cases = _bugcheck_cases(out, built_ok)
    results.add("bugcheck qemu: cases registered", bool(cases), "no KTEST_BUGCHECK cases")
    image = images.compose(aux_dir("images", "kernel-only.cpio"), kernel)
    start = time.monotonic()
    # Independent boots: a few at a time.
    with concurrent.futures.ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
        boots = list(pool.map(lambda c: _boot(out, image, f"bugcheck={c[0]}"), cases))
    for (name, code, p1), boot in zip(cases, boots):
        why = _judge_bugcheck_boot(name, code, p1, boot)
        if why == "skip":
            results.skip(f"bugcheck qemu: {name}", "the case skipped itself")
            continue
        results.add(
            f"bugcheck qemu: {name}", why is None, f"{why}\n{_console(boot, 25)}", echo=why is not None
        )
    print(f"bugcheck qemu: {len(cases)} cases in {time.monotonic() - start:.1f} s", flush=True)


def smoke(results, out, built_ok, hello):
    _step("boot smoke tests (QEMU, TCG)")
    kernel = _bootable_kernel(results, out, built_ok, "boot")
    if kernel is None:
        return

    # Banner and boot phases with the kernel alone.
    kernel_only = images.compose(aux_dir("images", "kernel-only.cpio"), kernel)
    boot = _boot(out, kernel_only, "shutdown")
    results.add("boot: banner", BANNER.search(boot.output) is not None, _console(boot))
    results.add(
        "boot: phases reach 'boot: system ready'", boot.ready_ms() is not None, _console(boot)
    )
    results.add(
        "boot: shutdown exits 0x10", boot.status == qemu.STATUS_SUCCESS, _console(boot)
    )
    if boot.ready_ms() is not None:
        print(f"     system ready at {boot.ready_ms():.3f} ms; QEMU run {boot.seconds:.2f} s")

    # The out-of-tree hello driver (built by the DDK step).
    if hello is None:
        results.add("boot: hello.sys loads", False, "hello.sys was not built (see the DDK step)")
    else:
        image = images.compose(aux_dir("images", "default.cpio"), kernel, [hello])
        boot = _boot(out, image, "shutdown")
        ok = "hello: DriverEntry called" in boot.output and re.search(
            r"^io: loaded hello\.sys at 0x[0-9A-Fa-f]+", boot.output, re.M
        )
        results.add("boot: hello.sys loads and prints its message", bool(ok), _console(boot))
        results.add(
            "boot: hello image shuts down (0x10)",
            boot.status == qemu.STATUS_SUCCESS,
            _console(boot),
        )

    # Bad drivers are rejected; the system keeps booting.
    good = _have(out, "kernel/okdrv.sys", built_ok)
    badimport = _have(out, "kernel/badimport.sys", built_ok)
    source = good or hello
    if source is None or badimport is None:
        results.add("boot: bad drivers rejected", False, "okdrv.sys / badimport.sys not built")
    else:
        broken = images.corrupted_drivers(source, aux_dir("images", "broken"))
        drivers = [badimport] + list(broken.values()) + ([good] if good else [])
        image = images.compose(aux_dir("images", "bad-drivers.cpio"), kernel, drivers)
        boot = _boot(out, image, "shutdown")
        ok = re.search(
            r"^io: badimport\.sys: unresolved import ntoskrnl\.exe!\S+; driver not loaded",
            boot.output,
            re.M,
        )
        results.add("boot: badimport.sys rejected (unresolved import)", bool(ok), _console(boot))
        for name in sorted(broken):
            ok = re.search(rf"^io: {re.escape(name)}: .+; driver not loaded", boot.output, re.M)
            results.add(f"boot: corrupted {name} rejected", bool(ok), _console(boot))
        if good:
            ok = re.search(r"^io: loaded okdrv\.sys at 0x", boot.output, re.M)
            results.add("boot: okdrv.sys loads beside the bad ones", bool(ok), _console(boot))
        results.add(
            "boot: system ready despite bad drivers",
            boot.ready_ms() is not None and boot.status == qemu.STATUS_SUCCESS,
            _console(boot),
        )

    # A driver that crashes in DriverEntry: stop screen naming it, exit 0x12.
    crashdrv = _have(out, "kernel/crashdrv.sys", built_ok)
    if crashdrv is None:
        results.add("boot: crashdrv.sys stop screen", False, "crashdrv.sys not built")
    else:
        image = images.compose(aux_dir("images", "crash.cpio"), kernel, [crashdrv])
        boot = _boot(out, image, "")
        stop = STOP.search(boot.output) is not None
        results.add("boot: crashdrv.sys -> *** STOP: line", stop, _console(boot))
        frame = re.search(r"^\s+#\d+ 0x[0-9A-Fa-f]+ crashdrv\.sys!\S+", boot.output, re.M)
        results.add("boot: crashdrv.sys -> frame crashdrv.sys!...", bool(frame), _console(boot))
        bugcheck = boot.status == qemu.STATUS_BUGCHECK
        results.add("boot: crashdrv.sys -> QEMU status 37", bugcheck, _console(boot))

    # The "crash" command-line option: MANUALLY_INITIATED_CRASH (0xE2).
    boot = _boot(out, kernel_only, "crash")
    m = STOP.search(boot.output)
    results.add(
        "boot: 'crash' option -> STOP 0x000000E2, status 37",
        m is not None and m.group(1) == "000000E2" and boot.status == qemu.STATUS_BUGCHECK,
        _console(boot),
    )

    # Stack overflow, pool misuse, faults: KTEST_BUGCHECK cases, booted by
    # qemu_bugcheck (bugcheck=NAME).


# (6) DDK ---------------------------------------------------------------------


def ddk_kit(results, out, built_ok):
    """Publishes the kit, builds samples/hello from a copy outside the
    repository against the kit alone, checks the manifest. Returns the
    hello.sys built under out/samples/hello (for the boot test) or None."""
    _step("DDK kit")
    if _have(out, gnbuild.NTOSKRNL_LIB, built_ok) is None:
        results.add("ddk: publish", False, "ntoskrnl.lib not built")
        return None
    try:
        kit = ddk.publish(out, force=True)
    except KeelError as e:
        results.add("ddk: publish", False, str(e))
        return None
    results.add(f"ddk: publish ({rel(kit)})", True)
    results.add(
        "ddk: tarball", os.path.exists(kit + ".tar.gz"), f"{rel(kit)}.tar.gz missing"
    )
    problems = ddk.verify_manifest(kit)
    results.add("ddk: manifest digests", not problems, "\n".join(problems[:30]))

    # Everything ntoskrnl exports is declared in the kit's headers: the
    # export table is the driver interface and nothing else is.
    kernel = _have(out, gnbuild.NTOSKRNL, built_ok)
    if kernel is not None:
        status, dump = capture(["llvm-objdump", "-p", kernel])
        table = dump.split("Export Table:", 1)[-1]
        exports = re.findall(r"^\s+\d+\s+0x[0-9a-f]+\s+(\S+)$", table, re.M)
        headers = ""
        for d, _, names in os.walk(os.path.join(kit, "include")):
            headers += "".join(open(os.path.join(d, n), errors="replace").read() for n in names)
        declared = set(re.findall(r"\b[A-Za-z_][A-Za-z0-9_]*\b", headers))
        undeclared = [e for e in exports if e not in declared]
        results.add(
            f"ddk: every ntoskrnl export is declared in the kit ({len(exports)} exports)",
            status == 0 and bool(exports) and not undeclared,
            "exported but not declared: " + " ".join(undeclared[:40]),
        )

    # The kit must not point back into the repository.
    leaks = []
    for d, _, names in os.walk(kit):
        for n in names:
            path = os.path.join(d, n)
            try:
                if ROOT.encode() in open(path, "rb").read():
                    leaks.append(os.path.relpath(path, kit))
            except OSError:
                pass
    results.add("ddk: kit does not reference the repository", not leaks, "\n".join(leaks))

    # samples/hello copied outside the repository, built against the kit.
    tmp = tempfile.mkdtemp(prefix="keel-hello-")
    try:
        src = os.path.join(tmp, "hello")
        shutil.copytree(ddk.HELLO, src, ignore=shutil.ignore_patterns("out"))
        ok, text = ddk.build_out_of_tree(src, os.path.join(src, "out"), kit)
        sys_path = os.path.join(src, "out", "hello.sys")
        results.add(
            "ddk: samples/hello builds out of tree against the kit",
            ok and os.path.exists(sys_path),
            tail(text, 30),
        )
        if ok and os.path.exists(sys_path):
            status, dump = capture(["llvm-objdump", "-p", sys_path])
            dlls = sorted(set(re.findall(r"DLL Name:\s*(\S+)", dump)))
            results.add(
                "ddk: hello.sys imports only ntoskrnl.exe",
                status == 0 and dlls == ["ntoskrnl.exe"],
                f"imports from: {dlls}",
            )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    try:
        return ddk.hello_sys(out, kit)
    except KeelError as e:
        results.add("ddk: out/samples/hello", False, str(e))
        return None


# (7) fuzzers -----------------------------------------------------------------


def fuzzers(results, out, built_ok):
    _step("fuzzers over their seed corpora (-runs=0)")
    found = fuzz.list_fuzzers(out)
    if not found:
        results.add("fuzz: fuzzers exist", False, "no fuzzer executables under //fuzz")
        return
    for name, binary in found:
        if not built_ok and not gnbuild.up_to_date(out, os.path.relpath(binary, out)):
            results.add(f"fuzz: {name}", False, "not built")
            continue
        corpora = fuzz.seed_corpora(out, name)
        if not corpora:
            results.add(f"fuzz: {name}", False, "no seed corpus found")
            continue
        count = sum(len(os.listdir(c)) for c in corpora)
        status, text = capture([binary, "-runs=0"] + corpora, timeout=FUZZ_TIMEOUT)
        results.add(
            f"fuzz: {name} over {count} seeds",
            status == 0,
            f"{'timed out' if status is None else f'status {status}'}\n" + tail(text, 40),
        )


# (8) benchmarks --------------------------------------------------------------


def benchmarks(results, out, built_ok):
    """`keel bench --quick`: every host benchmark (Keel's and the peers')
    and both guests under TCG run and report - and every target of the
    report finds its measures. How fast is not checked here (bench/)."""
    _step("benchmarks (quick)")
    binaries = [os.path.basename(b) for b in bench.list_benchmarks(out)]
    stale = [b for b in binaries if _have(out, b, built_ok) is None]
    if not binaries or stale:
        results.add("bench: binaries built", False, "not built: " + " ".join(stale or ["any"]))
        return
    report = benchreport.Results()
    for label, run in (
        ("host", lambda: bench.run_host(out, True, report)),
        ("guests (TCG)", lambda: bench.run_guests(out, True, ("tcg",), report)),
    ):
        try:
            runs = run()
        except KeelError as e:
            results.add(f"bench: {label}", False, str(e))
            continue
        for binary, entries in runs:
            tag = os.path.basename(binary)
            for entry in entries:
                err = entry.get("error_occurred")
                results.add(
                    f"bench: {tag}: {entry.get('name')}",
                    not err,
                    entry.get("error_message", ""),
                    echo=bool(err),
                )
    print(bench.report(report, True), flush=True)
    missing = benchreport.missing_inputs(report, ("host", "guest-tcg"))
    results.add("bench: every target has its measures", not missing, "\n".join(missing))


def _guarded(results, name, step, *args, default=None):
    """Runs one step; an unexpected error in it (a missing tool, a bug in
    keel) becomes one failed test instead of ending the run without its
    summary line."""
    try:
        return step(*args)
    except Exception as e:  # noqa: BLE001 - reported, never swallowed
        results.add(f"{name}: step error", False, f"{type(e).__name__}: {e}")
        return default


def cmd_test(args):
    total_start = time.monotonic()
    out = gnbuild.build_dir(False)
    results = Results()
    _step("keel self-test")
    _guarded(results, "keel", self_test, results)
    try:
        gnbuild.gen(out)
    except KeelError as e:
        results.add("gn gen", False, str(e))
    _guarded(results, "lint", lint, results, out)
    built_ok = _guarded(results, "build", build, results, out, default=False)
    _guarded(results, "ktest hosted", hosted_ktest, results, out, built_ok)
    test_drivers = [p for p in [_have(out, "kernel/okdrv.sys", built_ok)] if p]
    _guarded(results, "ktest qemu", qemu_ktest, results, out, built_ok, test_drivers)
    _guarded(results, "bugcheck qemu", qemu_bugcheck, results, out, built_ok)
    hello = _guarded(results, "ddk", ddk_kit, results, out, built_ok)
    _guarded(results, "boot", smoke, results, out, built_ok, hello)
    _guarded(results, "fuzz", fuzzers, results, out, built_ok)
    _guarded(results, "bench", benchmarks, results, out, built_ok)

    elapsed = time.monotonic() - total_start
    print()
    if results.failures:
        print("Failures:")
        for name, message in results.failures:
            print(f"  FAIL {name}")
            if message:
                print(_indent(message, "      "))
    if results.skipped:
        print(f"{results.skipped} skipped")
    print(f"keel test took {elapsed:.1f} s")
    print(f"{results.passed} passed, {results.failed} failed", flush=True)
    return 0 if results.failed == 0 else 1
