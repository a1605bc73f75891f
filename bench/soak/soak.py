"""Load and soak: 64 concurrent Generate streams against the real server over
loopback, repeated for DURATION seconds with mixed configs and seeds. Every
stream's digest must equal the digest of the first stream with the same
(config, seed); zero errors; the server's peak RSS is reported.
Run by bench/soak/run; prints one summary and exits non-zero on any error."""
import concurrent.futures
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time

duration = float(sys.argv[1]) if len(sys.argv) > 1 else 60
streams = int(sys.argv[2]) if len(sys.argv) > 2 else 64
root = os.getcwd()
build = os.path.join(root, "build/release")
work = tempfile.mkdtemp(prefix="convgen-soak-")
stubs = os.path.join(work, "stubs")
os.makedirs(stubs)
subprocess.run(["protoc", f"--python_out={stubs}", f"--grpc_out={stubs}",
                "--plugin=protoc-gen-grpc=/usr/bin/grpc_python_plugin", "-I", "proto",
                "convgen/v1/config.proto", "convgen/v1/service.proto"], check=True)
sys.path.insert(0, stubs)
import grpc  # noqa: E402
from convgen.v1 import service_pb2, service_pb2_grpc  # noqa: E402

configs = []
for name in ["generate_multi_turn.json", "lognormal_mean_sigma.json", "chat_short.json",
             "constant_smoke.json"]:
    with open(os.path.join("examples", name)) as f:
        config = json.load(f)
    config["num_conversations"] = 8
    configs.append(json.dumps(config))

server = subprocess.Popen([f"{build}/server/convgen-server", "--listen", "127.0.0.1:0",
                           "--max-concurrent-streams", str(streams)],
                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
address = re.search(r"listening on (\S+)", server.stdout.readline()).group(1)
peak = [0.0]
stop = threading.Event()


def watch_memory():
    while not stop.is_set():
        with open(f"/proc/{server.pid}/status") as f:
            peak[0] = max(peak[0], int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1)) / 1024)
        time.sleep(0.2)


threading.Thread(target=watch_memory, daemon=True).start()
expected = {}
lock = threading.Lock()
totals = {"streams": 0, "turns": 0, "errors": 0, "mismatches": 0}
channel = grpc.insecure_channel(address)
stub = service_pb2_grpc.ConversationServiceStub(channel)
deadline = time.monotonic() + duration


def worker(k):
    i = 0
    while time.monotonic() < deadline:
        config_index, seed = (k + i) % len(configs), (k * 7 + i) % 5
        i += 1
        digest = hashlib.sha256()
        turns = 0
        try:
            for event in stub.Generate(service_pb2.GenerateRequest(config_json=configs[config_index],
                                                                   seed=seed), timeout=120):
                if event.WhichOneof("event") == "turn":
                    digest.update(event.turn.SerializeToString())
                    turns += 1
        except grpc.RpcError as e:
            with lock:
                totals["errors"] += 1
                print(f"stream error: {e.code()} {e.details()}", file=sys.stderr)
            continue
        with lock:
            key = (config_index, seed)
            first = expected.setdefault(key, digest.hexdigest())
            totals["mismatches"] += first != digest.hexdigest()
            totals["streams"] += 1
            totals["turns"] += turns


started = time.monotonic()
with concurrent.futures.ThreadPoolExecutor(streams) as pool:
    list(pool.map(worker, range(streams)))
elapsed = time.monotonic() - started
stop.set()
channel.close()
server.terminate()
code = server.wait()
print(f"{streams} concurrent streams for {elapsed:.0f} s: {totals['streams']} streams, "
      f"{totals['turns']} turns ({totals['turns'] / elapsed:,.0f}/s), {totals['errors']} errors, "
      f"{totals['mismatches']} digest mismatches over {len(expected)} (config, seed) pairs; "
      f"server peak RSS {peak[0]:.0f} MiB; server exit {code}")
sys.exit(0 if totals["errors"] == 0 and totals["mismatches"] == 0 and code == 0 else 1)
