"""Transport-level bounds of convgen-server (issue 14): reflection answers in
linear bytes, health Watch streams are capped, and a drain's UNAVAILABLE
status with the resume index reaches every client.

Run like e2e_test.py (CONVGEN_SERVER_BIN, CONVGEN_CLIENT_BIN,
CONVGEN_SOURCE_DIR set; /usr/bin/python3 with python3-grpcio).
"""
import json
import os
import queue
import re
import signal
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from e2e_test import (EXAMPLE, Server, grpc, health_pb2, health_pb2_grpc,  # noqa: E402
                      reflection_pb2, reflection_pb2_grpc, service_pb2, service_pb2_grpc)


class ReflectionTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Server()
        cls.channel = grpc.insecure_channel(cls.server.address)
        cls.stub = reflection_pb2_grpc.ServerReflectionStub(cls.channel)

    @classmethod
    def tearDownClass(cls):
        cls.channel.close()
        cls.server.stop()

    def ask(self, requests):
        return list(self.stub.ServerReflectionInfo(iter(requests), timeout=60))

    def test_1000_requests_on_one_stream_get_replies_of_constant_size(self):
        # gRPC 1.51's plugin appended every answer to one response message,
        # so reply k was k times reply 1: 1,000 requests returned ~n^2/2 replies.
        symbol = reflection_pb2.ServerReflectionRequest(
            file_containing_symbol="convgen.v1.ConversationService")
        listing = reflection_pb2.ServerReflectionRequest(list_services="")
        started = time.monotonic()
        # The same question in a row (a different one would reset the reply's oneof).
        replies = self.ask([symbol] * 500 + [listing] * 500)
        elapsed = time.monotonic() - started
        self.assertEqual(len(replies), 1000)
        sizes = [r.ByteSize() for r in replies]
        self.assertEqual(set(sizes[:500]), {sizes[0]})
        self.assertEqual(set(sizes[500:]), {sizes[500]})
        total = sum(sizes)
        self.assertEqual(total, 500 * (sizes[0] + sizes[500]))
        print(f"\n1,000 reflection requests: {total} bytes back "
              f"({sizes[0]} per file_containing_symbol, {sizes[500]} per list_services) "
              f"in {elapsed:.2f} s", file=sys.stderr)
        self.assertLess(elapsed, 10)

    def test_answers_what_grpcurl_asks(self):
        replies = self.ask([
            reflection_pb2.ServerReflectionRequest(list_services=""),
            reflection_pb2.ServerReflectionRequest(
                file_containing_symbol="convgen.v1.ConversationService"),
            reflection_pb2.ServerReflectionRequest(file_by_filename="grpc/health/v1/health.proto"),
            reflection_pb2.ServerReflectionRequest(
                all_extension_numbers_of_type="convgen.v1.GenerateRequest"),
            reflection_pb2.ServerReflectionRequest(file_containing_symbol="no.such.Symbol"),
            reflection_pb2.ServerReflectionRequest(file_containing_symbol="x" * 100000),
        ])
        self.assertEqual({s.name for s in replies[0].list_services_response.service},
                         {"convgen.v1.ConversationService", "grpc.health.v1.Health",
                          "grpc.reflection.v1alpha.ServerReflection"})
        from google.protobuf import descriptor_pb2
        files = [descriptor_pb2.FileDescriptorProto.FromString(b)
                 for b in replies[1].file_descriptor_response.file_descriptor_proto]
        # The service's file first, then what it imports (each once).
        self.assertEqual(files[0].name, "convgen/v1/service.proto")
        self.assertIn("convgen/v1/config.proto", [f.name for f in files])
        self.assertEqual(len({f.name for f in files}), len(files))
        self.assertEqual([s.name for s in files[0].service], ["ConversationService"])
        self.assertEqual(replies[1].original_request.file_containing_symbol,
                         "convgen.v1.ConversationService")
        health_file = descriptor_pb2.FileDescriptorProto.FromString(
            replies[2].file_descriptor_response.file_descriptor_proto[0])
        self.assertEqual(health_file.package, "grpc.health.v1")
        self.assertEqual(replies[3].all_extension_numbers_response.base_type_name,
                         "convgen.v1.GenerateRequest")
        self.assertEqual(replies[4].error_response.error_code, grpc.StatusCode.NOT_FOUND.value[0])
        self.assertIn("no.such.Symbol", replies[4].error_response.error_message)
        # An oversized name is refused, not echoed back.
        self.assertEqual(replies[5].error_response.error_code,
                         grpc.StatusCode.INVALID_ARGUMENT.value[0])
        self.assertLess(replies[5].ByteSize(), 200)

    def test_reflection_can_be_turned_off(self):
        server = Server("--reflection=false")
        try:
            with grpc.insecure_channel(server.address) as channel:
                stub = reflection_pb2_grpc.ServerReflectionStub(channel)
                with self.assertRaises(grpc.RpcError) as error:
                    list(stub.ServerReflectionInfo(iter([
                        reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=30))
                self.assertEqual(error.exception.code(), grpc.StatusCode.UNIMPLEMENTED)
                health = health_pb2_grpc.HealthStub(channel)
                self.assertEqual(health.Check(health_pb2.HealthCheckRequest()).status,
                                 health_pb2.HealthCheckResponse.SERVING)
        finally:
            self.assertEqual(server.stop(), 0)


class Watcher:
    """A Watch stream read on its own thread; statuses (or the final error
    code and details) arrive on `events`."""

    def __init__(self, stub, service):
        self.events = queue.Queue()
        self.call = stub.Watch(health_pb2.HealthCheckRequest(service=service), timeout=60)
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        try:
            for response in self.call:
                self.events.put(response.status)
            self.events.put(("end", grpc.StatusCode.OK, ""))
        except grpc.RpcError as e:
            self.events.put(("end", e.code(), e.details()))

    def next(self):
        return self.events.get(timeout=20)


class HealthWatchTest(unittest.TestCase):
    def test_watch_streams_are_capped_and_hear_the_drain(self):
        server = Server("--max-watch-streams", "5", "--drain-seconds", "0.5")
        channel = grpc.insecure_channel(server.address)
        stub = health_pb2_grpc.HealthStub(channel)
        try:
            serving = health_pb2.HealthCheckResponse.SERVING
            watchers = [Watcher(stub, "readiness") for _ in range(4)] + [Watcher(stub, "")]
            for w in watchers:
                self.assertEqual(w.next(), serving)
            # The sixth is refused, naming the flag; Check still answers.
            refused = Watcher(stub, "liveness")
            end, code, details = refused.next()
            self.assertEqual(code, grpc.StatusCode.RESOURCE_EXHAUSTED)
            self.assertIn("--max-watch-streams", details)
            self.assertEqual(stub.Check(health_pb2.HealthCheckRequest(service="liveness")).status,
                             serving)
            # A closed stream frees its place.
            watchers.pop().call.cancel()
            deadline = time.monotonic() + 10
            while True:
                again = Watcher(stub, "readiness")
                first = again.next()
                if first == serving or time.monotonic() > deadline:
                    break
                time.sleep(0.1)  # the cancellation may not have reached the server yet
            self.assertEqual(first, serving)
            watchers.append(again)
            # SIGTERM: readiness turns NOT_SERVING for every watcher, then the
            # streams end as the server stops.
            server.process.send_signal(signal.SIGTERM)
            for w in watchers:
                self.assertEqual(w.next(), health_pb2.HealthCheckResponse.NOT_SERVING)
            for w in watchers:
                end, code, _ = w.next()
                self.assertEqual(code, grpc.StatusCode.UNAVAILABLE)
        finally:
            channel.close()
            self.assertEqual(server.stop(), 0)

    def test_bad_max_watch_streams_exits_2_naming_the_flag(self):
        import subprocess
        from e2e_test import SERVER
        result = subprocess.run([SERVER, "--max-watch-streams=-1"], capture_output=True, text=True,
                                timeout=60)
        self.assertEqual(result.returncode, 2)
        self.assertIn('--max-watch-streams: expected a count >= 0', result.stderr)
        result = subprocess.run([SERVER, "--reflection=maybe"], capture_output=True, text=True,
                                timeout=60)
        self.assertEqual(result.returncode, 2)
        self.assertIn("--reflection", result.stderr)


class DrainStatusTest(unittest.TestCase):
    """SIGTERM with streams open and a short --drain-seconds: every stream
    ends with UNAVAILABLE naming its resume index (an immediate Shutdown used
    to close connections whose trailers were still queued, so that clients
    saw "Broken pipe" or a reset instead, in about 2 drains of 10)."""

    ROUNDS = 4
    STREAMS = 5  # each on its own connection: 20 drains of a connection

    def test_20_of_20_drained_streams_get_their_resume_index(self):
        with open(EXAMPLE) as f:
            config = json.load(f)
        config["num_conversations"] = 100000
        with open(os.path.join(os.environ["CONVGEN_SOURCE_DIR"], "data/corpus/moby-dick.txt"),
                  "rb") as f:
            corpus = f.read()[:200000]  # inline and small: prepared at once
        delivered, outcomes = 0, []
        for round_number in range(self.ROUNDS):
            server = Server("--drain-seconds", "0.2")
            results, flowing = [], threading.Semaphore(0)

            def read(k):
                # A connection per stream (grpcio would share one otherwise).
                channel = grpc.insecure_channel(server.address, options=[
                    ("grpc.use_local_subchannel_pool", 1), ("convgen.test.stream", k)])
                stream = service_pb2_grpc.ConversationServiceStub(channel).Generate(
                    service_pb2.GenerateRequest(
                        config_json=json.dumps(config), seed=k,
                        inline_corpus=[service_pb2.InlineCorpus(name="m.txt", text=corpus)]),
                    timeout=60)
                try:
                    for n, _ in enumerate(stream):
                        if n == 0:
                            flowing.release()
                    results.append((grpc.StatusCode.OK, ""))
                except grpc.RpcError as e:
                    results.append((e.code(), e.details()))
                channel.close()

            threads = [threading.Thread(target=read, args=(k,)) for k in range(self.STREAMS)]
            for t in threads:
                t.start()
            for _ in threads:
                self.assertTrue(flowing.acquire(timeout=60))
            server.process.send_signal(signal.SIGTERM)
            for t in threads:
                t.join(timeout=60)
            self.assertEqual(server.stop(), 0)
            for code, details in results:
                outcomes.append((round_number, code, details))
                if code == grpc.StatusCode.UNAVAILABLE and re.search(r"start_index \d+", details):
                    delivered += 1
        print(f"\ndrain status delivered on {delivered} of {len(outcomes)} streams",
              file=sys.stderr)
        self.assertEqual(delivered, self.ROUNDS * self.STREAMS, outcomes)


if __name__ == "__main__":
    unittest.main(verbosity=2)
