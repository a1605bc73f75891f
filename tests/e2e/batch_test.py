"""Batched Generate streams (GenerateRequest.max_batch_bytes, issue 16),
against the real convgen-server over loopback TCP with Debian's grpcio: a
batched stream carries exactly the events of an unbatched one, in order; a
batch stays within its bound (an event bigger than the bound goes alone); a
request that does not ask never sees a batch; a reader that stops keeps the
server's work and memory bounded; a stalled batched stream's resume index
counts only conversations whose message was delivered.

Run by ctest like e2e_test.py (CONVGEN_SERVER_BIN, CONVGEN_CLIENT_BIN,
CONVGEN_SOURCE_DIR); needs /usr/bin/python3 (python3-grpcio).
"""
import concurrent.futures
import json
import os
import re
import sys
import time
import unittest
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
import e2e_test  # noqa: E402,F401  (builds the Python stubs on import)
from e2e_test import EXAMPLE, Server, grpc, rss_mib, service_pb2, service_pb2_grpc  # noqa: E402

# The server's grace between the stall status and the cancel (kStallGrace).
STALL_GRACE_SECONDS = 5


def config(conversations, tokens=None):
    """The example config with `conversations`, and messages of `tokens`
    tokens each if given."""
    with open(EXAMPLE) as f:
        c = json.load(f)
    c["num_conversations"] = conversations
    if tokens is not None:
        c["prompt_input"]["prefix_num_tokens"] = {"distribution": "constant", "value": 0}
        c["prompt_input"]["common_prefix_num_tokens"] = {"distribution": "constant", "value": 0}
        c["prompt_input"]["num_tokens"] = {"distribution": "constant", "value": tokens}
        c["prompt_output"]["num_tokens"] = {"distribution": "constant", "value": tokens}
    return json.dumps(c)


def flatten(messages):
    """The events of a stream's messages, a batch's in order."""
    events = []
    for m in messages:
        if m.WhichOneof("event") == "batch":
            events.extend(m.batch.events)
        else:
            events.append(m)
    return events


def metric(server, name):
    text = urllib.request.urlopen(f"http://127.0.0.1:{server.metrics_port}/metrics",
                                  timeout=10).read().decode()
    return float(re.search(rf"^{name} (\S+)", text, re.M).group(1))


class BatchTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # Started side by side (each loads its tokenizer). The second: no
        # stall limit (a reader that stops), a bound below the requests'.
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            server = pool.submit(Server, "--max-stall-seconds", "1")
            small = pool.submit(Server, "--max-batch-bytes", "1000", "--max-stall-seconds", "0")
            cls.server, cls.small = server.result(), small.result()
        cls.channel = grpc.insecure_channel(cls.server.address)
        cls.stub = service_pb2_grpc.ConversationServiceStub(cls.channel)

    @classmethod
    def tearDownClass(cls):
        cls.channel.close()
        cls.server.stop()
        cls.small.stop()

    def generate(self, config_json, max_batch_bytes=None, seed=5):
        request = service_pb2.GenerateRequest(config_json=config_json, seed=seed)
        if max_batch_bytes is not None:
            request.max_batch_bytes = max_batch_bytes
        return list(self.stub.Generate(request, timeout=120))

    def test_a_batched_stream_has_the_unbatched_events_in_order(self):
        c = config(300, tokens=40)
        plain = self.generate(c)
        batched = self.generate(c, max_batch_bytes=65536)
        self.assertFalse(any(m.WhichOneof("event") == "batch" for m in plain))
        # The core makes events faster than gRPC writes them: batches form.
        batches = [m for m in batched if m.WhichOneof("event") == "batch"]
        self.assertGreater(len(batches), 0)
        self.assertLess(len(batched), len(plain))
        events = flatten(batched)
        self.assertEqual(len(events), len(plain))
        self.assertEqual([e.SerializeToString() for e in events],
                         [e.SerializeToString() for e in plain])
        self.assertEqual(events[-1].summary.conversations, 300)
        for batch in batches:
            self.assertGreaterEqual(len(batch.batch.events), 2)
            self.assertLessEqual(batch.ByteSize(), 65536)
            for e in batch.batch.events:
                self.assertNotEqual(e.WhichOneof("event"), "batch")

    def test_the_first_turn_goes_out_in_the_first_message_with_its_start(self):
        messages = self.generate(config(200, tokens=40), max_batch_bytes=65536)
        self.assertEqual(messages[0].WhichOneof("event"), "batch")
        self.assertEqual([e.WhichOneof("event") for e in messages[0].batch.events],
                         ["conversation_start", "turn"])

    def test_events_made_before_a_long_build_do_not_wait_for_it(self):
        # Small conversations, some with a 400,000-token prefix: what was
        # made before such a build goes out before it, not with it.
        c = json.loads(config(60, tokens=20))
        c["prompt_input"]["prefix_num_tokens"] = {"distribution": "mixture", "components": [
            {"weight": 0.9, "distribution": {"distribution": "constant", "value": 0}},
            {"weight": 0.1, "distribution": {"distribution": "constant", "value": 400000}}]}
        request = service_pb2.GenerateRequest(config_json=json.dumps(c), seed=3,
                                              max_batch_bytes=65536)
        arrived = {}  # (conversation, kind) -> seconds
        big = []
        started = time.monotonic()
        for m in self.stub.Generate(request, timeout=300):
            now = time.monotonic() - started
            for e in flatten([m]):
                kind = e.WhichOneof("event")
                if kind == "conversation_start":
                    arrived[(e.conversation_start.conversation_index, "start")] = now
                elif kind == "conversation_end":
                    arrived[(e.conversation_end.conversation_index, "end")] = now
                elif kind == "turn" and e.turn.num_tokens > 100000:
                    big.append(e.turn.conversation_index)
        # (After a long build its big message may still be in flight.)
        later = [i for i in big if i >= 3 and not {i - 1, i - 2, i - 3} & set(big)]
        self.assertGreater(len(later), 1, f"no long build after short ones: {big}")
        # From the end of i - 1 to the start of i: the build of i. It varies
        # (7 to 270 ms in a Release build: where its text falls in the corpus),
        # but had the end waited for the build, every gap would be ~1 ms.
        gaps = [arrived[(i, "start")] - arrived[(i - 1, "end")] for i in later]
        print(f"\nlong builds {big}; end to next start (s): {gaps}", file=sys.stderr)
        self.assertGreater(max(gaps), 0.05)

    def test_a_batch_stays_within_its_bound_and_a_larger_event_goes_alone(self):
        # Turns of 600 tokens (about 3 KB) against a 2,000-byte bound: each
        # turn goes alone, the small start and end markers batch.
        c = config(40, tokens=600)
        plain = self.generate(c, seed=8)
        messages = self.generate(c, max_batch_bytes=2000, seed=8)
        self.assertEqual([e.SerializeToString() for e in flatten(messages)],
                         [e.SerializeToString() for e in plain])
        big_alone = 0
        for m in messages:
            if m.WhichOneof("event") == "batch":
                self.assertLessEqual(m.ByteSize(), 2000)
                self.assertGreaterEqual(len(m.batch.events), 2)
            elif m.ByteSize() > 2000:
                big_alone += 1
                self.assertEqual(m.WhichOneof("event"), "turn")
        self.assertEqual(big_alone, sum(1 for e in plain if e.WhichOneof("event") == "turn"))

    def test_a_server_bound_below_the_requests_caps_it(self):
        with grpc.insecure_channel(self.small.address) as channel:
            stub = service_pb2_grpc.ConversationServiceStub(channel)
            request = service_pb2.GenerateRequest(config_json=config(200, tokens=20), seed=2,
                                                  max_batch_bytes=65536)
            messages = list(stub.Generate(request, timeout=120))
            batches = [m for m in messages if m.WhichOneof("event") == "batch"]
            self.assertGreater(len(batches), 0)
            self.assertTrue(all(m.ByteSize() <= 1000 for m in batches))
            self.assertEqual(flatten(messages)[-1].summary.conversations, 200)
            limits = stub.Describe(service_pb2.DescribeRequest(), timeout=30).limits
            self.assertEqual(limits.max_batch_bytes, 1000)

    def test_a_request_without_batching_gets_one_event_per_message(self):
        # An old-style client (no max_batch_bytes), reading slowly so that
        # events pile up while writes are in flight: still no batch.
        request = service_pb2.GenerateRequest(config_json=config(200, tokens=20), seed=4)
        stream = self.stub.Generate(request, timeout=120)
        messages = []
        for i, m in enumerate(stream):
            messages.append(m)
            if i % 100 == 0:
                time.sleep(0.05)
        kinds = [m.WhichOneof("event") for m in messages]
        self.assertNotIn("batch", kinds)
        self.assertEqual(kinds.count("conversation_start"), 200)
        self.assertEqual(kinds[-1], "summary")

    def test_a_reader_that_stops_keeps_the_servers_work_bounded(self):
        request = service_pb2.GenerateRequest(config_json=config(1000000, tokens=50), seed=6,
                                              max_batch_bytes=65536)
        server = self.small  # no stall limit
        with grpc.insecure_channel(server.address) as channel:
            stub = service_pb2_grpc.ConversationServiceStub(channel)
            stream = stub.Generate(request, timeout=120)
            next(stream)
            # The windows and socket buffers fill, then the server waits.
            generated = -1
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                time.sleep(0.5)
                now = metric(server, "convgen_conversations_generated_total")
                if now == generated:
                    break
                generated = now
            rss = rss_mib(server.process.pid)
            time.sleep(1.0)
            self.assertEqual(metric(server, "convgen_conversations_generated_total"), generated,
                             "the server went on generating")
            self.assertLess(rss_mib(server.process.pid) - rss, 8)
            # What the windows and buffers hold, far from the million.
            self.assertLess(generated, 100000)
            stream.cancel()

    def test_a_stalled_batched_stream_names_the_delivered_resume_index(self):
        request = service_pb2.GenerateRequest(config_json=config(100000, tokens=50), seed=3,
                                              max_batch_bytes=65536)
        stream = self.stub.Generate(request)
        messages = [next(stream) for _ in range(3)]
        try:
            time.sleep(1 + STALL_GRACE_SECONDS / 2)  # past the stall, within the grace
            with self.assertRaises(grpc.RpcError) as caught:
                for m in stream:
                    messages.append(m)
            error = caught.exception
            self.assertEqual(error.code(), grpc.StatusCode.RESOURCE_EXHAUSTED, error.details())
            resume = int(re.search(r"resume with start_index (\d+)", error.details()).group(1))
            self.assertTrue(any(m.WhichOneof("event") == "batch" for m in messages))
            ended = [e.conversation_end.conversation_index for e in flatten(messages)
                     if e.WhichOneof("event") == "conversation_end"]
            self.assertEqual(ended, list(range(len(ended))))
            # The last message was the one stuck in flight: the conversations
            # it ended were not delivered when the server gave up; all the
            # others were.
            delivered = [e for e in flatten(messages[:-1])
                         if e.WhichOneof("event") == "conversation_end"]
            self.assertEqual(resume, len(delivered), (resume, len(ended)))
        finally:
            stream.cancel()


if __name__ == "__main__":
    unittest.main(verbosity=2)
