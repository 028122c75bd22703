# linuxguest.py - the Linux peer of `keel bench --guest`: Debian's kernel
# (linux-image-amd64, /boot/vmlinuz-*) with a busybox initramfs whose /init
# is bench/guest/linux/guestbench.c, booted under QEMU with the same
# settings as Keel's guest. The program prints one `kbench: {JSON}` line per
# measure on the serial console; this module boots it, reads those lines
# and returns them in Google Benchmark's JSON shape.
#
#   python3 build/keel/linuxguest.py [--accel tcg|kvm] [--quick] [--boot pvh|bzimage] [-o OUT]
#   python3 build/keel/linuxguest.py --shell     (rdinit=/bin/sh, interactive)

import hashlib
import json
import lzma
import os
import re
import socket
import stat
import struct
import sys
import time
import zlib

import qemu
from common import KeelError, aux_dir, build_dir, log, rel, tail
from guestbench import GUEST_QEMU, gbench_entry, ms_entry  # the same machine as Keel's guest

# The static program, where the host toolchain puts it (bench/guest/linux/BUILD.gn).
PROGRAM = os.path.join("guest", "linux_guestbench")
BUSYBOX = "/bin/busybox"

# Minimum time of each measure (keelbench.mintime_ms on the kernel command
# line): quick mode only checks that every measure runs and reports.
MINTIME_MS = 500
QUICK_MINTIME_MS = 10

# How QEMU enters the kernel (see _kernel_image). PVH by default: Keel's
# loader is a PVH ELF too, so both guests are loaded by QEMU the same way
# and neither pays for a decompressor (xz under TCG: several seconds).
BOOT = "pvh"

# Boot to init takes a few seconds under TCG. Under nested KVM every exit
# is slow (minutes to reach init), so KVM gets a longer allowance.
BOOT_TIMEOUT = {"tcg": 120, "kvm": 600}

# QEMU's words when KVM cannot emulate an instruction the guest ran. QEMU
# then pauses the machine rather than exiting, so the run stops on it.
KVM_FAILURE = "KVM internal error"

NAMES = (
    "guest_boot/ready",
    "guest_pingpong/cross:0",
    "guest_pingpong/cross:1",
    "guest_thread_create_exit",
)
HOST_OBSERVED = "guest_boot/host_observed_ready"

_LINE = re.compile(r"(?<![\w.])kbench: (.*?)\s*$")


# The initramfs ----------------------------------------------------------------

# Bumped when the archive layout below changes, so a cached image is rebuilt.
_LAYOUT = b"keel-linux-initramfs-1"


def _newc(name, mode, ino, data=b"", nlink=1, rdev=(0, 0)):
    """One cpio "newc" record (the format the kernel's initramfs unpacker
    reads), every field deterministic: uid/gid 0, mtime 0."""
    encoded = name.encode() + b"\0"
    fields = (ino, mode, 0, 0, nlink, 0, len(data), 0, 0, rdev[0], rdev[1], len(encoded), 0)
    record = b"070701" + b"".join(b"%08X" % f for f in fields) + encoded
    record += b"\0" * (-len(record) % 4) + data
    return record + b"\0" * (-len(record) % 4)


def initramfs_bytes(init, busybox):
    """The archive: /init (the benchmark), busybox with /bin/sh for
    `rdinit=/bin/sh`, the mount points, and /dev/console so init has its
    standard streams before anything is mounted."""
    entries = [
        ("bin", stat.S_IFDIR | 0o755, b"", (0, 0)),
        ("bin/busybox", stat.S_IFREG | 0o755, busybox, (0, 0)),
        ("bin/sh", stat.S_IFLNK | 0o777, b"busybox", (0, 0)),
        ("dev", stat.S_IFDIR | 0o755, b"", (0, 0)),
        ("dev/console", stat.S_IFCHR | 0o600, b"", (5, 1)),
        ("init", stat.S_IFREG | 0o755, init, (0, 0)),
        ("proc", stat.S_IFDIR | 0o555, b"", (0, 0)),
        ("sys", stat.S_IFDIR | 0o555, b"", (0, 0)),
        ("tmp", stat.S_IFDIR | 0o1777, b"", (0, 0)),
    ]
    out = bytearray()
    for ino, (name, mode, data, rdev) in enumerate(entries, start=1):
        nlink = 2 if stat.S_ISDIR(mode) else 1
        out += _newc(name, mode, ino, data, nlink, rdev)
    out += _newc("TRAILER!!!", 0, 0)
    out += b"\0" * (-len(out) % 512)
    return bytes(out)


