"""What `convgen generate` leaves and prints (issue 15): --output appears only
when a run succeeds; a run that never started leaves nothing and prints no
resume index; --start-index past the end warns; the progress line is drawn
on a terminal at most ~10 times a second, never into the output written to
that same terminal, and a one-line summary ends every successful run.

Run by ctest like e2e_test.py (CONVGEN_SERVER_BIN, CONVGEN_CLIENT_BIN,
CONVGEN_SOURCE_DIR); needs /usr/bin/python3 (python3-grpcio).
"""
import json
import os
import pty
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import e2e_test  # noqa: E402,F401  (builds the Python stubs on import)
from e2e_test import CLIENT, EXAMPLE, WORK, Server, client, free_port  # noqa: E402


def write_config(name, conversations, **changes):
    with open(EXAMPLE) as f:
        config = json.load(f)
    config["num_conversations"] = conversations
    config.update(changes)
    path = os.path.join(WORK, name)
    with open(path, "w") as f:
        json.dump(config, f)
    return path


def run_on_terminal(args, stdout_on_terminal=False):
    """Runs the client with stderr (and stdout if asked) on a pseudo-terminal;
    returns (exit code, the terminal's bytes)."""
    master, slave = pty.openpty()
    process = subprocess.Popen(args, stdin=subprocess.DEVNULL, stderr=slave,
                               stdout=slave if stdout_on_terminal else subprocess.DEVNULL)
    os.close(slave)
    data = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the child closed its end
            break
        if not chunk:
            break
        data += chunk
    os.close(master)
    return process.wait(timeout=120), data


class OutputTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Server()

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def generate(self, *args):
        return ["generate", "--server", self.server.address, *args]

    def test_progress_on_a_terminal_is_throttled_and_shows_rate_and_eta(self):
        # Small conversations: 3,000 of them stream in a few seconds.
        config = write_config("progress.json", 3000, prompt_input={
            "num_turns": {"distribution": "constant", "value": 2},
            "num_tokens": {"distribution": "constant", "value": 20},
            "prefix_num_tokens": {"distribution": "constant", "value": 10}},
            prompt_output={"num_tokens": {"distribution": "constant", "value": 10}})
        output = os.path.join(WORK, "progress-out.json")
        started = time.monotonic()
        code, data = run_on_terminal(
            [CLIENT, *self.generate("--input-file", config, "--output", output)])
        elapsed = time.monotonic() - started
        text = data.decode().replace("\r\n", "\n")
        self.assertEqual(code, 0, text)
        redraws = text.count("\r")
        print(f"\nprogress for 3,000 conversations in {elapsed:.1f} s: {len(data)} bytes, "
              f"{redraws} redraws", file=sys.stderr)
        # At most ~10 a second (and the last one): was one per conversation, 158 KB.
        self.assertLessEqual(redraws, 10 * elapsed + 5)
        self.assertLess(len(data), 200 * (10 * elapsed + 5))
        self.assertIn("3000/3000 conversations", text)
        self.assertRegex(text, r"\d+ tokens/s")
        self.assertRegex(text, r"convgen: 3000 conversations, \d+ tokens in [\d.]+ s")
        with open(output) as f:
            self.assertEqual(len(json.load(f)), 3000)

    def test_no_progress_line_into_output_on_the_same_terminal(self):
        code, data = run_on_terminal(
            [CLIENT, *self.generate("--input-file", EXAMPLE, "--output", "-")],
            stdout_on_terminal=True)
        # The terminal writes each newline as \r\n; a redraw is a bare \r.
        text = data.decode().replace("\r\n", "\n")
        self.assertEqual(code, 0, text[-2000:])
        self.assertNotIn("\r", text)
        self.assertNotIn("ETA", text)
        # The JSON, then the summary line.
        body, summary = text.rsplit("]", 1)
        self.assertEqual(len(json.loads(body + "]")), 24)
        self.assertRegex(summary, r"^\s*convgen: 24 conversations, \d+ tokens in [\d.]+ s")

    def test_the_summary_line_is_printed_when_stderr_is_not_a_terminal(self):
        result = client(*self.generate("--input-file", EXAMPLE, "--output", os.devnull))
        self.assertRegex(result.stderr, r"^convgen: 24 conversations, \d+ tokens in [\d.]+ s "
                                        r"\(\d+ tokens/s\)\n$")

    def test_a_run_that_never_started_leaves_nothing_and_no_resume_index(self):
        output = os.path.join(WORK, "never.json")
        # Nothing listening.
        result = client("generate", "--server", f"127.0.0.1:{free_port()}", "--input-file",
                        EXAMPLE, "--output", output, check=False)
        self.assertEqual(result.returncode, 1, result.stderr)
        self.assertIn("UNAVAILABLE", result.stderr)
        self.assertNotIn("resume", result.stderr)
        # A config the server refuses.
        bad = write_config("refused.json", 0)
        result = client(*self.generate("--input-file", bad, "--output", output), check=False)
        self.assertEqual(result.returncode, 2, result.stderr)
        self.assertNotIn("resume", result.stderr)
        for path in (output, output + ".partial"):
            self.assertFalse(os.path.exists(path), path)
        # Nor on stdout: an empty list would be a valid, empty dataset.
        result = client(*self.generate("--input-file", bad, "--output", "-"), check=False)
        self.assertEqual(result.returncode, 2, result.stderr)
        self.assertEqual(result.stdout, "")

    def test_a_failed_run_keeps_the_previous_output(self):
        output = os.path.join(WORK, "previous.json")
        client(*self.generate("--input-file", EXAMPLE, "--output", output))
        with open(output) as f:
            before = f.read()
        bad = write_config("refused-2.json", 0)
        client(*self.generate("--input-file", bad, "--output", output), check=False)
        with open(output) as f:
            self.assertEqual(f.read(), before)

    def test_start_index_at_the_end_warns_and_past_it_is_refused(self):
        output = os.path.join(WORK, "past-end.json")
        result = client(*self.generate("--input-file", EXAMPLE, "--output", output,
                                       "--start-index", "24"))
        self.assertIn("convgen: warning: --start-index 24 is the end of the config's 24 "
                      "conversations: there is nothing to generate", result.stderr)
        with open(output) as f:
            self.assertEqual(json.load(f), [])
        result = client(*self.generate("--input-file", EXAMPLE, "--output", output,
                                       "--start-index", "23"))
        self.assertNotIn("warning", result.stderr)
        with open(output) as f:
            self.assertEqual(len(json.load(f)), 1)
        refused = os.path.join(WORK, "refused-past-end.json")
        result = client(*self.generate("--input-file", EXAMPLE, "--output", refused,
                                       "--start-index", "25"), check=False)
        self.assertEqual(result.returncode, 2, result.stderr)
        self.assertEqual(result.stderr.strip().splitlines(), [
            "convgen: --start-index 25 is beyond the config's 24 conversations (indices 0 to "
            "23; 24 gives an empty output)"])
        self.assertFalse(os.path.exists(refused))

    def test_write_errors_exit_1(self):
        for args in (["--output", "/dev/full"], ["--output", "/dev/full", "--format", "jsonl"]):
            result = client(*self.generate("--input-file", EXAMPLE, *args), check=False)
            self.assertEqual(result.returncode, 1, result.stderr)
            self.assertIn("convgen: cannot write --output /dev/full: No space left on device",
                          result.stderr)
            self.assertNotIn("resume", result.stderr)
        # stdout on a full device.
        with open("/dev/full", "w") as full:
            result = subprocess.run([CLIENT, *self.generate("--input-file", EXAMPLE)],
                                    stdout=full, stderr=subprocess.PIPE, text=True, timeout=60)
        self.assertEqual(result.returncode, 1, result.stderr)
        self.assertIn("convgen: cannot write --output stdout: No space left on device",
                      result.stderr)

    def test_idle_timeout_is_validated(self):
        for value in ("-1", "nan", "inf"):
            result = client("generate", "--input-file", EXAMPLE, "--idle-timeout", value,
                            check=False)
            self.assertEqual(result.returncode, 2, (value, result.stderr))
            self.assertIn("--idle-timeout", result.stderr)


if __name__ == "__main__":
    unittest.main()
