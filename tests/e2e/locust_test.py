"""examples/locust/locustfile.py run headless by Debian's Locust against the
real convgen server and a local Chat Completions endpoint (mock_openai.py):
every user message of every shard is sent once, in order, with convgen's
history and max_tokens, after its think time, and Locust counts no failure.

Run by ctest with CONVGEN_SERVER_BIN, CONVGEN_CLIENT_BIN, CONVGEN_SOURCE_DIR
and CONVGEN_PYTHON_STUBS set; needs /usr/bin/python3 (python3-grpcio,
python3-protobuf) and python3-locust.
"""
import importlib.util
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

SERVER = os.environ["CONVGEN_SERVER_BIN"]
CLIENT = os.environ["CONVGEN_CLIENT_BIN"]
SOURCE = os.environ["CONVGEN_SOURCE_DIR"]
LOCUSTFILE = os.path.join(SOURCE, "examples", "locust", "locustfile.py")
WORK = tempfile.mkdtemp(prefix="convgen-locust-")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from mock_openai import MockOpenAI, answer_text  # noqa: E402

if importlib.util.find_spec("locust") is None:
    sys.exit("locust_test: Locust is missing; scripts/bootstrap installs it (python3-locust)")

SEED = 3
USERS = 2
CONFIG = {
    "filetype": "generate_conversations",
    "num_conversations": 6,
    "text_files": ["moby-dick.txt"],
    "prompt_input": {
        "num_turns": {"distribution": "uniform", "min": 2, "max": 6},
        "prefix_num_tokens": {"distribution": "constant", "value": 20},
        "num_tokens": {"distribution": "uniform", "min": 20, "max": 60},
        "think_time_ms": {"distribution": "uniform", "min": 100, "max": 300}
    },
    "prompt_output": {"num_tokens": {"distribution": "uniform", "min": 10, "max": 40}}
}


