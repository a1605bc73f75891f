"""A client never hangs and never loses what it wrote (issue 15): the real
convgen client against a convgen-server that stops sending (SIGSTOP), one
killed mid-stream (SIGKILL), and a Python gRPC server that answers Generate
with bytes that are not a GenerateResponse. Each ends with exit 1, a message
naming the reason, the resume index, and a partial file holding exactly the
conversations before it.

Run by ctest like e2e_test.py (CONVGEN_SERVER_BIN, CONVGEN_CLIENT_BIN,
CONVGEN_SOURCE_DIR); needs /usr/bin/python3 (python3-grpcio).
"""
import concurrent.futures
import json
import os
import re
import signal
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import e2e_test  # noqa: E402,F401  (builds the Python stubs on import)
from e2e_test import CLIENT, EXAMPLE, WORK, Server, grpc, service_pb2, service_pb2_grpc  # noqa: E402

IDLE_SECONDS = 5
# The service the fake server answers for, as proto/convgen/v1/service.proto names it.
SERVICE = service_pb2.DESCRIPTOR.services_by_name["ConversationService"].full_name


def write_config(name, conversations):
    with open(EXAMPLE) as f:
        config = json.load(f)
    config["num_conversations"] = conversations
    path = os.path.join(WORK, name)
    with open(path, "w") as f:
        json.dump(config, f)
    return path


def reference(address, config_path, count, seed):
    """The first `count` conversations as vLLM's JSON, read by the Python
    client: what the convgen client's file must hold."""
    with open(config_path) as f:
        config = f.read()
    channel = grpc.insecure_channel(address, options=[("grpc.max_receive_message_length", -1)])
    stream = service_pb2_grpc.ConversationServiceStub(channel).Generate(
        service_pb2.GenerateRequest(config_json=config, seed=seed))
    conversations, messages = [], []
    for response in stream:
        if len(conversations) == count:
            break
        if response.HasField("turn"):
            role = "assistant" if response.turn.role == service_pb2.ROLE_ASSISTANT else "user"
            messages.append({"role": role, "content": response.turn.content})
        elif response.HasField("conversation_end"):
            conversations.append({"id": response.conversation_end.conversation_id,
                                  "messages": messages})
            messages = []
    stream.cancel()
    channel.close()
    return conversations


def wait_for_size(path, size, process):
    while (os.path.getsize(path) if os.path.exists(path) else 0) < size:
        if process.poll() is not None:
            raise AssertionError(f"the client ended first: {process.communicate()[1]}")
        time.sleep(0.01)


