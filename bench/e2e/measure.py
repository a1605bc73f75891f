"""Drives bench/e2e/run; see there. Prints one table and exits."""
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

conversations = int(sys.argv[1])
root = os.getcwd()
build = os.path.join(root, "build/release")
work = tempfile.mkdtemp(prefix="convgen-bench-")
with open("examples/generate_multi_turn.json") as f:
    config = json.load(f)
config["num_conversations"] = conversations
config_path = os.path.join(work, "config.json")
with open(config_path, "w") as f:
    json.dump(config, f)
small_path = os.path.join(work, "small.json")
with open(small_path, "w") as f:
    json.dump(dict(config, num_conversations=1), f)


def start(args):
    process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = process.stdout.readline()
    address = re.search(r"listening on (\S+)", line).group(1)
    return process, address


def peak_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(r"VmHWM:\s+(\d+)", f.read()).group(1)) / 1024


def client_run(address, out):
    started = time.monotonic()
    subprocess.run([f"{build}/client/convgen", "generate", "--server", address, "--input-file",
                    config_path, "--output", out, "--format", "jsonl", "--seed", "1"], check=True)
    return time.monotonic() - started


def first_turn_latencies(address, n=200):
    """Time to the first turn of a one-conversation request, by the real client."""
    import grpc  # Debian's python3-grpcio
    sys.path.insert(0, stubs)
    from convgen.v1 import service_pb2, service_pb2_grpc
    with open(small_path) as f:
        request = service_pb2.GenerateRequest(config_json=f.read(), seed=1)
    latencies = []
    with grpc.insecure_channel(address) as channel:
        stub = service_pb2_grpc.ConversationServiceStub(channel)
        list(stub.Generate(request))  # warm up
        for _ in range(n):
            started = time.monotonic()
            for event in stub.Generate(request):
                if event.WhichOneof("event") == "turn":
                    latencies.append(time.monotonic() - started)
                    break
    latencies.sort()
    return latencies[len(latencies) // 2] * 1e3, latencies[int(len(latencies) * 0.99)] * 1e3


stubs = os.path.join(work, "stubs")
os.makedirs(stubs)
subprocess.run(["protoc", f"--python_out={stubs}", f"--grpc_out={stubs}",
                "--plugin=protoc-gen-grpc=/usr/bin/grpc_python_plugin", "-I", "proto",
                "convgen/v1/config.proto", "convgen/v1/service.proto"], check=True)

server, address = start([f"{build}/server/convgen-server", "--listen", "127.0.0.1:0"])
out = os.path.join(work, "real.jsonl")
real_seconds = client_run(address, out)
size = os.path.getsize(out)
with open(out) as f:
    turns = sum(1 for _ in f)
ttft_p50, ttft_p99 = first_turn_latencies(address)
server_peak = peak_mib(server.pid)
server.terminate()
server.wait()

replay, replay_address = start([f"{build}/bench/replay_server", "--listen", "127.0.0.1:0",
                                "--config", config_path, "--seed", "1"])
limit_out = os.path.join(work, "limit.jsonl")
limit_seconds = client_run(replay_address, limit_out)
replay.terminate()
replay.wait()
same = open(out, "rb").read() == open(limit_out, "rb").read()

print(f"conversations {conversations}, turns {turns}, output {size / 1e6:.1f} MB (jsonl)")
print(f"convgen-server: {real_seconds:.2f} s, {turns / real_seconds:,.0f} turns/s, "
      f"{size / 1e6 / real_seconds:.1f} MB/s, server peak RSS {server_peak:.0f} MiB")
print(f"limit (replay_server, same bytes pre-built): {limit_seconds:.2f} s, "
      f"{turns / limit_seconds:,.0f} turns/s, {size / 1e6 / limit_seconds:.1f} MB/s; "
      f"outputs identical: {same}")
print(f"ratio convgen/limit: {limit_seconds / real_seconds:.2f}")
print(f"time to first turn (1-conversation requests, Python grpcio client, n=200): "
      f"p50 {ttft_p50:.2f} ms, p99 {ttft_p99:.2f} ms")
