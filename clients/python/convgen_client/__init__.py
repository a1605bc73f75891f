"""A Python client for convgen.v1.ConversationService.

    from convgen_client import Client
    with Client("localhost:50051") as client:
        stream = client.conversations("examples/generate_multi_turn.json", seed=7, shard=(0, 4))
        for conversation in stream:
            for message in conversation.messages:
                ...  # message.role, .content, .num_tokens, .max_tokens, .think_time_ms
        print(stream.summary.conversations)

Needs grpcio and protobuf (Debian: python3-grpcio, python3-protobuf) and the
stubs the build generates into build/<preset>/clients/python (see README.md,
"Python"): put that directory on sys.path (PYTHONPATH) or name it in
CONVGEN_PYTHON_STUBS.

Errors the server answers are raised as ConvgenError, carrying the gRPC status
code and the server's message; bad arguments as ValueError; unreadable local
files as OSError.
"""
import dataclasses
import json
import os
import stat
import sys
from typing import Dict, Iterator, List, Optional, Sequence, Tuple, Union

if os.environ.get("CONVGEN_PYTHON_STUBS"):
    sys.path.insert(0, os.environ["CONVGEN_PYTHON_STUBS"])

import grpc  # noqa: E402

try:
    from convgen.v1 import config_pb2, service_pb2, service_pb2_grpc  # noqa: E402
    from convgen_health.v1 import health_pb2, health_pb2_grpc  # noqa: E402
except ImportError as error:
    raise ImportError(
        f"convgen_client: the generated stubs are not importable ({error}); build them "
        "(cmake --build build/dev makes build/dev/clients/python) or run the protoc "
        "command of README.md, \"Python\", then put that directory on PYTHONPATH or set "
        "CONVGEN_PYTHON_STUBS to it") from None

__all__ = [
    "Client", "ConvgenError", "Conversation", "Message", "ConversationStream", "Validation",
    "Problem", "Description", "TokenizerInfo"
]

# Largest message the client accepts: one turn can hold a long context (the
# server's own --max-message-bytes default is 16 MiB of text).
_MAX_RECEIVE_BYTES = 64 << 20
_ROLES = {service_pb2.ROLE_USER: "user", service_pb2.ROLE_ASSISTANT: "assistant"}


class ConvgenError(Exception):
    """A call the server (or the transport) ended with a non-OK status.

    code: grpc.StatusCode; details: the server's message; method: the RPC.
    For Generate, resume_index is the first conversation index not completely
    received (pass it as start_index to resume), None if the stream never
    started. problems: for an invalid config, every (path, message).
    """

    def __init__(self, method: str, code: grpc.StatusCode, details: str,
                 resume_index: Optional[int] = None):
        self.method = method
        self.code = code
        self.details = details
        self.resume_index = resume_index
        self.problems = _problems_in(details) if code == grpc.StatusCode.INVALID_ARGUMENT else []
        text = f"convgen {method} failed: {code.name}: {details}"
        if resume_index is not None:
            text += f" (resume with start_index={resume_index})"
        super().__init__(text)


def _problems_in(details: str) -> List["Problem"]:
    """The problems of an INVALID_ARGUMENT "invalid config (N problems):" message, one a line."""
    lines = details.split("\n")
    if not lines[0].startswith("invalid config"):
        return []
    return [Problem(*line.split(": ", 1)) for line in lines[1:] if ": " in line]


@dataclasses.dataclass
class Message:
    """One message of a conversation, as TurnMessage carries it."""
    role: str  # "user" or "assistant"
    content: str
    num_tokens: int
    # Assistant messages: the answer's target, to send as max_tokens. 0 for user messages.
    max_tokens: int
    # User messages with prompt_input.think_time_ms: milliseconds to wait before sending it.
    think_time_ms: Optional[int] = None
    # With prompt_input.prefix_groups: the conversation's group.
    prefix_group: Optional[int] = None
    # With token_ids=True: the tokens of content.
    token_ids: Optional[List[int]] = None


