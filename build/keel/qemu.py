# qemu.py - booting a Keel image in QEMU: the command line every run uses,
# the KVM probe, and headless runs with a timeout that capture the serial
# console.

import os
import selectors
import signal
import subprocess
import sys
import time

from common import KeelError, aux_dir, log, quote, rel

# The guest ends a run by writing V to port 0xf4; QEMU exits with (V<<1)|1.
EXIT_SUCCESS = 0x10
EXIT_TEST_FAILED = 0x11
EXIT_BUGCHECK = 0x12
STATUS_SUCCESS = (EXIT_SUCCESS << 1) | 1  # 33
STATUS_TEST_FAILED = (EXIT_TEST_FAILED << 1) | 1  # 35
STATUS_BUGCHECK = (EXIT_BUGCHECK << 1) | 1  # 37

_kvm_result = None


def _probe_rom():
    """A 64 KiB firmware image whose reset vector writes 0x10 to the
    isa-debug-exit port: booting it proves the accelerator can run guest
    code, not only open /dev/kvm."""
    path = aux_dir("qemu", "kvm-probe.rom")
    if not os.path.exists(path):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        rom = bytearray(b"\xf4" * 0x10000)  # hlt everywhere
        # At 0xFFFF0 (reset vector): mov al, 0x10; out 0xf4, al; hlt
        rom[0xFFF0:0xFFF5] = bytes([0xB0, 0x10, 0xE6, 0xF4, 0xF4])
        tmp = path + ".tmp"
        with open(tmp, "wb") as f:
            f.write(rom)
        os.replace(tmp, path)
    return path


def kvm_works():
    global _kvm_result
    if _kvm_result is None:
        _kvm_result = False
        if os.access("/dev/kvm", os.R_OK | os.W_OK):
            cmd = [
                "qemu-system-x86_64",
                "-accel",
                "kvm",
                "-bios",
                _probe_rom(),
                "-display",
                "none",
                "-nodefaults",
                "-m",
                "16M",
                "-no-reboot",
                "-device",
                "isa-debug-exit,iobase=0xf4,iosize=0x04",
            ]
            try:
                proc = subprocess.run(
                    cmd,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    timeout=10,
                )
                _kvm_result = proc.returncode == STATUS_SUCCESS
            except (subprocess.TimeoutExpired, OSError):
                _kvm_result = False
    return _kvm_result


def choose_accel(kvm=False, tcg=False):
    if tcg:
        return "tcg"
    if kvm:
        if not kvm_works():
            raise KeelError("--kvm: KVM does not work here (/dev/kvm missing or the probe failed)")
        return "kvm"
    return "kvm" if kvm_works() else "tcg"


def command(loader, image, cmdline="", memory="256M", smp=1, accel="tcg", gdb=False):
    # QEMU's default CPU model on purpose: -cpu host aborts under KVM on
    # these machines.
    cmd = [
        "qemu-system-x86_64",
        "-accel",
        accel,
        "-m",
        str(memory),
        "-smp",
        str(smp),
        "-display",
        "none",
        "-serial",
        "stdio",
        "-no-reboot",
        "-device",
        "isa-debug-exit,iobase=0xf4,iosize=0x04",
        # No NIC: SeaBIOS would otherwise run the iPXE option ROM on every
        # boot, which costs time under TCG and is of no use to Keel yet.
        "-net",
        "none",
        "-kernel",
        loader,
        "-initrd",
        image,
    ]
    if cmdline:
        cmd += ["-append", cmdline]
    if gdb:
        cmd += ["-s", "-S"]
    return cmd


def describe_status(status):
    if status is None:
        return "timed out"
    if status == STATUS_SUCCESS:
        return "exit 0x10 (success)"
    if status == STATUS_TEST_FAILED:
        return "exit 0x11 (tests failed)"
    if status == STATUS_BUGCHECK:
        return "exit 0x12 (bugcheck)"
    if status > 0 and status & 1:
        return f"guest exit code 0x{status >> 1:x}"
    if status < 0:
        return f"killed by signal {-status}"
    return f"QEMU status {status}"


def guest_exit_status(status):
    """The process status ./keel run returns for a QEMU status: 0 for a
    clean guest exit (0x10), the guest's code otherwise, 124 on timeout."""
    if status is None:
        return 124
    if status == STATUS_SUCCESS:
        return 0
    if status > 1 and status & 1:
        return status >> 1
    if status < 0:
        return 128 - status
    return status


def run_headless(cmd, timeout, echo=False, stop_when=None):
    """Runs QEMU with the serial console on a pipe. Returns (status,
    output, seconds); status None on timeout. echo copies the console to
    our stdout as it arrives; stop_when(line) -> True ends the run early
    (status then reports as None and the caller decides)."""
    start = time.monotonic()
    proc = subprocess.Popen(
        cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    chunks = []
    pending = b""
    timed_out = False
    stopped = False
    try:
        while True:
            left = timeout - (time.monotonic() - start) if timeout else None
            if left is not None and left <= 0:
                timed_out = True
                break
            if not sel.select(left):
                continue
            data = os.read(proc.stdout.fileno(), 65536)
            if not data:
                break
            chunks.append(data)
            if echo:
                sys.stdout.buffer.write(data)
                sys.stdout.flush()
            if stop_when is not None:
                pending += data
                *lines, pending = pending.split(b"\n")
                if any(stop_when(l.decode("utf-8", "replace")) for l in lines):
                    stopped = True
                    break
    except KeyboardInterrupt:
        proc.kill()
        proc.wait()
        raise
    finally:
        sel.close()
    if timed_out or stopped:
        proc.kill()
        proc.wait()
        status = None
    else:
        status = proc.wait()
    proc.stdout.close()
    output = b"".join(chunks).decode("utf-8", "replace").replace("\r\n", "\n")
    return status, output, time.monotonic() - start


def run_interactive(cmd, timeout=None):
    """QEMU with the serial console on the terminal; returns QEMU's status
    (None when the timeout ended it)."""
    log(f"$ {quote([rel(str(c)) if os.path.isabs(str(c)) else c for c in cmd])}")
    proc = subprocess.Popen(cmd)
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return None
    except KeyboardInterrupt:
        # QEMU got the SIGINT too (same process group) and quits by itself.
        try:
            return proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            return proc.wait()
