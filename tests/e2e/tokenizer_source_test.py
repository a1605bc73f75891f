"""A request's tokenizer from where users keep theirs (issue 17): a Hugging
Face model id in a local hub cache (laid out as huggingface_hub writes it:
blobs, snapshot symlinks, refs), a --tokenizer-dir, and a tokenizer.json sent
with the request, kept by content hash in a bounded LRU. Real servers over
loopback; the caches are built in a temp directory around the embedded Qwen3
and byte-level tokenizers written here, whose counts are known without a
tokenizer: one token per byte, less one per merged pair.

Run by ctest like e2e_test.py (CONVGEN_SERVER_BIN, CONVGEN_CLIENT_BIN,
CONVGEN_SOURCE_DIR); needs /usr/bin/python3 (python3-grpcio).
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
import e2e_test  # noqa: E402  (builds the Python stubs on import)
from e2e_test import CLIENT, SERVER, SOURCE, free_port, grpc, service_pb2, service_pb2_grpc  # noqa: E402

WORK = tempfile.mkdtemp(prefix="convgen-toksrc-")
QWEN3 = os.path.join(SOURCE, "data", "tokenizers", "qwen3", "tokenizer.json")
MAIN = "0123456789abcdef0123456789abcdef01234567"
V1 = "fedcba9876543210fedcba9876543210fedcba98"
# A small corpus sent inline, so that each tokenizer tokenizes 40 KB, not
# the whole embedded book (seconds per tokenizer in a debug build).
with open(os.path.join(SOURCE, "data", "corpus", "moby-dick.txt"), encoding="utf-8") as f:
    CORPUS = f.read()[200000:240000]
CONFIG = json.dumps({
    "filetype": "generate_conversations", "num_conversations": 4, "text_files": ["moby.txt"],
    "prompt_input": {"num_turns": {"distribution": "constant", "value": 4},
                     "prefix_num_tokens": {"distribution": "constant", "value": 10},
                     "num_tokens": {"distribution": "uniform", "min": 40, "max": 120}},
    "prompt_output": {"num_tokens": {"distribution": "constant", "value": 60}}})


def byte_tokenizer(merges=(), tag="<|end|>"):
    """A byte-level tokenizer.json: the 256 bytes as tokens, plus `merges`
    (pairs of ASCII letters); `tag` changes the file, not the encoding."""
    vocab, extra = {}, 0
    for b in range(256):
        printable = 0x21 <= b <= 0x7E or 0xA1 <= b <= 0xAC or 0xAE <= b <= 0xFF
        c = b if printable else 256 + extra
        extra += 0 if printable else 1
        vocab[chr(c)] = b
    for k, m in enumerate(merges):
        vocab[m.replace(" ", "")] = 256 + k
    return json.dumps({
        "added_tokens": [{"id": 256 + len(merges), "content": tag, "special": True}],
        "normalizer": None,
        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "use_regex": True},
        "decoder": None,
        "model": {"type": "BPE", "vocab": vocab, "merges": list(merges)},
    })


BYTES = byte_tokenizer()
HE = byte_tokenizer(["h e"])  # "he" is one token


def write(path, text, mode="w"):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, mode) as f:
        f.write(text)
    return path


def add_model(cache, model_id, files):
    """models--ORG--NAME with each revision's tokenizer.json in blobs/ and a
    relative symlink from its snapshot; refs/<ref> holds the commit."""
    repo = os.path.join(cache, "models--" + model_id.replace("/", "--"))
    for ref, commit, text in files:
        blob = os.path.join(repo, "blobs", f"blob{commit[:8]}")
        if text == QWEN3:
            os.makedirs(os.path.dirname(blob), exist_ok=True)
            shutil.copyfile(QWEN3, blob)
        else:
            write(blob, text)
        snapshot = os.path.join(repo, "snapshots", commit)
        os.makedirs(snapshot, exist_ok=True)
        os.symlink(os.path.join("..", "..", "blobs", os.path.basename(blob)),
                   os.path.join(snapshot, "tokenizer.json"))
        write(os.path.join(repo, "refs", ref), commit)


HUB = os.path.join(WORK, "hub")          # HF_HUB_CACHE
HOME = os.path.join(WORK, "hf-home")     # HF_HOME (its hub/ is the cache when HF_HUB_CACHE is unset)
add_model(HUB, "Qwen/Qwen3-8B", [("main", MAIN, QWEN3)])
add_model(HUB, "test/bytes", [("main", MAIN, BYTES), ("v1", V1, HE)])
add_model(HUB, "test/prec", [("main", MAIN, BYTES)])
add_model(os.path.join(HOME, "hub"), "test/prec", [("main", MAIN, HE)])
TOKDIR = os.path.join(WORK, "tokdir")
write(os.path.join(TOKDIR, "mine.json"), BYTES)
write(os.path.join(TOKDIR, "org", "heavy", "tokenizer.json"), HE)


INLINE = service_pb2.InlineCorpus(name="moby.txt", text=CORPUS.encode())


class Server:
    def __init__(self, *flags, env=None):
        self.metrics_port = free_port()
        environment = {k: v for k, v in os.environ.items()
                       if k not in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_HOME")}
        environment["HOME"] = WORK  # never the real ~/.cache/huggingface
        environment.update(env or {})
        self.process = subprocess.Popen(
            [SERVER, "--listen", "127.0.0.1:0", "--metrics-listen",
             f"127.0.0.1:{self.metrics_port}", *flags],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environment)
        line = self.process.stdout.readline()
        match = re.search(r"listening on (127\.0\.0\.1:\d+)", line)
        if not match:
            self.process.kill()
            raise RuntimeError("server did not start: " + line + self.process.stderr.read())
        self.address = match.group(1)
        self.channel = grpc.insecure_channel(self.address)
        self.stub = service_pb2_grpc.ConversationServiceStub(self.channel)

    def stop(self):
        self.channel.close()
        self.process.terminate()
        self.process.wait(timeout=30)
        self.process.stdout.close()
        self.process.stderr.close()

    def turns(self, **fields):
        events = self.stub.Generate(service_pb2.GenerateRequest(
            config_json=CONFIG, seed=3, inline_corpus=[INLINE], **fields))
        return [e.turn for e in events if e.WhichOneof("event") == "turn"]

    def describe(self):
        return {t.name: t.description for t in self.stub.Describe(service_pb2.DescribeRequest()).tokenizers}

    def metric(self, name):
        text = urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics").read().decode()
        match = re.search(r"^" + re.escape(name) + r" (\S+)$", text, re.M)
        return float(match.group(1)) if match else None


def counts(turns):
    return [t.num_tokens for t in turns]


class TokenizerSourceTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Server("--tokenizer", "Qwen/Qwen3-8B", "--tokenizer-dir", TOKDIR,
                            "--max-request-tokenizer-bytes", str(1 << 20),
                            "--request-tokenizer-cache", "2",
                            env={"HF_HUB_CACHE": HUB, "HF_HOME": HOME})

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def assert_byte_counts(self, turns, merged=""):
        """Each message has one token per byte, less one per `merged` pair."""
        self.assertEqual(len(turns), 16)
        for t in turns:
            expected = len(t.content.encode()) - (t.content.count(merged) if merged else 0)
            self.assertEqual(t.num_tokens, expected, t.content)
        if merged:
            self.assertGreater(sum(t.content.count(merged) for t in turns), 0)

    def test_a_model_id_is_the_same_tokenizer_as_its_file(self):
        described = self.server.describe()
        self.assertIn(f"models--Qwen--Qwen3-8B/snapshots/{MAIN}/tokenizer.json",
                      described["Qwen/Qwen3-8B"])
        by_id = self.server.turns(tokenizer="Qwen/Qwen3-8B")
        embedded = self.server.turns(tokenizer="qwen3")
        self.assertEqual(counts(by_id), counts(embedded))
        self.assertEqual([t.content for t in by_id], [t.content for t in embedded])

    def test_model_ids_on_demand_with_revisions(self):
        self.assert_byte_counts(self.server.turns(tokenizer="test/bytes"))
        self.assert_byte_counts(self.server.turns(tokenizer="test/bytes@v1"), merged="he")
        self.assert_byte_counts(self.server.turns(tokenizer=f"test/bytes@{V1}"), merged="he")
        # HF_HUB_CACHE wins over HF_HOME.
        self.assert_byte_counts(self.server.turns(tokenizer="test/prec"))

    def test_a_missing_id_says_where_it_looked(self):
        with self.assertRaises(grpc.RpcError) as error:
            self.server.turns(tokenizer="Qwen/Qwen3-32B")
        self.assertEqual(error.exception.code(), grpc.StatusCode.NOT_FOUND)
        message = error.exception.details()
        self.assertIn(f"not in the Hugging Face cache (no {HUB}/models--Qwen--Qwen3-32B)", message)
        self.assertIn("(cache from HF_HUB_CACHE)", message)
        self.assertIn("never downloads", message)
        # A revision the cache does not have: every path tried.
        with self.assertRaises(grpc.RpcError) as error:
            self.server.turns(tokenizer="test/bytes@v9")
        self.assertEqual(error.exception.code(), grpc.StatusCode.NOT_FOUND)
        repo = f"{HUB}/models--test--bytes"
        self.assertIn(f"(tried {repo}/refs/v9, {repo}/snapshots/v9/tokenizer.json)",
                      error.exception.details())

    def test_tokenizer_dir(self):
        described = self.server.describe()
        self.assertIn(os.path.join(TOKDIR, "mine.json"), described["mine"])
        self.assertIn(os.path.join(TOKDIR, "org", "heavy", "tokenizer.json"), described["org/heavy"])
        self.assertIn("org/heavy", described)
        self.assert_byte_counts(self.server.turns(tokenizer="mine"))
        self.assert_byte_counts(self.server.turns(tokenizer="org/heavy"), merged="he")

    def test_sent_tokenizer_is_used_cached_and_evicted(self):
        loads = self.server.metric('convgen_request_tokenizers_total{result="loaded"}') or 0
        hits = self.server.metric('convgen_request_tokenizers_total{result="cached"}') or 0
        sent = self.server.turns(tokenizer_json=HE.encode())
        self.assert_byte_counts(sent, merged="he")
        # The same tokenizer by name gives the same run.
        self.assertEqual(counts(sent), counts(self.server.turns(tokenizer="org/heavy")))
        again = self.server.turns(tokenizer_json=HE.encode())
        self.assertEqual(counts(again), counts(sent))
        self.assertEqual(self.server.metric('convgen_request_tokenizers_total{result="loaded"}'),
                         loads + 1)
        self.assertEqual(self.server.metric('convgen_request_tokenizers_total{result="cached"}'),
                         hits + 1)
        names = [n for n, d in self.server.describe().items() if "sent in a request" in d]
        self.assertEqual(len(names), 1)
        self.assertRegex(names[0], r"^sha256:[0-9a-f]{16}$")
        validated = self.server.stub.Validate(service_pb2.GenerateRequest(
            config_json=CONFIG, inline_corpus=[INLINE], tokenizer_json=HE.encode()))
        self.assertEqual(validated.tokenizer, names[0])
        # Two more distinct files: the LRU of 2 drops the first.
        for tag in ("<|a|>", "<|b|>"):
            self.assert_byte_counts(self.server.turns(tokenizer_json=byte_tokenizer(tag=tag).encode()))
        self.assertEqual(self.server.metric("convgen_request_tokenizers_cached"), 2)
        self.assertNotIn(names[0], self.server.describe())
        with self.assertRaises(grpc.RpcError) as error:
            self.server.turns(tokenizer=names[0])
        self.assertEqual(error.exception.code(), grpc.StatusCode.NOT_FOUND)
        self.assertIn("send its tokenizer.json again", error.exception.details())

    def test_bad_sent_tokenizers_are_refused_clearly(self):
        with open(QWEN3, "rb") as f:
            large = f.read()  # 11 MB, over this server's 1 MiB
        cases = [
            (large, grpc.StatusCode.RESOURCE_EXHAUSTED, "--max-request-tokenizer-bytes"),
            (b'{"model": ', grpc.StatusCode.INVALID_ARGUMENT, "tokenizer_json"),
            (json.dumps({"model": {"type": "WordPiece", "vocab": {}}}).encode(),
             grpc.StatusCode.INVALID_ARGUMENT, "WordPiece"),
        ]
        for body, code, words in cases:
            with self.subTest(words=words):
                with self.assertRaises(grpc.RpcError) as error:
                    self.server.turns(tokenizer_json=body)
                self.assertEqual(error.exception.code(), code)
                self.assertIn(words, error.exception.details())
        limits = self.server.stub.Describe(service_pb2.DescribeRequest()).limits
        self.assertEqual(limits.max_request_tokenizer_bytes, 1 << 20)
        self.assertEqual(limits.request_tokenizer_cache, 2)

    def test_client_sends_a_tokenizer_file(self):
        config = write(os.path.join(WORK, "config.json"), CONFIG)
        write(os.path.join(WORK, "moby.txt"), CORPUS)  # sent inline by the client
        tokenizer = write(os.path.join(WORK, "he.json"), HE)
        out = os.path.join(WORK, "turns.jsonl")
        subprocess.run([CLIENT, "generate", "--server", self.server.address, "--input-file", config,
                        "--seed", "3", "--tokenizer-file", tokenizer, "--format", "jsonl",
                        "--output", out], check=True, capture_output=True, timeout=120)
        with open(out) as f:
            turns = [json.loads(line) for line in f]
        self.assertEqual(len(turns), 16)
        for t in turns:
            self.assertEqual(t["num_tokens"], len(t["content"].encode()) - t["content"].count("he"))
        validated = subprocess.run(
            [CLIENT, "validate", "--server", self.server.address, "--input-file", config,
             "--tokenizer-file", tokenizer], capture_output=True, text=True, timeout=120)
        self.assertEqual(validated.returncode, 0, validated.stderr)
        self.assertRegex(validated.stdout, r"tokenizer sha256:[0-9a-f]{16}")
        corrupt = write(os.path.join(WORK, "corrupt.json"), '{"model": {"type": "BPE"')
        bad = subprocess.run(
            [CLIENT, "validate", "--server", self.server.address, "--input-file", config,
             "--tokenizer-file", corrupt], capture_output=True, text=True, timeout=120)
        self.assertNotEqual(bad.returncode, 0)
        self.assertIn("tokenizer_json", bad.stderr)
        missing = subprocess.run(
            [CLIENT, "validate", "--server", self.server.address, "--input-file", config,
             "--tokenizer-file", os.path.join(WORK, "nope.json")], capture_output=True, text=True,
            timeout=120)
        self.assertEqual(missing.returncode, 2)
        self.assertIn("cannot read --tokenizer-file", missing.stderr)
        both = subprocess.run(
            [CLIENT, "validate", "--server", self.server.address, "--input-file", config,
             "--tokenizer-file", tokenizer, "--tokenizer", "qwen3"], capture_output=True, text=True,
            timeout=120)
        self.assertEqual(both.returncode, 2)
        self.assertIn("--tokenizer and --tokenizer-file", both.stderr)


class StartTest(unittest.TestCase):
    def test_hf_home_is_the_cache_without_hf_hub_cache(self):
        server = Server("--tokenizer", "test/prec", env={"HF_HOME": HOME})
        try:
            self.assertIn(os.path.join(HOME, "hub", "models--test--prec"),
                          server.describe()["test/prec"])
            turns = server.turns(tokenizer="test/prec")
            for t in turns:
                self.assertEqual(t.num_tokens, len(t.content.encode()) - t.content.count("he"))
        finally:
            server.stop()

    def test_a_missing_id_at_start_exits_2_saying_where_it_looked(self):
        environment = dict(os.environ, HF_HUB_CACHE=HUB)
        result = subprocess.run([SERVER, "--listen", "127.0.0.1:0", "--tokenizer", "Qwen/Qwen3-32B"],
                                capture_output=True, text=True, timeout=60, env=environment)
        self.assertEqual(result.returncode, 2, result.stderr)
        last = result.stderr.splitlines()[-1]
        self.assertIn("--tokenizer Qwen/Qwen3-32B", last)
        self.assertIn(f"(no {HUB}/models--Qwen--Qwen3-32B)", last)
        self.assertIn("(cache from HF_HUB_CACHE)", last)
        clash = subprocess.run([SERVER, "--listen", "127.0.0.1:0", "--tokenizer", f"mine={QWEN3}",
                                "--tokenizer-dir", TOKDIR], capture_output=True, text=True,
                               timeout=60, env=environment)
        self.assertEqual(clash.returncode, 2, clash.stderr)
        self.assertIn(f"--tokenizer mine={QWEN3} and --tokenizer-dir file {TOKDIR}/mine.json: "
                      "the same name twice", clash.stderr)


if __name__ == "__main__":
    try:
        unittest.main()
    finally:
        shutil.rmtree(WORK, ignore_errors=True)
