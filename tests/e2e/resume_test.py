"""Resume is exact (issue 15): streams broken at random points -- a short
--timeout, the server SIGKILLed mid-stream (and restarted), the client
stopped by SIGINT or SIGTERM, the client SIGKILLed -- in every output format,
then resumed as the client says; the partial file plus the resumed run equal
the uninterrupted run, byte for byte (for json and sharegpt: the two lists,
concatenated, equal the full list).

What the user does after each break:
- the client printed "...; FILE holds exactly the conversations from index S
  before index J; resume with --start-index J": FILE (OUTPUT.S-J.partial) is
  kept, --output is not written; run again with --start-index J.
- the client was SIGKILLed (no message): nothing is at --output and
  OUTPUT.partial is incomplete; run the same command again (same
  --start-index), which replaces OUTPUT.partial.
- no message because the stream never started (the deadline came first):
  nothing is left; run the same command again.

Seeded and bounded by default (CONVGEN_RESUME_BREAKS=20 breaks, well under
60 s); the issue's full run is
  CONVGEN_RESUME_BREAKS=100 CONVGEN_SERVER_BIN=... CONVGEN_CLIENT_BIN=... \\
  CONVGEN_SOURCE_DIR=$PWD /usr/bin/python3 tests/e2e/resume_test.py
(CONVGEN_RESUME_SEED picks another sequence of breaks).

Run by ctest like e2e_test.py; needs /usr/bin/python3 (python3-grpcio).
"""
import json
import os
import random
import re
import signal
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import e2e_test  # noqa: E402,F401  (builds the Python stubs on import)
from e2e_test import CLIENT, EXAMPLE, WORK, Server  # noqa: E402

BREAKS = int(os.environ.get("CONVGEN_RESUME_BREAKS", "20"))
SEED = int(os.environ.get("CONVGEN_RESUME_SEED", "15"))
CONVERSATIONS = 300
FORMATS = ["json", "jsonl", "jsonl-ids", "openai-jsonl", "sharegpt"]
LISTS = ("json", "sharegpt")  # JSON lists; the others are JSONL
KINDS = ["deadline", "server-kill", "client-sigint", "client-sigterm", "client-sigkill"]
RESUME = re.compile(r"; (\S+) holds exactly the conversations from index (\d+) before index "
                    r"(\d+); resume with --start-index (\d+)")


def write_config():
    """The example's shape, smaller: a stream of a second or two, so that
    random points fall inside it."""
    with open(EXAMPLE) as f:
        config = json.load(f)
    config["num_conversations"] = CONVERSATIONS
    config["prompt_input"]["num_turns"] = {"distribution": "uniform", "min": 2, "max": 8}
    config["prompt_input"]["common_prefix_num_tokens"] = {"distribution": "constant", "value": 50}
    config["prompt_input"]["prefix_num_tokens"] = {"distribution": "lognormal", "average": 200,
                                                   "max": 1000}
    config["prompt_input"]["num_tokens"] = {"distribution": "uniform", "min": 20, "max": 80}
    config["prompt_output"]["num_tokens"] = {"distribution": "uniform", "min": 20, "max": 80}
    path = os.path.join(WORK, "resume-config.json")
    with open(path, "w") as f:
        json.dump(config, f)
    return path


def generate_args(server, config, fmt, output, start):
    return [CLIENT, "generate", "--server", server.address, "--input-file", config,
            "--format", fmt, "--output", output, "--seed", "9", "--start-index", str(start)]


def read(path):
    with open(path, "rb") as f:
        return f.read()