def start_server():
    process = subprocess.Popen([SERVER, "--listen", "127.0.0.1:0"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    line = process.stdout.readline()
    match = re.search(r"listening on (127\.0\.0\.1:\d+)", line)
    if not match:
        process.kill()
        raise RuntimeError("server did not start: " + line + process.stderr.read())
    return process, match.group(1)


def stop_server(process):
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    process.wait(timeout=30)
    process.stdout.close()
    process.stderr.close()


def expected_conversations(address, config_path):
    """The CLI's jsonl (independent of the Python client): index -> messages."""
    out = subprocess.run([CLIENT, "generate", "--server", address, "--input-file", config_path,
                          "--seed", str(SEED), "--format", "jsonl", "--output", "-"],
                         capture_output=True, text=True, timeout=60, check=True).stdout
    conversations = {}
    for line in out.splitlines():
        turn = json.loads(line)
        conversations.setdefault(turn["conversation_index"], []).append(turn)
    return conversations


def final_counts(output):
    """(requests, failures) by "TYPE NAME" (or "Aggregated") from Locust's
    final table (its --csv files are written every 2 s, so they may miss
    the last requests)."""
    counts = {}
    for match in re.finditer(r"^(POST|TTFT|convgen)?\s+(\S+)\s+(\d+)\s+(\d+)\(", output, re.M):
        key = f"{match.group(1)} {match.group(2)}" if match.group(1) else match.group(2)
        counts[key] = (int(match.group(3)), int(match.group(4)))
    return counts  # with --only-summary, the final table's rows


def locust_command(address, host, config_path, *extra, model="test-model"):
    return (["/usr/bin/python3", "-m", "locust", "-f", LOCUSTFILE, "--headless",
             "-u", str(USERS), "-r", str(USERS), "-t", "30s", "--host", host,
             "--convgen-server", address, "--convgen-config", config_path,
             "--convgen-seed", str(SEED), "--only-summary"] +
            (["--model", model] if model else []) + list(extra))


def run_locust(address, host, config_path, *extra, model="test-model"):
    start = time.monotonic()
    result = subprocess.run(locust_command(address, host, config_path, *extra, model=model),
                            capture_output=True, text=True, timeout=60, cwd=WORK)
    print("locust run %.1f s" % (time.monotonic() - start), file=sys.stderr)
    return result, final_counts(result.stdout + result.stderr), time.monotonic() - start


class LocustTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server, cls.address = start_server()
        cls.config_path = os.path.join(WORK, "config.json")
        with open(cls.config_path, "w") as f:
            json.dump(CONFIG, f)
        cls.expected = expected_conversations(cls.address, cls.config_path)

    @classmethod
    def tearDownClass(cls):
        stop_server(cls.server)

    def setUp(self):
        self.endpoint = MockOpenAI()

    def tearDown(self):
        self.endpoint.stop()

    def by_conversation(self, requests):
        """Requests grouped by the conversation whose first user message they carry."""
        first = {turns[0]["content"]: index for index, turns in self.expected.items()}
        grouped = {}
        for r in requests:
            index = first.get(r.body["messages"][0]["content"])
            self.assertIsNotNone(index, "a request whose first message is no conversation's")
            grouped.setdefault(index, []).append(r)
        return grouped

    def test_every_shard_played_in_order_with_history_and_think_time(self):
        result, stats, seconds = run_locust(self.address, self.endpoint.url, self.config_path)
        self.assertEqual(result.returncode, 0, result.stderr[-3000:])
        # The run ended when the shards were done, not at -t 30s.
        self.assertLess(seconds, 25, result.stderr[-3000:])
        self.assertEqual(stats["Aggregated"][1], 0)
        requests = self.endpoint.requests
        user_messages = sum(len(t) // 2 for t in self.expected.values())
        self.assertEqual(len(requests), user_messages)
        self.assertEqual(stats["POST /v1/chat/completions"], (user_messages, 0))
        grouped = self.by_conversation(requests)
        self.assertEqual(sorted(grouped), sorted(self.expected))
        for index, turns in self.expected.items():
            sent = grouped[index]
            self.assertEqual(len(sent), len(turns) // 2, f"conversation {index}")
            for k, r in enumerate(sent):
                # History: convgen's messages so far (its assistant answers, the default).
                want = [{"role": t["role"], "content": t["content"]} for t in turns[:2 * k + 1]]
                self.assertEqual(r.body["messages"], want, f"conversation {index}, request {k}")
                self.assertEqual(r.body["max_tokens"], turns[2 * k + 1]["max_tokens"])
                self.assertEqual(r.body["model"], "test-model")
                self.assertNotIn("min_tokens", r.body)
                if k > 0:
                    # The think time passed between the previous answer and this request.
                    gap_ms = (r.arrived - sent[k - 1].answered) * 1000
                    think = turns[2 * k]["think_time_ms"]
                    self.assertTrue(100 <= think <= 300, think)
                    self.assertGreaterEqual(gap_ms, 0.9 * think,
                                            f"conversation {index}, request {k}")

    def test_a_traces_conversations_start_at_their_arrival_ms(self):
        # A Mooncake-style trace (shape_source): conversation i is sent no
        # earlier than its timestamp after the run's start. Conversation 0
        # (timestamp 0) marks the start, a little after it; later ones may be
        # late on a busy machine, never early.
        timestamps = [0, 0, 900, 1300, 2100, 2600]
        trace = os.path.join(WORK, "trace.jsonl")
        with open(trace, "w") as f:
            for k, ts in enumerate(timestamps):
                f.write(json.dumps({"timestamp": ts, "input_length": 40, "output_length": 8,
                                    "hash_ids": [k % 2, 10 + k]}) + "\n")
        config_path = os.path.join(WORK, "trace-config.json")
        with open(config_path, "w") as f:
            json.dump({"filetype": "generate_conversations", "num_conversations": 6,
                       "text_files": ["moby-dick.txt"],
                       "shape_source": {"format": "mooncake", "path": "trace.jsonl",
                                        "block_size": 16}}, f)
        expected = expected_conversations(self.address, config_path)
        result, stats, _ = run_locust(self.address, self.endpoint.url, config_path)
        self.assertEqual(result.returncode, 0, result.stderr[-3000:])
        self.assertEqual(stats["POST /v1/chat/completions"], (6, 0))
        first = {turns[0]["content"]: index for index, turns in expected.items()}
        arrived = {first[r.body["messages"][0]["content"]]: r.arrived
                   for r in self.endpoint.requests}
        self.assertEqual(sorted(arrived), list(range(6)))
        start = min(arrived.values())
        for index, ts in enumerate(timestamps):
            # 300 ms: how long conversation 0's stream may take to open.
            self.assertGreaterEqual((arrived[index] - start) * 1000, ts - 300, index)
            self.assertEqual(expected[index][0]["arrival_ms"], ts)

    def test_endpoint_history_min_tokens_and_streaming(self):
        # The endpoint's streamed answers as history, vLLM's min_tokens/ignore_eos.
        # No --model: the body has none (the endpoint uses its served model).
        result, stats, _ = run_locust(self.address, self.endpoint.url, self.config_path,
                                      "--convgen-history", "endpoint",
                                      "--convgen-min-tokens", "--convgen-stream", model=None)
        self.assertEqual(result.returncode, 0, result.stderr[-3000:])
        self.assertEqual(stats["Aggregated"][1], 0)
        requests = sum(len(t) // 2 for t in self.expected.values())
        self.assertEqual(stats["POST /v1/chat/completions"], (requests, 0))
        # One time-to-first-token entry per answer.
        self.assertEqual(stats["TTFT /v1/chat/completions"], (requests, 0))
        grouped = self.by_conversation(self.endpoint.requests)
        self.assertEqual(sorted(grouped), sorted(self.expected))
        for index, turns in self.expected.items():
            sent = grouped[index]
            self.assertEqual(len(sent), len(turns) // 2)
            for k, r in enumerate(sent):
                messages = r.body["messages"]
                self.assertEqual([m["content"] for m in messages[0::2]],
                                 [t["content"] for t in turns[0:2 * k + 1:2]])
                self.assertEqual([m["content"] for m in messages[1::2]],
                                 [answer_text(s.body) for s in sent[:k]])
                self.assertEqual(r.body["min_tokens"], turns[2 * k + 1]["max_tokens"])
                self.assertIs(r.body["ignore_eos"], True)
                self.assertIs(r.body["stream"], True)
                self.assertNotIn("model", r.body)

    def test_arguments_that_cannot_run_are_refused_at_once(self):
        # Each would fail in every user or never end: locust quits before any
        # user starts, with a failure code and the reason. Run side by side.
        cases = [
            (["-u", "0"], "-u 0: give at least one user"),
            (["--convgen-users", "4"], "-u 2 is below --convgen-users 4: shards 2..3"),
            (["--convgen-users", "-1"], "--convgen-users -1: must be >= 0"),
            (["--convgen-config", "/nonexistent.json"], "--convgen-config /nonexistent.json: "
             "cannot read it (No such file or directory)"),
            (["--convgen-tls-ca", "/nonexistent.pem"], "--convgen-tls-ca /nonexistent.pem: "
             "cannot read it"),
            (["--convgen-http-timeout", "0"], "--convgen-http-timeout 0.0: must be > 0"),
        ]
        start = time.monotonic()
        runs = [(subprocess.Popen(locust_command(self.address, self.endpoint.url,
                                                 self.config_path, *extra),
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                  cwd=WORK), message) for extra, message in cases]
        done = [(process.communicate(timeout=60)[1], process.returncode, message)
                for process, message in runs]
        for err, returncode, message in done:
            self.assertNotEqual(returncode, 0, message)
            self.assertIn(message, err)
            self.assertTrue(err.startswith("convgen locustfile: "), err[-2000:])
        print("refusals %.1f s" % (time.monotonic() - start), file=sys.stderr)
        self.assertLess(time.monotonic() - start, 20)
        self.assertEqual(self.endpoint.requests, [])

    def test_a_stream_answered_without_events_is_a_failure(self):
        self.endpoint.stop()
        self.endpoint = MockOpenAI(never_stream=True)
        result, stats, _ = run_locust(self.address, self.endpoint.url, self.config_path,
                                      "--convgen-stream")
        self.assertNotEqual(result.returncode, 0)
        n = len(self.expected)  # each conversation's first request fails
        self.assertEqual(stats["POST /v1/chat/completions"], (n, n))
        self.assertIn("not an event stream (Content-Type",
                      result.stdout + result.stderr)

    def test_a_stalled_endpoint_times_out_as_a_failure(self):
        self.endpoint.stop()
        self.endpoint = MockOpenAI(stall=3)
        result, stats, seconds = run_locust(self.address, self.endpoint.url, self.config_path,
                                            "--convgen-http-timeout", "0.3")
        self.assertNotEqual(result.returncode, 0)
        n = len(self.expected)
        self.assertEqual(stats["POST /v1/chat/completions"], (n, n))
        self.assertIn("Read timed out", result.stdout + result.stderr)
        self.assertLess(seconds, 20)

    def test_convgen_errors_are_locust_failures(self):
        # A config convgen refuses: each user's stream fails (type convgen),
        # nothing is sent, and the run ends at once.
        bad = os.path.join(WORK, "bad.json")
        with open(bad, "w") as f:
            json.dump(dict(CONFIG, num_conversations=0), f)
        result, stats, seconds = run_locust(self.address, self.endpoint.url, bad)
        self.assertNotEqual(result.returncode, 0)
        self.assertEqual(stats["convgen Generate"], (USERS, USERS))
        self.assertIn("num_conversations: must be > 0 (got 0)", result.stdout + result.stderr)
        self.assertEqual(self.endpoint.requests, [])
        self.assertLess(seconds, 25)

    def test_endpoint_errors_are_locust_failures(self):
        # Nothing listens at the host: every conversation's first request fails.
        # One shard for two users: the second has none and stops, the first
        # plays every conversation.
        import socket
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            host = "http://127.0.0.1:%d" % s.getsockname()[1]
        result, stats, _ = run_locust(self.address, host, self.config_path, "--convgen-users", "1")
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("convgen user 1: no shard (there are 1); stopping", result.stderr)
        n = len(self.expected)
        self.assertEqual(stats["POST /v1/chat/completions"], (n, n))
        self.assertIn("Connection refused", result.stdout + result.stderr)


if __name__ == "__main__":
    try:
        unittest.main()
    finally:
        shutil.rmtree(WORK, ignore_errors=True)
