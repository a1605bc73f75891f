"""Locust users that replay convgen conversations against an OpenAI-compatible
Chat Completions endpoint (vLLM, SGLang, TGI, ...).

Each user streams its own shard of the workload from convgen (user k of N
plays the conversations with index % N == k) through the Python client
(clients/python), one conversation after another. For each user message it
waits the message's think_time_ms, then POSTs /v1/chat/completions with the
conversation so far and max_tokens = the size convgen planned for the
answer. The run ends when every user has played its shard (or at -t).

    PYTHONPATH=clients/python CONVGEN_PYTHON_STUBS=build/dev/clients/python \\
    locust -f examples/locust/locustfile.py --headless -u 8 -r 8 \\
        --host http://localhost:8000 --convgen-server localhost:50051 \\
        --convgen-config examples/generate_multi_turn.json --model Qwen/Qwen3-8B

The user count N is fixed up front: the shards are decided when the users
start (N = --convgen-users, else -u). Users spawned beyond N (a ramp past
it, or the web UI's "edit" raising the count) have no shard and stop at
once; lowering the count leaves the stopped users' shards unplayed. With
several Locust workers (--processes or --worker), each process numbers its
own users from 0: run a single process.

Arguments a run could not finish with (-u 0, -u below --convgen-users, an
unreadable --convgen-config or --convgen-tls-ca, ...) end locust at once
with a failure code and the reason. Without --model the body has no model
(the endpoint uses its served model).

Arrival times: a conversation with arrival_ms (a config whose shape_source
is a Mooncake-style trace) starts that many milliseconds after the first
user started, not before; its user waits until then. A user still busy
with an earlier conversation starts it late: give enough users (-u) for the
trace's concurrency. Conversations without arrival_ms start at once.

History: by default the assistant messages of the history are convgen's
(--convgen-history convgen), so every request holds exactly the tokens
convgen planned and the prompts are the same across runs and endpoints;
--convgen-history endpoint puts the endpoint's answers there instead, as a
chat client would. --convgen-min-tokens also sends min_tokens = max_tokens
and ignore_eos (vLLM's extensions) so that answers have the planned length.
--convgen-stream asks for server-sent events and reports each answer's time
to first token as a separate Locust entry (type TTFT).
"""
import itertools
import json
import os
import sys
import time

# gRPC's blocking calls must yield to gevent, and this must happen before any
# channel exists.
import grpc.experimental.gevent as grpc_gevent

grpc_gevent.init_gevent()

_HERE = os.path.dirname(os.path.abspath(__file__))
_SOURCE = os.path.dirname(os.path.dirname(_HERE))
sys.path.insert(0, os.path.join(_SOURCE, "clients", "python"))
if not os.environ.get("CONVGEN_PYTHON_STUBS"):
    # The dev build's stubs, when run from the source tree.
    built = os.path.join(_SOURCE, "build", "dev", "clients", "python")
    if os.path.isdir(built):
        os.environ["CONVGEN_PYTHON_STUBS"] = built

import gevent  # noqa: E402
import requests  # noqa: E402
from locust import HttpUser, constant, events, task  # noqa: E402
from locust.exception import StopUser  # noqa: E402

from convgen_client import Client, ConvgenError  # noqa: E402


@events.init_command_line_parser.add_listener
def _add_arguments(parser):
    group = parser.add_argument_group("convgen")
    group.add_argument("--convgen-server", env_var="CONVGEN_SERVER", default="localhost:50051",
                       help="convgen's address (host:port or unix:/path)")
    group.add_argument("--convgen-config", env_var="CONVGEN_CONFIG",
                       default=os.path.join(_SOURCE, "examples", "generate_multi_turn.json"),
                       help="the generation config (vLLM's JSON); text_files next to it are "
                       "sent inline")
    group.add_argument("--convgen-seed", env_var="CONVGEN_SEED", type=int, default=0)
    group.add_argument("--convgen-tokenizer", env_var="CONVGEN_TOKENIZER", default="",
                       help="a tokenizer the server has (empty: its default)")
    group.add_argument("--convgen-users", env_var="CONVGEN_USERS", type=int, default=0,
                       help="number of shards (0: the user count, -u)")
    group.add_argument("--convgen-history", env_var="CONVGEN_HISTORY",
                       choices=["convgen", "endpoint"], default="convgen",
                       help="whose assistant messages the history holds")
    group.add_argument("--convgen-min-tokens", env_var="CONVGEN_MIN_TOKENS",
                       action="store_true", default=False,
                       help="also send min_tokens = max_tokens and ignore_eos: true")
    group.add_argument("--convgen-stream", env_var="CONVGEN_STREAM", action="store_true",
                       default=False,
                       help="send stream: true; report time to first token (type TTFT)")
    group.add_argument("--convgen-tls-ca", env_var="CONVGEN_TLS_CA", default=None,
                       help="CA certificate (PEM) of a TLS convgen server")
    group.add_argument("--convgen-http-timeout", env_var="CONVGEN_HTTP_TIMEOUT", type=float,
                       default=600.0,
                       help="seconds one chat completion may take (connect and between "
                       "bytes); past it the request is a failure")
    group.add_argument("--model", env_var="OPENAI_MODEL", default=None,
                       help="the model field of each request (none: left out, the endpoint "
                       "uses its served model)")
    group.add_argument("--api-key", env_var="OPENAI_API_KEY", default="",
                       help="sent as Authorization: Bearer KEY")


