# images.py - composing boot images (cpio newc archives laid out like a
# system root) through sdk/tools/mkimage.py, and the corrupted driver copies
# the boot smoke tests feed the kernel.

import os
import random
import struct
import sys

from common import KeelError, ROOT, capture, run

MKIMAGE = os.path.join(ROOT, "sdk", "tools", "mkimage.py")


def _newer_than(output, inputs):
    if not os.path.exists(output):
        return False
    mtime = os.path.getmtime(output)
    return all(os.path.getmtime(i) <= mtime for i in inputs)


def compose(output, kernel, drivers=(), files=(), quiet=True):
    """Writes the image unless it is already newer than every input (the
    builder is deterministic, so an up-to-date image is the same bytes)."""
    if not os.path.exists(MKIMAGE):
        raise KeelError("sdk/tools/mkimage.py does not exist yet")
    inputs = [MKIMAGE, kernel] + list(drivers) + [f.split("=", 1)[0] for f in files]
    for path in inputs:
        if not os.path.exists(path):
            raise KeelError(f"image input missing: {path}")
    if _newer_than(output, inputs):
        return output
    os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
    cmd = [sys.executable, MKIMAGE, "-o", output, "--kernel", kernel]
    for d in drivers:
        cmd += ["--driver", d]
    for f in files:
        cmd += ["--file", f]
    status, out = capture(cmd)
    if status != 0:
        raise KeelError(f"mkimage.py failed (status {status}):\n{out}")
    return output


def corrupted_drivers(good_driver, directory):
    """Broken copies of a valid driver, each with a different defect the
    loader must reject without crashing: truncated inside its sections, an
    e_lfanew pointing outside the file, and garbage with an MZ signature."""
    os.makedirs(directory, exist_ok=True)
    data = open(good_driver, "rb").read()
    made = {}

    def write(name, content):
        path = os.path.join(directory, name)
        with open(path, "wb") as f:
            f.write(content)
        made[name] = path

    # Headers intact (the first 1 KiB holds DOS + NT headers and the
    # section table), section data cut off.
    write("truncated.sys", data[: min(len(data) // 2, 1024)])
    # e_lfanew (offset 0x3C) far beyond the end of the file.
    bad = bytearray(data)
    if len(bad) >= 0x40:
        struct.pack_into("<I", bad, 0x3C, 0x7FFFFFF0)
    write("badlfanew.sys", bytes(bad))
    # Deterministic garbage that passes the first signature check.
    rng = random.Random(0x4B45454C)
    write("garbage.sys", b"MZ" + bytes(rng.getrandbits(8) for _ in range(8190)))
    return made


def cmd_image(args):
    from gnbuild import NTOSKRNL, artifact, build_dir

    if args.list:
        return run([sys.executable, MKIMAGE, "--list", args.list], check=False).returncode
    if not args.output:
        raise KeelError("keel image: -o OUT is required")
    kernel = args.kernel or artifact(build_dir(args.checked), NTOSKRNL, "ntoskrnl.exe")
    cmd = [sys.executable, MKIMAGE, "-o", args.output, "--kernel", kernel]
    for d in args.driver:
        cmd += ["--driver", d]
    for f in args.file:
        cmd += ["--file", f]
    return run(cmd, check=False, cwd=os.getcwd()).returncode
