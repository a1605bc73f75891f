"""The convgen client explains itself (issue 15): --help of each command, the
rule of each bad flag value, a hint for each common connection mistake (a
real convgen-server with and without TLS, a real HTTP server, nothing
listening), local and server corpora mixed in text_files, and the files a
config may make the client read (.., absolute paths, symlinks, a FIFO,
/dev/zero, too big).

Run by ctest with CONVGEN_SERVER_BIN, CONVGEN_CLIENT_BIN and CONVGEN_SOURCE_DIR
set; needs /usr/bin/python3 and openssl.
"""
import http.server
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import unittest

from certificates import make_certificates

SERVER = os.environ["CONVGEN_SERVER_BIN"]
CLIENT = os.environ["CONVGEN_CLIENT_BIN"]
SOURCE = os.environ["CONVGEN_SOURCE_DIR"]
WORK = tempfile.mkdtemp(prefix="convgen-cli-")
SMOKE = os.path.join(SOURCE, "examples", "constant_smoke.json")
MOBY = os.path.join(SOURCE, "data", "corpus", "moby-dick.txt")
COMMANDS = ["generate", "validate", "describe", "health"]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A convgen-server process on 127.0.0.1:0; started by start(), ready after wait()."""

    def __init__(self, *extra):
        self.process = subprocess.Popen(
            [SERVER, "--listen", "127.0.0.1:0", "--metrics-listen", f"127.0.0.1:{free_port()}",
             *extra], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.address = None

    def wait(self):
        line = self.process.stdout.readline()
        match = re.search(r"listening on (127\.0\.0\.1:\d+)", line)
        if not match:
            self.process.kill()
            raise RuntimeError("server did not start: " + line)
        self.address = match.group(1)

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=30)
        self.process.stdout.close()


def client(*args, timeout=60):
    return subprocess.run([CLIENT, *args], capture_output=True, text=True, timeout=timeout)


def write_config(directory, text_files, name="config.json"):
    os.makedirs(directory, exist_ok=True)
    with open(SMOKE) as f:
        config = json.load(f)
    config["text_files"] = text_files
    path = os.path.join(directory, name)
    with open(path, "w") as f:
        json.dump(config, f)
    return path


class CliTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.certs = make_certificates(os.path.join(WORK, "tls"))
        # Both start at once; each loads its tokenizers for a few seconds.
        cls.plain = Server()
        cls.tls = Server("--tls-cert", cls.certs["server.pem"], "--tls-key", cls.certs["server.key"])
        cls.plain.wait()
        cls.tls.wait()

    @classmethod
    def tearDownClass(cls):
        cls.plain.stop()
        cls.tls.stop()
        shutil.rmtree(WORK, ignore_errors=True)

    def test_help_lists_each_commands_flags_with_defaults(self):
        everything = client("--help")
        self.assertEqual(everything.returncode, 0, everything.stderr)
        all_flags = set(re.findall(r"^  (--[a-z-]+):", everything.stdout, re.M))
        self.assertIn("--allow-outside-files", all_flags)
        listed = set()
        for command in COMMANDS:
            result = client(command, "--help")
            self.assertEqual(result.returncode, 0, (command, result.stderr))
            self.assertIn(f"usage: convgen {command} --server ADDR", result.stdout)
            self.assertIn("--server: host:port or unix:/path of convgen-server "
                          "(default: localhost:50051)", result.stdout)
            self.assertIn("--timeout: ", result.stdout)
            flags = set(re.findall(r"^  (--[a-z-]+):", result.stdout, re.M))
            listed |= flags
            self.assertEqual("--input-file" in flags, command in ("generate", "validate"), command)
            self.assertEqual("--format" in flags, command == "generate", command)
            self.assertEqual("--service" in flags, command == "health", command)
        self.assertIn("--output: Where generate writes; - is stdout (default: -)",
                      client("generate", "--help").stdout)
        # Every flag the binary has belongs to some command (a flag added to
        # main.cc must be added to its commands in client/command_options.cc).
        self.assertEqual(all_flags - listed, {"--version"})
        version = client("--version")
        self.assertEqual(version.returncode, 0)
        self.assertRegex(version.stdout, r"^convgen \d+\.\d+")

    def test_bad_values_exit_2_with_the_rule(self):
        duration_rule = "must be 0 (none) or seconds from 0.001 (1 ms) to 31536000 (a year)"
        port_rule = "the port must be a number from 1 to 65535"
        cases = [(["--server", "http://localhost:8000"],
                  '--server "http://localhost:8000": drop the scheme: --server host:port '
                  "(gRPC, not HTTP)"),
                 (["--server", "https://vllm.example:443"],
                  "drop the scheme: --server host:port (gRPC, not HTTP)"),
                 (["--server", "127.0.0.1:99999"], f'--server "127.0.0.1:99999": {port_rule}'),
                 (["--server", "127.0.0.1:0"], port_rule),
                 (["--server", ""], "--server is empty: give host:port or unix:/path"),
                 (["--server", "localhost"], "needs a port: host:port")]
        for value, shown in [("-1", "-1"), ("nan", "nan"), ("inf", "inf"), ("1e-300", "1e-300"),
                             ("1e308", "1e+308"), ("0.0001", "0.0001")]:
            for flag in ["--timeout", "--wait-for-server"]:
                cases.append(([flag, value], f"{flag} {shown}: {duration_rule}"))
        for args, message in cases:
            result = client("health", *args)
            self.assertEqual(result.returncode, 2, (args, result.stderr))
            self.assertIn(message, result.stderr, args)
            self.assertIn("convgen: --", result.stderr, args)
        # 0 is no deadline; the documented values still work.
        for args in [["--timeout", "0"], ["--timeout", "30"], ["--wait-for-server", "0.001"]]:
            result = client("health", "--server", self.plain.address, *args)
            self.assertEqual(result.returncode, 0, (args, result.stderr))
        for target in [f"ipv4:{self.plain.address}", f"dns:///{self.plain.address}"]:
            result = client("health", "--server", target)
            self.assertEqual(result.returncode, 0, (target, result.stderr))

    def test_files_flags_and_values_the_user_names_are_checked_before_any_call(self):
        directory = os.path.join(WORK, "named")
        os.makedirs(directory)
        fifo = os.path.join(directory, "fifo")
        os.mkfifo(fifo)
        garbage = os.path.join(directory, "garbage.pem")
        with open(garbage, "w") as f:
            f.write("not a certificate\n")
        with open(os.path.join(directory, "local.txt"), "w") as f:
            f.write("a local corpus. " * 20)
        config = write_config(directory, ["local.txt"])
        big = os.path.join(directory, "big.json")
        with open(big, "wb") as f:
            f.truncate((16 << 20) + 1)  # sparse
        nowhere = "127.0.0.1:1"
        cases = [  # arguments, message
            (["describe", "--seed", "3"], "--seed is not a flag of describe"),
            (["health", "--print-stats"], "--print-stats is not a flag of health"),
            (["validate", "--input-file", config, "--output", "x"],
             "--output is not a flag of validate"),
            (["health", "--tls-ca", "/dev/zero"],
             "cannot read --tls-ca /dev/zero: is a character device, not a regular file"),
            (["health", "--tls-ca", fifo], f"cannot read --tls-ca {fifo}: is a FIFO"),
            (["health", "--tls-ca", garbage], f"--tls-ca {garbage}: not a PEM file"),
            (["validate", "--input-file", fifo], f"cannot read --input-file {fifo}: is a FIFO"),
            (["validate", "--input-file", "/dev/zero"], "is a character device"),
            (["validate", "--input-file", big], f"over the limit of {16 << 20} bytes"),
            (["validate", "--input-file", config, "--tokenizer", "a\udcff"],
             "--tokenizer: not valid UTF-8 at byte 1"),
            (["generate", "--input-file", config, "--output", ""],
             "--output is empty: give a file, or - for stdout"),
            (["generate", "--input-file", config, "--output", config],
             f"--output {config} is the --input-file"),
            (["generate", "--input-file", config, "--output", os.path.join(directory, "local.txt")],
             'is text_files[0] "local.txt": writing would destroy the corpus'),
        ]
        for args, message in cases:
            # A hang on the FIFO or /dev/zero fails here (TimeoutExpired).
            result = subprocess.run([CLIENT, *args, "--server", nowhere], capture_output=True,
                                     timeout=30)
            self.assertEqual(result.returncode, 2, (args, result.stderr))
            self.assertIn(message, result.stderr.decode(errors="replace"), args)
            self.assertNotIn("is convgen-server running", result.stderr.decode(errors="replace"))
        with open(os.path.join(directory, "local.txt")) as f:
            self.assertEqual(f.read(), "a local corpus. " * 20)  # not overwritten
        # A config piped in is still read.
        with open(config) as f:
            result = subprocess.run([CLIENT, "validate", "--input-file", "-", "--server",
                                     self.plain.address], stdin=f, capture_output=True, text=True,
                                    timeout=60)
        self.assertNotIn("cannot read --input-file", result.stderr)

    def test_client_tls_files_are_checked_as_openssl_reads_them(self):
        # gRPC takes any bytes: a key of another certificate, or a key given
        # as the CA, used to fail the call as "empty address list".
        files = make_certificates(os.path.join(WORK, "client-tls"), ("one", "two"))
        garbage = os.path.join(WORK, "client-tls", "garbage-cert.pem")
        with open(garbage, "w") as f:
            f.write("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n")
        one, two, ca = files["one.pem"], files["two.key"], files["ca.pem"]
        cases = [  # arguments, message
            (["--tls-ca", ca, "--tls-cert", one, "--tls-key", two],
             f"--tls-key {two}: not the key of the certificate in --tls-cert {one}"),
            (["--tls-ca", files["ca.key"]], f"--tls-ca {files['ca.key']}: not a PEM file with a "
             "CERTIFICATE"),
            (["--tls-ca", garbage], f"--tls-ca {garbage}: no certificate can be read"),
            (["--tls-ca", ca, "--tls-cert", one, "--tls-key", one],
             f"--tls-key {one}: not a PEM file with a PRIVATE KEY"),
        ]
        for args, message in cases:
            result = client("health", "--server", "127.0.0.1:1", *args, timeout=30)
            self.assertEqual(result.returncode, 2, (args, result.stderr))
            self.assertIn(message, result.stderr, args)
            self.assertNotIn("empty address list", result.stderr, args)
        # The matching pair passes the checks (and then fails to connect).
        result = client("health", "--server", "127.0.0.1:1", "--tls-ca", ca, "--tls-cert", one,
                        "--tls-key", files["one.key"], "--timeout", "2", timeout=30)
        self.assertEqual(result.returncode, 1, result.stderr)

    def test_describe_and_health_give_up_on_a_stopped_server(self):
        server = Server()
        server.wait()
        try:
            os.kill(server.process.pid, signal.SIGSTOP)
            for command in ["describe", "health"]:
                result = client(command, "--server", server.address, "--idle-timeout", "1",
                                timeout=30)
                self.assertEqual(result.returncode, 1, (command, result.stderr))
                self.assertIn("DEADLINE_EXCEEDED", result.stderr, command)
        finally:
            os.kill(server.process.pid, signal.SIGCONT)
            server.stop()

    def test_connection_mistakes_get_a_hint(self):
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        # An HTTP server, as vLLM's OpenAI port would be.
        http_server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=http_server.serve_forever, daemon=True).start()
        http_address = f"127.0.0.1:{http_server.server_address[1]}"
        nothing = f"127.0.0.1:{free_port()}"
        ca = ["--tls-ca", self.certs["ca.pem"]]
        cases = [
            (["--server", nothing], f"is convgen-server running at {nothing}?"),
            (["--server", http_address],
             f"{http_address} is an HTTP server (an OpenAI-compatible API?), not convgen's gRPC "
             "port"),
            (["--server", self.plain.address, *ca],
             f"the server at {self.plain.address} does not speak TLS: drop --tls-ca"),
            (["--server", self.tls.address],
             f"{self.tls.address} closed the connection: if it serves TLS, pass --tls-ca"),
            (["--server", self.tls.address, "--tls-ca", "/etc/ssl/certs/ca-certificates.crt"],
             f"the certificate of {self.tls.address} is not signed by --tls-ca"),
        ]
        try:
            for args, hint in cases:
                for command in ["health", "describe", "generate"]:
                    extra = ["--input-file", SMOKE] if command == "generate" else []
                    result = client(command, *args, *extra, "--timeout", "20")
                    self.assertEqual(result.returncode, 1, (command, args, result.stderr))
                    self.assertIn(f"convgen: hint: {hint}", result.stderr, (command, args))
                    self.assertEqual(result.stdout if command != "generate" else "", "")
            # Both ways right: no hint.
            ok = client("health", "--server", self.tls.address, *ca)
            self.assertEqual((ok.returncode, ok.stdout.strip()), (0, "SERVING"), ok.stderr)
        finally:
            http_server.shutdown()
            http_server.server_close()

    def test_a_file_found_neither_next_to_the_config_nor_on_the_server_is_named(self):
        directory = os.path.join(WORK, "missing")
        config = write_config(directory, ["chapter-one.txt"])
        result = client("validate", "--server", self.plain.address, "--input-file", config)
        self.assertEqual(result.returncode, 1, result.stderr)
        self.assertIn('text_files[0] \\"chapter-one.txt\\": no such corpus'.replace("\\", ""),
                      result.stderr)
        self.assertIn(f"convgen: hint: text_files not found next to the config (in {directory})",
                      result.stderr)

    def test_local_and_server_corpora_mix(self):
        directory = os.path.join(WORK, "mixed")
        os.makedirs(directory)
        local = "Call me Ishmael, said the file next to the config. " * 20
        with open(os.path.join(directory, "local.txt"), "w") as f:
            f.write(local)
        mixed = write_config(directory, ["local.txt", "moby-dick.txt"])
        mixed_out = os.path.join(WORK, "mixed.json")
        result = client("generate", "--server", self.plain.address, "--input-file", mixed,
                        "--output", mixed_out)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn(f"convgen: sending from {directory}: local.txt ({len(local)} bytes); "
                      "server corpora: moby-dick.txt\n", result.stderr)
        # The same bytes as both files sent from the client.
        both_dir = os.path.join(WORK, "both")
        os.makedirs(both_dir)
        shutil.copy(os.path.join(directory, "local.txt"), both_dir)
        shutil.copy(MOBY, both_dir)
        both = write_config(both_dir, ["local.txt", "moby-dick.txt"])
        both_out = os.path.join(WORK, "both.json")
        result = client("generate", "--server", self.plain.address, "--input-file", both,
                        "--output", both_out)
        self.assertEqual(result.returncode, 0, result.stderr)
        with open(mixed_out, "rb") as a, open(both_out, "rb") as b:
            mixed_bytes = a.read()
            self.assertEqual(mixed_bytes, b.read())
        self.assertEqual(len(json.loads(mixed_bytes)), 10)
        # And not the server's corpus alone: the local text counted.
        alone = client("generate", "--server", self.plain.address, "--input-file",
                       write_config(directory, ["moby-dick.txt"], "alone.json"))
        self.assertEqual(alone.returncode, 0, alone.stderr)
        self.assertNotIn("sending from", alone.stderr)
        self.assertEqual(len(json.loads(alone.stdout)), 10)
        self.assertNotEqual(alone.stdout.encode(), mixed_bytes)
        # A local file listed twice is sent once and the server names the
        # repetition (the server corpus is not silently dropped).
        twice = client("validate", "--server", self.plain.address, "--input-file",
                       write_config(directory, ["local.txt", "moby-dick.txt", "local.txt"],
                                    "twice.json"))
        self.assertEqual(twice.returncode, 2, twice.stderr)
        self.assertIn("local.txt (1020 bytes); server corpora: moby-dick.txt\n", twice.stderr)
        self.assertIn('text_files[2] "local.txt" is listed before, as text_files[0]',
                      twice.stderr)

    def test_the_client_reads_only_bounded_regular_files_inside_the_configs_directory(self):
        directory = os.path.join(WORK, "policy", "configs")
        os.makedirs(directory)
        outside = os.path.join(WORK, "policy", "secret.txt")
        with open(outside, "w") as f:
            f.write("a secret the config must not send. " * 10)
        os.symlink(outside, os.path.join(directory, "link.txt"))
        os.symlink("/dev/zero", os.path.join(directory, "zero.txt"))
        os.mkfifo(os.path.join(directory, "fifo.txt"))
        os.makedirs(os.path.join(directory, "sub"))
        with open(os.path.join(directory, "sub", "inner.txt"), "w") as f:
            f.write("text below the config's directory. " * 10)
        big = os.path.join(directory, "big.txt")
        with open(big, "wb") as f:
            f.truncate((64 << 20) + 1)  # sparse: no disk, no time
        refused = "is outside the config's directory"
        cases = [  # text_files entry, extra flags, exit status, message
            ("../secret.txt", [], 2, f'text_files[0] "../secret.txt" {refused} {directory}'),
            (outside, [], 2, f'text_files[0] "{outside}" {refused}'),
            ("link.txt", [], 2, f'text_files[0] "link.txt" {refused}'),
            ("zero.txt", [], 2, f'text_files[0] "zero.txt" {refused}'),
            ("zero.txt", ["--allow-outside-files"], 2,
             f"{directory}/zero.txt: is a character device, not a regular file"),
            ("fifo.txt", [], 2, f"{directory}/fifo.txt: is a FIFO, not a regular file"),
            ("big.txt", [], 2, f"{directory}/big.txt: has {(64 << 20) + 1} bytes, over the limit "
                               f"of {64 << 20} bytes"),
            ("sub", [], 2, f"{directory}/sub: is a directory, not a regular file"),
            ("../secret.txt", ["--allow-outside-files"], 0, "sending from"),
            ("link.txt", ["--allow-outside-files"], 0, "link.txt (350 bytes)"),
            ("sub/inner.txt", [], 0, "sub/inner.txt (350 bytes)"),
            ("sub/../sub/inner.txt", [], 0, "sub/../sub/inner.txt (350 bytes)"),
            ("sub\u0000/../../secret.txt", ["--allow-outside-files"], 2,
             "text_files[0]: a file name cannot contain a NUL or control character"),
            ("../none.txt", [], 2, f'text_files[0] "../none.txt" is outside the config\'s '
                                   f"directory {directory} (and not found: No such file"),
        ]
        for name, flags, status, message in cases:
            config = write_config(directory, [name])
            # A hang on the FIFO or /dev/zero fails here (TimeoutExpired).
            result = client("validate", "--server", self.plain.address, "--input-file", config,
                            *flags, timeout=30)
            self.assertEqual(result.returncode, status, (name, flags, result.stderr))
            self.assertIn(message, result.stderr, (name, flags))
            if status == 0:
                self.assertIn("valid: 10 conversations", result.stdout)


if __name__ == "__main__":
    unittest.main()
