# linuxguest_test.py - unit tests of the Linux guest peer's console parser,
# result document and initramfs writer (no QEMU needed).
#   python3 build/keel/linuxguest_test.py

import lzma
import os
import stat
import struct
import sys
import tempfile
import unittest

import linuxguest
from common import ROOT

sys.path.insert(0, os.path.join(ROOT, "sdk", "tools"))
import mkimage  # noqa: E402  (an independent cpio reader)

CONSOLE = """\
SeaBIOS (version 1.16.2-debian-1.16.2-1)
Booting from ROM..
[    0.000000] Linux version 6.1.0-56-amd64
kbench: init 2476.743 ms
kbench: context {"kernel": "6.1.0-56-amd64", "cpus": 2, "mintime_ms": 10.0}
kbench: {"name": "guest_boot/ready", "iterations": 1, "real_time": 2476.743, \
"cpu_time": 2476.743, "time_unit": "ms"}
kbench: {"name": "guest_pingpong/cross:0", "iterations": 570, "real_time": 32021.509, \
"cpu_time": 17630.123, "time_unit": "ns"}
[    3.100000] random: crng init done
kbench: {"name": "guest_pingpong/cross:1", "iterations": 160, "real_time": 90823.000, \
"cpu_time": 47412.381, "time_unit": "ns"}
kbench: {"name": "guest_thread_create_exit", "iterations": 38, "real_time": 341112.632, \
"cpu_time": 183588.342, "time_unit": "ns"}
kbench: done
"""


class ConsoleTest(unittest.TestCase):
    def test_results_in_order(self):
        r = linuxguest.parse_console(CONSOLE)
        self.assertEqual(r["errors"], [])
        self.assertTrue(r["init"])
        self.assertTrue(r["done"])
        self.assertEqual([e["name"] for e in r["benchmarks"]], list(linuxguest.NAMES))
        self.assertEqual(r["benchmarks"][1]["iterations"], 570)
        self.assertAlmostEqual(r["benchmarks"][1]["real_time"], 32021.509)
        self.assertEqual(r["context"]["cpus"], 2)

    def test_crlf_and_prefix_noise(self):
        # The serial line arrives with CRLF, and a kernel message can land
        # in front of ours on the same line.
        text = CONSOLE.replace("kbench: done", "[    4.0] x: y kbench: done").replace("\n", "\r\n")
        r = linuxguest.parse_console(text)
        self.assertEqual(r["errors"], [])
        self.assertTrue(r["done"])
        self.assertEqual(len(r["benchmarks"]), 4)

    def test_cut_short_is_not_done(self):
        r = linuxguest.parse_console(CONSOLE[: CONSOLE.index("kbench: done")])
        self.assertFalse(r["done"])
        self.assertEqual(len(r["benchmarks"]), 4)

    def test_broken_lines_are_errors(self):
        text = CONSOLE.replace('"iterations": 160,', '"iterations": 16')
        text += "kbench: cannot mount /proc: No such device\n"
        r = linuxguest.parse_console(text)
        self.assertEqual(len(r["errors"]), 2)
        self.assertIn("cross:1", r["errors"][0])
        self.assertIn("cannot mount", r["errors"][1])
        self.assertEqual(len(r["benchmarks"]), 3)

    def test_document_shape(self):
        doc = linuxguest.results(
            linuxguest.parse_console(CONSOLE), "tcg", "6.1.0-56-amd64", 10, 8470.8
        )
        ctx = doc["context"]
        self.assertEqual((ctx["accel"], ctx["kernel"], ctx["smp"], ctx["memory"]),
                         ("tcg", "6.1.0-56-amd64", 2, "256M"))
        names = [e["name"] for e in doc["benchmarks"]]
        self.assertEqual(names, list(linuxguest.NAMES) + [linuxguest.HOST_OBSERVED])
        last = doc["benchmarks"][-1]
        self.assertEqual((last["real_time"], last["time_unit"], last["iterations"]),
                         (8470.8, "ms", 1))
        for e in doc["benchmarks"]:
            for field in ("run_name", "run_type", "iterations", "real_time", "cpu_time"):
                self.assertIn(field, e)


