"""Drives bench/e2e/run; see there. Prints its tables and exits; leaves no files."""
import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import tempfile
import threading
import time

parser = argparse.ArgumentParser()
parser.add_argument("conversations", nargs="?", type=int, default=10000,
                    help="conversations of the reference config per run")
parser.add_argument("--pairs", type=int, default=5, help="interleaved real/limit run pairs")
parser.add_argument("--scale-conversations", type=int, default=1_000_000,
                    help="conversations of bench/e2e/small_4x50.json (0: skip the scale run)")
args = parser.parse_args()
if args.pairs < 1:
    parser.error("--pairs must be at least 1")

root = os.getcwd()
build = os.path.join(root, "build/release")
client_bin = f"{build}/client/convgen"
work = tempfile.mkdtemp(prefix="convgen-bench-")


def write_config(path, name, **overrides):
    with open(path) as f:
        config = json.load(f)
    config.update(overrides)
    out = os.path.join(work, name)
    with open(out, "w") as f:
        json.dump(config, f)
    return out


def start(argv):
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = process.stdout.readline()
    address = re.search(r"listening on (\S+)", line).group(1)
    return process, address


def status_mib(pid, field):
    try:
        with open(f"/proc/{pid}/status") as f:
            match = re.search(field + r":\s+(\d+)", f.read())
    except FileNotFoundError:
        return None
    return int(match.group(1)) / 1024 if match else None


def stop(process):
    process.terminate()
    process.wait()


def client_run(address, config, out):
    """Seconds for the real client to write CONFIG's conversations from ADDRESS to OUT."""
    started = time.monotonic()
    subprocess.run([client_bin, "generate", "--server", address, "--input-file", config,
                    "--output", out, "--format", "jsonl", "--seed", "1"],
                   check=True, stderr=subprocess.DEVNULL)
    return time.monotonic() - started


class RssSampler:
    """Samples the resident memory of some processes every 0.2 s while running."""

    def __init__(self, pids):
        self.samples = {pid: [] for pid in pids}
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        started = time.monotonic()
        while not self._done.wait(0.2):
            for pid, samples in self.samples.items():
                rss = status_mib(pid, "VmRSS")
                if rss is not None:
                    samples.append((time.monotonic() - started, rss))

    def stop(self):
        self._done.set()
        self._thread.join()

    def early_and_max(self, pid):
        """RSS once a tenth of the run is over, and the most seen."""
        samples = self.samples[pid]
        if not samples:
            return float("nan"), float("nan")
        tenth = samples[-1][0] / 10
        early = next(rss for t, rss in samples if t >= tenth)
        return early, max(rss for _, rss in samples)


