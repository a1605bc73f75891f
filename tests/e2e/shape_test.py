"""Shape sources (issue 18) through the real server and the real clients:
workloads shaped like the sample ShareGPT file and Mooncake-style trace in
examples/shapes/, sent inline by the CLI (the configs are written next to
copies of the samples).

- ShareGPT replay: conversation i has the shape of record i mod N: as many
  messages (after the reader's documented rules) and each message exactly
  the tokens Hugging Face's tokenizer (npm tokenizers, the differential
  test's oracle) counts in the source message; the synthetic text too has
  exactly that many tokens under HF. Shards and --start-index give the
  same conversations.
- Mooncake replay: user messages hold input_length tokens, answers
  output_length; requests whose hash_ids share leading blocks share their
  leading text byte for byte (at least the blocks' tokens under HF), others
  do not; arrival_ms is the trace's timestamp in every output format, and
  in the Python client.
- ShareGPT fit: only sizes the file has, shards equal the full run (the KS
  test is core's, tests/unit/conversation/shape_replay_test.cc).
- describe-shape prints the server's summary, its numbers those of the
  file; the Python client's describe_shape() prints the same. Bad shape
  files, a missing one and a wrong format name exit 2 naming the file and
  line.

Run by ctest like e2e_test.py, with CONVGEN_PYTHON_STUBS (the build's
clients/python); needs /usr/bin/python3, node and the npm tokenizers package
in CONVGEN_TEST_DATA (scripts/fetch-npm-files oracle, which scripts/test
runs).
"""
import json
import os
import shutil
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from e2e_test import SOURCE, WORK, Server, client  # noqa: E402
from formats_test import (sglang_sharegpt_samples, vllm_conversations_list_to_dict,  # noqa: E402
                          vllm_sharegpt_samples)

SHAPES = os.path.join(SOURCE, "examples", "shapes")
SHAREGPT = os.path.join(SHAPES, "sharegpt_sample.json")
MOONCAKE = os.path.join(SHAPES, "mooncake_sample.jsonl")
QWEN3 = os.path.join(SOURCE, "data", "tokenizers", "qwen3", "tokenizer.json")
TEST_DATA = os.environ.get("CONVGEN_TEST_DATA") or os.path.expanduser("~/.cache/convgen/test-data")
NODE = shutil.which("node") or "/usr/bin/node"
BLOCK = 64  # the Mooncake block_size of examples/shapes/mooncake_replay.json

# Hugging Face's count of each text: encode(text, add_special_tokens=False).
COUNT_JS = r"""
const path = require("path");
const { Tokenizer } = require(path.join(process.env.CONVGEN_TEST_DATA, "node_modules/tokenizers"));
let input = "";
process.stdin.on("data", (d) => (input += d));
process.stdin.on("end", async () => {
  const { tokenizer, texts } = JSON.parse(input);
  const t = Tokenizer.fromFile(tokenizer);
  const counts = [];
  for (const text of texts) {
    counts.push((await t.encode(text, null, { addSpecialTokens: false })).getIds().length);
  }
  process.stdout.write(JSON.stringify(counts));
});
"""


# The Python client (clients/python), in its own process: the stubs this
# test imports (through e2e_test) would clash with the build's in one
# descriptor pool. Prints, as JSON, each conversation's arrival_ms and
# as_vllm(), and describe_shape().
PYTHON_CLIENT = r"""
import json, sys
sys.path.insert(0, sys.argv[1])
from convgen_client import Client
with Client(sys.argv[2]) as client:
    streamed = list(client.conversations(sys.argv[3], seed=5))
    print(json.dumps({"arrival_ms": [c.arrival_ms for c in streamed],
                      "as_vllm": [c.as_vllm() for c in streamed],
                      "shape_summary": client.validate(sys.argv[3]).shape_summary,
                      "describe_shape": client.describe_shape(sys.argv[3])}))
"""