class ResumeTest(unittest.TestCase):
    def test_random_breaks_resume_to_the_uninterrupted_output(self):
        config = write_config()
        self.server = Server()
        full, seconds = {}, {}
        # The server's first request prepares its corpus: not part of a stream's time.
        subprocess.run(generate_args(self.server, config, "json", os.devnull, 0), check=True,
                       capture_output=True)
        for fmt in FORMATS:
            output = os.path.join(WORK, f"resume-full.{fmt}")
            started = time.monotonic()
            subprocess.run(generate_args(self.server, config, fmt, output, 0), check=True,
                           capture_output=True)
            seconds[fmt] = time.monotonic() - started
            full[fmt] = read(output)
        print("\nuninterrupted runs: " + ", ".join(f"{f} {t:.2f} s" for f, t in seconds.items()),
              file=sys.stderr)
        rng = random.Random(SEED)
        outcomes = {}
        started = time.monotonic()
        try:
            for n in range(BREAKS):
                fmt = FORMATS[n % len(FORMATS)]
                kind = KINDS[rng.randrange(len(KINDS))]
                start = rng.choice([0, 0, rng.randrange(CONVERSATIONS)])
                outcome = self.break_and_resume(n, fmt, kind, start, config, full[fmt],
                                                seconds[fmt], rng)
                outcomes[(kind, outcome)] = outcomes.get((kind, outcome), 0) + 1
        finally:
            self.server.stop()
        print(f"\n{BREAKS} breaks (seed {SEED}) in {time.monotonic() - started:.1f} s:",
              file=sys.stderr)
        for (kind, outcome), count in sorted(outcomes.items()):
            print(f"  {kind:15} {outcome:28} {count}", file=sys.stderr)
        # Most breaks must land mid-stream, or the test tests little.
        broken = sum(c for (k, o), c in outcomes.items() if o == "broke mid-stream")
        self.assertGreaterEqual(broken, BREAKS // 2, outcomes)

    def break_and_resume(self, n, fmt, kind, start, config, full, full_seconds, rng):
        output = os.path.join(WORK, f"resume-{n}.{fmt}")
        share = (CONVERSATIONS - start) / CONVERSATIONS
        args = generate_args(self.server, config, fmt, output, start)
        if kind == "deadline":
            # A deadline somewhere in the stream (or before it starts).
            point = max(rng.uniform(0.02, 1.0) * full_seconds * share, 0.01)
            args += ["--timeout", f"{point:.3f}"]
        else:
            # When the partial file reaches a random size (the client writes
            # 64 KiB at a time): a point in the stream whatever the machine's
            # speed. One in ten at once, before the stream starts.
            point = 0 if rng.random() < 0.1 else int(rng.uniform(0, 0.95) * len(full) * share)
        process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                   text=True)
        if kind != "deadline":
            partial = output + ".partial"
            while process.poll() is None and point > 0 and (
                    os.path.getsize(partial) if os.path.exists(partial) else 0) < point:
                time.sleep(0.002)
            if kind == "server-kill":
                self.server.process.kill()
            else:
                process.send_signal({"client-sigint": signal.SIGINT,
                                     "client-sigterm": signal.SIGTERM,
                                     "client-sigkill": signal.SIGKILL}[kind])
        stderr = process.communicate(timeout=60)[1]
        code = process.returncode
        if kind == "server-kill":
            self.server.stop()
            self.server = Server()
        context = f"break {n}: {kind} {fmt} from {start} at {point}, exit {code}: {stderr}"
        expected = self.tail(fmt, full, start)

        if code == 0:  # the stream ended before the break
            self.assertEqual(self.parse(fmt, read(output)), expected, context)
            return "finished first"
        match = RESUME.search(stderr)
        resumed = os.path.join(WORK, f"resume-{n}-resumed.{fmt}")
        if code < 0:
            # SIGKILL, or a SIGINT/SIGTERM before the client reached the call
            # (the default action): no message.
            self.assertIn(kind, ("client-sigkill", "client-sigint", "client-sigterm"), context)
            self.assertTrue(kind == "client-sigkill" or "resume" not in stderr, context)
            self.assertFalse(os.path.exists(output), context)
            # The same command again, over the killed run's OUTPUT.partial.
            resume, head, resumed = start, None, output
            outcome = "killed (rerun)" if kind == "client-sigkill" else "killed at start (rerun)"
        elif match is None:
            # Only a stream that never started ends without an index, and it leaves nothing.
            self.assertNotIn("resume", stderr, context)
            self.assertEqual(code, {"client-sigint": 130, "client-sigterm": 143}.get(kind, 1),
                             context)
            self.assertFalse(os.path.exists(output), context)
            self.assertFalse(os.path.exists(output + ".partial"), context)
            resume, head = start, None
            outcome = "not started (rerun)"
        else:
            kept, since, before, resume = match.group(1), *map(int, match.group(2, 3, 4))
            self.assertEqual((since, before), (start, resume), context)
            self.assertEqual(kept, f"{output}.{start}-{resume}.partial", context)
            self.assertFalse(os.path.exists(output), context)
            self.assertFalse(os.path.exists(output + ".partial"), context)
            self.assertEqual(code, {"client-sigint": 130, "client-sigterm": 143}.get(kind, 1),
                             context)
            head = read(kept)
            outcome = "broke mid-stream"
        self.assertGreaterEqual(resume, start, context)
        self.assertLessEqual(resume, CONVERSATIONS, context)

        subprocess.run(generate_args(self.server, config, fmt, resumed, resume), check=True,
                       capture_output=True)
        self.assertFalse(os.path.exists(resumed + ".partial"), context)
        tail = self.parse(fmt, read(resumed))
        if head is None:
            self.assertEqual(tail, expected, context)
        else:
            self.assertEqual(self.parse(fmt, head) + tail, expected, context)
        return outcome

    @staticmethod
    def parse(fmt, data):
        """json and sharegpt outputs compare as lists, the others as bytes."""
        return json.loads(data) if fmt in LISTS else data

    @staticmethod
    def tail(fmt, full, start):
        """The uninterrupted output from conversation `start` on."""
        if fmt in LISTS:
            return json.loads(full)[start:]
        if start == 0:
            return full
        lines = full.splitlines(keepends=True)
        key = "conversation_id" if fmt != "openai-jsonl" else None
        kept = []
        for line in lines:
            record = json.loads(line)
            cid = record[key] if key else record["metadata"]["conversation_id"]
            if int(cid.rsplit("_", 1)[1]) >= start:
                kept.append(line)
        return b"".join(kept)


if __name__ == "__main__":
    unittest.main()
