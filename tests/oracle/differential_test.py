#!/usr/bin/python3
"""Differential test: convgen's generated messages against Hugging Face.

For each tokenizer, starts one convgen-server (127.0.0.1, port 0) with it,
writes hostile corpora (hostile_text.js: licence, multilingual, code,
specials) next to a set of configs, runs `convgen generate --format
jsonl-ids` for every (corpus kind, config), and has differential.js re-encode
every message with Hugging Face's own tokenizer (npm tokenizers@0.23.2,
add_special_tokens=False). A message passes when its content is valid UTF-8
without stray U+FFFD, HF's ids equal its token_ids, and HF's count equals
num_tokens (and max_tokens for assistant turns). A client that exits non-zero
or stalls (no output and no CPU use for a few seconds, or past its timeout),
and a server that dies, are failures too, reported with the client's and the
server's stderr.

Prints a table tokenizer x corpus kind -> messages, exact %, failed runs, then
the failures with examples; exits 1 if anything is not exact or any run
failed, 0 otherwise.

    /usr/bin/python3 tests/oracle/differential_test.py --mode ci
    /usr/bin/python3 tests/oracle/differential_test.py --mode long --keep /tmp/diff
    /usr/bin/python3 tests/oracle/differential_test.py --tokenizers llama3,qwen3_nfkc --kinds specials

Environment: CONVGEN_SERVER_BIN, CONVGEN_CLIENT_BIN (default: the dev build), CONVGEN_TEST_DATA (default ~/.cache/convgen/test-data:
the tokenizer files, node_modules/tokenizers, variants/ from
make_variants.js), CONVGEN_SOURCE_DIR (default: two levels up from here).
Needs only Debian 12's python3 and node, and the npm tokenizers package;
exits 77 when node or the package is missing (ctest counts that as a failure:
scripts/test fetches both).
"""
import argparse
import glob
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.environ.get("CONVGEN_SOURCE_DIR") or os.path.dirname(os.path.dirname(HERE))
SERVER_BIN = os.environ.get("CONVGEN_SERVER_BIN") or os.path.join(SOURCE, "build/dev/server/convgen-server")
CLIENT_BIN = os.environ.get("CONVGEN_CLIENT_BIN") or os.path.join(SOURCE, "build/dev/client/convgen")
TEST_DATA = os.environ.get("CONVGEN_TEST_DATA") or os.path.expanduser("~/.cache/convgen/test-data")
NODE = shutil.which("node") or "/usr/bin/node"

# Fetched by scripts/fetch-npm-files into TEST_DATA/NAME/tokenizer.json; qwen3
# is the repo's embedded default. "mistral" is Llama 2's file.
FETCHED_TOKENIZERS = [
    "llama3", "mistral", "cl100k", "o200k", "gemma", "gemma2", "gemma3", "deepseek_v3", "gptoss",
    "mistral_nemo", "baichuan2", "chatglm3", "command_r_plus", "internlm2", "yi", "claude",
]
KINDS = ["licence", "multilingual", "code", "specials"]

# Per mode: corpus size per kind, conversations per config, repetitions
# (each with its own corpus seed and request seeds), client timeout, and how
# long a stream may make no progress at all before it counts as stalled.
MODES = {
    "ci": {"bytes": 32 * 1024, "conversations": 6, "big_conversations": 8, "reps": 1, "timeout": 120, "idle": 5},
    "long": {"bytes": 100 * 1024, "conversations": 30, "big_conversations": 30, "reps": 3, "timeout": 600,
             "idle": 20},
}


def distribution(kind, **fields):
    return {"distribution": kind, **fields}


