#!/usr/bin/python3
"""Writes tests/fixtures/numpy_legacy/*.json: the sizes vLLM's multi-turn
generator samples, computed with numpy itself (Debian's python3-numpy), for
convgen's `rng: "numpy_legacy"` to match exactly.

vLLM (benchmarks/multi_turn/bench_dataset.py) seeds numpy's global legacy
RandomState with np.random.seed(seed) and then draws, in this order:
  1. num_turns for all conversations (one batch of num_conversations),
  2. prefix_num_tokens for all conversations (one batch),
  3. common_prefix_num_tokens (a batch of one; absent = constant 0),
  4. per conversation i, in order: prompt_input.num_tokens (a batch of
     num_turns_i) then prompt_output.num_tokens (a batch of num_turns_i),
where num_turns_i is the sample clamped to >= 2 and rounded up to even, and a
batch of a distribution is sampled as written below (lognormal-by-average
batches are rescaled to their own sample mean). Constants draw nothing.

    /usr/bin/python3 tests/oracle/numpy_legacy_fixtures.py
"""

import json
import os

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "tests/fixtures/numpy_legacy")


def sample(d, n):
    """n values of distribution object d (the config's JSON form), as vLLM samples them."""
    kind = d["distribution"]
    cap = d.get("max")
    if kind == "constant":
        return np.full(shape=n, fill_value=d["value"])
    if kind == "uniform":
        return np.random.randint(int(d["min"]), int(d["max"] + 1), size=n)
    if kind == "zipf":
        values = np.random.zipf(d["alpha"], size=n)
        return np.minimum(values, cap) if cap else values
    if kind == "poisson":
        values = np.random.poisson(d["alpha"], size=n)
        return np.minimum(values, cap) if cap else values
    if kind == "lognormal":
        mu, sigma = lognormal_parameters(d)
        values = np.random.lognormal(mean=mu, sigma=sigma, size=n)
        if "average" in d:
            values *= d["average"] / values.mean()
        if cap:
            values = np.minimum(values, cap)
        return np.round(values).astype(int)
    raise ValueError(kind)


def lognormal_parameters(d):
    if "average" not in d:
        return d["mean"], d["sigma"]
    average = d["average"]
    median = average * d.get("median_ratio", 0.85)
    return np.log(median), np.sqrt(2 * np.log(average / median))


def conversation_sizes(config, seed):
    np.random.seed(seed)
    prompt_in, prompt_out = config["prompt_input"], config["prompt_output"]
    n = config["num_conversations"]
    turns = sample(prompt_in["num_turns"], n)
    turns = np.maximum(turns, 2)
    turns = turns + turns % 2
    prefix = sample(prompt_in["prefix_num_tokens"], n)
    common = sample(prompt_in.get("common_prefix_num_tokens", {"distribution": "constant", "value": 0}), 1)[0]
    conversations = []
    for i in range(n):
        user = sample(prompt_in["num_tokens"], turns[i])
        assistant = sample(prompt_out["num_tokens"], turns[i])
        conversations.append({"input": user.tolist(), "output": assistant.tolist()})
    return {"seed": seed, "num_turns": turns.tolist(), "prefix_num_tokens": prefix.tolist(),
            "common_prefix_num_tokens": int(common), "conversations": conversations}


# Single-distribution streams: each is `batches` batches of `size` from one seed.
STREAMS = [
    ({"distribution": "uniform", "min": 1, "max": 1}, 5, 10),
    ({"distribution": "uniform", "min": 12, "max": 18}, 20, 100),
    ({"distribution": "uniform", "min": 1, "max": 4294967296}, 10, 100),  # the 64-bit path
    ({"distribution": "uniform", "min": 7, "max": 10000000000000}, 10, 100),
    ({"distribution": "zipf", "alpha": 1.5}, 10, 100),
    ({"distribution": "zipf", "alpha": 1.5, "max": 20}, 10, 100),
    ({"distribution": "zipf", "alpha": 3.0}, 10, 100),
    ({"distribution": "poisson", "alpha": 0.5}, 10, 100),
    ({"distribution": "poisson", "alpha": 9.99}, 10, 100),   # multiplication
    ({"distribution": "poisson", "alpha": 10}, 10, 100),     # PTRS
    ({"distribution": "poisson", "alpha": 140, "max": 400}, 10, 100),
    ({"distribution": "poisson", "alpha": 1e6}, 10, 100),
    ({"distribution": "lognormal", "mean": 6.5, "sigma": 0.5, "max": 3000}, 10, 100),
    ({"distribution": "lognormal", "mean": 2.0, "sigma": 0.0}, 3, 10),
    ({"distribution": "lognormal", "average": 1000, "max": 5000}, 10, 100),
    ({"distribution": "lognormal", "average": 1000}, 3, 1),          # a batch of one: its own mean
    ({"distribution": "lognormal", "average": 300, "median_ratio": 0.5}, 10, 7),
    ({"distribution": "lognormal", "average": 50, "median_ratio": 0.99}, 2, 20000),  # long mean
    ({"distribution": "lognormal", "average": 2000, "median_ratio": 0.3}, 1, 100003),
]


def main():
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "README.md"), "w") as f:
        f.write("Written by tests/oracle/numpy_legacy_fixtures.py with numpy "
                f"{np.__version__}; do not edit.\n")
    seeds = [0, 1, 2, 3, 7, 42, 99, 123, 1000, 1234, 4321, 9999, 12345, 31337, 65535, 100000,
             271828, 314159, 2**31 - 1, 2**31, 2**32 - 1]
    for name in ["generate_multi_turn", "generate_multi_turn_mean_sigma"]:
        with open(os.path.join(ROOT, "tests/fixtures/vllm", name + ".json")) as f:
            config = json.load(f)
        runs = [conversation_sizes(config, seed) for seed in seeds]
        with open(os.path.join(OUT, name + ".json"), "w") as f:
            json.dump({"config": config, "runs": runs}, f, separators=(",", ":"))
    streams = []
    for k, (d, batches, size) in enumerate(STREAMS):
        seed = 1000 + k
        np.random.seed(seed)
        values = [sample(d, size).tolist() for _ in range(batches)]
        entry = {"distribution": d, "seed": seed, "batches": values}
        if d["distribution"] == "lognormal":
            mu, sigma = lognormal_parameters(d)
            entry["mu"], entry["sigma"] = float(mu).hex(), float(sigma).hex()
        streams.append(entry)
    np.random.seed(5)  # the raw generator: uint32 words and doubles
    words = np.random.randint(0, 2**32, size=1000, dtype=np.uint64).tolist()
    np.random.seed(5)
    doubles = [float(x).hex() for x in np.random.random_sample(1000)]
    with open(os.path.join(OUT, "streams.json"), "w") as f:
        json.dump({"streams": streams, "mt19937_seed5_words": words,
                   "mt19937_seed5_doubles": doubles}, f, separators=(",", ":"))


if __name__ == "__main__":
    main()
