"""The Python client (clients/python/convgen_client) against the real server
over loopback TCP: its conversations equal the C++ client's output for the
same request, shards partition, start_index resumes, and validate, describe,
health, TLS and errors answer as documented.

Run by ctest with CONVGEN_SERVER_BIN, CONVGEN_CLIENT_BIN, CONVGEN_SOURCE_DIR
and CONVGEN_PYTHON_STUBS (the build's clients/python, where the stubs are
generated) set; needs /usr/bin/python3 (python3-grpcio, python3-protobuf)
and openssl.
"""
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
WORK = tempfile.mkdtemp(prefix="convgen-python-client-")
EXAMPLE = os.path.join(SOURCE, "examples", "generate_multi_turn.json")
sys.path.insert(0, os.path.join(SOURCE, "clients", "python"))

import grpc  # noqa: E402
from convgen_client import Client, ConvgenError  # noqa: E402

from certificates import make_certificates  # noqa: E402

# Think time and prefix groups: the turns' optional fields present.
SHAPED = {
    "filetype": "generate_conversations",
    "num_conversations": 12,
    "text_files": ["moby-dick.txt"],
    "prompt_input": {
        "num_turns": {"distribution": "uniform", "min": 2, "max": 8},
        "prefix_groups": {"num_groups": 3, "popularity": "uniform",
                          "prefix_num_tokens": {"distribution": "constant", "value": 40}},
        "prefix_num_tokens": {"distribution": "constant", "value": 10},
        "num_tokens": {"distribution": "uniform", "min": 20, "max": 60},
        "think_time_ms": {"distribution": "uniform", "min": 100, "max": 300}
    },
    "prompt_output": {"num_tokens": {"distribution": "uniform", "min": 10, "max": 40}}
}


class Server:
    """A convgen-server process on 127.0.0.1:0; wait() for its address."""

    def __init__(self, *extra):
        self.process = subprocess.Popen([SERVER, "--listen", "127.0.0.1:0", *extra],
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def wait(self):
        line = self.process.stdout.readline()
        match = re.search(r"listening on (127\.0\.0\.1:\d+)", line)
        if not match:
            self.process.kill()
            raise RuntimeError("server did not start: " + line + self.process.stderr.read())
        self.address = match.group(1)

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=30)
        self.process.stdout.close()
        self.process.stderr.close()