@dataclasses.dataclass
class Conversation:
    id: str  # CONV_ID_<index>
    index: int
    messages: List[Message]
    # With a Mooncake-style shape_source: when a driver starts this
    # conversation, in milliseconds after the first one (the trace's timestamp).
    arrival_ms: Optional[int] = None

    def as_vllm(self) -> dict:
        """The entry vLLM's multi-turn benchmark reads (convgen --format json)."""
        entry = {"id": self.id}
        if self.arrival_ms is not None:
            entry["arrival_ms"] = self.arrival_ms
        entry["messages"] = [{"role": m.role, "content": m.content} for m in self.messages]
        return entry


@dataclasses.dataclass
class Problem:
    path: str  # JSON path, e.g. prompt_input.num_turns.max
    message: str


@dataclasses.dataclass
class Validation:
    """Validate's answer: valid with the sizes, or every problem. raw is the proto."""
    valid: bool
    problems: List[Problem]
    normalized_config: Optional[dict]
    tokenizer: str
    corpus_tokens: int
    conversations: int
    common_prefix_tokens: int
    raw: object
    # With a shape_source: the shape as the server read it (describe-shape's text).
    shape_summary: str = ""


@dataclasses.dataclass
class TokenizerInfo:
    name: str
    description: str
    is_default: bool


@dataclasses.dataclass
class Description:
    """Describe's answer; limits maps each limit's field name to its value. raw is the proto."""
    version: str
    tokenizers: List[TokenizerInfo]
    corpora: List[str]
    limits: Dict[str, object]
    raw: object


ConfigLike = Union[dict, str, os.PathLike]


class ConversationStream:
    """The conversations of one Generate call, complete ones only, in order.

    Iterate it (once). summary is the server's final Summary (a proto) once
    the stream ended; next_index is the index to resume from (start_index of
    a follow-up request) after a break. cancel() ends the call; leaving a
    `with` block cancels it too.
    """

    def __init__(self, call, start_index: int):
        self._call = call
        self.summary = None
        self.next_index = start_index
        self._consumed = False
        self._started = False

    def __iter__(self) -> Iterator[Conversation]:
        if self._consumed:
            raise RuntimeError("a ConversationStream can be iterated only once")
        self._consumed = True
        current: Optional[Conversation] = None
        try:
            for event, response in _events(self._call):
                self._started = True
                if event == "conversation_start":
                    start = response.conversation_start
                    current = Conversation(
                        start.conversation_id, start.conversation_index, [],
                        start.arrival_ms if start.HasField("arrival_ms") else None)
                elif event == "turn":
                    turn = response.turn
                    if current is None or turn.conversation_index != current.index:
                        raise ConvgenError(
                            "Generate", grpc.StatusCode.INTERNAL,
                            f"turn of conversation {turn.conversation_index} outside its "
                            "start and end markers", self.next_index)
                    current.messages.append(_message(turn))
                elif event == "conversation_end":
                    end = response.conversation_end
                    if current is None or end.conversation_index != current.index:
                        raise ConvgenError("Generate", grpc.StatusCode.INTERNAL,
                                           f"end of conversation {end.conversation_index} "
                                           "without its start", self.next_index)
                    done, current = current, None
                    self.next_index = done.index + 1
                    yield done
                elif event == "summary":
                    self.summary = response.summary
                    self.next_index = response.summary.next_conversation_index
                # An event this client does not know (a newer server): skipped.
        except grpc.RpcError as error:
            raise ConvgenError("Generate", error.code(), error.details() or "",
                               self.next_index if self._started else None) from None
        finally:
            self._call.cancel()

    def cancel(self):
        self._call.cancel()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.cancel()


def _events(call):
    """(name, response) of each event of a Generate call, a batch's events in order."""
    for response in call:
        event = response.WhichOneof("event")
        if event == "batch":
            for inner in response.batch.events:
                yield inner.WhichOneof("event"), inner
        else:
            yield event, response


# What conversations() asks for as GenerateRequest.max_batch_bytes: events
# come in messages of up to 64 KiB (the server may cap it), which saves the
# server about 17 us of CPU per event.
_MAX_BATCH_BYTES = 64 << 10


