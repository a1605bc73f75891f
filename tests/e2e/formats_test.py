"""The client's output formats as the tools that read them see them (issue 17):
the real convgen-server and convgen client, and each reader's logic
reimplemented faithfully (none of those tools is installed here; each
function below names the source file and function it follows).

- json: vLLM's benchmarks/multi_turn/benchmark_serving_multi_turn.py
  --input-file (json.load, then conversations_list_to_dict in
  benchmarks/multi_turn/bench_dataset.py).
- sharegpt: vLLM's vllm/benchmarks/datasets.py ShareGPTDataset (load_data,
  sample, is_valid_sequence), read by `vllm bench serve --dataset-name
  sharegpt --dataset-path FILE`; SGLang's python/sglang/bench_serving.py
  sample_sharegpt_requests (`python -m sglang.bench_serving --dataset-name
  sharegpt --dataset-path FILE`).
- openai-jsonl with --stream, --min-tokens, --ignore-eos, --model.

The token counts those readers would compute with the model's tokenizer are
taken from convgen's jsonl output for the same seed (its counts are exact for
the server's tokenizer, which the tokenizer tests check).

Run by ctest like e2e_test.py; needs /usr/bin/python3 (python3-grpcio).
"""
import json
import os
import random
import re
import signal
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import e2e_test  # noqa: E402,F401  (builds the Python stubs on import)
from e2e_test import CLIENT, EXAMPLE, WORK, Server, check_vllm_input, client  # noqa: E402


def vllm_conversations_list_to_dict(input_list):
    """vLLM benchmarks/multi_turn/bench_dataset.py conversations_list_to_dict,
    without its statistics printout."""
    conversations = {}
    for item in input_list:
        conv_id = item["id"]
        assert isinstance(conv_id, str)
        assert conv_id not in conversations, f"Conversation ID {conv_id} found more than once"
        messages = item["messages"]
        assert isinstance(messages, list), f"Conversation messages should be a list ({conv_id})"
        assert len(messages) > 0, f"Conversation with no messages (ID: {conv_id})"
        conversations[conv_id] = messages
    assert len(conversations) == len(input_list)
    return conversations


def vllm_is_valid_sequence(prompt_len, output_len, min_len=4, max_prompt_len=1024,
                           max_total_len=2048, skip_min_output_len_check=False):
    """vLLM vllm/benchmarks/datasets.py is_valid_sequence."""
    prompt_too_short = prompt_len < min_len
    output_too_short = (not skip_min_output_len_check) and (output_len < min_len)
    prompt_too_long = prompt_len > max_prompt_len
    combined_too_long = (prompt_len + output_len) > max_total_len
    return not (prompt_too_short or output_too_short or prompt_too_long or combined_too_long)


def vllm_sharegpt_samples(path, num_tokens, num_requests, random_seed=0, disable_shuffle=False):
    """vLLM vllm/benchmarks/datasets.py ShareGPTDataset.load_data and .sample
    (text prompts, no LoRA, no images, output_len None): the (prompt,
    completion, prompt_len, output_len) it would send. `num_tokens(text)`
    stands for len(tokenizer(text).input_ids)."""
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    data = [entry for entry in data
            if "conversations" in entry and len(entry["conversations"]) >= 2]
    random.seed(random_seed)
    if not disable_shuffle:
        random.shuffle(data)
    samples = []
    for entry in data:
        if len(samples) >= num_requests:
            break
        prompt, completion = entry["conversations"][0]["value"], entry["conversations"][1]["value"]
        prompt_len, output_len = num_tokens(prompt), num_tokens(completion)
        if not vllm_is_valid_sequence(prompt_len, output_len):
            continue
        samples.append((prompt, completion, prompt_len, output_len))
    return samples


