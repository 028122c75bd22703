# guestbench_test.py - unit tests of the guest benchmark console parser
# (`keel test` runs them with the other self-tests: a wrong parser would
# turn a broken guest run into a table of plausible numbers).
#   python3 build/keel/guestbench_test.py

import os
import re
import unittest

import guestbench
import qemu
from common import ROOT

CONSOLE = """\
Keel 0.1.0 (NT 10.0 x64, free build)\r
boot: loader entry at 0.000 ms\r
boot: kernel entry at 6.315 ms\r
boot: memory manager initialized at 18.559 ms\r
smp: 2 processors online (ACPI MADT)\r
boot: system ready at 69.967 ms\r
kbench: 3 benchmarks, at least 10 ms each, 2 processors, timestamp 2102031200 Hz\r
kbench: {"name": "guest_pingpong/cross:0", "iterations": 1454, "real_time": 8308.216, \
"cpu_time": 8308.216, "time_unit": "ns", "items_per_second": 120362.773}\r
kbench: {"name": "guest_pingpong/cross:1", "error_occurred": true, "error_message": \
"needs 2 processors", "iterations": 0, "real_time": 0.000, "cpu_time": 0.000, "time_unit": "ns"}\r
kbench: {"name": "guest_pool_alloc_free/size:16", "iterations": 3981, "real_time": 40.5, \
"cpu_time": 40.5, "time_unit": "ns", "bytes_per_second": 3980661.402}\r
kbench: done\r
"""


class GuestBenchTest(unittest.TestCase):
    def test_entries_phases_and_done(self):
        c = guestbench.parse_console(CONSOLE)
        self.assertTrue(c.done)
        self.assertEqual(c.bad_lines, [])
        self.assertEqual(
            [e["name"] for e in c.entries],
            ["guest_pingpong/cross:0", "guest_pingpong/cross:1", "guest_pool_alloc_free/size:16"],
        )
        self.assertEqual(c.entries[0]["iterations"], 1454)
        self.assertAlmostEqual(c.entries[0]["real_time"], 8308.216)
        self.assertTrue(c.entries[1]["error_occurred"])
        self.assertEqual(
            c.phases,
            [
                ("loader entry", 0.0),
                ("kernel entry", 6.315),
                ("memory manager initialized", 18.559),
                ("system ready", 69.967),
            ],
        )

    def test_benchmark_entries_google_benchmark_shape(self):
        c = guestbench.parse_console(CONSOLE)
        out = guestbench.benchmark_entries(c, host_ready_ms=412.5)
        by_name = {e["name"]: e for e in out}
        e = by_name["guest_pool_alloc_free/size:16"]
        self.assertEqual(e["run_type"], "iteration")
        self.assertEqual(e["run_name"], e["name"])
        self.assertEqual(e["bytes_per_second"], 3980661.402)
        self.assertEqual(by_name["guest_pingpong/cross:1"]["per_family_instance_index"], 1)
        self.assertNotEqual(by_name["guest_pingpong/cross:0"]["family_index"], e["family_index"])
        kernel = by_name["guest_boot/phase:kernel_entry"]
        self.assertEqual((kernel["real_time"], kernel["time_unit"]), (6.315, "ms"))
        self.assertIn("guest_boot/phase:memory_manager_initialized", by_name)
        self.assertEqual(by_name["guest_boot/ready"]["real_time"], 69.967)
        self.assertNotIn("guest_boot/phase:system_ready", by_name)
        self.assertEqual(by_name["guest_boot/host_observed_ready"]["real_time"], 412.5)
        self.assertEqual(len(out), 3 + 4 + 1)

    def test_check_accepts_a_complete_filtered_run(self):
        c = guestbench.parse_console(CONSOLE)
        self.assertIsNone(guestbench.check_console(c, qemu.STATUS_SUCCESS, "guest_p*"))

    def test_check_wants_every_benchmark_without_a_filter(self):
        c = guestbench.parse_console(CONSOLE)
        why = guestbench.check_console(c, qemu.STATUS_SUCCESS)
        self.assertIn("guest_ipi_roundtrip", why)

    def test_check_rejects_bad_status_missing_done_and_garbage(self):
        c = guestbench.parse_console(CONSOLE)
        self.assertIn("status 33", guestbench.check_console(c, qemu.STATUS_BUGCHECK, "x"))
        self.assertIn("timed out", guestbench.check_console(c, None, "x"))
        cut = guestbench.parse_console(CONSOLE.replace("kbench: done", "*** STOP: 0x0000000A"))
        self.assertIn("kbench: done", guestbench.check_console(cut, qemu.STATUS_SUCCESS, "x"))
        bad = guestbench.parse_console(CONSOLE.replace('"iterations": 1454,', '"iterations": ,'))
        self.assertEqual(len(bad.bad_lines), 1)
        self.assertIn("unparsable", guestbench.check_console(bad, qemu.STATUS_SUCCESS, "x"))

    def test_check_rejects_zero_iterations_and_missing_phases(self):
        text = CONSOLE.replace('"iterations": 3981', '"iterations": 0')
        why = guestbench.check_console(guestbench.parse_console(text), qemu.STATUS_SUCCESS, "x")
        self.assertIn("guest_pool_alloc_free/size:16", why)
        text = CONSOLE.replace("boot: system ready at 69.967 ms", "")
        why = guestbench.check_console(guestbench.parse_console(text), qemu.STATUS_SUCCESS, "x")
        self.assertIn("boot phase", why)

    def test_expected_names_are_what_the_kernel_registers(self):
        # EXPECTED against the KBENCH / KBENCH_ARGS registrations in
        # kernel/kbench (kernel/include/kbench.h), both ways.
        registered = []
        directory = os.path.join(ROOT, "kernel", "kbench")
        for name in sorted(os.listdir(directory)):
            if not name.endswith(".c") or name.endswith("_test.c"):
                continue
            with open(os.path.join(directory, name)) as f:
                source = f.read()
            registered += re.findall(r"^KBENCH\((\w+),", source, re.M)
            for bench, arg, values in re.findall(
                r'^KBENCH_ARGS\((\w+), "(\w+)", [^,]+, ([^)]*)\)', source, re.M
            ):
                registered += [f"{bench}/{arg}:{v.strip()}" for v in values.split(",")]
        self.assertTrue(registered)
        self.assertEqual(sorted(guestbench.EXPECTED), sorted(registered))

if __name__ == "__main__":
    unittest.main()
