"""Hostile load, the short CI variant of bench/hostile/run (issue 14): every
hostile scenario at once for 20 s against one convgen-server under the pods'
1 GiB memory cap (a cgroup when writable, else RLIMIT_AS).

Run by ctest like e2e_test.py (CONVGEN_SERVER_BIN, CONVGEN_CLIENT_BIN,
CONVGEN_SOURCE_DIR); needs /usr/bin/python3 (python3-grpcio). RUN_SERIAL: its
health latencies mean nothing on a machine busy with other tests.
"""
import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.environ["CONVGEN_SOURCE_DIR"], "bench", "hostile"))
import hostile  # noqa: E402

SECONDS = 20
CAP = 1 << 30


class HostileLoadTest(unittest.TestCase):
    def test_every_scenario_at_once_under_a_1_gib_cap(self):
        report = hostile.run(os.environ["CONVGEN_SERVER_BIN"], seconds=SECONDS, cap_bytes=CAP,
                             log=lambda m: print(m, file=sys.stderr))
        text = hostile.format_report(report)
        print("\n" + text, file=sys.stderr)
        self.assertTrue(report["survived"], f"server exited {report['exit_code']}\n{text}")
        health = report["health"]
        self.assertGreater(health["count"], SECONDS * 5, text)  # the prober ran throughout
        self.assertEqual(health["failures"], 0, text)
        self.assertLess(health["p99"], 1.0, text)
        peak = report["peak_rss_bytes"]
        self.assertLess(max(peak["VmHWM"], peak["sampled_max"]), CAP, text)
        self.assertEqual(report["cgroup"].get("cgroup_oom_kills", 0), 0, text)
        # Nothing hangs: every scenario got an answer (any status) and every
        # scenario thread ended after the run.
        for scenario in hostile.SCENARIOS:
            self.assertTrue(any(k == scenario or k.startswith(scenario + ":") for k in report["outcomes"]),
                            f"{scenario} got no answer\n{text}")
        self.assertEqual(report["hung_threads"], [], text)


if __name__ == "__main__":
    unittest.main()
