# benchreport_test.py - the report's arithmetic: a wrong ratio or a
# target row that silently disappears would misstate every claim.

import unittest

import benchreport as br


def entry(name, ns=None, **counters):
    e = {"name": name, "run_type": "iteration", "time_unit": "ns"}
    if ns is not None:
        e["real_time"] = ns
        e["cpu_time"] = ns
    e.update(counters)
    return e


class BenchReportTest(unittest.TestCase):
    def test_impl_from_binary_name(self):
        self.assertEqual(br.impl_of_binary("keel_bench_ex"), "keel")
        self.assertEqual(br.impl_of_binary("keel_bench_peer_jemalloc"), "jemalloc")
        self.assertEqual(br.impl_of_binary("keel_bench_peer_linux"), "linux")

    def test_values_normalise_units_and_prefer_value_counters(self):
        self.assertEqual(br.value({"real_time": 2.5, "time_unit": "us"}), (2500.0, "ns"))
        self.assertEqual(br.value(entry("x", 10, bytes_per_byte=1.5)), (1.5, "B/B"))
        self.assertIsNone(br.value({"error_occurred": True, "real_time": 1}))

    def test_comparison_ratio_and_best_peer(self):
        r = br.Results()
        r.add("host", "keel", [entry("pool_alloc_free/size:16", 10)])
        r.add("host", "glibc", [entry("pool_alloc_free/size:16", 20)])
        r.add("host", "mimalloc", [entry("pool_alloc_free/size:16", 5), entry("floor", 1)])
        rows = br.comparison_rows(r, "host")
        self.assertEqual(rows[0], ["benchmark", "keel", "glibc", "mimalloc", "vs best peer"])
        self.assertIn("(0.50x)", rows[1][2])
        self.assertIn("(2.00x)", rows[1][3])
        self.assertEqual(rows[1][4], "2.00x")
        self.assertEqual(rows[2][0], "floor")  # peer-only measures follow

    def test_label_names_a_reference_in_the_same_binary(self):
        r = br.Results()
        mine = entry("mm_alloc_free_page", 25)
        mine["label"] = "vs libc_page"
        r.add("host", "keel", [mine, entry("libc_page", 50)])
        self.assertIn("(0.50x libc_page)", br.comparison_rows(r, "host")[1][1])

    def test_run_suffixes_do_not_split_a_measure(self):
        self.assertEqual(br.measure_name("pool_overhead/size:16/iterations:1"), "pool_overhead/size:16")
        self.assertEqual(br.measure_name("sched_timer_jitter/real_time"), "sched_timer_jitter")
        r = br.Results()
        r.add("host", "keel", [entry("x/size:16/manual_time", 10)])
        r.add("host", "glibc", [entry("x/size:16", 20)])
        self.assertIn("(0.50x)", br.comparison_rows(r, "host")[1][2])

    def test_the_median_of_repetitions_stands_for_the_measure(self):
        runs = [entry("x", t) for t in (10, 30, 20)]
        median = dict(entry("x_median", 20), run_type="aggregate", aggregate_name="median", run_name="x")
        mean = dict(entry("x_mean", 99), run_type="aggregate", aggregate_name="mean", run_name="x")
        r = br.Results()
        r.add("host", "keel", runs + [median, mean])
        self.assertEqual(br.value(r.get("host", "keel", "x")), (20.0, "ns"))
        self.assertEqual(r.names("host"), ["x"])

    def test_targets_met_missed_and_not_measured(self):
        r = br.Results()
        r.add("host", "keel", [entry("pool_alloc_free/size:16", 9), entry("pool_alloc_free/size:32", 12)])
        r.add("host", "glibc", [entry("pool_alloc_free/size:16", 10), entry("pool_alloc_free/size:32", 10)])
        rows = {row[1]: row for row in br.evaluate_targets(r, ["host"])}
        self.assertEqual(rows["host: pool_alloc_free/size:16"][5], "met")
        self.assertAlmostEqual(rows["host: pool_alloc_free/size:16"][4], 0.9)
        self.assertEqual(rows["host: pool_alloc_free/size:32"][5], "MISSED")
        self.assertEqual(rows["host: pool_alloc_free/size:64"][5], "not measured")
        self.assertTrue(any("size:64" in m for m in br.missing_inputs(r, ["host"])))

    def test_absolute_and_self_ratio_targets(self):
        r = br.Results()
        r.add(
            "host",
            "keel",
            [
                entry("pool_overhead/size:16", 100, bytes_per_byte=1.2),
                entry("sched_select_next/levels:1/ready:1", 10),
                entry("sched_select_next/levels:32/ready:32", 12),
            ],
        )
        rows = {row[1]: row for row in br.evaluate_targets(r, ["host"])}
        self.assertEqual(rows["host: pool_overhead/size:16"][5], "met")
        self.assertAlmostEqual(rows["host: sched_select_next/levels:32/ready:32"][4], 1.2)
        self.assertEqual(rows["host: sched_select_next/levels:32/ready:32"][5], "MISSED")

    def test_a_missed_switch_names_its_floor_from_the_same_run(self):
        r = br.Results()
        r.add(
            "host",
            "keel",
            [
                entry("sched_pingpong/cross:0", 120),
                entry("sched_register_swap", 30),
                entry("sched_locked_pair", 10),
            ],
        )
        row = [x for x in br.target_rows(r, ["host"]) if x[0].startswith("thread switch")][0]
        self.assertEqual(row[2], "4.00x")
        # 4 x 10 + 30 = 70 of 3 x 30 = 90: 20 left.
        self.assertIn("= 70 ns of the 90 ns budget, 20 ns left", row[3])
        # Without the lock measure the note still says what limits it.
        r = br.Results()
        r.add("host", "keel", [entry("sched_pingpong/cross:0", 120), entry("sched_register_swap", 30)])
        row = [x for x in br.target_rows(r, ["host"]) if x[0].startswith("thread switch")][0]
        self.assertIn("MISSED - the lock protocol", row[3])
        self.assertNotIn("budget", row[3])

    def test_wildcard_targets_expand_to_every_measure(self):
        r = br.Results()
        names = ["pool_scaling/size:64/threads:1", "pool_scaling/size:64/threads:2"]
        r.add("host", "keel", [entry(n, 10) for n in names])
        r.add("host", "tcmalloc", [entry(n, 10) for n in names])
        rows = [row for row in br.evaluate_targets(r, ["host"]) if "scaling" in row[1]]
        self.assertEqual([row[1] for row in rows], ["host: " + n for n in names])
        empty = br.Results()
        self.assertTrue(any("pool_scaling" in m for m in br.missing_inputs(empty, ["host"])))

    def test_guest_suites_are_separate(self):
        r = br.Results()
        r.add("guest-tcg", "keel", [entry("guest_pingpong/cross:0", 40)])
        r.add("guest-tcg", "linux", [entry("guest_pingpong/cross:0", 100)])
        rows = {row[1]: row for row in br.evaluate_targets(r, ["guest-tcg"])}
        self.assertEqual(rows["guest-tcg: guest_pingpong/cross:0"][5], "met")
        self.assertNotIn("guest-kvm: guest_pingpong/cross:0", rows)


if __name__ == "__main__":
    unittest.main()
