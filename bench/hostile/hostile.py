"""Hostile load (issue 14): one convgen-server under a memory cap, every
hostile scenario of the issue at once from several threads, and a separate
prober process calling grpc.health.v1.Health/Check every 100 ms.

Run by bench/hostile/run (flags: run --help) and by tests/e2e/hostile_test.py.
Needs /usr/bin/python3 (python3-grpcio) and protoc with grpc_python_plugin
(the stubs are generated like the e2e tests do, by importing e2e_test).

Memory cap: a cgroup v1 memory group (/sys/fs/cgroup/memory, needs root) the
server joins before exec, so every byte it charges counts; otherwise
RLIMIT_AS with a large allowance (gRPC reserves far more virtual memory than
it touches: see RLIMIT_AS_ALLOWANCE). Every process and the cgroup are
removed at the end, also on Ctrl-C.
"""
import argparse
import collections
import json
import os
import random
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.dirname(os.path.dirname(HERE))
MIB = 1 << 20
GIB = 1 << 30
CGROUP_ROOT = "/sys/fs/cgroup/memory"
# Under RLIMIT_AS the cap must leave room for address space that is reserved
# but never touched: glibc's per-thread malloc arenas (64 MiB each), thread
# stacks (8 MiB each) and gRPC's pools. Measured on the Debug server (2 cores):
# VmPeak 1.1 GiB idle at 48 MiB RSS, 1.7 GiB at 670 MiB RSS, 2.0 GiB at 1 GiB
# RSS. So the limit is cap + this allowance: it catches a runaway, not a
# 1 GiB overshoot (the cgroup does that).
RLIMIT_AS_ALLOWANCE = 4 * GIB
THRESHOLD_HEALTH_P99 = 1.0
SCENARIOS = ["corpus_files", "huge_tokens", "conn_flood", "big_requests", "reflection",
             "stalled_streams", "metrics_idle", "large_inline"]

grpc = service_pb2 = service_pb2_grpc = health_pb2 = health_pb2_grpc = None
reflection_pb2 = reflection_pb2_grpc = None