def _refuse(message):
    """Ends locust at once with a failure code, before any user starts."""
    sys.exit(f"convgen locustfile: {message}")


@events.init.add_listener
def _check_arguments(environment, **_kwargs):
    """Arguments that would make a run fail in every user, or never end, are refused here."""
    options = environment.parsed_options
    if options is None:
        return
    if options.convgen_users < 0:
        _refuse(f"--convgen-users {options.convgen_users}: must be >= 0 (0: the user count, -u)")
    if options.headless and not options.worker:
        users = 1 if options.num_users is None else options.num_users  # Locust's default
        if users < 1:
            _refuse(f"-u {users}: give at least one user")
        if options.convgen_users > users:
            _refuse(f"-u {users} is below --convgen-users {options.convgen_users}: "
                    f"shards {users}..{options.convgen_users - 1} would never be "
                    "played; raise -u or lower --convgen-users")
    if not options.convgen_http_timeout > 0:
        _refuse(f"--convgen-http-timeout {options.convgen_http_timeout}: must be > 0 seconds")
    for flag, path in (("--convgen-config", options.convgen_config),
                       ("--convgen-tls-ca", options.convgen_tls_ca)):
        if path is None:
            continue
        try:
            with open(path, "rb"):
                pass
        except OSError as error:
            _refuse(f"{flag} {path}: cannot read it ({error.strerror})")
    try:
        Client(options.convgen_server, root_certificates=options.convgen_tls_ca).close()
    except (ValueError, OSError) as error:
        _refuse(f"--convgen-server: {error}")


# Users are numbered in the order they start, within this process.
_numbers = itertools.count()
_finished = set()
# When the first user started (time.monotonic()): arrival_ms counts from here.
_arrival_origin = None


def _wait_for_arrival(conversation):
    """Sleeps until the conversation's arrival_ms after the first user's start."""
    if conversation.arrival_ms is None:
        return
    delay = _arrival_origin + conversation.arrival_ms / 1000 - time.monotonic()
    if delay > 0:
        time.sleep(delay)


