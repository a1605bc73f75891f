"""Malformed requests against the real convgen-server (issue 14, item 7):
bytes that are not a GenerateRequest, typed configs nested past protobuf's
recursion limit and invalid UTF-8 in a proto3 string all end their call with
an error, and the server keeps answering health and valid requests.

Why the status is UNIMPLEMENTED with an empty message: gRPC 1.51's callback
handlers (grpcpp/impl/codegen/server_callback_handlers.h, CallbackUnaryHandler
and CallbackServerStreamingHandler::RunHandler) answer every failed
deserialization, and every exception out of the method (bad_alloc), with
Status(UNIMPLEMENTED, "") before our code runs; the parse status is dropped.
This test pins that the server survives; it accepts INVALID_ARGUMENT too, so a
server that parses requests itself (raw ByteBuffer methods) still passes.

Run by ctest like e2e_test.py (CONVGEN_SERVER_BIN, CONVGEN_CLIENT_BIN,
CONVGEN_SOURCE_DIR); needs /usr/bin/python3 (python3-grpcio).
"""
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import e2e_test  # noqa: E402,F401  (builds the Python stubs on import)
from e2e_test import (EXAMPLE, Server, grpc, health_pb2, health_pb2_grpc,  # noqa: E402
                      service_pb2)

SERVICE = "/convgen.v1.ConversationService/"
# A failed parse today, or the answer of a server that parses requests itself.
REFUSED = {grpc.StatusCode.UNIMPLEMENTED, grpc.StatusCode.INVALID_ARGUMENT}


def varint(n):
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def field(number, payload):
    """A length-delimited protobuf field."""
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def nested_mixtures(depth):
    """A GenerateRequest whose config's num_tokens nests `depth` mixtures
    (three protobuf messages per level)."""
    distribution = field(1, varint(8) + varint(3))  # constant {value: 3}
    for _ in range(depth):
        component = field(2, distribution)  # MixtureComponent.distribution
        distribution = field(12, field(1, component))  # Distribution.mixture.components
    prompt_input = field(4, distribution)  # PromptInput.num_tokens
    return field(1, field(5, prompt_input))  # GenerateRequest.config.prompt_input


class MalformedTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Server()
        cls.channel = grpc.insecure_channel(cls.server.address)
        raw = dict(request_serializer=lambda b: b, response_deserializer=lambda b: b)
        cls.validate = cls.channel.unary_unary(SERVICE + "Validate", **raw)
        cls.generate = cls.channel.unary_stream(SERVICE + "Generate", **raw)

    @classmethod
    def tearDownClass(cls):
        cls.channel.close()
        cls.server.stop()

    def assert_healthy(self):
        health = health_pb2_grpc.HealthStub(self.channel)
        self.assertEqual(health.Check(health_pb2.HealthCheckRequest(), timeout=5).status,
                         health_pb2.HealthCheckResponse.SERVING)
        with open(EXAMPLE) as f:
            valid = service_pb2.GenerateRequest(config_json=f.read()).SerializeToString()
        self.assertTrue(self.validate(valid, timeout=30))

    def assert_refused(self, body):
        for call in (self.validate, lambda b, timeout: list(self.generate(b, timeout=timeout))):
            with self.assertRaises(grpc.RpcError) as error:
                call(body, timeout=30)
            self.assertIn(error.exception.code(), REFUSED, error.exception.details())
        self.assert_healthy()

    def test_bytes_that_are_no_request(self):
        for body in [b"\xff\xff\xff\xff", b"\x0a\x10abc",  # bad tag; truncated field
                     b"\x12\x02\xff\xfe",  # config_json not UTF-8
                     field(1, field(3, b"\xc3"))]:  # a text_files name not UTF-8
            with self.subTest(body=body):
                self.assert_refused(body)

    def test_nesting_past_protobufs_recursion_limit(self):
        # Protobuf parses at most 100 nested messages: 40 mixtures are 120.
        self.assert_refused(nested_mixtures(40))

    def test_nesting_within_the_limit_is_a_config_error(self):
        # 20 mixtures parse; the rules refuse them with the field's path.
        response = self.validate(nested_mixtures(20), timeout=30)
        parsed = service_pb2.ValidateResponse.FromString(response)
        self.assertIn("mixtures may nest at most 8 deep", str(parsed))
        self.assert_healthy()


if __name__ == "__main__":
    unittest.main()
