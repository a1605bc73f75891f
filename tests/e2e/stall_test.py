"""Stalled readers and bounded error messages, against the real convgen-server
(issue 14): a Generate stream whose client stops reading ends after
--max-stall-seconds and frees its slot; errors echo no unbounded input.

Run by ctest like e2e_test.py (CONVGEN_SERVER_BIN, CONVGEN_CLIENT_BIN,
CONVGEN_SOURCE_DIR); needs /usr/bin/python3 (python3-grpcio).
"""
import json
import os
import re
import subprocess
import sys
import time
import unittest
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
import e2e_test  # noqa: E402  (builds the Python stubs on import)
from e2e_test import EXAMPLE, SERVER, Server, grpc, service_pb2, service_pb2_grpc  # noqa: E402

# The server's grace between the stall status and the cancel (kStallGrace).
STALL_GRACE_SECONDS = 5


def metrics(server):
    return urllib.request.urlopen(f"http://127.0.0.1:{server.metrics_port}/metrics",
                                  timeout=10).read().decode()


def gauge(text, name):
    return float(re.search(rf"^{name} (\S+)", text, re.M).group(1))


def handled(text, code):
    match = re.search(rf'^convgen_rpcs_handled_total{{code="{code}",method="Generate"}} (\S+)',
                      text, re.M)
    return float(match.group(1)) if match else 0.0


def large_config():
    """Many conversations of large messages: a reader that stops fills the
    HTTP/2 windows after a few messages."""
    with open(EXAMPLE) as f:
        config = json.load(f)
    config["num_conversations"] = 100000
    config["prompt_input"]["num_tokens"] = {"distribution": "constant", "value": 20000}
    config["prompt_output"]["num_tokens"] = {"distribution": "constant", "value": 20000}
    return json.dumps(config)


def wait_for(predicate, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return predicate()


class StallTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Server("--max-stall-seconds", "1")

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def open_stream(self, read):
        channel = grpc.insecure_channel(self.server.address)
        stub = service_pb2_grpc.ConversationServiceStub(channel)
        stream = stub.Generate(service_pb2.GenerateRequest(config_json=large_config(), seed=3))
        events = [next(stream) for _ in range(read)]
        return channel, stream, events

    def read_to_the_end(self, stream, events):
        with self.assertRaises(grpc.RpcError) as error:
            for event in stream:
                events.append(event)
        return error.exception

    def test_a_reader_that_stops_loses_its_slot(self):
        before = metrics(self.server)
        channel, stream, events = self.open_stream(read=3)
        try:
            self.assertEqual(gauge(metrics(self.server), "convgen_active_streams"), 1)
            # Never read again: stall (1 s) + grace (5 s) + the watchdog's period.
            started = time.monotonic()
            self.assertTrue(wait_for(
                lambda: gauge(metrics(self.server), "convgen_active_streams") == 0,
                STALL_GRACE_SECONDS + 10))
            released = time.monotonic() - started
            print(f"stalled stream released after {released:.1f} s", file=sys.stderr)
            self.assertGreaterEqual(released, 1)
            after = metrics(self.server)
            # Counted as the status the server chose, not as a success.
            self.assertEqual(handled(after, "RESOURCE_EXHAUSTED") - handled(before, "RESOURCE_EXHAUSTED"), 1)
            # The trailers were stuck behind the unread message, so the call
            # was cancelled: reading now gives what was buffered, then an error.
            error = self.read_to_the_end(stream, events)
            self.assertIn(error.code(), (grpc.StatusCode.CANCELLED, grpc.StatusCode.RESOURCE_EXHAUSTED))
        finally:
            stream.cancel()
            channel.close()

    def test_a_reader_that_comes_back_within_the_grace_gets_the_resume_index(self):
        channel, stream, events = self.open_stream(read=3)
        try:
            time.sleep(1 + STALL_GRACE_SECONDS / 2)  # past the stall, within the grace
            error = self.read_to_the_end(stream, events)
            self.assertEqual(error.code(), grpc.StatusCode.RESOURCE_EXHAUSTED, error.details())
            self.assertIn("--max-stall-seconds", error.details())
            resume = int(re.search(r"resume with start_index (\d+)", error.details()).group(1))
            ended = [e.conversation_end.conversation_index for e in events
                     if e.WhichOneof("event") == "conversation_end"]
            # Every conversation before the resume index was received whole;
            # at most the one whose end was the stuck message is sent twice.
            self.assertEqual(ended, list(range(len(ended))))
            self.assertIn(len(ended) - resume, (0, 1), (resume, len(ended)))
            self.assertTrue(wait_for(
                lambda: gauge(metrics(self.server), "convgen_active_streams") == 0, 5))
        finally:
            stream.cancel()
            channel.close()

    def test_a_slow_reader_that_keeps_reading_is_not_cut(self):
        channel, stream, events = self.open_stream(read=1)
        try:
            for _ in range(8):
                time.sleep(0.4)  # below the 1 s limit each time
                events.append(next(stream))
        finally:
            stream.cancel()
            channel.close()


class StallFlagTest(unittest.TestCase):
    def test_bad_values_exit_two_naming_the_flag(self):
        for value in ["-1", "nan", "1e300", "soon"]:
            result = subprocess.run([SERVER, f"--max-stall-seconds={value}"], capture_output=True,
                                    text=True, timeout=60)
            self.assertEqual(result.returncode, 2, value)
            self.assertIn("--max-stall-seconds", result.stderr, value)
            self.assertNotIn("listening", result.stdout, value)


if __name__ == "__main__":
    unittest.main(verbosity=2)