def reference_pairs():
    config = write_config("examples/generate_multi_turn.json", "config.json",
                          num_conversations=args.conversations)
    small = write_config("examples/generate_multi_turn.json", "small.json", num_conversations=1)
    server, address = start([f"{build}/server/convgen-server", "--listen", "127.0.0.1:0"])
    replay, replay_address = start([f"{build}/bench/replay_server", "--listen", "127.0.0.1:0",
                                    "--config", config, "--seed", "1"])
    real_out, limit_out = os.path.join(work, "real.jsonl"), os.path.join(work, "limit.jsonl")
    rows = []
    try:
        for pair in range(args.pairs):
            # Alternate which goes first, so that neither always runs on a warmer machine.
            if pair % 2 == 0:
                real = client_run(address, config, real_out)
                limit = client_run(replay_address, config, limit_out)
            else:
                limit = client_run(replay_address, config, limit_out)
                real = client_run(address, config, real_out)
            if pair == 0:
                size = os.path.getsize(real_out)
                with open(real_out, "rb") as f:
                    turns = sum(1 for _ in f)
                with open(real_out, "rb") as a, open(limit_out, "rb") as b:
                    same = a.read() == b.read()
            os.remove(real_out)
            os.remove(limit_out)
            rows.append((real, limit))
        first_turn = subprocess.run([f"{build}/bench/first_turn", "--server", address, "--config",
                                     small, "--requests", "200"],
                                    check=True, capture_output=True, text=True).stdout.split()
        server_peak = status_mib(server.pid, "VmHWM")
    finally:
        stop(server)
        stop(replay)

    print(f"reference config, {args.conversations} conversations: {turns} turns, "
          f"{size / 1e6:.1f} MB of jsonl; convgen and replay_server outputs identical: {same}")
    print(f"{'pair':>4}  {'convgen s':>9}  {'limit s':>7}  {'convgen MB/s':>12}  {'ratio':>5}")
    for i, (real, limit) in enumerate(rows):
        print(f"{i:>4}  {real:>9.2f}  {limit:>7.2f}  {size / 1e6 / real:>12.1f}  "
              f"{limit / real:>5.2f}")
    real_median = statistics.median(real for real, _ in rows)
    print(f"median: convgen {real_median:.2f} s ({turns / real_median:,.0f} turns/s, "
          f"{size / 1e6 / real_median:.1f} MB/s), limit "
          f"{statistics.median(limit for _, limit in rows):.2f} s, ratio convgen/limit "
          f"{statistics.median(limit / real for real, limit in rows):.2f}")
    print(f"server peak RSS {server_peak:.0f} MiB")
    print(f"time to first turn (1-conversation requests, C++ client, warm channel, n=200): "
          f"p50 {float(first_turn[1]):.3f} ms, p99 {float(first_turn[3]):.3f} ms")


def core_tokens_per_s():
    """The core's tokens/s on bench/e2e/small_4x50.json (conversation_bench, one thread)."""
    result = subprocess.run([f"{build}/bench/conversation_bench",
                             "--benchmark_filter=^BM_SmallConversations/",
                             "--benchmark_format=json"],
                            check=True, capture_output=True, text=True)
    return json.loads(result.stdout)["benchmarks"][0]["tokens_per_s"]


def scale_run():
    config = write_config("bench/e2e/small_4x50.json", "scale.json",
                          num_conversations=args.scale_conversations)
    server, address = start([f"{build}/server/convgen-server", "--listen", "127.0.0.1:0"])
    try:
        started = time.monotonic()
        with open(os.devnull, "wb") as devnull:
            client = subprocess.Popen([client_bin, "generate", "--server", address,
                                       "--input-file", config, "--output", "-", "--format",
                                       "jsonl", "--seed", "1"], stdout=devnull,
                                      stderr=devnull)
            sampler = RssSampler([server.pid, client.pid])
            if client.wait() != 0:
                raise SystemExit(f"the scale run's client exited {client.returncode}")
            sampler.stop()
        seconds = time.monotonic() - started
    finally:
        stop(server)
    with open("bench/e2e/small_4x50.json") as f:
        shape = json.load(f)
    tokens = args.scale_conversations * shape["prompt_input"]["num_turns"]["value"] // 2 * (
        shape["prompt_input"]["num_tokens"]["value"] + shape["prompt_output"]["num_tokens"]["value"])
    core = core_tokens_per_s()
    print(f"scale: {args.scale_conversations:,} conversations of 4 x 50 tokens, jsonl to "
          f"/dev/null: {seconds:.1f} s, {tokens / seconds / 1e6:.2f} M tokens/s end to end; "
          f"core {core / 1e6:.2f} M tokens/s; end to end / core {tokens / seconds / core:.2f}")
    for name, pid in (("server", server.pid), ("client", client.pid)):
        early, peak = sampler.early_and_max(pid)
        print(f"  {name} RSS at 10% of the run {early:.0f} MiB, max {peak:.0f} MiB")


try:
    reference_pairs()
    if args.scale_conversations > 0:
        scale_run()
finally:
    shutil.rmtree(work, ignore_errors=True)