def _message(turn) -> Message:
    return Message(
        role=_ROLES.get(turn.role, "unspecified"),
        content=turn.content,
        num_tokens=turn.num_tokens,
        max_tokens=turn.max_tokens,
        think_time_ms=turn.think_time_ms if turn.HasField("think_time_ms") else None,
        prefix_group=turn.prefix_group if turn.HasField("prefix_group") else None,
        token_ids=list(turn.token_ids) if len(turn.token_ids) else None)


def _read_bytes(name: str, value: Union[None, bytes, str, os.PathLike]) -> Optional[bytes]:
    """PEM given as bytes, or a path to read."""
    if value is None or isinstance(value, bytes):
        return value
    if not isinstance(value, (str, os.PathLike)):
        raise ValueError(f"{name} must be PEM bytes or a path, not {type(value).__name__}")
    with open(value, "rb") as f:
        return f.read()


_UINT64 = 1 << 64


def _check_int(name: str, value, low: int, high: int, shown: str):
    """value must be an int (not a bool) in [low, high)."""
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value < high:
        raise ValueError(f"{name} must be an int in {shown}, not {value!r}")


def _check_timeout(name: str, value, allow_none: bool):
    if value is None and allow_none:
        return
    if (isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0 or
            value == float("inf")):
        what = "None or a number of seconds > 0" if allow_none else "a number of seconds > 0"
        raise ValueError(f"{name} must be {what}, not {value!r}")


def _check_address(addr) -> None:
    """host:port (port 1..65535), unix:/path, or dns:/ipv4:/ipv6: targets with ports, as the CLI."""
    if not isinstance(addr, str):
        raise ValueError(f"convgen address must be a str (host:port or unix:/path), not "
                         f"{type(addr).__name__}")
    if not addr:
        raise ValueError("convgen address: empty; give host:port or unix:/path")
    if "://" in addr:
        raise ValueError(f"convgen address {addr!r}: drop the scheme "
                         f"(e.g. {addr.split('://', 1)[1]!r}); gRPC targets are "
                         "host:port or unix:/path")
    if addr.startswith(("unix:", "unix-abstract:")):
        return
    target = addr
    for scheme in ("dns:", "ipv4:", "ipv6:"):
        if target.startswith(scheme):
            target = target[len(scheme):]
            if target.startswith("//"):  # dns://authority/host:port
                target = target[2:].partition("/")[2]
            break
    for part in target.split(","):
        if part.startswith("["):
            host, _, rest = part[1:].partition("]")
            port = rest[1:] if rest.startswith(":") else None
        else:
            host, sep, port = part.rpartition(":")
            port = port if sep else None
        if not host or port is None:
            raise ValueError(f"convgen address {addr!r}: no port; give host:port "
                             "(e.g. localhost:50051) or unix:/path")
        if not port.isdigit() or not 1 <= int(port) <= 65535:
            raise ValueError(f"convgen address {addr!r}: port {port!r} must be in 1..65535")