def config_set(mode):
    """(name, prompt_input, prompt_output, num_conversations, expected assistant tokens)."""
    small, big = MODES[mode]["conversations"], MODES[mode]["big_conversations"]
    turns = distribution("uniform", min=2, max=8)
    no_prefix = distribution("constant", value=0)
    # User targets around the header+instruction minimum (~17-25 tokens), so
    # some are raised and some carry only a few corpus tokens after it.
    near_header = distribution("uniform", min=10, max=40)
    configs = []
    for k in range(1, 8):
        configs.append((f"out_const_{k}",
                        {"num_turns": turns, "prefix_num_tokens": no_prefix, "num_tokens": near_header},
                        {"num_tokens": distribution("constant", value=k)}, small, k))
    configs.append(("uniform_1_50",
                    {"num_turns": turns, "prefix_num_tokens": no_prefix,
                     "num_tokens": distribution("uniform", min=1, max=50)},
                    {"num_tokens": distribution("uniform", min=1, max=50)}, big, None))
    configs.append(("lognormal_2000",
                    {"num_turns": turns, "prefix_num_tokens": no_prefix,
                     "num_tokens": distribution("lognormal", average=2000, max=6000)},
                    {"num_tokens": distribution("lognormal", average=2000, max=6000)}, big, None))
    configs.append(("prefixes",
                    {"num_turns": turns,
                     "common_prefix_num_tokens": distribution("constant", value=300),
                     "prefix_num_tokens": distribution("lognormal", average=200, max=2000),
                     "num_tokens": distribution("uniform", min=20, max=200)},
                    {"num_tokens": distribution("uniform", min=1, max=200)}, big, None))
    return configs


def derived_seed(*parts):
    """A request seed from the run's identity: stable across runs and machines."""
    return zlib.crc32("/".join(map(str, parts)).encode()) & 0x7FFFFFFF


def tokenizer_files(names):
    """[(name, path)] in the order asked; missing files are printed as SKIP."""
    known = {name: os.path.join(TEST_DATA, name, "tokenizer.json") for name in FETCHED_TOKENIZERS}
    known["qwen3"] = os.path.join(SOURCE, "data/tokenizers/qwen3/tokenizer.json")
    variants_dir = os.path.join(TEST_DATA, "variants")
    variants = sorted(os.listdir(variants_dir)) if os.path.isdir(variants_dir) else []
    for name in variants:
        known[name] = os.path.join(variants_dir, name, "tokenizer.json")
    if names is None:
        names = ["qwen3"] + FETCHED_TOKENIZERS + variants
        if not variants:
            print("SKIP variants: none in", variants_dir, "(node tests/oracle/make_variants.js)")
    chosen = []
    for item in names:
        name, _, path = item.partition("=")
        path = path or known.get(name)
        if not path:
            print(f"SKIP {name}: unknown tokenizer (give NAME=PATH)")
        elif not os.path.isfile(path):
            print(f"SKIP {name}: {path} is missing")
        else:
            chosen.append((name, path))
    return chosen


def tail(text, lines=6, chars=1500):
    text = "\n".join(text.strip().splitlines()[-lines:])
    return text[-chars:]


def die_with_parent():
    """In the child: SIGTERM when the harness dies, even by SIGKILL (a ctest
    timeout), so that no server outlives it."""
    import ctypes
    PR_SET_PDEATHSIG = 1
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


class Server:
    """One convgen-server process with one extra tokenizer, on 127.0.0.1:0.

    stdout and stderr go to files: nothing can block on a full pipe, and the
    log is there to quote when the server dies.
    """

    def __init__(self, name, path, log_dir, timeout=120):
        self.stdout_path = os.path.join(log_dir, f"server-{time.monotonic_ns()}.out")
        self.stderr_path = self.stdout_path[:-4] + ".err"
        # qwen3 is the server's embedded default, a name no --tokenizer may take.
        embedded = name == "qwen3" and os.path.samefile(
            path, os.path.join(SOURCE, "data/tokenizers/qwen3/tokenizer.json"))
        extra = [] if embedded else ["--tokenizer", f"{name}={path}"]
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            self.process = subprocess.Popen(
                # The build CPU limit is raised: this test checks exactness, and a Debug build
                # of a 2,000-token lognormal config with specials (gemma3) under a loaded
                # machine went past the default 10 CPU-s.
                [SERVER_BIN, "--listen", "127.0.0.1:0", *extra, "--drain-seconds", "1",
                 "--max-build-cpu-seconds", "120"],
                stdout=out, stderr=err, stdin=subprocess.DEVNULL, preexec_fn=die_with_parent)
        self.address = None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with open(self.stdout_path, errors="replace") as f:
                for line in f:
                    if line.startswith("listening on 127.0.0.1:"):
                        self.address = line.split()[-1]
                        return
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"server did not start (exit {self.process.returncode}): {tail(self.stderr())}")

    def alive(self):
        return self.process.poll() is None

    def stderr(self, offset=0):
        with open(self.stderr_path, "rb") as f:
            f.seek(offset)
            return f.read().decode("utf-8", "replace")

    def stderr_size(self):
        return os.path.getsize(self.stderr_path)

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


LIVE_SERVERS = []
LIVE_ORACLES = []  # differential.js processes still running


