# ktap_test.py - unit tests of the KTAP parser (`keel test` runs them first:
# every other result depends on the parser reading ktest output right).
#   python3 build/keel/ktap_test.py

import unittest

import ktap

GOOD = """\
Keel 0.1.0 (NT 10.0 x64, free build)
boot: system ready at 12.345 ms
KTAP version 1
1..2
    KTAP version 1
    # Subtest: rtl_string
    1..3
    ok 1 init_counts_bytes
    # append_fails: EXPECTATION FAILED at kernel/rtl/string_test.c:40
    # Expected s.Length == 6, but s.Length == 0x4 (4), 6 == 0x6 (6)
    not ok 2 append_fails
    ok 3 upcase # SKIP not on this target
not ok 1 rtl_string
    KTAP version 1
    # Subtest: mm_pfn
    1..1
a line some test printed
    ok 1 alloc_all
ok 2 mm_pfn
"""


class KtapTest(unittest.TestCase):
    def test_cases_and_statuses(self):
        r = ktap.parse(GOOD)
        self.assertEqual(r.errors, [])
        self.assertEqual(
            [(c.full_name, c.status) for c in r.cases],
            [
                ("rtl_string.init_counts_bytes", "pass"),
                ("rtl_string.append_fails", "fail"),
                ("rtl_string.upcase", "skip"),
                ("mm_pfn.alloc_all", "pass"),
            ],
        )

    def test_failure_diagnostics_belong_to_the_failing_case(self):
        r = ktap.parse(GOOD)
        failing = r.cases[1]
        self.assertEqual(len(failing.diagnostics), 2)
        self.assertIn("string_test.c:40", failing.diagnostics[0])
        self.assertEqual(r.cases[0].diagnostics, [])

    def test_crlf_serial_output(self):
        r = ktap.parse(GOOD.replace("\n", "\r\n"))
        self.assertEqual(r.errors, [])
        self.assertEqual(len(r.cases), 4)

    def test_truncated_output_is_an_error(self):
        cut = GOOD[: GOOD.index("    ok 1 alloc_all")] + "*** STOP: 0x0000007E\n"
        r = ktap.parse(cut)
        self.assertEqual(len(r.errors), 1)
        self.assertIn("1 of 2 suites", r.errors[0])
        self.assertIn("*** STOP", r.errors[0])

    def test_missing_case_in_suite(self):
        text = GOOD.replace("    ok 3 upcase # SKIP not on this target\n", "")
        r = ktap.parse(text)
        self.assertTrue(any("2 of 3" in e for e in r.errors))

    def test_no_ktap_at_all(self):
        r = ktap.parse("boot: loader entry at 0.000 ms\n")
        self.assertEqual(r.cases, [])
        self.assertEqual(len(r.errors), 1)


if __name__ == "__main__":
    unittest.main()