def sglang_sharegpt_samples(path, num_tokens, num_requests, context_len=None):
    """SGLang python/sglang/bench_serving.py sample_sharegpt_requests (no
    prompt suffix, no chat template, fixed_output_len None)."""
    with open(path) as f:
        dataset = json.load(f)
    dataset = [data for data in dataset
               if len(data.get("conversations", data.get("conversation", []))) >= 2]
    dataset = [(data.get("conversations", data.get("conversation", []))[0]["value"],
                data.get("conversations", data.get("conversation", []))[1]["value"])
               for data in dataset]
    random.shuffle(dataset)
    filtered = []
    for prompt, completion in dataset:
        if len(filtered) == num_requests:
            break
        prompt_len, output_len = num_tokens(prompt), num_tokens(completion)
        if prompt_len < 2 or output_len < 2:
            continue
        if context_len and prompt_len + output_len > context_len:
            continue
        filtered.append((prompt, completion, prompt_len, output_len))
    return filtered


def write_config(name, **prompt_input):
    """The example config with ShareGPT-sized first turns (vLLM's reader
    skips prompts over 1024 tokens), and a few more conversations."""
    with open(EXAMPLE) as f:
        config = json.load(f)
    config["num_conversations"] = 40
    config["prompt_input"].update(prompt_input)
    path = os.path.join(WORK, name)
    with open(path, "w") as f:
        json.dump(config, f)
    return path


def read_lines(path):
    with open(path) as f:
        return [json.loads(line) for line in f]


class FormatsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Server()
        cls.config = write_config(
            "formats-config.json",
            num_turns={"distribution": "uniform", "min": 2, "max": 9},
            common_prefix_num_tokens={"distribution": "constant", "value": 100},
            prefix_num_tokens={"distribution": "uniform", "min": 100, "max": 400},
            num_tokens={"distribution": "uniform", "min": 30, "max": 200})
        cls.outputs = {}
        for fmt in ["json", "sharegpt", "jsonl"]:
            out = os.path.join(WORK, f"formats.{fmt}")
            client("generate", "--server", cls.server.address, "--input-file", cls.config,
                   "--seed", "11", "--format", fmt, "--output", out)
            with open(out, "rb") as f:
                cls.outputs[fmt] = f.read()
        turns = [json.loads(line) for line in cls.outputs["jsonl"].splitlines()]
        # The server's token count of each text (texts may repeat: equal counts).
        cls.counts = {t["content"]: t["num_tokens"] for t in turns}
        cls.turns = turns

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def test_json_is_what_vllms_multi_turn_benchmark_reads(self):
        conversations = json.loads(self.outputs["json"])
        check_vllm_input(self, conversations)
        by_id = vllm_conversations_list_to_dict(conversations)
        self.assertEqual(list(by_id), [f"CONV_ID_{i}" for i in range(40)])
        self.assertEqual(sum(len(m) for m in by_id.values()), len(self.turns))

    def test_sharegpt_has_the_json_conversations_as_human_and_gpt_turns(self):
        conversations = json.loads(self.outputs["json"])
        shared = json.loads(self.outputs["sharegpt"])
        self.assertIsInstance(shared, list)
        self.assertEqual(len(shared), len(conversations))
        for entry, conversation in zip(shared, conversations):
            self.assertEqual(set(entry), {"id", "conversations"})
            self.assertEqual(entry["id"], conversation["id"])
            turns = entry["conversations"]
            self.assertEqual(len(turns), len(conversation["messages"]))
            self.assertGreaterEqual(len(turns), 2)
            for k, (turn, message) in enumerate(zip(turns, conversation["messages"])):
                self.assertEqual(set(turn), {"from", "value"})
                self.assertEqual(turn["from"], "human" if k % 2 == 0 else "gpt")
                self.assertEqual(turn["value"], message["content"])
        # Written like json: one element per line between the brackets.
        self.assertTrue(self.outputs["sharegpt"].startswith(b"[\n{\"id\":\"CONV_ID_0\","))
        self.assertTrue(self.outputs["sharegpt"].endswith(b"}\n]\n"))

    def test_vllm_bench_serve_sharegpt_reader_takes_every_conversation(self):
        conversations = json.loads(self.outputs["json"])
        first = {(c["messages"][0]["content"], c["messages"][1]["content"]) for c in conversations}
        path = os.path.join(WORK, "formats.sharegpt")
        # In file order (--disable-shuffle): exactly the first exchanges.
        ordered = vllm_sharegpt_samples(path, self.counts.__getitem__, 1000, disable_shuffle=True)
        self.assertEqual([s[:2] for s in ordered],
                         [(c["messages"][0]["content"], c["messages"][1]["content"])
                          for c in conversations])
        # As vllm bench serve runs by default (shuffled with --seed 0).
        shuffled = vllm_sharegpt_samples(path, self.counts.__getitem__, 1000)
        self.assertEqual(len(shuffled), 40)
        self.assertEqual({s[:2] for s in shuffled}, first)
        users = {t["conversation_index"]: t for t in self.turns if t["turn_index"] == 0}
        answers = {t["conversation_index"]: t for t in self.turns if t["turn_index"] == 1}
        for prompt, completion, prompt_len, output_len in ordered:
            self.assertLessEqual(prompt_len, 1024)
            self.assertGreaterEqual(output_len, 4)
        # The answer's length vLLM asks for is the answer's max_tokens.
        for i, (_, _, prompt_len, output_len) in enumerate(ordered):
            self.assertEqual(prompt_len, users[i]["num_tokens"])
            self.assertEqual(output_len, answers[i]["max_tokens"])

    def test_vllm_reader_skips_first_prompts_over_1024_tokens(self):
        # The example's first messages (a 500-token common prefix, a prefix
        # of about 1000, a question of 120 to 160) are mostly too long for
        # vLLM's ShareGPT reader: the README says so.
        out = os.path.join(WORK, "example.sharegpt")
        client("generate", "--server", self.server.address, "--input-file", EXAMPLE,
               "--seed", "11", "--format", "sharegpt", "--output", out)
        jsonl = os.path.join(WORK, "example.jsonl")
        client("generate", "--server", self.server.address, "--input-file", EXAMPLE,
               "--seed", "11", "--format", "jsonl", "--output", jsonl)
        turns = read_lines(jsonl)
        counts = {t["content"]: t["num_tokens"] for t in turns}
        firsts = [t for t in turns if t["turn_index"] == 0]
        kept = vllm_sharegpt_samples(out, counts.__getitem__, 1000, disable_shuffle=True)
        expected = [t["content"] for t in firsts if t["num_tokens"] <= 1024]
        self.assertEqual([s[0] for s in kept], expected)
        self.assertLess(len(kept), len(firsts))
        print(f"\nvLLM's ShareGPT reader keeps {len(kept)} of the example's {len(firsts)} "
              f"conversations", file=sys.stderr)

    def test_sglang_bench_serving_sharegpt_reader_takes_every_conversation(self):
        conversations = json.loads(self.outputs["json"])
        path = os.path.join(WORK, "formats.sharegpt")
        samples = sglang_sharegpt_samples(path, self.counts.__getitem__, 1000)
        self.assertEqual(sorted(s[:2] for s in samples),
                         sorted((c["messages"][0]["content"], c["messages"][1]["content"])
                                for c in conversations))

    def test_sharegpt_of_a_broken_stream_is_a_valid_list_that_resumes(self):
        # SIGINT when a third of the output is written: the kept file is a
        # valid list of the conversations before the resume index, and the
        # resumed run's list completes it.
        config = write_config(
            "formats-long-config.json",
            num_turns={"distribution": "uniform", "min": 10, "max": 12})
        with open(config) as f:
            long_config = json.load(f)
        long_config["num_conversations"] = 300
        with open(config, "w") as f:
            json.dump(long_config, f)
        args = [CLIENT, "generate", "--server", self.server.address, "--input-file", config,
                "--seed", "3", "--format", "sharegpt"]
        full = os.path.join(WORK, "long-full.sharegpt")
        subprocess.run(args + ["--output", full], check=True, capture_output=True, timeout=120)
        with open(full) as f:
            expected = json.load(f)
        out = os.path.join(WORK, "long.sharegpt")
        process = subprocess.Popen(args + ["--output", out], stdout=subprocess.DEVNULL,
                                   stderr=subprocess.PIPE, text=True)
        partial = out + ".partial"
        while process.poll() is None and (
                os.path.getsize(partial) if os.path.exists(partial) else 0) < \
                os.path.getsize(full) // 3:
            time.sleep(0.002)
        process.send_signal(signal.SIGINT)
        stderr = process.communicate(timeout=60)[1]
        self.assertEqual(process.returncode, 130, stderr)
        match = re.search(r"; (\S+) holds exactly the conversations from index 0 before index "
                          r"(\d+); resume with --start-index (\d+)", stderr)
        self.assertIsNotNone(match, stderr)
        kept, resume = match.group(1), int(match.group(3))
        self.assertEqual(kept, f"{out}.0-{resume}.partial")
        with open(kept) as f:
            head = json.load(f)
        self.assertEqual(len(head), resume)
        self.assertGreater(resume, 0)
        self.assertLess(resume, 300)
        rest = os.path.join(WORK, "long-rest.sharegpt")
        subprocess.run(args + ["--output", rest, "--start-index", str(resume)], check=True,
                       capture_output=True, timeout=120)
        with open(rest) as f:
            self.assertEqual(head + json.load(f), expected)

    def test_openai_jsonl_options(self):
        out = os.path.join(WORK, "formats-options.jsonl")
        client("generate", "--server", self.server.address, "--input-file", self.config,
               "--seed", "11", "--format", "openai-jsonl", "--output", out, "--stream",
               "--min-tokens", "--ignore-eos", "--model", "Qwen/Qwen3-8B")
        bodies = read_lines(out)
        answers = [t for t in self.turns if t["role"] == "assistant"]
        self.assertEqual(len(bodies), len(answers))
        for body, answer in zip(bodies, answers):
            self.assertEqual(list(body), ["model", "messages", "max_tokens", "min_tokens",
                                          "ignore_eos", "stream", "stream_options", "metadata"])
            self.assertEqual(body["model"], "Qwen/Qwen3-8B")
            self.assertEqual(body["max_tokens"], answer["max_tokens"])
            self.assertEqual(body["min_tokens"], answer["max_tokens"])
            self.assertIs(body["ignore_eos"], True)
            self.assertIs(body["stream"], True)
            self.assertEqual(body["stream_options"], {"include_usage": True})
            self.assertEqual(body["metadata"]["conversation_id"], answer["conversation_id"])
        # Without the options, the bodies are as before: no model (the
        # server's), no stream, no vLLM extensions.
        plain = os.path.join(WORK, "formats-plain.jsonl")
        client("generate", "--server", self.server.address, "--input-file", self.config,
               "--seed", "11", "--format", "openai-jsonl", "--output", plain)
        for body, full in zip(read_lines(plain), bodies):
            self.assertEqual(list(body), ["messages", "max_tokens", "metadata"])
            self.assertEqual(body["messages"], full["messages"])

    def test_openai_jsonl_flags_with_another_format_are_a_usage_error(self):
        for fmt, flag in [("json", "--stream"), ("sharegpt", "--min-tokens"),
                          ("jsonl", "--ignore-eos"), ("jsonl-ids", "--model=m")]:
            result = subprocess.run(
                [CLIENT, "generate", "--server", self.server.address, "--input-file",
                 self.config, "--format", fmt, flag, "--output", os.devnull],
                capture_output=True, text=True, timeout=30)
            self.assertEqual(result.returncode, 2, result.stderr)
            self.assertIn(f"{flag.split('=')[0]} shapes openai-jsonl request bodies; --format is "
                          f"{fmt} (add --format openai-jsonl)", result.stderr)
        # sharegpt is named among the formats.
        result = subprocess.run([CLIENT, "generate", "--format", "csv"], capture_output=True,
                                text=True, timeout=30)
        self.assertEqual(result.returncode, 2)
        self.assertIn("must be json, jsonl, jsonl-ids, openai-jsonl or sharegpt", result.stderr)


if __name__ == "__main__":
    unittest.main()