class Client:
    """A channel to a convgen server.

    addr: host:port, unix:/path, or a gRPC target (dns:, ipv4:, ipv6:).
    TLS: root_certificates (the CA, PEM bytes or a path; with it the channel
    uses TLS), certificate_chain and private_key for mTLS. timeout: seconds
    validate, describe and health wait for their answer (a stopped server
    cannot hang them). Thread-safe, like the grpc channel it holds.
    """

    def __init__(self, addr: str, *, root_certificates=None, certificate_chain=None,
                 private_key=None, timeout: float = 60.0, options: Sequence = ()):
        self._closed = True  # until the channel exists
        _check_address(addr)
        _check_timeout("timeout", timeout, allow_none=False)
        # gRPC core aborts the process on a chain without its key (or a key
        # without its chain): refuse it here.
        if (certificate_chain is None) != (private_key is None):
            raise ValueError("certificate_chain and private_key go together (mTLS): give "
                             "both or neither")
        self.timeout = timeout
        channel_options = [("grpc.max_receive_message_length", _MAX_RECEIVE_BYTES), *options]
        if root_certificates is not None or certificate_chain is not None:
            credentials = grpc.ssl_channel_credentials(
                root_certificates=_read_bytes("root_certificates", root_certificates),
                private_key=_read_bytes("private_key", private_key),
                certificate_chain=_read_bytes("certificate_chain", certificate_chain))
            self._channel = grpc.secure_channel(addr, credentials, options=channel_options)
        else:
            self._channel = grpc.insecure_channel(addr, options=channel_options)
        self._stub = service_pb2_grpc.ConversationServiceStub(self._channel)
        self._health = health_pb2_grpc.HealthStub(self._channel)
        self._closed = False

    def close(self):
        if not self._closed:
            self._closed = True
            self._channel.close()

    def _check_open(self):
        if self._closed:
            raise ValueError("this Client is closed; make a new one")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def wait_for_server(self, timeout: float):
        """Waits up to timeout seconds for the channel to connect (else ConvgenError UNAVAILABLE)."""
        self._check_open()
        _check_timeout("timeout", timeout, allow_none=False)
        try:
            grpc.channel_ready_future(self._channel).result(timeout=timeout)
        except grpc.FutureTimeoutError:
            raise ConvgenError("connect", grpc.StatusCode.UNAVAILABLE,
                               f"server not reachable within {timeout} s") from None

    def request(self, config: ConfigLike, *, seed: int = 0,
                shard: Tuple[int, int] = (0, 1), start_index: int = 0,
                tokenizer: str = "", text_files: Optional[Dict[str, Union[str, bytes]]] = None,
                send_local_files: bool = True, rng: Optional[str] = None,
                token_ids: bool = False, shape: Union[None, str, bytes] = None,
                fields: Optional[dict] = None):
        """The GenerateRequest conversations() and validate() send.

        config: a dict (vLLM's JSON as Python), a JSON string, or a path to a
        JSON file. text_files: corpus texts by name, sent inline instead of
        the server's files (each name should be a text_files entry of the
        config). With a path and send_local_files, the config's text_files
        found next to it (or below its directory) are sent inline, the others
        name server corpora, as the convgen CLI does; so is the config's
        shape_source.path when it is a file next to the config (else it names
        a file of the server's corpus directory). shape: the shape file's
        text, sent inline instead (under the config's shape_source.path).
        rng: "philox" or
        "numpy_legacy" overrides the config's. token_ids: each message also
        carries its token ids. fields: other GenerateRequest fields by name
        (scalars), for fields newer than this module.
        """
        self._check_open()
        request = service_pb2.GenerateRequest()
        config_dir = None
        if isinstance(config, str) and not config.strip():
            raise ValueError("config: empty; give a dict, a JSON string or a path to a JSON file")
        if isinstance(config, dict):
            request.config_json = json.dumps(config)
        elif isinstance(config, str) and config.lstrip()[:1] in ("{", "["):
            try:
                parsed = json.loads(config)
            except ValueError:
                parsed = {}  # The server names where the JSON is broken.
            if not isinstance(parsed, dict):
                raise ValueError("config: a config must be a JSON object, not a JSON "
                                 f"{type(parsed).__name__}")
            request.config_json = config
        elif isinstance(config, (str, os.PathLike)):
            path = os.fspath(config)
            with open(path, encoding="utf-8") as f:
                request.config_json = f.read()
            config_dir = os.path.dirname(os.path.abspath(path))
        else:
            raise ValueError("config: a dict, a JSON string or a path to a JSON file, "
                             f"not {type(config).__name__}")
        if not (isinstance(shard, (tuple, list)) and len(shard) == 2 and
                all(isinstance(v, int) and not isinstance(v, bool) for v in shard) and
                0 <= shard[0] < shard[1] < _UINT64):
            raise ValueError(f"shard {shard!r}: must be (index, count) of ints with "
                             "0 <= index < count, e.g. (0, 4)")
        _check_int("seed", seed, 0, _UINT64, "[0, 2^64)")
        _check_int("start_index", start_index, 0, _UINT64, "[0, 2^64)")
        if not isinstance(tokenizer, str):
            raise ValueError(f"tokenizer must be a str (\"\": the server's default), not "
                             f"{tokenizer!r}")
        for name, flag in (("token_ids", token_ids), ("send_local_files", send_local_files)):
            if not isinstance(flag, bool):
                raise ValueError(f"{name} must be True or False, not {flag!r}")
        if text_files is not None and not (
                isinstance(text_files, dict) and
                all(isinstance(k, str) and isinstance(v, (str, bytes))
                    for k, v in text_files.items())):
            raise ValueError("text_files must be a dict of name -> text (str or bytes), not "
                             f"{text_files!r:.80}")
        if shape is not None and not isinstance(shape, (str, bytes)):
            raise ValueError(f"shape must be the shape file's text (str or bytes), not "
                             f"{type(shape).__name__}")
        if fields is not None and not isinstance(fields, dict):
            raise ValueError(f"fields must be a dict of field name -> value, not {fields!r:.80}")
        request.seed = seed
        request.shard.index, request.shard.count = shard
        request.start_index = start_index
        request.tokenizer = tokenizer
        request.include_token_ids = token_ids
        if rng is not None:
            values = {"philox": config_pb2.RNG_PHILOX, "numpy_legacy": config_pb2.RNG_NUMPY_LEGACY}
            if not isinstance(rng, str) or rng not in values:
                raise ValueError(f"rng {rng!r}: must be one of {', '.join(values)}")
            request.rng = values[rng]
        for name, value in (fields or {}).items():
            if name not in request.DESCRIPTOR.fields_by_name:
                known = ", ".join(sorted(request.DESCRIPTOR.fields_by_name))
                raise ValueError(f"fields: GenerateRequest has no field {name!r} in these stubs "
                                 f"(it has {known}); regenerate the stubs if the server is newer")
            try:
                setattr(request, name, value)
            except (TypeError, ValueError, AttributeError) as error:
                raise ValueError(f"fields: {name}: {error}") from None
        inline = dict(text_files or {})
        if config_dir is not None and send_local_files and not inline:
            inline = _local_text_files(request.config_json, config_dir)
        for name, text in inline.items():
            corpus = request.inline_corpus.add()
            corpus.name = name
            corpus.text = text.encode("utf-8") if isinstance(text, str) else text
        shape_path = _shape_path(request.config_json)
        if shape is not None:
            if shape_path is None:
                raise ValueError("shape: the config has no shape_source.path to send it as")
            request.inline_shape.name = shape_path
            request.inline_shape.text = shape.encode("utf-8") if isinstance(shape, str) else shape
        elif config_dir is not None and send_local_files and shape_path is not None:
            local = _local_shape(shape_path, config_dir)
            if local is not None:
                request.inline_shape.name = shape_path
                request.inline_shape.text = local
        return request

    def conversations(self, config: ConfigLike, *, timeout: Optional[float] = None,
                      **request_args) -> ConversationStream:
        """Streams the complete conversations of a request (see request() for the arguments).

        timeout: a deadline for the whole stream (None: none; the server's
        --max-stall-seconds still ends a stream nobody reads).
        """
        _check_timeout("timeout", timeout, allow_none=True)
        request = self.request(config, **request_args)
        if ("max_batch_bytes" in request.DESCRIPTOR.fields_by_name and
                "max_batch_bytes" not in (request_args.get("fields") or {})):
            request.max_batch_bytes = _MAX_BATCH_BYTES
        call = self._stub.Generate(request, timeout=timeout)
        return ConversationStream(call, request.start_index)

    def validate(self, config: ConfigLike, **request_args) -> Validation:
        """Checks a request without generating: the sizes, or every problem with its JSON path."""
        request = self.request(config, **request_args)
        response = self._unary("Validate", self._stub.Validate, request)
        normalized = None
        if response.normalized_config_json:
            normalized = json.loads(response.normalized_config_json)
        return Validation(
            valid=response.valid,
            problems=[Problem(p.path, p.message) for p in response.problems],
            normalized_config=normalized, tokenizer=response.tokenizer,
            corpus_tokens=response.corpus_tokens, conversations=response.conversations,
            common_prefix_tokens=response.common_prefix_tokens, raw=response,
            shape_summary=response.shape_summary)

    def describe_shape(self, config: ConfigLike, **request_args) -> str:
        """The shape of the config's shape_source as the server reads it (convgen
        describe-shape). ValueError if the config has no shape_source;
        ConvgenError INVALID_ARGUMENT, with every problem, if it is invalid."""
        request = self.request(config, **request_args)
        if _shape_path(request.config_json) is None:
            raise ValueError("describe_shape: the config has no shape_source.path")
        response = self._unary("Validate", self._stub.Validate, request)
        if not response.valid:
            details = "invalid config ({} problems):\n".format(len(response.problems)) + "\n".join(
                f"{p.path}: {p.message}" for p in response.problems)
            raise ConvgenError("Validate", grpc.StatusCode.INVALID_ARGUMENT, details)
        return response.shape_summary

    def describe(self) -> Description:
        """The server's tokenizers, corpora, limits and version."""
        response = self._unary("Describe", self._stub.Describe, service_pb2.DescribeRequest())
        return Description(
            version=response.version,
            tokenizers=[TokenizerInfo(t.name, t.description, t.is_default)
                        for t in response.tokenizers],
            corpora=list(response.corpora),
            limits={f.name: getattr(response.limits, f.name)
                    for f in response.limits.DESCRIPTOR.fields},
            raw=response)

    def health(self, service: str = "") -> str:
        """grpc.health.v1 Check: "SERVING", "NOT_SERVING", ... ("" is the whole server;
        also "liveness", "readiness", "convgen.v1.ConversationService")."""
        if not isinstance(service, str):
            raise ValueError(f"service must be a str (\"\": the whole server), not {service!r}")
        response = self._unary("Health.Check", self._health.Check,
                               health_pb2.HealthCheckRequest(service=service))
        return health_pb2.HealthCheckResponse.ServingStatus.Name(response.status)

    def _unary(self, method, rpc, request):
        self._check_open()
        try:
            return rpc(request, timeout=self.timeout)
        except grpc.RpcError as error:
            raise ConvgenError(method, error.code(), error.details() or "") from None


