"""A local stand-in for an OpenAI-compatible Chat Completions endpoint, for
tests of load drivers (examples/locust): POST /v1/chat/completions answers in
the Chat Completions shape (with "stream": true, as server-sent events) and
records every request with the times it arrived and was answered.

    server = MockOpenAI()            # 127.0.0.1, a free port; server.url
    ...                              # drive it
    server.requests                  # [Recorded(body, arrived, answered)], in arrival order
    server.stop()

Run alone (python3 mock_openai.py --port 8000) it serves until interrupted and
prints one JSON line per request.
"""
import argparse
import dataclasses
import http.server
import json
import sys
import threading
import time


@dataclasses.dataclass
class Recorded:
    body: dict
    arrived: float  # time.monotonic() when the request was read
    answered: float  # time.monotonic() when the answer was written


def answer_text(body):
    """The answer: max_tokens words naming the request (deterministic)."""
    n = body.get("max_tokens") or 16
    user = sum(1 for m in body.get("messages", []) if m.get("role") == "user")
    return " ".join([f"answer{user}"] * int(n))


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def handle(self):
        try:
            super().handle()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (e.g. its timeout during a stall)

    def do_POST(self):
        arrived = time.monotonic()
        length = int(self.headers.get("Content-Length", 0))
        raw = self.rfile.read(length)
        if self.path != "/v1/chat/completions":
            return self._send(404, {"error": {"message": f"no route {self.path}"}})
        try:
            body = json.loads(raw)
            if not isinstance(body.get("messages"), list) or not body["messages"]:
                raise ValueError("messages: a non-empty list is required")
        except ValueError as error:
            return self._send(400, {"error": {"message": str(error)}})
        if self.server.stall:
            time.sleep(self.server.stall)  # a stalled endpoint: the client times out first
        text = answer_text(body)
        completion_tokens = int(body.get("max_tokens") or 16)
        prompt_tokens = sum(len(str(m.get("content", "")).split()) for m in body["messages"])
        if body.get("stream") and not self.server.never_stream:
            self._stream(body, text)
        else:
            self._send(200, {
                "id": f"chatcmpl-{len(self.server.recorded)}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body.get("model", ""),
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                             "finish_reason": "length"}],
                "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                          "total_tokens": prompt_tokens + completion_tokens},
            })
        recorded = Recorded(body, arrived, time.monotonic())
        with self.server.lock:
            self.server.recorded.append(recorded)
        if self.server.echo:
            print(json.dumps(body), flush=True)

    def _send(self, status, payload):
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _stream(self, body, text):
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Connection", "close")
        self.end_headers()
        for k, word in enumerate(text.split(" ")):
            chunk = {"object": "chat.completion.chunk", "model": body.get("model", ""),
                     "choices": [{"index": 0, "delta": {"content": (" " if k else "") + word},
                                  "finish_reason": None}]}
            self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
        self.wfile.write(b"data: [DONE]\n\n")
        self.close_connection = True


class MockOpenAI:
    """The endpoint on 127.0.0.1 (port 0: a free one), served by a thread."""

    def __init__(self, port=0, echo=False, never_stream=False, stall=0.0):
        """never_stream: answer stream: true with plain JSON; stall: seconds
        to wait before each answer."""
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", port), _Handler)
        self._server.daemon_threads = True
        self._server.recorded = []
        self._server.lock = threading.Lock()
        self._server.echo = echo
        self._server.never_stream = never_stream
        self._server.stall = stall
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def requests(self):
        with self._server.lock:
            return sorted(self._server.recorded, key=lambda r: r.arrived)

    def stop(self):
        self._server.shutdown()
        self._server.server_close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=8000)
    port = parser.parse_args().port
    server = MockOpenAI(port, echo=True)
    print(f"serving {server.url}/v1/chat/completions", file=sys.stderr, flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        server.stop()