def build_initramfs(program, busybox=BUSYBOX, cache_dir=None):
    """Writes the initramfs under aux_dir("guest") unless the cached one was
    made from the same inputs (compared by content: the program is rebuilt
    with new mtimes even when its bytes do not change)."""
    for path in (program, busybox):
        if not os.path.exists(path):
            raise KeelError(f"Linux guest input missing: {path}")
    init = open(program, "rb").read()
    box = open(busybox, "rb").read()
    key = hashlib.sha256(_LAYOUT + hashlib.sha256(init).digest() + hashlib.sha256(box).digest())
    cache_dir = cache_dir or aux_dir("guest")
    output = os.path.join(cache_dir, "linux-initramfs.cpio")
    key_path = output + ".key"
    try:
        if open(key_path).read().strip() == key.hexdigest() and os.path.exists(output):
            return output
    except OSError:
        pass
    os.makedirs(cache_dir, exist_ok=True)
    with open(output + ".tmp", "wb") as f:
        f.write(initramfs_bytes(init, box))
    os.replace(output + ".tmp", output)
    with open(key_path, "w") as f:
        f.write(key.hexdigest() + "\n")
    return output


# The kernel -------------------------------------------------------------------


def _version_key(version):
    """6.1.0-56-amd64 sorts below 6.1.0-112-amd64 (numbers compared as numbers)."""
    return [(0, int(p), "") if p.isdigit() else (1, 0, p) for p in re.split(r"(\d+)", version)]


def find_kernel(boot="/boot"):
    """(path, version) of the newest /boot/vmlinuz-VERSION."""
    try:
        names = [n for n in os.listdir(boot) if n.startswith("vmlinuz-")]
    except OSError:
        names = []
    if not names:
        raise KeelError(f"no {boot}/vmlinuz-*: install linux-image-amd64 (keel setup)")
    newest = max(names, key=lambda n: _version_key(n[len("vmlinuz-") :]))
    path = os.path.join(boot, newest)
    if not os.access(path, os.R_OK):
        raise KeelError(f"{path} is not readable")
    return path, newest[len("vmlinuz-") :]