def _shape_path(config_json: str) -> Optional[str]:
    """The config's shape_source.path, None if it has none (or does not parse)."""
    try:
        path = json.loads(config_json).get("shape_source", {}).get("path")
    except (ValueError, AttributeError):
        return None
    return path if isinstance(path, str) and path else None


def _local_file(name: str, config_dir: str) -> Optional[bytes]:
    """The regular file `name` at or below config_dir, read; None if it is not there
    (then the server's file of that name is meant)."""
    root = os.path.realpath(config_dir)
    path = os.path.realpath(os.path.join(config_dir, name))
    if os.path.commonpath([root, path]) != root or not os.path.isfile(path):
        return None  # Not next to the config: a server file of that name.
    with open(path, "rb") as f:
        return f.read()


def _local_shape(name: str, config_dir: str) -> Optional[bytes]:
    """The shape file `name` next to the config, read; None if nothing of that name is
    there (then the server's corpus file is meant). As the CLI, raises ValueError for a
    name that is there but cannot be sent (a symlink out of the config's directory, a
    FIFO, a directory) rather than silently using the server's file."""
    if os.path.isabs(name) or ".." in name.replace("\\", "/").split("/"):
        return None  # The server refuses such a name, naming the field.
    path = os.path.join(config_dir, name)
    if not os.path.lexists(path):
        return None
    root = os.path.realpath(config_dir)
    if os.path.commonpath([root, os.path.realpath(path)]) != root:
        raise ValueError(f"shape_source.path {name!r} leads out of the config's directory "
                         f"{config_dir} (a symlink); the client sends only files next to the "
                         f"config or below it (pass its content as shape= to send it)")
    try:
        mode = os.stat(path).st_mode
    except OSError as error:
        raise ValueError(f"shape_source.path {name!r}: {error}") from None
    if not stat.S_ISREG(mode):
        raise ValueError(f"shape_source.path {name!r} in {config_dir} is not a regular file; "
                         f"name a file, or remove it to use the server's file of that name")
    with open(path, "rb") as f:
        return f.read()


def _local_text_files(config_json: str, config_dir: str) -> Dict[str, bytes]:
    """The config's text_files that are regular files at or below config_dir, read."""
    try:
        names = json.loads(config_json).get("text_files", [])
    except (ValueError, AttributeError):
        return {}  # The server names what is wrong with the config.
    if not isinstance(names, list):
        return {}
    found = {}
    for name in names:
        if not isinstance(name, str) or name in found:
            continue
        text = _local_file(name, config_dir)
        if text is not None:  # else a server corpus of that name
            found[name] = text
    return found
