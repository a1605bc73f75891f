"""convgen-server's start (issue 15): each way it cannot start exits 2 with one
line naming the flag, the address or file, and the reason, before the slow
part of the start where it can; the command line explains itself (--help,
--version, a hint for a typo); JSON logs parse line by line; a stream ended by
its deadline is counted as DEADLINE_EXCEEDED; Describe reports every limit.

Run by ctest like e2e_test.py (CONVGEN_SERVER_BIN, CONVGEN_CLIENT_BIN,
CONVGEN_SOURCE_DIR); needs /usr/bin/python3 (python3-grpcio).
"""
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
import e2e_test  # noqa: E402  (builds the Python stubs on import)
from e2e_test import CLIENT, EXAMPLE, SERVER, Server, grpc, service_pb2, service_pb2_grpc  # noqa: E402

WORK = tempfile.mkdtemp(prefix="convgen-startup-")
# The server's own info lines that may come before the failure line.
INFO_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+ info ")


def run_server(*args, timeout=60):
    started = time.monotonic()
    result = subprocess.run([SERVER, *args], capture_output=True, text=True, timeout=timeout,
                            errors="replace")
    return result, time.monotonic() - started


def write(name, text):
    path = os.path.join(WORK, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def listening_socket(family=socket.AF_INET, address=("127.0.0.1", 0)):
    s = socket.socket(family, socket.SOCK_STREAM)
    s.bind(address)
    s.listen()
    return s


class StartupFailureTest(unittest.TestCase):
    """Table of start-up failures: exit 2, the failure as the last line of
    stderr (only info lines before it), naming what failed and why."""

    def assert_fails(self, args, *expected_words, fast=True):
        result, seconds = run_server(*args)
        self.assertEqual(result.returncode, 2, f"{args}: {result.stderr}")
        self.assertNotIn("listening", result.stdout, args)
        lines = result.stderr.splitlines()
        self.assertTrue(lines, args)
        last = lines[-1]
        self.assertTrue(last.startswith("convgen-server: "), f"{args}: {result.stderr}")
        for line in lines[:-1]:
            self.assertRegex(line, INFO_LINE, f"{args}: a line besides the failure")
        # One short line, not gRPC's error tree.
        self.assertLess(len(last), 300, last)
        self.assertNotIn("grpc", last.lower().replace("--grpc", ""), last)
        for word in expected_words:
            self.assertIn(word, last, args)
        if fast:
            # Before the tokenizers load (about 3 s in a debug build); loose
            # enough for a loaded 2-core machine.
            self.assertLess(seconds, 2.5, f"{args} took {seconds:.1f} s")
        return last

    def test_listen_addresses(self):
        cases = [
            (["--listen", "50051"], ["--listen \"50051\"", "no host", "0.0.0.0:50051"]),
            (["--listen", "127.0.0.1:99999"], ["127.0.0.1:99999", "from 0 to 65535"]),
            (["--listen", "127.0.0.1:-1"], ["127.0.0.1:-1", "from 0 to 65535"]),
            (["--listen", "127.0.0.1:"], ["127.0.0.1:", "from 0 to 65535"]),
            (["--listen="], ["--listen", "empty"]),
            (["--listen", "http://127.0.0.1:50051"], ["http://127.0.0.1:50051", "no scheme"]),
            (["--listen", "::1:50051"], ["::1:50051", "brackets"]),
            (["--listen", "unix:"], ["unix:/path"]),
            (["--listen", "unix:/nonexistent-convgen-dir/s.sock"],
             ["cannot listen on --listen unix:/nonexistent-convgen-dir/s.sock",
              "No such file or directory"]),
            (["--listen", "no-such-host.invalid:50051"],
             ["no-such-host.invalid:50051", "cannot resolve host"]),
            (["--listen", "127.0.0.1:0", "--metrics-listen", "9090"],
             ["--metrics-listen \"9090\"", "no host"]),
            (["--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0"],
             ["--metrics-listen \"127.0.0.1:0\"", "from 1 to 65535"]),
            (["--listen", "127.0.0.1:0", "--metrics-listen", "unix:/tmp/m.sock"],
             ["--metrics-listen", "no unix sockets"]),
            # A host without a port is not "no host".
            (["--listen", "localhost"], ["--listen \"localhost\"", "no port", "localhost:50051"]),
            (["--listen", "127.0.0.1"], ["no port", "127.0.0.1:50051"]),
            (["--listen", "1.2.3"], ["--listen \"1.2.3\"", "no port"]),
            (["--listen", "[::1]"], ["--listen \"[::1]\"", "no port", "[::1]:50051"]),
            (["--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1"],
             ["--metrics-listen \"127.0.0.1\"", "no port", "127.0.0.1:9090"]),
            # civetweb (Debian's) has no IPv6: refused at once, not after the
            # tokenizers load as "address in use?".
            (["--listen", "127.0.0.1:0", "--metrics-listen", "[::]:52013"],
             ["--metrics-listen \"[::]:52013\"", "no IPv6", "0.0.0.0:52013"]),
            (["--listen", "127.0.0.1:0", "--metrics-listen", "[::1]:52013"],
             ["--metrics-listen \"[::1]:52013\"", "no IPv6"]),
            # Addresses that each bind alone but not together.
            (["--listen", "127.0.0.1:52021,127.0.0.1:52021"],
             ["--listen 127.0.0.1:52021: given twice"]),
            (["--listen", "0.0.0.0:52021", "--listen", "127.0.0.1:52021"],
             ["--listen 127.0.0.1:52021: the port of --listen 0.0.0.0:52021"]),
            (["--listen", "127.0.0.1:52021", "--metrics-listen", "127.0.0.1:52021"],
             ["--metrics-listen 127.0.0.1:52021: the port of --listen 127.0.0.1:52021"]),
            (["--listen", f"unix:{WORK}", "--listen", "127.0.0.1:0"],
             [f"--listen unix:{WORK}: is a directory"]),
            (["--listen", "unix:/proc/convgen-x.sock"], ["--listen unix:/proc/convgen-x.sock"]),
        ]
        for args, words in cases:
            with self.subTest(args=args):
                self.assert_fails(args, *words)

    def test_addresses_in_use(self):
        tcp = listening_socket()
        port = tcp.getsockname()[1]
        socket_path = os.path.join(WORK, "taken.sock")
        unix = listening_socket(socket.AF_UNIX, socket_path)
        try:
            cases = [
                (["--listen", f"127.0.0.1:{port}"],
                 [f"cannot listen on --listen 127.0.0.1:{port}", "address in use"]),
                # Every interface includes the loopback one taken above.
                (["--listen", f"0.0.0.0:{port}"],
                 [f"cannot listen on --listen 0.0.0.0:{port}", "address in use"]),
                # The second of several addresses.
                (["--listen", "127.0.0.1:0", "--listen", f"127.0.0.1:{port}"],
                 [f"127.0.0.1:{port}", "address in use"]),
                (["--listen", f"unix:{socket_path}"],
                 [f"cannot listen on --listen unix:{socket_path}", "address in use"]),
                (["--listen", "127.0.0.1:0", "--metrics-listen", f"127.0.0.1:{port}"],
                 [f"cannot serve metrics on --metrics-listen 127.0.0.1:{port}", "address in use"]),
            ]
            for args, words in cases:
                with self.subTest(args=args):
                    self.assert_fails(args, *words)
        finally:
            tcp.close()
            unix.close()

    def test_a_second_server_on_the_same_ports_exits_2(self):
        first = Server()
        try:
            port = first.address.rsplit(":", 1)[1]
            self.assert_fails(["--listen", f"127.0.0.1:{port}"],
                              f"cannot listen on --listen 127.0.0.1:{port}", "address in use")
            self.assert_fails(["--listen", f"unix:{first.socket}"],
                              f"unix:{first.socket}", "address in use")
            self.assert_fails(["--listen", "127.0.0.1:0",
                               "--metrics-listen", f"127.0.0.1:{first.metrics_port}"],
                              f"--metrics-listen 127.0.0.1:{first.metrics_port}", "address in use")
            # The first server still serves, alone on its port.
            result = subprocess.run([CLIENT, "health", "--server", first.address],
                                    capture_output=True, text=True, timeout=30)
            self.assertEqual(result.stdout.strip(), "SERVING", result.stderr)
        finally:
            first.stop()

    def test_files(self):
        not_pem = write("not-pem.txt", "hello\n")
        key = write("key.pem", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
        directory = os.path.join(WORK, "a-directory")
        os.makedirs(directory, exist_ok=True)
        # Passes the PEM check; the key is read before OpenSSL sees either.
        cert_like = write("cert-like.pem",
                          "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
        fifo = os.path.join(WORK, "fifo")
        if not os.path.exists(fifo):
            os.mkfifo(fifo)
        # Sparse: 8 GiB on the command line, nothing on disk.
        huge = os.path.join(WORK, "huge.json")
        with open(huge, "wb") as f:
            f.truncate(8 << 30)
        cases = [
            # Neither read without end (/dev/zero) nor waited on (a FIFO).
            (["--tls-cert", "/dev/zero", "--tls-key", key],
             ["--tls-cert /dev/zero", "not a regular file"]),
            (["--tls-cert", fifo, "--tls-key", key], [f"--tls-cert {fifo}", "FIFO"]),
            (["--tls-cert", cert_like, "--tls-key", "/dev/zero"],
             ["--tls-key /dev/zero", "not a regular file"]),
            (["--tls-cert", huge, "--tls-key", key], [f"--tls-cert {huge}"]),
            (["--tokenizer", f"x={fifo}"], [f"--tokenizer x={fifo}", "FIFO"]),
            (["--tokenizer", f"x={huge}"], [f"--tokenizer x={huge}", "8589934592 bytes", "1 GiB"]),
            (["--tokenizer", f"a={key}", "--tokenizer", f"a={not_pem}"],
             [f"--tokenizer a={key} and --tokenizer a={not_pem}", "the same name twice"]),
            (["--corpus-dir", key], [f"--corpus-dir {key}: not a directory"]),
            (["--corpus-dir", "/nonexistent/corpus"],
             ["--corpus-dir /nonexistent/corpus", "No such file or directory"]),
            (["--tls-cert", "/nonexistent/cert.pem", "--tls-key", key],
             ["--tls-cert /nonexistent/cert.pem", "No such file or directory"]),
            (["--tls-cert", not_pem, "--tls-key", key],
             [f"--tls-cert {not_pem}", "not a PEM file with a CERTIFICATE"]),
            (["--tls-cert", key, "--tls-key", key], [f"--tls-cert {key}", "not a PEM file"]),
            (["--tls-cert", not_pem.replace("not-pem", "x"), "--tls-key", key], ["--tls-cert"]),
            (["--tls-key", key], ["--tls-key needs --tls-cert"]),
            (["--tls-client-ca", key], ["--tls-client-ca needs --tls-cert"]),
            (["--tls-cert", directory, "--tls-key", key], [f"--tls-cert {directory}"]),
            (["--tokenizer", "mine=/nonexistent/tokenizer.json"],
             ["--tokenizer mine=/nonexistent/tokenizer.json", "No such file or directory"]),
            (["--tokenizer", f"mine={directory}"], [f"--tokenizer mine={directory}"]),
            # Not NAME=PATH: a model id, not in the (empty) Hugging Face cache.
            (["--tokenizer", "mine"], ["--tokenizer mine", "the Hugging Face cache", "NAME=PATH"]),
            (["--tokenizer", "../mine"], ["--tokenizer \"../mine\"", "expected NAME=PATH"]),
            (["--tokenizer", "=/x"], ["expected NAME=PATH"]),
        ]
        try:
            for args, words in cases:
                with self.subTest(args=args):
                    self.assert_fails(["--listen", "127.0.0.1:0", *args], *words)
        finally:
            os.remove(huge)

    def test_tls_files_that_openssl_cannot_use(self):
        def openssl(*args):
            subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=WORK)

        for name in ["one", "two"]:
            openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key",
                    "-out", f"{name}.pem", "-days", "1", "-subj", f"/CN={name}")
        one_pem, one_key, two_key = (os.path.join(WORK, f) for f in ["one.pem", "one.key", "two.key"])
        encrypted = os.path.join(WORK, "encrypted.key")
        openssl("pkey", "-in", one_key, "-aes256", "-passout", "pass:secret", "-out", encrypted)
        garbage_cert = write("garbage.pem",
                             "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
        garbage_key = write("garbage.key",
                            "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
        cases = [
            (["--tls-cert", garbage_cert, "--tls-key", one_key],
             [f"--tls-cert {garbage_cert}: no certificate can be read"]),
            (["--tls-cert", one_pem, "--tls-key", garbage_key],
             [f"--tls-key {garbage_key}: no private key can be read"]),
            (["--tls-cert", one_pem, "--tls-key", encrypted],
             [f"--tls-key {encrypted}", "encrypted"]),
            (["--tls-cert", one_pem, "--tls-key", two_key],
             [f"--tls-key {two_key}: not the key of the certificate in --tls-cert {one_pem}"]),
            (["--tls-cert", one_pem, "--tls-key", one_key, "--tls-client-ca", garbage_cert],
             [f"--tls-client-ca {garbage_cert}: no certificate can be read"]),
        ]
        for args, words in cases:
            with self.subTest(args=args):
                self.assert_fails(["--listen", "127.0.0.1:0", *args], *words)

    def test_a_tokenizer_file_that_does_not_load_is_named(self):
        bad = write("bad-tokenizer.json", '{"model": {"type": "Nonsense"}}')
        self.assert_fails(["--listen", "127.0.0.1:0", "--tokenizer", f"bad={bad}"], bad, fast=False)

    def test_log_options_and_limits(self):
        cases = [
            (["--log-level", "verbose"],
             ["--log-level \"verbose\"", "trace, debug, info, warn, error"]),
            (["--log-format", "yaml"], ["--log-format \"yaml\"", "text or json"]),
            (["--max-memory", "-1"], ["--max-memory"]),
            # Twice (64 MiB + 1 MiB) at the defaults, checked at once.
            (["--grpc-memory-bytes", "136314879"],
             ["--grpc-memory-bytes 136314879",
              "at least twice (--max-inline-corpus-bytes + 1 MiB), 136314880"]),
        ]
        for args, words in cases:
            with self.subTest(args=args):
                self.assert_fails(["--listen", "127.0.0.1:0", *args], *words)


class CommandLineTest(unittest.TestCase):
    def test_help_lists_every_flag_with_its_default(self):
        result, _ = run_server("--help")
        self.assertEqual(result.returncode, 0, result.stderr)
        for flag, default in [("--listen", "0.0.0.0:50051"), ("--max-memory", "671088640"),
                              ("--max-stall-seconds", "60"), ("--log-level", "info"),
                              ("--log-format", "text"), ("--max-watch-streams", "100")]:
            self.assertRegex(result.stdout, rf"(?m)^  {re.escape(flag)}: .*\(default: {default}\)")
        flag_lines = [line for line in result.stdout.splitlines() if line.startswith("  --")]
        with open(os.path.join(e2e_test.SOURCE, "server", "server_flags.cc")) as f:
            defined = re.findall(r"(?m)^ABSL_FLAG\([^,]+, (\w+),", f.read())
        self.assertEqual(sorted(line.split(":")[0].strip()[2:].replace("-", "_")
                                for line in flag_lines), sorted(defined))
        for line in flag_lines:
            if not line.startswith("  --version:"):
                self.assertIn("default", line)

    def test_version(self):
        result, _ = run_server("--version")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertRegex(result.stdout, r"^convgen-server \d+\.\d+\.\d+ \(gRPC \d")

    def test_a_typo_exits_2_with_a_hint(self):
        for typo, hint in [("--lisen", "--listen"), ("--max-memroy", "--max-memory"),
                           ("--metrics_listn", "--metrics-listen")]:
            with self.subTest(typo=typo):
                result, _ = run_server(typo, "x")
                self.assertEqual(result.returncode, 2, result.stderr)
                self.assertIn(f"unknown flag {typo} (did you mean {hint}?)", result.stderr)
                self.assertIn("--help lists every flag", result.stderr)
        result, _ = run_server("--completely-unknown")
        self.assertEqual(result.returncode, 2)
        self.assertNotIn("did you mean", result.stderr)


class JsonLogTest(unittest.TestCase):
    def assert_json_lines(self, stderr):
        lines = stderr.splitlines()
        self.assertTrue(lines)
        records = []
        for line in lines:
            try:
                records.append(json.loads(line))
            except ValueError as e:
                self.fail(f"not JSON ({e}): {line!r}")
        for record in records:
            self.assertEqual(set(record), {"time", "level", "message"}, record)
        return records

    def test_a_failure_with_quotes_newlines_and_bad_utf8_is_one_json_line(self):
        result = subprocess.run(
            [SERVER, "--log-format", "json", "--listen", "127.0.0.1:0",
             "--tokenizer", b'my"tok\\en=/no\nsuch\tfile\xff'], capture_output=True, timeout=60)
        self.assertEqual(result.returncode, 2)
        records = self.assert_json_lines(result.stderr.decode("utf-8", errors="strict"))
        self.assertEqual(records[-1]["level"], "critical")
        self.assertIn('--tokenizer my"tok\\en=/no\nsuch\tfile\ufffd', records[-1]["message"])

    def test_a_bad_log_level_with_json_logs_is_a_json_line(self):
        result = subprocess.run([SERVER, "--log-format", "json", "--log-level", 'loud"er'],
                                capture_output=True, text=True, timeout=60)
        self.assertEqual(result.returncode, 2)
        records = self.assert_json_lines(result.stderr)
        self.assertEqual(len(records), 1)
        self.assertIn('--log-level "loud"er": expected one of', records[0]["message"])

    def test_a_running_server_logs_json_lines(self):
        # gRPC's own lines too, at every level (they go through the server's logger).
        os.environ["GRPC_VERBOSITY"] = "DEBUG"
        try:
            server = Server("--log-format", "json", "--log-level", "debug")
        finally:
            del os.environ["GRPC_VERBOSITY"]
        try:
            # Garbage for gRPC's HTTP/2 parser, which logs about it.
            host, port = server.address.rsplit(":", 1)
            with socket.create_connection((host, int(port))) as s:
                s.sendall(b'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"quoted"\\ \x00\x01\xff\xfe' * 4)
                time.sleep(0.3)
            channel = grpc.insecure_channel(server.address)
            stub = service_pb2_grpc.ConversationServiceStub(channel)
            with self.assertRaises(grpc.RpcError):
                list(stub.Generate(service_pb2.GenerateRequest(config_json='{"a": "b\\"\n'),
                                   timeout=30))
            channel.close()
        finally:
            server.process.send_signal(signal.SIGTERM)
            _, stderr = server.process.communicate(timeout=30)
        self.assertEqual(server.process.returncode, 0)
        records = self.assert_json_lines(stderr)
        messages = [r["message"] for r in records]
        self.assertIn("stopped", messages)
        self.assertTrue(any(m.startswith("grpc ") for m in messages), messages)


def deadline_exceeded_count(metrics_port):
    text = urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics",
                                  timeout=10).read().decode()
    counts = {}
    for code in ["DEADLINE_EXCEEDED", "CANCELLED"]:
        match = re.search(
            rf'^convgen_rpcs_handled_total{{code="{code}",method="Generate"}} (\S+)', text, re.M)
        counts[code] = float(match.group(1)) if match else 0.0
    return counts


class ServingTest(unittest.TestCase):
    """Against one running server with non-default limits."""

    @classmethod
    def setUpClass(cls):
        cls.server = Server("--max-messages-per-conversation", "1234", "--max-memory", "900000000",
                            "--max-corpus-bytes", "5000000", "--max-build-cpu-seconds", "7.5",
                            "--max-stall-seconds", "42", "--max-watch-streams", "17",
                            "--grpc-memory-bytes", "300000000", "--max-inline-corpus-bytes",
                            "2000000", "--max-message-bytes", "3000000", "--drain-seconds", "3",
                            "--max-conversations-per-request", "4321",
                            "--max-concurrent-streams", "9")

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def test_describe_reports_every_limit(self):
        channel = grpc.insecure_channel(self.server.address)
        limits = service_pb2_grpc.ConversationServiceStub(channel).Describe(
            service_pb2.DescribeRequest(), timeout=30).limits
        channel.close()
        expected = {
            "max_conversations_per_request": 4321, "max_concurrent_streams": 9,
            "max_inline_corpus_bytes": 2000000, "max_message_bytes": 3000000,
            "max_messages_per_conversation": 1234, "max_memory_bytes": 900000000,
            "max_corpus_bytes": 5000000, "max_text_files": 256, "max_build_cpu_seconds": 7.5,
            "max_stall_seconds": 42, "max_watch_streams": 17, "grpc_memory_bytes": 300000000,
            "max_receive_message_bytes": 2000000 + (1 << 20),
            "max_send_message_bytes": 3000000 + (1 << 16), "accept_compressed_requests": False,
            "drain_seconds": 3, "max_numpy_legacy_draws": 1 << 30,
            "max_request_tokenizer_bytes": 32 << 20, "request_tokenizer_cache": 4,
            "max_batch_bytes": 65536,
        }
        # Every field of Limits is checked: a limit added to the proto must be added here.
        self.assertEqual(sorted(f.name for f in limits.DESCRIPTOR.fields), sorted(expected))
        for name, value in expected.items():
            self.assertEqual(getattr(limits, name), value, name)
        # The client prints each of them.
        result = subprocess.run([CLIENT, "describe", "--server", self.server.address],
                                capture_output=True, text=True, timeout=30)
        self.assertEqual(result.returncode, 0, result.stderr)
        for line in ["  max-messages-per-conversation: 1234", "  max-memory-bytes: 900000000",
                     "  max-build-cpu-seconds: 7.5", "  max-stall-seconds: 42",
                     "  max-watch-streams: 17", "  max-text-files: 256",
                     "  accept-compressed-requests: false", "  max-concurrent-streams: 9"]:
            self.assertIn(line + "\n", result.stdout)

    def test_a_stream_past_its_deadline_counts_as_deadline_exceeded(self):
        before = deadline_exceeded_count(self.server.metrics_port)
        with open(EXAMPLE) as f:
            config = json.load(f)
        config["num_conversations"] = 4000
        channel = grpc.insecure_channel(self.server.address)
        stub = service_pb2_grpc.ConversationServiceStub(channel)
        # The first call may end while the corpus is tokenized, the second
        # (corpus cached) ends mid-stream.
        for _ in range(2):
            with self.assertRaises(grpc.RpcError) as raised:
                for _ in stub.Generate(service_pb2.GenerateRequest(config_json=json.dumps(config)),
                                       timeout=1):
                    pass
            self.assertEqual(raised.exception.code(), grpc.StatusCode.DEADLINE_EXCEEDED)
        channel.close()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            after = deadline_exceeded_count(self.server.metrics_port)
            if after["DEADLINE_EXCEEDED"] >= before["DEADLINE_EXCEEDED"] + 2:
                break
            time.sleep(0.1)
        self.assertEqual(after["DEADLINE_EXCEEDED"], before["DEADLINE_EXCEEDED"] + 2, after)
        self.assertEqual(after["CANCELLED"], before["CANCELLED"], after)


if __name__ == "__main__":
    unittest.main()