def stop_all_servers(*_):
    for server in LIVE_SERVERS:
        server.stop()
    LIVE_SERVERS.clear()
    for process in LIVE_ORACLES:
        if process.poll() is None:
            process.kill()
            process.wait()
    LIVE_ORACLES.clear()


def on_signal(signum, _frame):
    stop_all_servers()
    sys.exit(128 + signum)  # SystemExit: main's finally removes the work dir


def write_corpora(kinds, seed, nbytes, out_dir, tokenizer_path=None):
    os.makedirs(out_dir, exist_ok=True)
    cmd = [NODE, os.path.join(HERE, "hostile_text.js"), "--kinds", ",".join(kinds), "--seed", str(seed),
           "--bytes", str(nbytes), "--out-dir", out_dir]
    if tokenizer_path:
        cmd += ["--tokenizer", tokenizer_path]
    subprocess.run(cmd, check=True, capture_output=True, timeout=300)
    return {kind: os.path.join(out_dir, f"{kind}.txt") for kind in kinds}


def classify(rc, stderr, server_alive):
    """The outcome of one client run, from its exit status and stderr."""
    if rc == 0:
        return "ok"
    if not server_alive:
        return "server_crash"
    if rc in ("stalled", "timeout"):
        return rc
    if "DEADLINE_EXCEEDED" in stderr:  # the client's own --timeout: the stream stopped
        return "stalled"
    if isinstance(rc, int) and rc < 0:
        return "client_crash"
    if "cannot be loaded" in stderr:
        return "load_failure"
    if rc == 2:
        return "usage_error"
    return "server_error"


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _read(path):
    with open(path, errors="replace") as f:
        return f.read()


def cpu_ticks(pid):
    """User + system CPU ticks of a process (0 once it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])
    except (OSError, IndexError, ValueError):
        return 0


def run_client(server, name, config_path, output, seed, timeout, idle_seconds):
    """Runs one `convgen generate`; returns (exit code | "stalled" | "timeout",
    stderr, seconds).

    A stream that stops (the server neither writes nor computes) is cut after
    idle_seconds instead of waiting for the client's deadline, so a binary
    that stalls often still finishes the suite in minutes; a server that is
    busy but slow gets the whole timeout.
    """
    cmd = [CLIENT_BIN, "generate", "--server", server.address, "--input-file", config_path,
           "--tokenizer", name, "--format", "jsonl-ids", "--output", output,
           "--timeout", str(timeout), "--seed", str(seed)]
    stderr_path = output + ".stderr"
    started = time.monotonic()
    with open(stderr_path, "wb") as err:
        process = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err, stdin=subprocess.DEVNULL)
    mark = None  # (cpu ticks, output size, time) when progress was last seen
    rc = None
    idle = idle_seconds
    while rc is None:
        try:
            rc = process.wait(timeout=0.2)
            break
        except subprocess.TimeoutExpired:
            pass
        now = time.monotonic()
        ticks = cpu_ticks(server.process.pid) + cpu_ticks(process.pid)
        # The client writes OUTPUT.partial and renames it when done.
        size = sum(os.path.getsize(p) for p in (output, output + ".partial") if os.path.exists(p))
        # 50 ms of CPU since the last mark counts as work; an idle gRPC server
        # uses next to none.
        if mark is None or size != mark[1] or ticks - mark[0] >= CLOCK_TICKS // 20:
            mark = (ticks, size, now)
        # Once the client has failed to parse a message (protobuf: invalid
        # UTF-8) it reads no further: a second without progress is enough.
        idle = 1.0 if os.path.getsize(stderr_path) and "invalid UTF-8" in _read(stderr_path) else idle_seconds
        if now - mark[2] > idle:
            rc = "stalled"
        elif now - started > timeout + 15:  # the client's own deadline did not end it
            rc = "timeout"
    if process.poll() is None:
        process.kill()
        process.wait()
    # A failed run's conversations: kept as OUTPUT.S-J.partial, or (client
    # killed) left in OUTPUT.partial; checked where a complete run's are.
    for leftover in sorted(glob.glob(glob.escape(output) + ".*partial")):
        os.replace(leftover, output)
    with open(stderr_path, errors="replace") as f:
        stderr = f.read()
    if rc == "stalled":
        stderr += f"\n[harness] no output and no CPU use for {idle:g}s: stream stalled"
    elif rc == "timeout":
        stderr += f"\n[harness] still running after {timeout + 15}s"
    return rc, stderr, time.monotonic() - started


class Differential:
    """differential.js over one tokenizer's outputs, run in the background so
    the next tokenizer's server and clients use the other core meanwhile."""

    def __init__(self, name, path, runs, work_dir):
        self.manifest_path = os.path.join(work_dir, "manifest.json")
        self.summary_path = os.path.join(work_dir, "differential.json")
        manifest = {"tokenizer": {"name": name, "path": path}, "runs": runs}
        with open(self.manifest_path, "w") as f:
            json.dump(manifest, f, indent=1)
        self.stderr_path = os.path.join(work_dir, "differential.err")
        with open(self.stderr_path, "wb") as err:
            self.process = subprocess.Popen(
                [NODE, os.path.join(HERE, "differential.js"), "--manifest", self.manifest_path,
                 "--json", self.summary_path], stdout=subprocess.DEVNULL, stderr=err, stdin=subprocess.DEVNULL)
        LIVE_ORACLES.append(self.process)

    def result(self):
        rc = self.process.wait()
        LIVE_ORACLES.remove(self.process)
        try:
            with open(self.summary_path) as f:
                summary = json.load(f)
        except (OSError, ValueError):
            with open(self.stderr_path, errors="replace") as f:
                summary = {"error": f"differential.js exited {rc}: {tail(f.read())}", "runs": []}
        return summary