def load_stubs(server_bin):
    """Imports tests/e2e/e2e_test (which generates the stubs) once."""
    global grpc, service_pb2, service_pb2_grpc, health_pb2, health_pb2_grpc
    global reflection_pb2, reflection_pb2_grpc
    if grpc is not None:
        return
    os.environ["CONVGEN_SERVER_BIN"] = server_bin
    os.environ.setdefault("CONVGEN_CLIENT_BIN", os.path.join(os.path.dirname(server_bin), "convgen"))
    os.environ.setdefault("CONVGEN_SOURCE_DIR", SOURCE)
    sys.path.insert(0, os.path.join(SOURCE, "tests", "e2e"))
    import e2e_test
    grpc = e2e_test.grpc
    service_pb2, service_pb2_grpc = e2e_test.service_pb2, e2e_test.service_pb2_grpc
    health_pb2, health_pb2_grpc = e2e_test.health_pb2, e2e_test.health_pb2_grpc
    reflection_pb2, reflection_pb2_grpc = e2e_test.reflection_pb2, e2e_test.reflection_pb2_grpc
    import atexit
    atexit.register(shutil.rmtree, e2e_test.WORK, True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def proc_status(pid):
    """VmRSS, VmHWM, VmSize, VmPeak of pid in bytes ({} once it is gone)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            text = f.read()
    except OSError:
        return {}
    return {k: int(v) * 1024 for k, v in re.findall(r"^(Vm\w+):\s+(\d+) kB", text, re.M)}


# ---------------------------------------------------------------- the memory cap


class MemoryCap:
    """A cgroup v1 memory group (mode "cgroup"), RLIMIT_AS ("rlimit") or
    nothing ("none"). preexec() runs in the forked server before exec."""

    def __init__(self, cap_bytes, mode):
        self.cap = cap_bytes
        self.path = None
        if mode == "auto":
            mode = "cgroup" if os.access(CGROUP_ROOT, os.W_OK) else "rlimit"
        self.mode = mode
        if mode == "cgroup":
            self.path = os.path.join(CGROUP_ROOT, f"convgen-hostile-{os.getpid()}")
            os.mkdir(self.path)
            try:
                self._write("memory.limit_in_bytes", cap_bytes)
                # No swap here, but where there is, the cap must include it.
                if os.path.exists(os.path.join(self.path, "memory.memsw.limit_in_bytes")):
                    try:
                        self._write("memory.memsw.limit_in_bytes", cap_bytes)
                    except OSError:
                        pass
            except BaseException:
                self.remove()
                raise

    def _write(self, name, value):
        with open(os.path.join(self.path, name), "w") as f:
            f.write(str(value))

    def _read(self, name):
        try:
            with open(os.path.join(self.path, name)) as f:
                return f.read()
        except OSError:
            return ""

    def preexec(self):
        if self.mode == "cgroup":
            with open(os.path.join(self.path, "cgroup.procs"), "w") as f:
                f.write(str(os.getpid()))
        elif self.mode == "rlimit":
            limit = self.cap + RLIMIT_AS_ALLOWANCE
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    def stats(self):
        if self.mode != "cgroup":
            return {}
        oom = dict(line.split() for line in self._read("memory.oom_control").splitlines() if line.strip())
        return {"cgroup_max_usage_bytes": int(self._read("memory.max_usage_in_bytes") or 0),
                "cgroup_failcnt": int(self._read("memory.failcnt") or 0),
                "cgroup_oom_kills": int(oom.get("oom_kill", 0))}

    def describe(self):
        if self.mode == "cgroup":
            return f"cgroup v1 {self.path}, memory.limit_in_bytes {self.cap}"
        if self.mode == "rlimit":
            return f"RLIMIT_AS {self.cap + RLIMIT_AS_ALLOWANCE} (cap {self.cap} + allowance {RLIMIT_AS_ALLOWANCE})"
        return "none"

    def remove(self):
        if not self.path:
            return
        for _ in range(50):  # the killed server may take a moment to leave
            try:
                os.rmdir(self.path)
                self.path = None
                return
            except FileNotFoundError:
                self.path = None
                return
            except OSError:
                time.sleep(0.1)
        print(f"hostile: could not remove {self.path}", file=sys.stderr)


# ---------------------------------------------------------------- the server


class ServerProcess:
    """convgen-server on 127.0.0.1:0 with metrics, stderr to a log file."""

    def __init__(self, server_bin, cap, workdir, corpus_dir, extra):
        self.metrics_port = free_port()
        self.log_path = os.path.join(workdir, "server.log")
        self.log = open(self.log_path, "w")
        args = [server_bin, "--listen", "127.0.0.1:0", "--metrics-listen", f"127.0.0.1:{self.metrics_port}",
                "--data-dir", os.path.join(SOURCE, "data"), "--corpus-dir", corpus_dir, *extra]
        self.process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=self.log, text=True,
                                        preexec_fn=cap.preexec)
        self.pid = self.process.pid
        line = self.process.stdout.readline()
        match = re.search(r"listening on (127\.0\.0\.1:\d+)", line)
        if not match:
            self.process.kill()
            self.process.wait()
            raise RuntimeError(f"server did not start: {line}{self.read_log()}")
        self.address = match.group(1)
        # Nothing more is printed on stdout; drain it anyway so it can't fill.
        threading.Thread(target=self.process.stdout.read, daemon=True).start()

    def read_log(self):
        if not self.log.closed:
            self.log.flush()
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def stop(self, grace):
        """SIGTERM, then SIGKILL after grace seconds; returns the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                self.process.kill()
        code = self.process.wait()
        self.log.close()
        return code


# ---------------------------------------------------------------- the prober

PROBER = r"""
import json, re, sys, threading, time
import grpc
address, seconds, pid = sys.argv[1], float(sys.argv[2]), sys.argv[3]
check = "/grpc.health.v1.Health/Check"
lock = threading.Lock()
def emit(kind, latency, code):
    line = json.dumps({"kind": kind, "t": time.time(), "latency": latency, "code": code}) + "\n"
    with lock:  # two threads: one write per line
        sys.stdout.write(line)
        sys.stdout.flush()
def call(channel):
    started = time.monotonic()
    try:
        # HealthCheckRequest{service: ""} is empty; SERVING is b"\x08\x01".
        reply = channel.unary_unary(check)(b"", timeout=5)
        code = "OK" if reply == b"\x08\x01" else "NOT_SERVING"
    except grpc.RpcError as e:
        code = e.code().name
    return time.monotonic() - started, code
def fresh():  # a new connection each second: accept and SETTINGS included
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        with grpc.insecure_channel(address) as channel:
            latency, code = call(channel)
        emit("fresh", latency, code)
        time.sleep(1)
def rss():  # the server's RSS every 100 ms, from here so that no GIL delays it
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            with open(f"/proc/{pid}/status") as f:
                kib = int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))
        except (OSError, AttributeError):
            return
        with lock:
            sys.stdout.write(json.dumps({"kind": "rss", "t": time.time(), "rss": kib * 1024}) + "\n")
        time.sleep(0.1)
threading.Thread(target=fresh, daemon=True).start()
threading.Thread(target=rss, daemon=True).start()
channel = grpc.insecure_channel(address)
end = next_at = time.monotonic()
end += seconds
while next_at < end:
    latency, code = call(channel)
    emit("check", latency, code)
    next_at += 0.1
    time.sleep(max(0.0, next_at - time.monotonic()))
"""


def start_prober(address, pid, seconds, workdir):
    """The prober runs in its own process so that the harness's own load (it
    compresses 256 MiB, builds 60 MB requests) does not hold its GIL."""
    out = open(os.path.join(workdir, "probes.jsonl"), "w")
    process = subprocess.Popen([sys.executable, "-c", PROBER, address, str(seconds), str(pid)], stdout=out,
                               stderr=subprocess.DEVNULL)
    return process, out


def read_probes(path):
    with open(path) as f:
        probes = []
        for line in f:
            try:
                probes.append(json.loads(line))
            except ValueError:  # a line cut by a kill
                pass
        return probes


def percentile(values, p):
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def latency_summary(probes):
    latencies = [p["latency"] for p in probes]
    return {"count": len(probes), "failures": sum(p["code"] != "OK" for p in probes),
            "failure_codes": dict(collections.Counter(p["code"] for p in probes if p["code"] != "OK")),
            "p50": percentile(latencies, 50), "p99": percentile(latencies, 99),
            "max": max(latencies) if latencies else None}


# ---------------------------------------------------------------- scenarios


class Outcomes:
    """Counts of outcomes by scenario and status code, thread-safe."""

    def __init__(self):
        self.lock = threading.Lock()
        self.counts = collections.defaultdict(collections.Counter)
        self.notes = collections.defaultdict(dict)
        self.examples = collections.defaultdict(dict)

    def add(self, scenario, code, detail=""):
        with self.lock:
            self.counts[scenario][code] += 1
            if detail and code not in self.examples[scenario]:
                detail = " ".join(detail.split())
                self.examples[scenario][code] = detail if len(detail) <= 300 else (
                    detail[:150] + " ... " + detail[-150:])

    def note(self, scenario, key, value, combine=max):
        with self.lock:
            old = self.notes[scenario].get(key)
            self.notes[scenario][key] = value if old is None else combine(old, value)


def error_code(error):
    if isinstance(error, grpc.RpcError):
        return error.code().name, error.details() or ""
    return type(error).__name__, str(error)


def base_config(**changes):
    with open(os.path.join(SOURCE, "examples", "generate_multi_turn.json")) as f:
        config = json.load(f)
    config.update(changes)
    return config


def small_config(text_files=None, num_conversations=2, turns=2, tokens=100):
    config = base_config(num_conversations=num_conversations)
    config["prompt_input"].update(num_turns={"distribution": "constant", "value": turns},
                                  common_prefix_num_tokens={"distribution": "constant", "value": 50},
                                  prefix_num_tokens={"distribution": "constant", "value": 50},
                                  num_tokens={"distribution": "constant", "value": tokens})
    config["prompt_output"] = {"num_tokens": {"distribution": "constant", "value": tokens}}
    if text_files is not None:
        config["text_files"] = text_files
    return json.dumps(config)


class Harness:
    def __init__(self, address, metrics_port, corpus_dir, stop, outcomes):
        self.address = address
        self.metrics_port = metrics_port
        self.corpus_dir = corpus_dir
        self.stop = stop
        self.out = outcomes
        self.moby = open(os.path.join(SOURCE, "data", "corpus", "moby-dick.txt"), "rb").read()
        # The large payloads are built before the clock starts (they hold the GIL).
        moby = self.moby.decode()
        self.bomb_text = b"a" * (256 * MIB)
        self.plain_text = (moby * (60 * MIB // len(moby) + 1))[:60 * 1000 * 1000].encode()
        self.large_texts = []
        for k in range(5):
            size = (15 + k) * 1000 * 1000  # characters; a few more bytes
            body = moby[k * 9973:] + moby[:k * 9973]  # a distinct text each
            self.large_texts.append((f"variant {k}\n" + body * (size // len(body) + 1))[:size].encode())

    def channel(self):
        return grpc.insecure_channel(self.address, options=[("grpc.max_send_message_length", -1),
                                                            ("grpc.max_receive_message_length", -1)])

    def stub(self, channel):
        return service_pb2_grpc.ConversationServiceStub(channel)

    def generate(self, scenario, stub, request, timeout, compression=None):
        """Runs one Generate to its end; records its status."""
        messages = 0
        try:
            for _ in stub.Generate(request, timeout=timeout, compression=compression):
                messages += 1
            self.out.add(scenario, "OK")
        except Exception as e:  # noqa: BLE001: every outcome is counted
            self.out.add(scenario, *error_code(e))
        return messages

    def validate(self, scenario, stub, request, timeout, compression=None):
        try:
            reply = stub.Validate(request, timeout=timeout, compression=compression)
            self.out.add(scenario, "OK" if reply.valid else "OK(invalid)",
                         "" if reply.valid else str(reply)[:200])
        except Exception as e:  # noqa: BLE001
            self.out.add(scenario, *error_code(e))

    # a. the same file many times; 1,000 distinct small files
    def corpus_files(self, rng):
        with self.channel() as channel:
            stub = self.stub(channel)
            names = sorted(n for n in os.listdir(self.corpus_dir) if n.startswith("part-"))
            while not self.stop.is_set():
                kind = rng.randrange(4)
                if kind == 0:
                    files, label = ["small.txt"] * 1000, "corpus_files"
                elif kind == 1:
                    files, label = names, "corpus_files"  # all 1,000: over the 256 limit
                else:
                    files, label = rng.sample(names, 256), "corpus_files"  # legal, a new corpus
                request = service_pb2.GenerateRequest(config_json=small_config(files), seed=rng.randrange(1 << 30))
                self.generate(label, stub, request, timeout=rng.choice([2, 3, 10]))

    # b. huge token counts; a degenerate corpus with short deadlines
    def huge_tokens(self, rng):
        punct = b"!" * (500 * 1000)
        with self.channel() as channel:
            stub = self.stub(channel)
            while not self.stop.is_set():
                if rng.randrange(2):
                    tokens = rng.choice([16_000_000, 16_777_216])
                    request = service_pb2.GenerateRequest(
                        config_json=small_config(num_conversations=10, tokens=tokens), seed=rng.randrange(1 << 30))
                else:
                    request = service_pb2.GenerateRequest(
                        config_json=small_config(num_conversations=50, tokens=20_000), seed=rng.randrange(1 << 30),
                        inline_corpus=[service_pb2.InlineCorpus(name="punct", text=punct)])
                self.generate("huge_tokens", stub, request, timeout=rng.choice([2, 3]))

    # c. open and close hundreds of TCP connections
    def conn_flood(self, rng):
        host, port = self.address.rsplit(":", 1)
        while not self.stop.is_set():
            sockets, error = [], None
            try:
                for _ in range(400):
                    sockets.append(socket.create_connection((host, int(port)), timeout=5))
            except OSError as e:
                error = e
            time.sleep(0.2)
            for s in sockets:
                s.close()
            if error:
                self.out.add("conn_flood", f"connect_error:{type(error).__name__}", str(error))
            else:
                self.out.add("conn_flood", "OK(400 opened and closed)")
            time.sleep(0.3)

    # d. a gzip bomb and a plain ~60 MB inline request
    def big_requests(self, rng):
        bomb = service_pb2.GenerateRequest(config_json=small_config(), seed=1, inline_corpus=[
            service_pb2.InlineCorpus(name="bomb", text=self.bomb_text)])
        text = self.plain_text
        with self.channel() as channel:
            stub = self.stub(channel)
            while not self.stop.is_set():
                started = time.monotonic()
                self.validate("big_requests:gzip_256MiB", stub, bomb, timeout=60,
                              compression=grpc.Compression.Gzip)
                self.out.note("big_requests:gzip_256MiB", "max_seconds", time.monotonic() - started)
                if self.stop.is_set():
                    break
                plain = service_pb2.GenerateRequest(config_json=small_config(), seed=rng.randrange(1 << 30),
                                                    inline_corpus=[service_pb2.InlineCorpus(
                                                        name=f"plain-{rng.randrange(1 << 30)}", text=text)])
                started = time.monotonic()
                self.generate("big_requests:plain_60MB", stub, plain, timeout=60)
                self.out.note("big_requests:plain_60MB", "max_seconds", time.monotonic() - started)

    # e. 1,000 reflection requests on one stream
    def reflection(self, rng):
        with self.channel() as channel:
            stub = reflection_pb2_grpc.ServerReflectionStub(channel)
            while not self.stop.is_set():
                requests = (reflection_pb2.ServerReflectionRequest(list_services="") for _ in range(1000))
                received = replies = 0
                try:
                    for reply in stub.ServerReflectionInfo(requests, timeout=60):
                        replies += 1
                        received += reply.ByteSize()
                    self.out.add("reflection", "OK")
                except Exception as e:  # noqa: BLE001
                    self.out.add("reflection", *error_code(e))
                self.out.note("reflection", "max_replies_per_stream", replies)
                self.out.note("reflection", "max_bytes_per_stream", received)

    # f. Generate streams whose client never reads; many health Watch streams
    def stalled_streams(self, rng):
        config = base_config(num_conversations=100000)
        config["prompt_input"]["num_tokens"] = {"distribution": "constant", "value": 20000}
        config["prompt_output"]["num_tokens"] = {"distribution": "constant", "value": 20000}
        request = service_pb2.GenerateRequest(config_json=json.dumps(config), seed=3)
        channel = self.channel()
        stub = self.stub(channel)
        health = health_pb2_grpc.HealthStub(channel)
        stalled = []
        try:
            while not self.stop.is_set():
                for _ in range(min(4, 16 - len(stalled))):  # open, read one message, stop reading
                    stream = stub.Generate(request, timeout=600)
                    try:
                        next(stream)
                        self.out.add("stalled_streams:generate", "first_message")
                        stalled.append(stream)
                    except Exception as e:  # noqa: BLE001
                        self.out.add("stalled_streams:generate", *error_code(e))
                watches = []
                for _ in range(150):  # the server takes --max-watch-streams (100)
                    if self.stop.is_set():
                        break
                    watch = health.Watch(health_pb2.HealthCheckRequest(service=""), timeout=30)
                    try:
                        reply = next(watch)
                        self.out.add("stalled_streams:watch", health_pb2.HealthCheckResponse.ServingStatus.Name(
                            reply.status))
                        watches.append(watch)
                    except Exception as e:  # noqa: BLE001
                        self.out.add("stalled_streams:watch", *error_code(e))
                self.stop.wait(3)
                for watch in watches:
                    watch.cancel()
                # Streams the server ended (stall limit) are counted by their status.
                for stream in [s for s in stalled if s.done()]:
                    self.out.add("stalled_streams:generate", f"ended:{stream.code().name}", stream.details() or "")
                    stalled.remove(stream)
        finally:
            for stream in stalled:
                self.out.add("stalled_streams:generate",
                              f"ended:{stream.code().name}" if stream.done() else "still_held_at_end")
                stream.cancel()
            channel.close()

    # g. idle sockets to the /metrics port while GETting /metrics
    def metrics_idle(self, rng):
        url = f"http://127.0.0.1:{self.metrics_port}/metrics"
        while not self.stop.is_set():
            idle = []
            try:
                for _ in range(40):
                    idle.append(socket.create_connection(("127.0.0.1", self.metrics_port), timeout=5))
                cycle_end = time.monotonic() + 5
                while time.monotonic() < cycle_end and not self.stop.is_set():
                    started = time.monotonic()
                    try:
                        with urllib.request.urlopen(url, timeout=5) as response:
                            response.read()
                        self.out.add("metrics_idle", f"HTTP_{response.status}")
                    except Exception as e:  # noqa: BLE001
                        self.out.add("metrics_idle", f"error:{type(e).__name__}", str(e))
                    self.out.note("metrics_idle", "max_get_seconds", time.monotonic() - started)
                    time.sleep(0.5)
            except OSError as e:
                self.out.add("metrics_idle", f"connect_error:{type(e).__name__}", str(e))
                time.sleep(0.5)
            finally:
                for s in idle:
                    s.close()

    # h. large legal inline corpora, distinct, to grow the corpus cache
    def large_inline(self, rng):
        texts = self.large_texts
        with self.channel() as channel:
            stub = self.stub(channel)
            k = 0
            while not self.stop.is_set():
                request = service_pb2.GenerateRequest(
                    config_json=small_config(num_conversations=4), seed=k,
                    inline_corpus=[service_pb2.InlineCorpus(name=f"large-{k % 5}", text=texts[k % 5])])
                started = time.monotonic()
                self.generate("large_inline", stub, request, timeout=60)
                self.out.note("large_inline", "max_seconds", time.monotonic() - started)
                k += 1


def make_corpus_dir(workdir, moby):
    """small.txt (13 KB) and 1,000 distinct files part-NNNN.txt (2-16 KB),
    cut from Moby-Dick on character boundaries (they must stay UTF-8)."""
    corpus = os.path.join(workdir, "corpus")
    os.makedirs(corpus)
    text = moby.decode()
    with open(os.path.join(corpus, "small.txt"), "w") as f:
        f.write(text[:13000])
    for k in range(1000):
        start = (k * 7919) % (len(text) - 20000)
        with open(os.path.join(corpus, f"part-{k:04d}.txt"), "w") as f:
            f.write(text[start:start + 2000 + (k * 131) % 14000])
    return corpus


# ---------------------------------------------------------------- the run


def run(server_bin, seconds=60, cap_bytes=GIB, cap_mode="auto", only=None, server_args=(),
        log=print, keep_log=None):
    """Runs the scenarios (all, or those in `only`) for `seconds` against one
    capped server; returns the report (a dict; report["pass"] is the verdict)."""
    load_stubs(server_bin)
    scenarios = list(only or SCENARIOS)
    unknown = set(scenarios) - set(SCENARIOS)
    if unknown:
        raise ValueError(f"unknown scenarios {sorted(unknown)}; known: {SCENARIOS}")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    workdir = tempfile.mkdtemp(prefix="convgen-hostile-")
    moby = open(os.path.join(SOURCE, "data", "corpus", "moby-dick.txt"), "rb").read()
    corpus_dir = make_corpus_dir(workdir, moby)
    cap = server = prober = probe_out = None
    stop = threading.Event()
    threads = []
    report = {"seconds": seconds, "scenarios": scenarios, "cap_bytes": cap_bytes}
    try:
        cap = MemoryCap(cap_bytes, cap_mode)
        report["cap"] = cap.describe()
        server = ServerProcess(server_bin, cap, workdir, corpus_dir, list(server_args))
        report["server"] = {"pid": server.pid, "address": server.address, "args": list(server_args)}
        log(f"server pid {server.pid} on {server.address}, metrics :{server.metrics_port}; cap: {cap.describe()}")
        baseline = proc_status(server.pid)
        outcomes = Outcomes()
        harness = Harness(server.address, server.metrics_port, corpus_dir, stop, outcomes)
        prober, probe_out = start_prober(server.address, server.pid, seconds, workdir)
        threads_per = {"huge_tokens": 2}
        for name in scenarios:
            for k in range(threads_per.get(name, 1)):
                thread = threading.Thread(target=getattr(harness, name), args=(random.Random(k * 1000 + 7),),
                                          name=f"{name}-{k}", daemon=True)
                thread.start()
                threads.append(thread)
        started = time.monotonic()
        status = {}
        while time.monotonic() - started < seconds and server.process.poll() is None:
            status = proc_status(server.pid) or status  # its last VmHWM, VmPeak
            time.sleep(0.1)
        final = proc_status(server.pid) or status
        stop.set()
        # Every call has a deadline (at most 60 s, the stalled streams are
        # cancelled), so each thread ends; one that does not is a hang.
        join_deadline = time.monotonic() + 75
        for thread in threads:
            thread.join(timeout=max(0.1, join_deadline - time.monotonic()))
        hung = [t.name for t in threads if t.is_alive()]
        prober.wait(timeout=30)
        probe_out.close()
        probes = read_probes(probe_out.name)
        t0 = min((p["t"] for p in probes), default=0)
        samples = [(p["t"] - t0, p["rss"]) for p in probes if p["kind"] == "rss"]
        curve = {}
        for t, r in samples:  # the largest sample of each second
            curve[int(t)] = max(curve.get(int(t), 0), r)
        exit_code = server.process.poll()
        report.update({
            "survived": exit_code is None,
            "exit_code": exit_code,
            "peak_rss_bytes": {"VmHWM": final.get("VmHWM"), "sampled_max": max((r for _, r in samples), default=0),
                               "VmPeak_virtual": final.get("VmPeak"), "baseline_VmRSS": baseline.get("VmRSS")},
            "rss_curve_mib": [(t, round(r / MIB)) for t, r in sorted(curve.items())],
            "cgroup": cap.stats(),
            "health": latency_summary([p for p in probes if p["kind"] == "check"]),
            "health_fresh_connection": latency_summary([p for p in probes if p["kind"] == "fresh"]),
            "outcomes": {k: dict(v) for k, v in sorted(outcomes.counts.items())},
            "outcome_examples": {k: v for k, v in sorted(outcomes.examples.items())},
            "notes": {k: v for k, v in sorted(outcomes.notes.items())},
            "hung_threads": hung,
        })
        if exit_code is None:
            stopping = time.monotonic()
            report["shutdown_exit_code"] = server.stop(grace=40)
            report["shutdown_seconds"] = round(time.monotonic() - stopping, 1)
        server_log = server.read_log()
        report["server_log"] = {
            "lines": server_log.count("\n"),
            "by_level": dict(collections.Counter(re.findall(r"^\S+ \S+ (\w+) ", server_log, re.M))),
            "warnings_and_errors": unique_lines(server_log, r" (warn|warning|error|critical) ", 15),
        }
        if keep_log:
            shutil.copy(server.log_path, keep_log)
        report.update(verdict(report, scenarios))
        return report
    finally:
        stop.set()
        if prober and prober.poll() is None:
            prober.kill()
            prober.wait()
        if probe_out:
            probe_out.close()
        if server:
            if server.process.poll() is None:
                server.process.kill()
            server.process.wait()
        if cap:
            cap.remove()
        shutil.rmtree(workdir, ignore_errors=True)


def unique_lines(text, pattern, limit):
    """Up to `limit` matching lines, digits folded so repeats show once, with counts."""
    seen = collections.OrderedDict()
    for line in text.splitlines():
        if re.search(pattern, line):
            key = re.sub(r"\d+", "N", line.split(" ", 2)[-1])[:240]
            seen.setdefault(key, [0, line[:300]])[0] += 1
    return [f"{count}x {line}" for count, line in list(seen.values())[:limit]]


def verdict(report, scenarios):
    health = report["health"]
    peak = max(report["peak_rss_bytes"]["VmHWM"] or 0, report["peak_rss_bytes"]["sampled_max"])
    checks = {
        "server survived": report["survived"],
        f"health p99 < {THRESHOLD_HEALTH_P99} s": health["p99"] is not None and health["p99"] < THRESHOLD_HEALTH_P99,
        "no health failure": health["count"] > 0 and health["failures"] == 0,
        "peak RSS below the cap": peak < report["cap_bytes"],
        "no OOM kill in the cgroup": report["cgroup"].get("cgroup_oom_kills", 0) == 0,
        "every scenario answered": all(
            any(k == s or k.startswith(s + ":") for k in report["outcomes"]) for s in scenarios),
        "no hung thread": not report["hung_threads"],
    }
    return {"checks": checks, "pass": all(checks.values())}


def mib(value):
    return "n/a" if value is None else f"{value / MIB:.1f} MiB"


def ms(value):
    return "n/a" if value is None else f"{value * 1000:.1f} ms"


def format_report(r):
    lines = [f"convgen hostile load: {r['seconds']} s, scenarios {', '.join(r['scenarios'])}",
             f"memory cap: {r['cap']}",
             f"server survived: {r['survived']}" + ("" if r["survived"] else f" (exit code {r['exit_code']})"),
             f"after the run, SIGTERM: exit code {r['shutdown_exit_code']} after {r['shutdown_seconds']} s"
             " (-9: still running after 40 s, killed)" if "shutdown_exit_code" in r else
             "after the run: (server already gone)"]
    peak = r["peak_rss_bytes"]
    lines.append(f"peak RSS: VmHWM {mib(peak['VmHWM'])}, sampled max {mib(peak['sampled_max'])} "
                 f"(start {mib(peak['baseline_VmRSS'])}; VmPeak virtual {mib(peak['VmPeak_virtual'])})")
    if r["cgroup"]:
        c = r["cgroup"]
        lines.append(f"cgroup: max usage {mib(c['cgroup_max_usage_bytes'])}, failcnt {c['cgroup_failcnt']}, "
                     f"oom kills {c['cgroup_oom_kills']}")
    lines.append("RSS curve (s: MiB): " + " ".join(f"{t}:{m}" for t, m in r["rss_curve_mib"]))
    for key, title in [("health", "health Check every 100 ms"),
                       ("health_fresh_connection", "health Check on a new connection every 1 s")]:
        h = r[key]
        lines.append(f"{title}: {h['count']} calls, p50 {ms(h['p50'])}, p99 {ms(h['p99'])}, max {ms(h['max'])}, "
                     f"failures {h['failures']} {h['failure_codes'] or ''}")
    lines.append("outcomes by scenario:")
    for scenario, counts in r["outcomes"].items():
        lines.append(f"  {scenario}: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
        for code, detail in r["outcome_examples"].get(scenario, {}).items():
            lines.append(f"      {code}: {detail}")
    for scenario, notes in r["notes"].items():
        lines.append(f"  {scenario}: " + ", ".join(
            f"{k} {v:.2f}" if isinstance(v, float) else f"{k} {v}" for k, v in notes.items()))
    if r["hung_threads"]:
        lines.append(f"hung threads: {r['hung_threads']}")
    log = r["server_log"]
    lines.append(f"server log: {log['lines']} lines {log['by_level']}")
    lines += [f"  {line}" for line in log["warnings_and_errors"]]
    lines.append("checks:")
    lines += [f"  [{'pass' if ok else 'FAIL'}] {name}" for name, ok in r["checks"].items()]
    lines.append("RESULT: " + ("PASS" if r["pass"] else "FAIL"))
    return "\n".join(lines)


def interrupt(signum, frame):
    raise KeyboardInterrupt


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--server-bin", default=os.environ.get("CONVGEN_SERVER_BIN"),
                        help="convgen-server to run (default: $CONVGEN_SERVER_BIN)")
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--memory-cap", type=int, default=GIB, help="bytes (default 1 GiB, the pod limit)")
    parser.add_argument("--cap-mode", choices=["auto", "cgroup", "rlimit", "none"], default="auto")
    parser.add_argument("--only", help=f"comma-separated scenarios, of: {','.join(SCENARIOS)}")
    parser.add_argument("--json", help="also write the report as JSON to this file")
    parser.add_argument("--server-log", help="copy the server's stderr to this file")
    parser.add_argument("server_args", nargs="*", help="after --: extra convgen-server flags")
    args = parser.parse_args(argv)
    if not args.server_bin:
        parser.error("--server-bin or CONVGEN_SERVER_BIN is required")
    only = args.only.split(",") if args.only else None
    # Ctrl-C (SIGINT) and SIGTERM both unwind through run()'s cleanup.
    signal.signal(signal.SIGTERM, interrupt)
    try:
        report = run(os.path.abspath(args.server_bin), args.seconds, args.memory_cap, args.cap_mode, only,
                     args.server_args, log=lambda m: print(m, file=sys.stderr, flush=True),
                     keep_log=args.server_log)
    except KeyboardInterrupt:
        print("hostile: interrupted; server, prober and cgroup removed", file=sys.stderr)
        return 130
    print(format_report(report))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=2)
    return 0 if report["pass"] else 1