class ConversationUser(HttpUser):
    wait_time = constant(0)  # convgen's think time is the wait

    def on_start(self):
        global _arrival_origin
        if _arrival_origin is None:
            _arrival_origin = time.monotonic()
        options = self.environment.parsed_options
        self.options = options
        self.number = next(_numbers)
        self.shards = options.convgen_users or options.num_users or 1
        if self.number >= self.shards:
            print(f"convgen user {self.number}: no shard (there are {self.shards}); stopping",
                  file=sys.stderr)
            raise StopUser()
        self.stream = None
        start = time.monotonic()
        try:
            self.convgen = Client(options.convgen_server,
                                  root_certificates=options.convgen_tls_ca)
            self._open(0)
        except (OSError, ValueError) as error:
            # E.g. the config vanished after the start: this user fails for good.
            events.request.fire(request_type="convgen", name="Generate",
                                response_time=(time.monotonic() - start) * 1000,
                                response_length=0, exception=error, context={})
            self._done()

    def on_stop(self):
        if getattr(self, "stream", None) is not None:
            self.stream.cancel()

    def _open(self, start_index):
        self.stream = self.convgen.conversations(
            self.options.convgen_config, seed=self.options.convgen_seed,
            shard=(self.number, self.shards), start_index=start_index,
            tokenizer=self.options.convgen_tokenizer)
        self.conversations = iter(self.stream)

    def _next_conversation(self):
        """The shard's next conversation, None at its end. A stream that
        breaks after it started (e.g. the server's --max-stall-seconds while
        this user was busy) is reopened at its resume index."""
        for attempt in range(3):
            start = time.monotonic()
            try:
                return next(self.conversations)
            except StopIteration:
                return None
            except ConvgenError as error:
                events.request.fire(request_type="convgen", name="Generate",
                                    response_time=(time.monotonic() - start) * 1000,
                                    response_length=0, exception=error, context={})
                if error.resume_index is None or attempt == 2:
                    self._done()
                self._open(error.resume_index)
        return None

    @task
    def play_conversation(self):
        conversation = self._next_conversation()
        if conversation is None:
            self._done()
        _wait_for_arrival(conversation)
        messages = conversation.messages
        history = []
        for k in range(0, len(messages) - 1, 2):
            user, planned = messages[k], messages[k + 1]
            if user.think_time_ms:
                time.sleep(user.think_time_ms / 1000)
            history.append({"role": "user", "content": user.content})
            answer = self._chat(conversation, k, history, planned.max_tokens)
            if answer is None:
                return  # a failed request ends the conversation (counted by Locust)
            content = answer if self.options.convgen_history == "endpoint" else planned.content
            history.append({"role": "assistant", "content": content})

    def _done(self):
        """This user's shard is played (or its stream failed for good): stop
        it, and end the run after the last shard."""
        _finished.add(self.number)
        if len(_finished) == self.shards:
            # From outside this greenlet, which quit() kills.
            gevent.spawn(self.environment.runner.quit)
        raise StopUser()

    def _chat(self, conversation, turn_index, history, max_tokens):
        body = {"messages": history, "max_tokens": max_tokens}
        if self.options.model is not None:
            body["model"] = self.options.model
        if self.options.convgen_min_tokens:
            body["min_tokens"] = max_tokens
            body["ignore_eos"] = True
        stream = self.options.convgen_stream
        if stream:
            body["stream"] = True
        headers = {}
        if self.options.api_key:
            headers["Authorization"] = f"Bearer {self.options.api_key}"
        start = time.monotonic()
        with self.client.post("/v1/chat/completions", json=body, headers=headers, stream=stream,
                              timeout=self.options.convgen_http_timeout,
                              name="/v1/chat/completions", catch_response=True) as response:
            if response.status_code == 0:  # no HTTP answer: the connection failed
                response.failure(f"{conversation.id} message {turn_index}: {response.error}")
                return None
            if response.status_code != 200:
                response.failure(f"{conversation.id} message {turn_index}: HTTP "
                                 f"{response.status_code}: {response.text[:200]}")
                return None
            try:
                if stream:
                    return self._read_events(response, start)
                return response.json()["choices"][0]["message"]["content"]
            except (ValueError, KeyError, IndexError, TypeError,
                    requests.exceptions.RequestException) as error:
                # RequestException: the stream broke or stalled past --convgen-http-timeout.
                # A streamed body is consumed: name the parse error instead.
                shown = repr(error) if stream else response.text[:200]
                response.failure(f"{conversation.id} message {turn_index}: not a chat "
                                 f"completion: {shown}")
                return None

    def _read_events(self, response, start):
        """The answer of a streamed completion (server-sent events); fires
        its time to first token. Raises ValueError if the stream is not one."""
        kind = response.headers.get("Content-Type", "")
        if not kind.startswith("text/event-stream"):
            raise ValueError(f"not an event stream (Content-Type {kind or 'none'!r})")
        parts = []
        events_seen = False
        for line in response.iter_lines():
            if not line.startswith(b"data:"):
                continue
            events_seen = True
            data = line[5:].strip()
            if data == b"[DONE]":
                break
            choices = json.loads(data).get("choices") or [{}]
            content = (choices[0].get("delta") or {}).get("content")
            if content:
                if not parts:
                    events.request.fire(request_type="TTFT", name="/v1/chat/completions",
                                        response_time=(time.monotonic() - start) * 1000,
                                        response_length=0, exception=None, context={})
                parts.append(content)
        if not events_seen:
            raise ValueError("not an event stream (no data: lines)")
        return "".join(parts)