def test_tokenizer(name, path, args, work, shared_corpora, log):
    """Runs every (rep, kind, config) for one tokenizer; returns its run records
    (client side) and the started Differential (HF side)."""
    tdir = os.path.join(work, name)
    os.makedirs(tdir, exist_ok=True)
    records = []
    try:
        server = Server(name, path, tdir)
    except RuntimeError as e:
        return [{"tokenizer": name, "kind": "*", "config": "*", "outcome": "load_failure",
                 "rc": None, "stderr": str(e), "seconds": 0}], None
    LIVE_SERVERS.append(server)
    manifest_runs = []
    give_up = False  # the tokenizer cannot be loaded, or the server cannot be restarted
    try:
        for rep in range(args.reps):
            if give_up:
                break
            corpora = dict(shared_corpora[rep])
            for kind in args.kinds:
                if give_up:
                    break
                if kind == "specials":  # built from this tokenizer's own added tokens
                    corpora.update(write_corpora(["specials"], f"{args.seed}-{rep}", args.bytes,
                                                 os.path.join(tdir, f"corpora-{rep}"), path))
                run_dir = os.path.join(tdir, f"{kind}-{rep}")
                os.makedirs(run_dir, exist_ok=True)
                corpus = os.path.join(run_dir, "corpus.txt")
                shutil.copyfile(corpora[kind], corpus)  # text_files are read next to the config
                for cname, prompt_input, prompt_output, conversations, assistant in args.configs:
                    if give_up:
                        break
                    config = {"filetype": "generate_conversations", "num_conversations": conversations,
                              "text_files": ["corpus.txt"], "print_stats": False,
                              "prompt_input": prompt_input, "prompt_output": prompt_output}
                    config_path = os.path.join(run_dir, f"{cname}.json")
                    with open(config_path, "w") as f:
                        json.dump(config, f, indent=1)
                    output = os.path.join(run_dir, f"{cname}.jsonl")
                    seed = derived_seed(args.seed, rep, name, kind, cname)
                    log_start = server.stderr_size()
                    rc, stderr, seconds = run_client(server, name, config_path, output, seed, args.timeout, args.idle)
                    outcome = classify(rc, stderr, server.alive())
                    record = {"tokenizer": name, "kind": kind, "config": cname, "rep": rep, "seed": seed,
                              "outcome": outcome, "rc": rc, "stderr": tail(stderr), "seconds": round(seconds, 2),
                              "output": output, "config_path": config_path}
                    # What the server logged meanwhile (e.g. protobuf refusing
                    # invalid UTF-8), whatever the outcome.
                    server_log = server.stderr(log_start)
                    if server_log.strip():
                        record["server_stderr"] = tail(server_log, lines=12)
                    if "invalid UTF-8" in stderr + server_log:
                        record["cause"] = "invalid_utf8"
                    records.append(record)
                    if outcome != "ok" or args.verbose:
                        log(f"  {name} {kind} {cname} seed={seed}: {outcome} ({seconds:.1f}s)"
                            + ("" if outcome == "ok" else ": " + " | ".join(short_log(stderr, 2, 200))))
                    run = {"kind": kind, "config": cname, "output": record["output"], "corpus": corpus}
                    if outcome == "ok":  # a failed run's partial output is checked, not its completeness
                        run["expect"] = {"num_conversations": conversations, "min_turns": 2, "max_turns": 8,
                                         "assistant_tokens": assistant}
                    manifest_runs.append(run)
                    # After a load failure every further request would fail
                    # the same way.
                    give_up = outcome == "load_failure"
                    if outcome == "server_crash" or not server.alive():
                        server.stop()
                        LIVE_SERVERS.remove(server)
                        try:
                            server = Server(name, path, tdir)
                            LIVE_SERVERS.append(server)
                        except RuntimeError as e:
                            record["stderr"] += f"\n[harness] the server could not be restarted: {e}"
                            give_up = True
    finally:
        server.stop()
        if server in LIVE_SERVERS:
            LIVE_SERVERS.remove(server)
    return records, Differential(name, path, manifest_runs, tdir)