def python_client(address, config):
    result = subprocess.run(
        ["/usr/bin/python3", "-c", PYTHON_CLIENT, os.path.join(SOURCE, "clients", "python"),
         address, config], capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        raise AssertionError(f"the Python client failed (CONVGEN_PYTHON_STUBS: the build's "
                             f"clients/python): {result.stderr[-2000:]}")
    return json.loads(result.stdout)


def hf_counts(texts):
    """Hugging Face's token count of each text, with the server's qwen3 file."""
    result = subprocess.run(
        [NODE, "-e", COUNT_JS], input=json.dumps({"tokenizer": QWEN3, "texts": list(texts)}),
        capture_output=True, text=True, timeout=120,
        env=dict(os.environ, CONVGEN_TEST_DATA=TEST_DATA))
    if result.returncode != 0:
        raise AssertionError(f"the HF oracle failed (node, npm tokenizers in {TEST_DATA}; "
                             f"scripts/fetch-npm-files oracle): {result.stderr[-2000:]}")
    return json.loads(result.stdout)


def sharegpt_messages(entry):
    """The source texts of a ShareGPT record as convgen's reader makes them a
    conversation (core/shape/sharegpt_reader.h): system and empty messages
    dropped, answers before the first question dropped, consecutive messages
    of one role merged (their counts added: a list of texts per message), a
    last unanswered question dropped. [] if fewer than 2 remain."""
    roles = {"human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant",
             "chatgpt": "assistant", "bing": "assistant", "bard": "assistant",
             "model": "assistant"}
    messages = []  # [role, [texts]]
    for turn in entry["conversations"]:
        if turn["from"] == "system" or turn["value"] == "":
            continue
        role = roles[turn["from"]]
        if not messages and role == "assistant":
            continue
        if messages and messages[-1][0] == role:
            messages[-1][1].append(turn["value"])
        else:
            messages.append([role, [turn["value"]]])
    if messages and messages[-1][0] == "user":
        messages.pop()
    return messages if len(messages) >= 2 else []


def write_config(name, shape_source, num_conversations, **extra):
    """A config in WORK next to copies of the samples (so the CLI sends them inline)."""
    for sample in (SHAREGPT, MOONCAKE):
        target = os.path.join(WORK, os.path.basename(sample))
        if not os.path.exists(target):
            shutil.copyfile(sample, target)
    config = {"filetype": "generate_conversations", "num_conversations": num_conversations,
              "text_files": ["moby-dick.txt"], "shape_source": shape_source, **extra}
    path = os.path.join(WORK, name)
    with open(path, "w") as f:
        json.dump(config, f)
    return path


def read_jsonl(path):
    with open(path) as f:
        return [json.loads(line) for line in f]


def conversations_of(turns):
    """jsonl turns grouped by conversation index, in order."""
    grouped = {}
    for t in turns:
        grouped.setdefault(t["conversation_index"], []).append(t)
    return grouped


def generate(server, config, fmt, name, *args):
    out = os.path.join(WORK, name)
    result = client("generate", "--server", server.address, "--input-file", config,
                    "--seed", "5", "--format", fmt, "--output", out, *args)
    return out, result


def leading_common(a, b):
    """How many leading items lists a and b share."""
    k = 0
    while k < min(len(a), len(b)) and a[k] == b[k]:
        k += 1
    return k


class ShapeTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Server()
        with open(SHAREGPT) as f:
            cls.sharegpt_records = [m for m in map(sharegpt_messages, json.load(f)) if m]
        with open(MOONCAKE) as f:
            cls.trace = [json.loads(line) for line in f if line.strip()]
        cls.sharegpt_config = write_config(
            "sharegpt.json", {"format": "sharegpt", "path": "sharegpt_sample.json",
                              "mode": "replay"},
            2 * len(cls.sharegpt_records) + 3)
        cls.mooncake_config = write_config(
            "mooncake.json", {"format": "mooncake", "path": "mooncake_sample.jsonl",
                              "mode": "replay", "block_size": BLOCK},
            len(cls.trace))
        out, cls.sharegpt_stderr = generate(cls.server, cls.sharegpt_config, "jsonl",
                                            "sharegpt.jsonl")
        cls.sharegpt_turns = read_jsonl(out)
        out, cls.mooncake_stderr = generate(cls.server, cls.mooncake_config, "jsonl",
                                            "mooncake.jsonl")
        cls.mooncake_turns = read_jsonl(out)
        # Pairs of trace requests that share whole leading blocks, and pairs
        # that share none, with the common leading text of their user messages.
        users = [t["content"] for t in cls.mooncake_turns if t["role"] == "user"]
        cls.shared_pairs, cls.distinct_pairs = [], []
        for a in range(len(cls.trace)):
            for b in range(a + 1, len(cls.trace)):
                common = leading_common(cls.trace[a]["hash_ids"], cls.trace[b]["hash_ids"])
                text = os.path.commonprefix([users[a], users[b]])
                # Whole blocks (the last block of a request may be partial).
                blocks = min(common, cls.trace[a]["input_length"] // BLOCK,
                             cls.trace[b]["input_length"] // BLOCK)
                if blocks >= 1:
                    cls.shared_pairs.append((a, b, blocks, text))
                elif common == 0:
                    cls.distinct_pairs.append((a, b, text))
        # Every text this test counts, counted by Hugging Face at once (one
        # node process: loading the tokenizer is most of its time).
        texts = [text for record in cls.sharegpt_records for _, parts in record
                 for text in parts]
        texts += [t["content"] for t in cls.sharegpt_turns + cls.mooncake_turns]
        texts += [pair[-1] for pair in cls.shared_pairs + cls.distinct_pairs]
        texts = list(dict.fromkeys(texts))
        cls.hf = dict(zip(texts, hf_counts(texts)))

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def generate(self, config, fmt, name, *args):
        return generate(self.server, config, fmt, name, *args)

    # ShareGPT replay.

    def test_sharegpt_replay_has_the_sources_counts_exactly_under_hf(self):
        self.assertIn("sending shape_source sharegpt_sample.json", self.sharegpt_stderr.stderr)
        conversations = conversations_of(self.sharegpt_turns)
        n = len(self.sharegpt_records)
        self.assertEqual(sorted(conversations), list(range(2 * n + 3)))
        # Each source message's count by HF (merged messages: the sum).
        expected = [[sum(self.hf[text] for text in parts) for _, parts in record]
                    for record in self.sharegpt_records]
        for i, messages in conversations.items():
            self.assertEqual([m["num_tokens"] for m in messages], expected[i % n],
                             f"conversation {i}")
            self.assertEqual([m["role"] for m in messages],
                             [role for role, _ in self.sharegpt_records[i % n]])
            for m in messages:
                if m["role"] == "assistant":
                    self.assertEqual(m["max_tokens"], m["num_tokens"])
                self.assertNotIn("arrival_ms", m)  # ShareGPT has no timestamps
        # The synthetic texts hold exactly those counts under HF.
        self.assertEqual([self.hf[t["content"]] for t in self.sharegpt_turns],
                         [t["num_tokens"] for t in self.sharegpt_turns])
        # No source message appears in the output.
        sources = {text for record in self.sharegpt_records for _, parts in record
                   for text in parts}
        self.assertFalse({t["content"] for t in self.sharegpt_turns} & sources)

    def test_sharegpt_replay_shards_and_resume_are_the_full_run(self):
        merged = []
        for k in range(3):
            part, _ = self.generate(self.sharegpt_config, "jsonl", f"sharegpt-{k}.jsonl",
                                    "--shard", f"{k}/3")
            merged += read_jsonl(part)
        merged.sort(key=lambda t: (t["conversation_index"], t["turn_index"]))
        self.assertEqual(merged, self.sharegpt_turns)
        start = len(self.sharegpt_records) + 1
        tail, _ = self.generate(self.sharegpt_config, "jsonl", "sharegpt-tail.jsonl",
                                "--start-index", str(start))
        self.assertEqual(read_jsonl(tail),
                         [t for t in self.sharegpt_turns if t["conversation_index"] >= start])

    def test_sharegpt_fit_draws_only_sizes_the_source_has(self):
        # Fit samples each size from the source's empirical distribution
        # (the KS test is core's): every drawn size is one the file has, and
        # with 300 draws most of them come up; shards equal the full run.
        config = write_config(
            "sharegpt-fit.json", {"format": "sharegpt", "path": "sharegpt_sample.json",
                                  "mode": "fit"}, 300)
        out, _ = self.generate(config, "jsonl", "sharegpt-fit.jsonl")
        turns = read_jsonl(out)
        conversations = conversations_of(turns)
        self.assertEqual(len(conversations), 300)
        lengths = {len(record) for record in self.sharegpt_records}
        answers = {sum(self.hf[text] for text in parts) for record in self.sharegpt_records
                   for role, parts in record if role == "assistant"}
        self.assertLessEqual({len(m) for m in conversations.values()}, lengths)
        drawn = {t["num_tokens"] for t in turns if t["role"] == "assistant"}
        self.assertLessEqual(drawn, answers)
        self.assertGreater(len(drawn), len(answers) // 2)
        part, _ = self.generate(config, "jsonl", "sharegpt-fit-1.jsonl", "--shard", "1/2")
        self.assertEqual(read_jsonl(part), [t for t in turns if t["conversation_index"] % 2 == 1])

    # Mooncake replay.

    def test_mooncake_replay_has_the_traces_lengths_and_timestamps(self):
        self.assertIn("sending shape_source mooncake_sample.jsonl", self.mooncake_stderr.stderr)
        conversations = conversations_of(self.mooncake_turns)
        self.assertEqual(sorted(conversations), list(range(len(self.trace))))
        for i, messages in conversations.items():
            record = self.trace[i]
            self.assertEqual([m["role"] for m in messages], ["user", "assistant"])
            self.assertEqual(messages[0]["num_tokens"], record["input_length"], i)
            self.assertEqual(messages[1]["num_tokens"], record["output_length"], i)
            self.assertEqual(messages[1]["max_tokens"], record["output_length"], i)
            self.assertEqual([m["arrival_ms"] for m in messages], [record["timestamp"]] * 2, i)
        self.assertEqual([self.hf[t["content"]] for t in self.mooncake_turns],
                         [t["num_tokens"] for t in self.mooncake_turns])

    def test_mooncake_equal_leading_hash_ids_share_their_text(self):
        self.assertGreater(len(self.shared_pairs), 5, "the sample should share prefixes")
        self.assertGreater(len(self.distinct_pairs), 5)
        for a, b, blocks, text in self.shared_pairs:
            # The shared blocks' text is common to both, a token or two lost
            # where a token of the join spans the end of the common bytes.
            self.assertGreaterEqual(self.hf[text], blocks * BLOCK - 2, f"requests {a} and {b}")
        for a, b, text in self.distinct_pairs:
            self.assertLess(self.hf[text], BLOCK // 2, f"requests {a} and {b} share no block")

    def test_mooncake_arrival_ms_in_every_format(self):
        timestamps = [r["timestamp"] for r in self.trace]
        ids = [f"CONV_ID_{i}" for i in range(len(self.trace))]
        out, _ = self.generate(self.mooncake_config, "json", "mooncake-out.json")
        with open(out) as f:
            conversations = json.load(f)
        self.assertEqual([c["arrival_ms"] for c in conversations], timestamps)
        self.assertEqual([list(c) for c in conversations[:1]], [["id", "arrival_ms", "messages"]])
        # vLLM's multi-turn benchmark reads it all the same.
        self.assertEqual(list(vllm_conversations_list_to_dict(conversations)), ids)
        out, _ = self.generate(self.mooncake_config, "sharegpt", "mooncake.sharegpt")
        with open(out) as f:
            shared = json.load(f)
        self.assertEqual([c["arrival_ms"] for c in shared], timestamps)
        counts = {t["content"]: t["num_tokens"] for t in self.mooncake_turns}
        samples = vllm_sharegpt_samples(out, counts.__getitem__, 1000, disable_shuffle=True)
        kept = [c for c in conversations
                if 4 <= counts[c["messages"][0]["content"]] <= 1024 and
                counts[c["messages"][1]["content"]] >= 4 and
                counts[c["messages"][0]["content"]] + counts[c["messages"][1]["content"]] <= 2048]
        self.assertEqual([s[0] for s in samples], [c["messages"][0]["content"] for c in kept])
        self.assertEqual(len(sglang_sharegpt_samples(out, counts.__getitem__, 1000)),
                         sum(1 for c in conversations
                             if counts[c["messages"][1]["content"]] >= 2))
        out, _ = self.generate(self.mooncake_config, "openai-jsonl", "mooncake.openai.jsonl")
        bodies = read_jsonl(out)
        self.assertEqual([b["metadata"]["arrival_ms"] for b in bodies], [str(t) for t in timestamps])
        self.assertEqual([b["metadata"]["conversation_id"] for b in bodies], ids)
        # The Python client: the same conversations, arrival_ms on each.
        streamed = python_client(self.server.address, self.mooncake_config)
        self.assertEqual(streamed["arrival_ms"], timestamps)
        self.assertEqual(streamed["as_vllm"], conversations)

    def test_configs_without_a_shape_have_no_arrival_ms(self):
        config = os.path.join(SOURCE, "examples", "constant_smoke.json")
        for fmt in ["json", "jsonl", "sharegpt", "openai-jsonl"]:
            out, _ = self.generate(config, fmt, f"plain.{fmt}")
            with open(out) as f:
                self.assertNotIn("arrival_ms", f.read(), fmt)

    # describe-shape.

    def test_describe_shape_prints_the_servers_summary(self):
        first_users = [sum(self.hf[text] for text in record[0][1])
                       for record in self.sharegpt_records]
        inputs = [r["input_length"] for r in self.trace]
        for config, header, line, values in [
                (self.sharegpt_config, f"sharegpt file sharegpt_sample.json: "
                 f"{len(self.sharegpt_records)} conversations", "first user tokens", first_users),
                (self.mooncake_config, f"mooncake trace mooncake_sample.jsonl: "
                 f"{len(self.trace)} requests", "input tokens", inputs)]:
            result = client("describe-shape", "--server", self.server.address,
                            "--input-file", config)
            lines = result.stdout.splitlines()
            self.assertEqual(lines[0], header)
            # The size's count, mean and max as measured here (HF's counts).
            row = next(l for l in lines if l.strip().startswith(line)).split()
            self.assertEqual(row[len(line.split()):len(line.split()) + 2],
                             [str(len(values)), f"{sum(values) / len(values):.1f}"], row)
            self.assertEqual(row[-1], str(max(values)))
            # The Python client sends the same file and gets the same text.
            python = python_client(self.server.address, config)
            self.assertEqual(python["describe_shape"], python["shape_summary"])
            self.assertEqual(result.stdout.rstrip("\n"), python["describe_shape"].rstrip("\n"))

    def test_describe_shape_of_a_config_without_a_shape_is_refused(self):
        result = client("describe-shape", "--server", self.server.address, "--input-file",
                        os.path.join(SOURCE, "examples", "constant_smoke.json"), check=False)
        self.assertEqual(result.returncode, 2, result.stderr)
        self.assertIn("has no shape_source", result.stderr)
        self.assertEqual(result.stdout, "")

    # Bad shape files.

    def test_bad_shape_files_exit_2_naming_the_file_and_line(self):
        bad = os.path.join(WORK, "bad")
        os.makedirs(bad, exist_ok=True)
        with open(MOONCAKE) as f:
            lines = f.read().splitlines()
        lines[2] = '{"timestamp": 5, "input_length": "many", "output_length": 3, "hash_ids": []}'
        with open(os.path.join(bad, "trace.jsonl"), "w") as f:
            f.write("\n".join(lines) + "\n")
        cases = [
            ({"format": "mooncake", "path": "trace.jsonl"}, ["trace.jsonl", "line 3",
                                                             "input_length"]),
            ({"format": "mooncake", "path": "missing.jsonl"},
             ['shape_source.path "missing.jsonl"', "no such corpus",
              "hint: the config's shape_source.path is sent when it is a file next to the "
              f"config (in {bad})"]),
            ({"format": "csv", "path": "trace.jsonl"}, ["shape_source.format"]),
        ]
        for shape_source, wanted in cases:
            config = os.path.join(bad, "config.json")
            with open(config, "w") as f:
                json.dump({"filetype": "generate_conversations", "num_conversations": 3,
                           "text_files": ["moby-dick.txt"], "shape_source": shape_source}, f)
            for command in (["generate", "--output", os.path.join(bad, "out.json")],
                            ["validate"], ["describe-shape"]):
                result = client(command[0], "--server", self.server.address, "--input-file",
                                config, *command[1:], check=False)
                self.assertEqual(result.returncode, 2, (shape_source, command, result.stderr))
                for part in wanted:
                    self.assertIn(part, result.stderr, (shape_source, command))
            self.assertFalse(os.path.exists(os.path.join(bad, "out.json")))

    def test_a_shape_file_that_is_a_directory_is_refused_by_the_client(self):
        directory = os.path.join(WORK, "dir-shape")
        os.makedirs(os.path.join(directory, "trace.jsonl"), exist_ok=True)
        config = os.path.join(directory, "config.json")
        with open(config, "w") as f:
            json.dump({"filetype": "generate_conversations", "num_conversations": 3,
                       "text_files": ["moby-dick.txt"],
                       "shape_source": {"format": "mooncake", "path": "trace.jsonl"}}, f)
        result = client("validate", "--server", self.server.address, "--input-file", config,
                        check=False)
        self.assertEqual(result.returncode, 2, result.stderr)
        self.assertIn(f"convgen: {config}: shape_source.path: {directory}/trace.jsonl: ",
                      result.stderr)
        self.assertIn("not a regular file", result.stderr)

    def test_a_shape_file_outside_the_configs_directory(self):
        inner = os.path.join(WORK, "inner")
        os.makedirs(inner, exist_ok=True)
        config = os.path.join(inner, "config.json")

        def validate(path, *flags):
            with open(config, "w") as f:
                json.dump({"filetype": "generate_conversations", "num_conversations": 3,
                           "text_files": ["moby-dick.txt"],
                           "shape_source": {"format": "mooncake", "path": path}}, f)
            return client("validate", "--server", self.server.address, "--input-file", config,
                          *flags, check=False)

        # A name that climbs out is the server's to refuse (it names the rule).
        result = validate("../mooncake_sample.jsonl", "--allow-outside-files")
        self.assertEqual(result.returncode, 2, result.stderr)
        self.assertIn('shape_source.path: must be a file name next to the config', result.stderr)
        self.assertNotIn("sending shape_source", result.stderr)
        # A symlink out is read only with --allow-outside-files.
        link = os.path.join(inner, "linked.jsonl")
        if not os.path.lexists(link):
            os.symlink(os.path.join(WORK, "mooncake_sample.jsonl"), link)
        result = validate("linked.jsonl")
        self.assertEqual(result.returncode, 2, result.stderr)
        self.assertIn(f'convgen: {config}: shape_source.path "linked.jsonl" leads out of the '
                      f"config's directory", result.stderr)
        self.assertIn("--allow-outside-files", result.stderr)
        result = validate("linked.jsonl", "--allow-outside-files")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("sending shape_source linked.jsonl", result.stderr)

if __name__ == "__main__":
    unittest.main()