def _has_pvh_note(elf):
    """True when a 64-bit ELF kernel carries Xen's PHYS32_ENTRY note (18),
    the entry QEMU's -kernel uses to boot an ELF by the PVH protocol."""
    if elf[:4] != b"\x7fELF" or elf[4] != 2:
        return False
    (phoff,) = struct.unpack_from("<Q", elf, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", elf, 0x36)
    for i in range(phnum):
        header = struct.unpack_from("<IIQQQQ", elf, phoff + i * phentsize)
        p_type, p_offset, p_filesz = header[0], header[2], header[5]
        if p_type != 4:  # PT_NOTE
            continue
        at, end = p_offset, p_offset + p_filesz
        while at + 12 <= end:
            namesz, descsz, note_type = struct.unpack_from("<III", elf, at)
            name = elf[at + 12 : at + 12 + namesz].rstrip(b"\0")
            if name == b"Xen" and note_type == 18:
                return True
            at += 12 + ((namesz + 3) & ~3) + ((descsz + 3) & ~3)
    return False


def extract_vmlinux(vmlinuz, version, cache_dir=None):
    """The uncompressed kernel ELF inside a bzImage (Debian compresses it
    with xz; gzip is read too), cached under aux_dir("guest"). Booting it
    directly uses the kernel's PVH entry, the protocol Keel's loader
    boots by, and skips the decompressor."""
    cache_dir = cache_dir or aux_dir("guest")
    output = os.path.join(cache_dir, f"vmlinux-{version}")
    if os.path.exists(output) and os.path.getmtime(output) >= os.path.getmtime(vmlinuz):
        return output
    data = open(vmlinuz, "rb").read()
    elf = None
    for magic, decompressor in (
        (b"\xfd7zXZ\x00", lambda: lzma.LZMADecompressor(lzma.FORMAT_XZ)),
        (b"\x1f\x8b\x08", lambda: zlib.decompressobj(16 + zlib.MAX_WBITS)),
    ):
        at = data.find(magic)
        while at >= 0 and elf is None:
            try:
                candidate = decompressor().decompress(data[at:])
            except (lzma.LZMAError, zlib.error):
                candidate = b""
            if candidate[:4] == b"\x7fELF":
                elf = candidate
            at = data.find(magic, at + 1)
        if elf is not None:
            break
    if elf is None:
        raise KeelError(f"{vmlinuz}: no xz or gzip compressed ELF kernel inside")
    if not _has_pvh_note(elf):
        raise KeelError(f"{vmlinuz}: the kernel has no PVH entry (CONFIG_PVH)")
    os.makedirs(cache_dir, exist_ok=True)
    with open(output + ".tmp", "wb") as f:
        f.write(elf)
    os.replace(output + ".tmp", output)
    return output


# The console ------------------------------------------------------------------


def parse_console(text):
    """Reads the program's console lines. Returns a dict: benchmarks (the
    JSON objects in order), context (from `kbench: context {...}`), init
    (True once `kbench: init` was seen), done (`kbench: done` seen) and
    errors (lines that start like ours but do not parse)."""
    result = {"benchmarks": [], "context": {}, "init": False, "done": False, "errors": []}
    for raw in text.replace("\r", "\n").split("\n"):
        m = _LINE.search(raw)
        if not m:
            continue
        body = m.group(1)
        if body == "done":
            result["done"] = True
        elif body.startswith("init"):
            result["init"] = True
        elif body.startswith("context "):
            try:
                result["context"] = json.loads(body[len("context ") :])
            except ValueError:
                result["errors"].append(raw.strip())
        elif body.startswith("{"):
            try:
                entry = json.loads(body)
            except ValueError:
                result["errors"].append(raw.strip())
                continue
            if not isinstance(entry, dict) or "name" not in entry:
                result["errors"].append(raw.strip())
                continue
            result["benchmarks"].append(entry)
        else:
            # `kbench: cannot mount /proc: ...` and the like: diagnostics.
            result["errors"].append(raw.strip())
    return result


def results(parsed, accel, kernel_version, mintime_ms, host_ready_ms):
    """The Google Benchmark-shaped document of one run."""
    benchmarks = [gbench_entry(e["name"], i, 0, e) for i, e in enumerate(parsed["benchmarks"])]
    if host_ready_ms is not None:
        benchmarks.append(ms_entry(HOST_OBSERVED, len(benchmarks), 0, host_ready_ms))
    guest = parsed["context"]
    context = {
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "host_name": socket.gethostname(),
        "executable": "linux guest: /init = bench/guest/linux/guestbench.c",
        "num_cpus": guest.get("cpus", GUEST_QEMU["smp"]),
        "library_build_type": "release",
        "accel": accel,
        "kernel": kernel_version,
        "guest_uname": guest.get("kernel", ""),
        "smp": GUEST_QEMU["smp"],
        "memory": GUEST_QEMU["memory"],
        "mintime_ms": mintime_ms,
    }
    return {"context": context, "benchmarks": benchmarks}


# The run ----------------------------------------------------------------------


def qemu_command(kernel, initramfs, cmdline, accel):
    # qemu.command() is the command line of every Keel boot: the same
    # machine (memory, processors, devices, default CPU model) for both.
    return qemu.command(kernel, initramfs, cmdline, accel=accel, **GUEST_QEMU)


def _kernel_image(boot):
    """(image QEMU boots, vmlinuz path, version) for boot "bzimage" (the
    vmlinuz as Debian ships it: real-mode setup, decompressor, KASLR) or
    "pvh" (the ELF inside it, entered by the PVH protocol)."""
    vmlinuz, version = find_kernel()
    if boot == "bzimage":
        return vmlinuz, vmlinuz, version
    if boot == "pvh":
        return extract_vmlinux(vmlinuz, version), vmlinuz, version
    raise KeelError(f"unknown Linux guest boot {boot!r} (bzimage or pvh)")


def run_linux_guest(out_dir=None, accel="tcg", quick=False, timeout=None, echo=False, boot=BOOT):
    """Boots the Linux guest once and returns its results (Google Benchmark
    JSON shape). out_dir is the GN build directory holding the program."""
    program = os.path.join(out_dir or build_dir(False), PROGRAM)
    if not os.path.exists(program):
        raise KeelError(f"{rel(program)} is not built (//bench/guest/linux:linux_guestbench)")
    kernel, vmlinuz, version = _kernel_image(boot)
    initramfs = build_initramfs(program)
    mintime_ms = QUICK_MINTIME_MS if quick else MINTIME_MS
    cmdline = f"console=ttyS0 quiet panic=-1 keelbench.mintime_ms={mintime_ms}"
    cmd = qemu_command(kernel, initramfs, cmdline, accel)
    if timeout is None:
        # Four measures, each a few times its minimum (the growing batches),
        # at TCG's pace.
        timeout = BOOT_TIMEOUT.get(accel, 120) + 4 * 5 * mintime_ms / 1000
    marks = {}
    start = time.monotonic()

    def watch(line):
        if line.startswith(KVM_FAILURE):
            marks["kvm_failure"] = True
        if "kvm_failure" in marks:
            # QEMU's register dump ends with the code bytes at RIP.
            return line.startswith("Code=")
        m = _LINE.search(line)
        if m:
            body = m.group(1)
            marks.setdefault("first", time.monotonic())
            if body == "done":
                # Every result is in: powering off adds nothing to measure.
                return True
        return False

    status, output, seconds = qemu.run_headless(cmd, timeout, echo=echo, stop_when=watch)
    parsed = parse_console(output)
    what = f"Linux guest ({accel}, {boot}, {os.path.basename(vmlinuz)})"
    if "kvm_failure" in marks:
        raise KeelError(
            f"{what}: KVM could not run the guest (an instruction its emulator does "
            f"not handle; seen with nested KVM) after {seconds:.1f} s; console tail:\n"
            f"{tail(output, 40)}"
        )
    if not parsed["done"]:
        why = qemu.describe_status(status)
        raise KeelError(
            f"{what}: no `kbench: done` ({why} after {seconds:.1f} s); console tail:\n"
            f"{tail(output, 30)}"
        )
    problems = list(parsed["errors"])
    names = [e["name"] for e in parsed["benchmarks"]]
    problems += [f"missing {n}" for n in NAMES if n not in names]
    problems += [
        f"{e['name']}: {e.get('error_message', 'error')}"
        for e in parsed["benchmarks"]
        if e.get("error_occurred")
    ]
    if problems:
        raise KeelError(f"{what}: " + "; ".join(problems) + f"\nconsole tail:\n{tail(output, 30)}")
    host_ready_ms = (marks["first"] - start) * 1000 if "first" in marks else None
    doc = results(parsed, accel, version, mintime_ms, host_ready_ms)
    doc["context"]["boot"] = boot
    doc["context"]["wall_seconds"] = round(seconds, 3)
    return doc


def run_shell(accel="tcg", out_dir=None, boot=BOOT):
    """The same machine with busybox's shell as init, on this terminal."""
    program = os.path.join(out_dir or build_dir(False), PROGRAM)
    kernel, _, _ = _kernel_image(boot)
    initramfs = build_initramfs(program)
    cmd = qemu_command(kernel, initramfs, "console=ttyS0 panic=-1 rdinit=/bin/sh", accel)
    return qemu.run_interactive(cmd)


def main(argv):
    import argparse

    parser = argparse.ArgumentParser(description="Run the Linux guest peer of keel bench --guest.")
    parser.add_argument("--accel", choices=("tcg", "kvm"), default="tcg")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--boot", choices=("bzimage", "pvh"), default=BOOT)
    parser.add_argument("--shell", action="store_true", help="boot to busybox sh instead")
    parser.add_argument("--echo", action="store_true", help="copy the console to stdout")
    parser.add_argument("-o", "--output", help="write the JSON here")
    args = parser.parse_args(argv)
    try:
        if args.shell:
            return run_shell(args.accel, boot=args.boot) or 0
        doc = run_linux_guest(None, args.accel, args.quick, echo=args.echo, boot=args.boot)
    except KeelError as e:
        print(f"keel: error: {e}", file=sys.stderr)
        return 1
    text = json.dumps(doc, indent=2)
    if args.output:
        with open(args.output, "w") as f:
            f.write(text + "\n")
        log(f"wrote {rel(args.output)}")
    for e in doc["benchmarks"]:
        print(f"{e['name']:<34} {e['real_time']:>14,.1f} {e['time_unit']:<2}  cpu "
              f"{e['cpu_time']:>12,.1f}  iterations {e['iterations']:,}")
    print(f"context: {json.dumps(doc['context'])}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