def merge(records, summary):
    """Attaches differential.js's per-run results to the client run records."""
    by_output = {run["output"]: run for run in summary.get("runs", [])}
    for record in records:
        diff = by_output.get(record.get("output"))
        record["messages"] = diff["messages"] if diff else 0
        record["exact"] = diff["exact"] if diff else 0
        record["failures"] = diff["failures"] if diff else {}
    return summary.get("error")


def pct(exact, messages):
    if not messages:
        return "-"
    value = 100.0 * exact / messages
    return "100%" if exact == messages else f"{min(value, 99.9):.1f}%"


def print_report(tokenizers, records, oracle_errors, kinds, elapsed):
    run_flags = {"stalled": "T", "timeout": "T", "invalid_utf8": "U", "server_crash": "C", "client_crash": "C", "server_error": "E",
                 "usage_error": "E", "load_failure": "L"}
    width = max([len(n) for n, _ in tokenizers] + [9]) + 2
    cell = 24
    print()
    print("tokenizer".ljust(width) + "".join(k.ljust(cell) for k in kinds) + "result")
    failed_any = False
    for name, _ in tokenizers:
        mine = [r for r in records if r["tokenizer"] == name]
        load = next((r for r in mine if r["outcome"] == "load_failure"), None)
        if load and sum(r.get("messages", 0) for r in mine) == 0:
            print(name.ljust(width) + f"LOAD FAILURE: {load_error(load['stderr'])}")
            failed_any = True
            continue
        row = name.ljust(width)
        tokenizer_failed = name in oracle_errors
        for kind in kinds:
            runs = [r for r in mine if r["kind"] == kind]
            messages = sum(r.get("messages", 0) for r in runs)
            exact = sum(r.get("exact", 0) for r in runs)
            flags = {}
            for r in runs:
                if r["outcome"] != "ok":
                    flag = run_flags.get(r.get("cause", r["outcome"]), "E")
                    flags[flag] = flags.get(flag, 0) + 1
            text = f"{messages} {pct(exact, messages)}"
            if flags:
                text += " " + "".join(f"{f}{n}" for f, n in sorted(flags.items()))
            if flags or exact != messages or not runs:
                tokenizer_failed = True
            row += text.ljust(cell)
        failed_any |= tokenizer_failed
        print(row + ("FAIL" if tokenizer_failed else "ok"))
    print("cells: messages checked, exact %, failed runs (U stream broken by invalid UTF-8, T stalled or timed out,\n"
          "       C crash, E client/server error, L load failure)")
    print(f"elapsed {elapsed:.0f}s")
    return failed_any


def short_log(text, lines=3, width=220):
    """The last distinct lines of a log, each cut to `width` characters."""
    seen, out = set(), []
    for line in reversed(text.strip().splitlines()):
        line = line.strip()
        if line and line not in seen:
            seen.add(line)
            out.append(line if len(line) <= width else line[:width] + "...")
    return out[:lines][::-1]


def load_error(stderr):
    """The reason a tokenizer was refused, without the path before it."""
    line = short_log(stderr, 1, 400)[0] if stderr.strip() else "?"
    return line.split("tokenizer.json: ")[-1]


# The classes a message can fail, most telling first: an example of the first
# one present is shown for a failing run.
MESSAGE_CLASSES = ["invalid_utf8", "lone_surrogate", "replacement_char", "ids_mismatch", "count_mismatch",
                   "len_mismatch", "max_tokens_mismatch", "target_mismatch", "malformed", "structure"]