class InitramfsTest(unittest.TestCase):
    def test_layout_read_back(self):
        data = linuxguest.initramfs_bytes(b"\x7fELF init", b"\x7fELF busybox")
        self.assertEqual(len(data) % 512, 0)
        entries = {name: (mode, size) for name, mode, size in mkimage.parse(data)}
        self.assertEqual(entries["init"], (stat.S_IFREG | 0o755, 9))
        self.assertEqual(entries["bin/busybox"], (stat.S_IFREG | 0o755, 12))
        self.assertEqual(entries["bin/sh"], (stat.S_IFLNK | 0o777, len(b"busybox")))
        self.assertEqual(entries["dev/console"][0], stat.S_IFCHR | 0o600)
        self.assertTrue(stat.S_ISDIR(entries["proc"][0]))
        # /dev/console is character device 5:1 (rdevmajor, rdevminor fields).
        at = data.index(b"dev/console\0") - 110
        self.assertEqual(int(data[at + 78 : at + 86], 16), 5)
        self.assertEqual(int(data[at + 86 : at + 94], 16), 1)

    def test_deterministic_and_cached(self):
        self.assertEqual(linuxguest.initramfs_bytes(b"a", b"b"),
                         linuxguest.initramfs_bytes(b"a", b"b"))
        with tempfile.TemporaryDirectory() as d:
            init, box = os.path.join(d, "init"), os.path.join(d, "busybox")
            open(init, "wb").write(b"one")
            open(box, "wb").write(b"box")
            first = linuxguest.build_initramfs(init, box, cache_dir=d)
            stamp = os.stat(first).st_mtime_ns
            os.utime(init)  # a relink that changes nothing keeps the image
            self.assertEqual(linuxguest.build_initramfs(init, box, cache_dir=d), first)
            self.assertEqual(os.stat(first).st_mtime_ns, stamp)
            open(init, "wb").write(b"two")
            linuxguest.build_initramfs(init, box, cache_dir=d)
            self.assertIn(b"two", open(first, "rb").read())


def tiny_elf(note_type):
    """A 64-bit ELF header, one PT_NOTE program header and one Xen note."""
    note = struct.pack("<III", 4, 4, note_type) + b"Xen\0" + struct.pack("<I", 0x1000000)
    header = b"\x7fELF" + bytes([2, 1, 1]) + bytes(9)
    header += struct.pack("<HHIQQQIHHHHHH", 2, 0x3E, 1, 0, 64, 0, 0, 64, 56, 1, 64, 0, 0)
    phdr = struct.pack("<IIQQQQQQ", 4, 4, 64 + 56, 0, 0, len(note), len(note), 4)
    return header + phdr + note


class KernelTest(unittest.TestCase):
    def test_vmlinux_from_bzimage(self):
        elf = tiny_elf(18)
        with tempfile.TemporaryDirectory() as d:
            vmlinuz = os.path.join(d, "vmlinuz-1.0")
            # Setup code and decompressor stand-ins around the xz payload,
            # with a false magic before it.
            open(vmlinuz, "wb").write(b"MZ setup \xfd7zXZ\x00 no" + lzma.compress(elf) + b"tail")
            out = linuxguest.extract_vmlinux(vmlinuz, "1.0", cache_dir=d)
            self.assertEqual(open(out, "rb").read(), elf)

    def test_vmlinux_without_pvh_entry_is_an_error(self):
        self.assertTrue(linuxguest._has_pvh_note(tiny_elf(18)))
        self.assertFalse(linuxguest._has_pvh_note(tiny_elf(17)))
        with tempfile.TemporaryDirectory() as d:
            vmlinuz = os.path.join(d, "vmlinuz-1.0")
            open(vmlinuz, "wb").write(b"MZ" + lzma.compress(tiny_elf(17)))
            with self.assertRaises(linuxguest.KeelError):
                linuxguest.extract_vmlinux(vmlinuz, "1.0", cache_dir=d)

    def test_newest_version_wins(self):
        with tempfile.TemporaryDirectory() as d:
            for v in ("6.1.0-9-amd64", "6.1.0-56-amd64", "5.10.0-30-amd64"):
                open(os.path.join(d, "vmlinuz-" + v), "wb").close()
            open(os.path.join(d, "config-6.9.0-1-amd64"), "wb").close()
            path, version = linuxguest.find_kernel(d)
            self.assertEqual(version, "6.1.0-56-amd64")
            self.assertEqual(path, os.path.join(d, "vmlinuz-6.1.0-56-amd64"))

    def test_no_kernel_is_an_error(self):
        with tempfile.TemporaryDirectory() as d:
            with self.assertRaises(linuxguest.KeelError):
                linuxguest.find_kernel(d)


if __name__ == "__main__":
    unittest.main()