class HangTest(unittest.TestCase):
    def check_broken_run(self, stderr, output, config_path, seed):
        """The message names the kept file and the index; the file holds
        exactly the conversations before it; nothing is at --output."""
        match = re.search(r"; (\S+) holds exactly the conversations from index 0 before index "
                          r"(\d+); resume with --start-index (\d+)", stderr)
        self.assertIsNotNone(match, stderr)
        kept, before, resume = match.group(1), int(match.group(2)), int(match.group(3))
        self.assertEqual(before, resume)
        self.assertEqual(kept, f"{output}.0-{resume}.partial")
        self.assertFalse(os.path.exists(output))
        self.assertFalse(os.path.exists(output + ".partial"))
        with open(kept) as f:
            head = json.load(f)
        self.assertEqual(len(head), resume)
        server = Server()
        try:
            self.assertEqual(head, reference(server.address, config_path, resume, seed))
        finally:
            server.stop()
        return resume

    def test_a_server_that_stops_sending_ends_the_client_after_the_idle_limit(self):
        config = write_config("hang-stop.json", 100000)
        output = os.path.join(WORK, "hang-stop-out.json")
        server = Server()
        try:
            # The first request prepares the corpus (seconds on a loaded
            # machine, which the idle limit would rightly count): done first.
            subprocess.run([CLIENT, "generate", "--server", server.address, "--input-file",
                            EXAMPLE, "--output", os.devnull], check=True, capture_output=True)
            process = subprocess.Popen(
                [CLIENT, "generate", "--server", server.address, "--input-file", config,
                 "--output", output, "--seed", "3", "--idle-timeout", str(IDLE_SECONDS)],
                stderr=subprocess.PIPE, text=True)
            wait_for_size(output + ".partial", 100000, process)
            server.process.send_signal(signal.SIGSTOP)
            stopped = time.monotonic()
            stderr = process.communicate(timeout=IDLE_SECONDS + 30)[1]
            waited = time.monotonic() - stopped
        finally:
            server.process.send_signal(signal.SIGCONT)
            server.process.kill()
            server.stop()
        self.assertEqual(process.returncode, 1, stderr)
        self.assertIn(f"convgen: no message from the server for {IDLE_SECONDS} s (--idle-timeout)",
                      stderr)
        # The buffered messages, then the limit, then a few seconds of slack.
        self.assertLess(waited, IDLE_SECONDS + 15, stderr)
        print(f"\nstopped server: the client exited {waited:.1f} s later", file=sys.stderr)
        self.assertGreater(self.check_broken_run(stderr, output, config, 3), 0)

    def test_a_server_killed_mid_stream_ends_the_client_at_once(self):
        config = write_config("hang-kill.json", 100000)
        output = os.path.join(WORK, "hang-kill-out.json")
        server = Server()
        process = subprocess.Popen(
            [CLIENT, "generate", "--server", server.address, "--input-file", config,
             "--output", output, "--seed", "4"], stderr=subprocess.PIPE, text=True)
        wait_for_size(output + ".partial", 100000, process)
        server.process.kill()
        killed = time.monotonic()
        stderr = process.communicate(timeout=30)[1]
        waited = time.monotonic() - killed
        server.stop()
        self.assertEqual(process.returncode, 1, stderr)
        self.assertIn("convgen: server error ", stderr)
        # Well before the default idle limit (60 s): the client saw the connection go.
        self.assertLess(waited, 30, stderr)
        self.assertGreater(self.check_broken_run(stderr, output, config, 4), 0)

    def test_an_unparsable_message_ends_the_client_naming_it(self):
        """A Python gRPC server sends one whole conversation, then bytes that
        are not a GenerateResponse, then valid messages forever: a client
        that did not cancel would wait for it to end."""
        def conversation(index):
            cid = f"CONV_ID_{index}"
            yield service_pb2.GenerateResponse(conversation_start=service_pb2.ConversationStart(
                conversation_index=index, conversation_id=cid, num_turns=2))
            for turn, role in enumerate((service_pb2.ROLE_USER, service_pb2.ROLE_ASSISTANT)):
                yield service_pb2.GenerateResponse(turn=service_pb2.TurnMessage(
                    conversation_index=index, conversation_id=cid, turn_index=turn, num_turns=2,
                    role=role, content=f"text {index} {turn}", num_tokens=3))
            yield service_pb2.GenerateResponse(conversation_end=service_pb2.ConversationEnd(
                conversation_index=index, conversation_id=cid))

        sent_after = []

        def generate(request, context):
            yield from conversation(0)
            # Wire type 6 does not exist: no protobuf parser accepts this.
            yield b"\x0e not a GenerateResponse"
            index = 1
            while context.is_active():
                yield from conversation(index)
                sent_after.append(index)
                index += 1
                time.sleep(0.01)

        def serialize(message):
            return message if isinstance(message, bytes) else message.SerializeToString()

        handler = grpc.method_handlers_generic_handler(SERVICE, {
            "Generate": grpc.unary_stream_rpc_method_handler(
                generate, request_deserializer=service_pb2.GenerateRequest.FromString,
                response_serializer=serialize)})
        server = grpc.server(concurrent.futures.ThreadPoolExecutor(max_workers=4))
        server.add_generic_rpc_handlers((handler,))
        port = server.add_insecure_port("127.0.0.1:0")
        server.start()
        output = os.path.join(WORK, "hang-garbage-out.json")
        try:
            started = time.monotonic()
            result = subprocess.run(
                [CLIENT, "generate", "--server", f"127.0.0.1:{port}", "--input-file", EXAMPLE,
                 "--output", output, "--idle-timeout", "60"],
                capture_output=True, text=True, timeout=60)
            elapsed = time.monotonic() - started
        finally:
            server.stop(grace=None)
        self.assertEqual(result.returncode, 1, result.stderr)
        self.assertIn("convgen: message 5 from the server (24 bytes) is not a GenerateResponse",
                      result.stderr)
        self.assertIn(f"; {output}.0-1.partial holds exactly the conversations from index 0 "
                      "before index 1; resume with --start-index 1", result.stderr)
        self.assertLess(elapsed, 40, result.stderr)  # at once, not after the 60 s idle limit
        with open(f"{output}.0-1.partial") as f:
            self.assertEqual(json.load(f), [{"id": "CONV_ID_0", "messages": [
                {"role": "user", "content": "text 0 0"},
                {"role": "assistant", "content": "text 0 1"}]}])
        self.assertFalse(os.path.exists(output))


if __name__ == "__main__":
    unittest.main()