def print_example(example):
    if "hf_ids" in example:
        print(f"      {example.get('conversation_id')} turn {example.get('turn_index')} ({example.get('role')}): "
              f"num_tokens {example.get('num_tokens')}, HF count {example.get('hf_count')}, "
              f"len(token_ids) {example.get('our_count')}; first difference at token {example.get('first_diff')}")
        print(f"      content: {example.get('context')}")
        start = example.get("window_start")
        print(f"      HF   [{start}:] {example.get('hf_ids')} {json.dumps(example.get('hf_tokens'), ensure_ascii=False)}")
        print(f"      ours [{start}:] {example.get('our_ids')} {json.dumps(example.get('our_tokens'), ensure_ascii=False)}")
    else:
        print("      " + json.dumps(example, ensure_ascii=False)[:600])


def print_failures(records, oracle_errors, max_per_signature):
    """Every failing run in one line; details (log, one example message) for
    the first few runs of each (tokenizer, kind of failure)."""
    print("\nFAILURES (details for the first %d runs per tokenizer and kind of failure; "
          "everything in the JSON report)" % max_per_signature)
    for name, error in oracle_errors.items():
        print(f"- {name}: the oracle failed: {error}")
    shown = {}
    for r in records:
        classes = [c for c in MESSAGE_CLASSES if c in r.get("failures", {})]
        if r["outcome"] == "ok" and not classes:
            continue
        if r["outcome"] == "load_failure":
            continue  # in the table already
        outcome = "" if r["outcome"] == "ok" else r["outcome"] + (f" ({r['cause']})" if r.get("cause") else "")
        counts = ", ".join(f"{c} {r['failures'][c]['count']}" for c in classes)
        print(f"- {r['tokenizer']} / {r['kind']} / {r['config']} seed {r.get('seed')}: "
              + "; ".join(filter(None, [outcome, f"{r.get('exact', 0)}/{r.get('messages', 0)} exact", counts])))
        signature = (r["tokenizer"], r["outcome"], r.get("cause"), tuple(classes))
        shown[signature] = shown.get(signature, 0) + 1
        if shown[signature] > max_per_signature:
            continue
        if r["outcome"] != "ok":
            print(f"    client (exit {r['rc']}, {r['seconds']}s): " + " | ".join(short_log(r["stderr"])))
            if r.get("server_stderr"):
                print("    server: " + " | ".join(short_log(r["server_stderr"])))
        # One example per class, at most two; an ids example already shows
        # the counts.
        shown_classes = [c for c in classes
                         if not (c in ("count_mismatch", "len_mismatch") and "ids_mismatch" in classes)][:2]
        for cls in shown_classes:
            print(f"    {cls}:")
            print_example(r["failures"][cls]["examples"][0])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mode", choices=sorted(MODES), default="ci")
    parser.add_argument("--tokenizers", help="comma-separated names (or NAME=PATH); default: all present")
    parser.add_argument("--kinds", default=",".join(KINDS), help="corpus kinds (default: all)")
    parser.add_argument("--configs", help="comma-separated config names (default: all of the mode)")
    parser.add_argument("--seed", type=int, default=20240917, help="base seed of corpora and requests")
    parser.add_argument("--bytes", type=int, help="corpus size per kind (default: by mode)")
    parser.add_argument("--reps", type=int, help="corpus/seed repetitions (default: by mode)")
    parser.add_argument("--timeout", type=int, help="seconds per client run (default: by mode)")
    parser.add_argument("--idle", type=float, help="seconds without progress that make a run stalled (default: by mode)")
    parser.add_argument("--keep", metavar="DIR", help="keep corpora, configs, outputs and report.json in DIR")
    parser.add_argument("--json", metavar="FILE", help="write the full report (every run, every example) here")
    parser.add_argument("--examples", type=int, default=2,
                        help="failing runs shown in detail per tokenizer and kind of failure")
    parser.add_argument("--verbose", action="store_true", help="log every run, not only failed ones")
    parser.add_argument("--print-report", metavar="FILE", help="only print the table and failures of a JSON report")
    args = parser.parse_args()
    if args.print_report:
        with open(args.print_report) as f:
            report = json.load(f)
        records = report["runs"]
        names = list(dict.fromkeys(r["tokenizer"] for r in records))
        kinds = [k for k in KINDS if any(r["kind"] == k for r in records)]
        failed = print_report([(n, None) for n in names], records, report["oracle_errors"], kinds,
                              report["elapsed_seconds"])
        if failed:
            print_failures(records, report["oracle_errors"], args.examples)
        return 1 if failed else 0
    mode = MODES[args.mode]
    args.kinds = [k for k in args.kinds.split(",") if k]
    for kind in args.kinds:
        if kind not in KINDS:
            parser.error(f"unknown kind {kind} (kinds: {', '.join(KINDS)})")
    configs = config_set(args.mode)
    if args.configs:
        wanted = args.configs.split(",")
        unknown = set(wanted) - {c[0] for c in configs}
        if unknown:
            parser.error(f"unknown configs {sorted(unknown)} (configs: {', '.join(c[0] for c in configs)})")
        configs = [c for c in configs if c[0] in wanted]
    args.configs = configs
    args.bytes = args.bytes or mode["bytes"]
    args.reps = args.reps or mode["reps"]
    args.timeout = args.timeout or mode["timeout"]
    args.idle = args.idle or mode["idle"]
    for binary in (SERVER_BIN, CLIENT_BIN):
        if not os.access(binary, os.X_OK):
            sys.exit(f"{binary} is not executable (set CONVGEN_SERVER_BIN / CONVGEN_CLIENT_BIN)")
    if not os.path.isdir(os.path.join(TEST_DATA, "node_modules/tokenizers")) or not os.access(NODE, os.X_OK):
        # 77: ctest's SKIP_RETURN_CODE convention, for machines without the oracle.
        print(f"SKIP: node or {TEST_DATA}/node_modules/tokenizers is missing (scripts/fetch-npm-files oracle)")
        return 77

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    work = os.path.abspath(args.keep) if args.keep else tempfile.mkdtemp(prefix="convgen-differential-")
    os.makedirs(work, exist_ok=True)
    started = time.monotonic()

    def log(text):
        print(f"[{time.monotonic() - started:6.1f}s] {text}", flush=True)

    tokenizers = tokenizer_files(args.tokenizers.split(",") if args.tokenizers else None)
    log(f"{len(tokenizers)} tokenizers x {len(args.kinds)} kinds x {len(configs)} configs x {args.reps} reps, "
        f"mode {args.mode}, work dir {work}")

    records, oracle_errors = [], {}
    pending = None  # (records, Differential) of the previous tokenizer

    def collect(item):
        recs, differential = item
        if not recs:
            return
        if differential:
            error = merge(recs, differential.result())
            if error:
                oracle_errors[recs[0]["tokenizer"]] = error
        else:
            merge(recs, {})
        records.extend(recs)
        name = recs[0]["tokenizer"]
        messages = sum(r.get("messages", 0) for r in recs)
        exact = sum(r.get("exact", 0) for r in recs)
        bad = sum(r["outcome"] != "ok" for r in recs)
        log(f"{name}: {exact}/{messages} messages exact, {bad} failed runs")

    try:
        # Corpora of the tokenizer-independent kinds: written once per rep.
        shared_kinds = [k for k in args.kinds if k != "specials"]
        shared = [write_corpora(shared_kinds, f"{args.seed}-{rep}", args.bytes, os.path.join(work, f"corpora-{rep}"))
                  if shared_kinds else {} for rep in range(args.reps)]
        for name, path in tokenizers:
            log(f"{name}: {path}")
            item = test_tokenizer(name, path, args, work, shared, log)
            if pending:
                collect(pending)
            pending = item
        if pending:
            collect(pending)
    finally:  # also on SIGTERM/SIGINT (on_signal exits through here)
        stop_all_servers()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)

    elapsed = time.monotonic() - started
    report = {"mode": args.mode, "seed": args.seed, "elapsed_seconds": round(elapsed, 1),
              "server": SERVER_BIN, "client": CLIENT_BIN, "oracle_errors": oracle_errors, "runs": records}
    for path in filter(None, [args.json, os.path.join(work, "report.json") if args.keep else None]):
        with open(path, "w") as f:
            json.dump(report, f, indent=1, ensure_ascii=False)
    failed = print_report(tokenizers, records, oracle_errors, args.kinds, elapsed)
    if failed:
        print_failures(records, oracle_errors, args.examples)
    if args.keep:
        print(f"\noutputs and report.json kept in {work}")
    if not tokenizers:
        print("no tokenizer to test")
        return 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