def cli(*args):
    result = subprocess.run([CLIENT, *args], capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        raise AssertionError(
            f"convgen {' '.join(args)} exited {result.returncode}: {result.stderr}")
    return result.stdout


def write_json(name, value):
    path = os.path.join(WORK, name)
    with open(path, "w") as f:
        json.dump(value, f)
    return path


SERVERS = {}


def setUpModule():
    # Both servers load their tokenizer at once (a few seconds each).
    certs = make_certificates(os.path.join(WORK, "tls"))
    SERVERS["plain"] = Server()
    SERVERS["tls"] = Server("--tls-cert", certs["server.pem"], "--tls-key", certs["server.key"])
    SERVERS["ca"] = certs["ca.pem"]
    SERVERS["plain"].wait()
    SERVERS["tls"].wait()


def tearDownModule():
    SERVERS["plain"].stop()
    SERVERS["tls"].stop()


class PythonClientTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = SERVERS["plain"]
        cls.client = Client(cls.server.address, timeout=30)
        cls.client.wait_for_server(30)

    @classmethod
    def tearDownClass(cls):
        cls.client.close()

    def test_conversations_equal_the_cli_output(self):
        expected = json.loads(cli("generate", "--server", self.server.address, "--input-file",
                                  EXAMPLE, "--seed", "7", "--output", "-"))
        stream = self.client.conversations(EXAMPLE, seed=7)
        got = list(stream)
        self.assertEqual(len(got), 24)
        self.assertEqual([c.as_vllm() for c in got], expected)
        for conversation, want in zip(got, expected):
            self.assertEqual(conversation.id, f"CONV_ID_{conversation.index}")
            for message, m in zip(conversation.messages, want["messages"]):
                self.assertEqual(message.content.encode("utf-8"), m["content"].encode("utf-8"))
                # No think time or prefix groups in this config: absent, not 0.
                self.assertIsNone(message.think_time_ms)
                self.assertIsNone(message.prefix_group)
        self.assertEqual(stream.summary.conversations, 24)
        self.assertEqual(stream.summary.messages, sum(len(c.messages) for c in got))
        self.assertEqual(stream.summary.user_tokens + stream.summary.assistant_tokens,
                         sum(m.num_tokens for c in got for m in c.messages))

    def test_every_field_equals_the_cli_jsonl(self):
        # The config as a dict, with think time and prefix groups (the turns'
        # optional fields present); jsonl carries every field of a turn.
        config = write_json("shaped.json", SHAPED)
        lines = cli("generate", "--server", self.server.address, "--input-file", config,
                    "--seed", "3", "--format", "jsonl", "--output", "-").splitlines()
        expected = [json.loads(line) for line in lines]
        got = [(c, k, m) for c in self.client.conversations(SHAPED, seed=3)
               for k, m in enumerate(c.messages)]
        self.assertEqual(len(got), len(expected))
        groups = set()
        for (conversation, k, message), want in zip(got, expected):
            self.assertEqual(conversation.id, want["conversation_id"])
            self.assertEqual(conversation.index, want["conversation_index"])
            self.assertEqual(k, want["turn_index"])
            self.assertEqual(message.role, want["role"])
            self.assertEqual(message.content.encode("utf-8"), want["content"].encode("utf-8"))
            self.assertEqual(message.num_tokens, want["num_tokens"])
            self.assertEqual(message.max_tokens, want.get("max_tokens", 0))
            self.assertEqual(message.think_time_ms, want.get("think_time_ms"))
            self.assertEqual(message.prefix_group, want.get("prefix_group"))
            if message.role == "user":
                self.assertTrue(100 <= message.think_time_ms <= 300, message.think_time_ms)
            else:
                self.assertGreaterEqual(message.max_tokens, 10)
            groups.add(message.prefix_group)
        self.assertEqual(groups, {0, 1, 2})

    def test_config_as_json_string_and_token_ids(self):
        with open(EXAMPLE) as f:
            text = f.read()
        by_text = list(self.client.conversations(text, seed=7, shard=(0, 8), token_ids=True))
        by_dict = list(self.client.conversations(json.loads(text), shard=(0, 8),
                                                 fields={"seed": 7}))
        self.assertEqual([c.as_vllm() for c in by_text], [c.as_vllm() for c in by_dict])
        for message in by_text[0].messages:
            self.assertEqual(len(message.token_ids), message.num_tokens)
        self.assertIsNone(by_dict[0].messages[0].token_ids)

    def test_shards_partition_the_run(self):
        full = {c.index: c.as_vllm() for c in self.client.conversations(EXAMPLE, seed=11)}
        self.assertEqual(sorted(full), list(range(24)))
        union = {}
        for k in range(3):
            stream = self.client.conversations(EXAMPLE, seed=11, shard=(k, 3))
            shard = list(stream)
            self.assertEqual([c.index for c in shard], list(range(k, 24, 3)))
            self.assertEqual(stream.summary.conversations, 8)
            for c in shard:
                self.assertNotIn(c.index, union)
                union[c.index] = c.as_vllm()
        self.assertEqual(union, full)

    def test_start_index_resumes(self):
        full = [c.as_vllm() for c in self.client.conversations(EXAMPLE, seed=5)]
        # A stream given up after 4 conversations resumes at next_index.
        stream = self.client.conversations(EXAMPLE, seed=5)
        head = []
        for c in stream:
            head.append(c.as_vllm())
            if len(head) == 4:
                break
        stream.cancel()
        self.assertEqual(stream.next_index, 4)
        tail = [c.as_vllm() for c in self.client.conversations(EXAMPLE, seed=5,
                                                                 start_index=stream.next_index)]
        self.assertEqual(head + tail, full)

    def test_a_broken_stream_names_where_to_resume(self):
        # A deadline ends the stream after some complete conversations; the
        # error's resume_index is the first one not received, and a request
        # from there continues the run exactly.
        with open(EXAMPLE) as f:
            config = dict(json.load(f), num_conversations=2000)
        self.assertTrue(self.client.validate(config).valid)  # the corpus tokenized, cached
        head = []
        with self.assertRaises(ConvgenError) as raised:
            deadline = time.monotonic() + 3.0
            for c in self.client.conversations(config, seed=9, timeout=3.0):
                head.append(c.as_vllm())
                if len(head) == 3:
                    time.sleep(deadline - time.monotonic() + 0.5)
        error = raised.exception
        self.assertEqual(error.code, grpc.StatusCode.DEADLINE_EXCEEDED)
        self.assertGreaterEqual(len(head), 3)
        self.assertLess(len(head), 2000)
        self.assertEqual(error.resume_index, len(head))
        self.assertIn(f"resume with start_index={len(head)}", str(error))
        reference = []
        with self.client.conversations(config, seed=9) as stream:
            for c in stream:
                reference.append(c.as_vllm())
                if len(reference) == len(head) + 2:
                    break
        with self.client.conversations(config, seed=9, start_index=error.resume_index) as stream:
            tail = [next(iter(stream)).as_vllm()]
        self.assertEqual(head, reference[:len(head)])
        self.assertEqual(tail, reference[len(head):len(head) + 1])

    def test_local_and_inline_text_files(self):
        # A corpus next to the config is sent inline, as the CLI sends it.
        directory = os.path.join(WORK, "local")
        os.makedirs(directory)
        corpus = "Call me Ishmael. Some years ago, never mind how long precisely. " * 200
        with open(os.path.join(directory, "mine.txt"), "w") as f:
            f.write(corpus)
        config = dict(SHAPED, text_files=["mine.txt"], num_conversations=4)
        path = os.path.join(directory, "config.json")
        with open(path, "w") as f:
            json.dump(config, f)
        expected = json.loads(cli("generate", "--server", self.server.address, "--input-file",
                                  path, "--seed", "1", "--output", "-"))
        self.assertEqual([c.as_vllm() for c in self.client.conversations(path, seed=1)], expected)
        self.assertEqual([c.as_vllm() for c in self.client.conversations(
            config, seed=1, text_files={"mine.txt": corpus})], expected)
        # Without the file, mine.txt names a server corpus, which does not exist.
        with self.assertRaises(ConvgenError) as raised:
            list(self.client.conversations(config, seed=1))
        self.assertEqual(raised.exception.code, grpc.StatusCode.NOT_FOUND)
        self.assertIn("mine.txt", raised.exception.details)
        self.assertIsNone(raised.exception.resume_index)

    def test_a_shape_file_that_cannot_be_sent_is_refused_not_swapped(self):
        # As the CLI: a shape name next to the config that is a symlink out,
        # a FIFO or a directory is an error, not the server's file of that name.
        directory = os.path.join(WORK, "shapes")
        os.makedirs(directory)
        outside = os.path.join(WORK, "outside.jsonl")
        with open(outside, "w") as f:
            f.write('{"input_length": 3, "output_length": 1}\n')
        os.symlink(outside, os.path.join(directory, "linked.jsonl"))
        os.mkfifo(os.path.join(directory, "fifo.jsonl"))
        os.mkdir(os.path.join(directory, "dir.jsonl"))
        with open(os.path.join(directory, "here.jsonl"), "w") as f:
            f.write('{"input_length": 3, "output_length": 1}\n')
        path = os.path.join(directory, "config.json")
        for name, wanted in (("linked.jsonl", "leads out of the config's directory"),
                             ("fifo.jsonl", "is not a regular file"),
                             ("dir.jsonl", "is not a regular file")):
            with open(path, "w") as f:
                json.dump({"filetype": "generate_conversations", "num_conversations": 2,
                           "text_files": ["moby-dick.txt"],
                           "shape_source": {"format": "mooncake", "path": name}}, f)
            with self.assertRaises(ValueError) as raised:
                self.client.request(path)
            self.assertIn(f"shape_source.path {name!r}", str(raised.exception))
            self.assertIn(wanted, str(raised.exception))
        with open(path, "w") as f:
            json.dump({"filetype": "generate_conversations", "num_conversations": 2,
                       "text_files": ["moby-dick.txt"],
                       "shape_source": {"format": "mooncake", "path": "here.jsonl"}}, f)
        request = self.client.request(path)
        self.assertEqual(request.inline_shape.name, "here.jsonl")
        self.assertEqual(request.inline_shape.text, b'{"input_length": 3, "output_length": 1}\n')

    def test_validate_answers_sizes_or_every_problem(self):
        valid = self.client.validate(EXAMPLE, seed=7, shard=(1, 4))
        self.assertTrue(valid.valid)
        self.assertEqual(valid.problems, [])
        self.assertEqual(valid.conversations, 6)
        self.assertEqual(valid.tokenizer, "qwen3")
        self.assertEqual(valid.common_prefix_tokens, 500)
        self.assertGreater(valid.corpus_tokens, 100000)
        self.assertEqual(valid.normalized_config["num_conversations"], 24)

        bad = dict(SHAPED, num_conversations=0)
        bad["prompt_input"] = dict(SHAPED["prompt_input"],
                                   num_turns={"distribution": "uniform", "min": 12, "max": 10})
        invalid = self.client.validate(bad)
        self.assertFalse(invalid.valid)
        problems = {(p.path, p.message) for p in invalid.problems}
        self.assertIn(("num_conversations", "must be > 0 (got 0)"), problems)
        self.assertIn(("prompt_input.num_turns", "uniform max must be >= min (10 < 12)"), problems)
        # Generate refuses the same config with INVALID_ARGUMENT and the same problems.
        with self.assertRaises(ConvgenError) as raised:
            list(self.client.conversations(bad))
        error = raised.exception
        self.assertEqual(error.code, grpc.StatusCode.INVALID_ARGUMENT)
        self.assertEqual({(p.path, p.message) for p in error.problems}, problems)
        self.assertIn("INVALID_ARGUMENT", str(error))
        self.assertIn("num_conversations: must be > 0 (got 0)", str(error))

    def test_describe_and_health(self):
        description = self.client.describe()
        server_version = subprocess.run([SERVER, "--version"], capture_output=True, text=True,
                                        check=True).stdout.split()[1]
        self.assertEqual(description.version, server_version)
        default = [t for t in description.tokenizers if t.is_default]
        self.assertEqual([t.name for t in default], ["qwen3"])
        self.assertIn("moby-dick.txt", description.corpora)
        self.assertEqual(description.limits["max_conversations_per_request"], 1000000)
        self.assertEqual(description.limits["max_concurrent_streams"], 256)
        for service in ["", "liveness", "readiness", "convgen.v1.ConversationService"]:
            self.assertEqual(self.client.health(service), "SERVING")
        with self.assertRaises(ConvgenError) as raised:
            self.client.health("no.such.Service")
        self.assertEqual(raised.exception.code, grpc.StatusCode.NOT_FOUND)

    def test_bad_arguments_are_refused_before_any_call(self):
        cases = [
            (lambda: self.client.conversations(EXAMPLE, shard=(4, 4)), "shard (4, 4)"),
            (lambda: self.client.conversations(EXAMPLE, rng="mt"), "rng 'mt'"),
            (lambda: self.client.conversations(42), "config: a dict, a JSON string or a path"),
            (lambda: Client("http://localhost:50051"), "drop the scheme"),
            (lambda: self.client.conversations(EXAMPLE, fields={"no_such": 1}),
             "GenerateRequest has no field 'no_such'"),
            (lambda: self.client.conversations(EXAMPLE, fields={"seed": "x"}), "fields: seed:"),
        ]
        for call, message in cases:
            with self.assertRaises(ValueError) as raised:
                call()
            self.assertIn(message, str(raised.exception))
        with self.assertRaises(FileNotFoundError):
            self.client.conversations(os.path.join(WORK, "missing.json"))

    def test_wrong_types_are_value_errors_naming_the_argument(self):
        c = self.client
        cases = [
            (lambda: c.conversations(EXAMPLE, seed="3"), "seed must be an int in [0, 2^64)"),
            (lambda: c.conversations(EXAMPLE, seed=None), "seed must be an int"),
            (lambda: c.conversations(EXAMPLE, seed=1.5), "seed must be an int"),
            (lambda: c.conversations(EXAMPLE, seed=2**64), "seed must be an int in [0, 2^64)"),
            (lambda: c.conversations(EXAMPLE, start_index=None), "start_index must be an int"),
            (lambda: c.conversations(EXAMPLE, shard=("0", "4")), "shard ('0', '4'): must be"),
            (lambda: c.conversations(EXAMPLE, shard=(0.5, 4)), "shard (0.5, 4): must be"),
            (lambda: c.conversations(EXAMPLE, tokenizer=None), "tokenizer must be a str"),
            (lambda: c.conversations(EXAMPLE, text_files={"x": 5}), "text_files must be a dict"),
            (lambda: c.conversations(EXAMPLE, timeout="5"), "timeout must be None or a number"),
            (lambda: c.health(5), "service must be a str"),
            (lambda: Client("localhost:1", timeout="5"), "timeout must be a number of seconds"),
            (lambda: Client(5), "convgen address must be a str"),
            # gRPC wraps port 99999 to 34463: refused like the CLI does.
            (lambda: Client("127.0.0.1:99999"), "port '99999' must be in 1..65535"),
            (lambda: Client("127.0.0.1:0"), "port '0' must be in 1..65535"),
            (lambda: Client("localhost"), "no port"),
            # A string starting like JSON is JSON, never a file name.
            (lambda: c.conversations("[1,2]"), "a config must be a JSON object"),
            (lambda: c.conversations(" 7"), None),
            (lambda: c.conversations(""), "config: empty"),
            (lambda: c.conversations("   "), "config: empty"),
        ]
        for call, message in cases:
            try:
                call()
            except ValueError as error:
                if message is not None:
                    self.assertIn(message, str(error))
            except OSError as error:
                self.assertIsNone(message, f"{message}: got {error!r}")
            else:
                self.fail(f"no error, expected {message}")
        self.assertIsInstance(Client("unix:/tmp/none.sock"), Client)
        self.assertIsInstance(Client("[::1]:5"), Client)
        closed = Client(SERVERS["plain"].address, timeout=5)
        self.assertEqual(closed.health(), "SERVING")
        closed.close()
        for call in [closed.health, closed.describe, lambda: closed.conversations(EXAMPLE),
                     lambda: closed.validate(EXAMPLE)]:
            with self.assertRaises(ValueError) as raised:
                call()
            self.assertIn("this Client is closed", str(raised.exception))

    def test_unreachable_server_is_an_error_not_a_hang(self):
        import socket
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            address = "127.0.0.1:%d" % s.getsockname()[1]
        start = time.monotonic()
        with Client(address, timeout=5) as nobody:
            with self.assertRaises(ConvgenError) as raised:
                nobody.health()
            self.assertEqual(raised.exception.code, grpc.StatusCode.UNAVAILABLE)
            with self.assertRaises(ConvgenError) as raised:
                list(nobody.conversations(EXAMPLE))
            self.assertEqual(raised.exception.code, grpc.StatusCode.UNAVAILABLE)
            with self.assertRaises(ConvgenError):
                nobody.wait_for_server(0.5)
        self.assertLess(time.monotonic() - start, 20)


class TlsTest(unittest.TestCase):
    def test_root_certificate(self):
        address = SERVERS["tls"].address
        with Client(address, root_certificates=SERVERS["ca"], timeout=30) as secure:
            self.assertEqual(secure.health(), "SERVING")
            got = list(secure.conversations(EXAMPLE, seed=2, shard=(0, 12)))
            self.assertEqual([c.index for c in got], [0, 12])
        with open(SERVERS["ca"], "rb") as f:
            with Client(address, root_certificates=f.read(), timeout=30) as secure:
                self.assertEqual(secure.health("readiness"), "SERVING")
        with Client(address, timeout=5) as plain:
            with self.assertRaises(ConvgenError) as raised:
                plain.health()
            self.assertEqual(raised.exception.code, grpc.StatusCode.UNAVAILABLE)

    def test_half_a_client_certificate_is_refused(self):
        # gRPC core aborts the whole process on a chain without its key.
        tls = os.path.join(WORK, "tls")
        cert, key = os.path.join(tls, "server.pem"), os.path.join(tls, "server.key")
        for kwargs in [dict(root_certificates=SERVERS["ca"], certificate_chain=cert),
                       dict(root_certificates=SERVERS["ca"], private_key=key),
                       dict(private_key=key), dict(certificate_chain=cert)]:
            with self.assertRaises(ValueError) as raised:
                Client(SERVERS["tls"].address, **kwargs)
            self.assertIn("certificate_chain and private_key go together", str(raised.exception))
        with self.assertRaises(ValueError) as raised:
            Client(SERVERS["tls"].address, root_certificates=5)
        self.assertIn("root_certificates must be PEM bytes or a path", str(raised.exception))


if __name__ == "__main__":
    try:
        unittest.main()
    finally:
        shutil.rmtree(WORK, ignore_errors=True)
