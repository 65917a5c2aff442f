"""The service's wire protocol: JSON messages, one per line, over a Unix domain socket in the state dir.

A client connects and says `hello` with the protocol version it speaks; the service answers `welcome` with a
snapshot (every job's folded state, whether all work is paused), then streams every `event` as the engine
publishes it (the typed events of model/events.py, in their JSON form), and a `status` line whenever the
service-wide state changes. The client sends `call`s (a command of the Engine's API by name, with keyword
arguments, checked against its typed signature in ServiceCalls); each gets a `reply` with the same id, carrying a result or a one-line error. A client speaking
another version gets a `refused` line naming both versions and closes.

Only the owner of the state dir can connect: the socket is created mode 0600 inside a folder only the owner
can enter. Nothing listens on TCP.
"""

from __future__ import annotations

import collections.abc
import contextlib
import functools
import hashlib
import inspect
import json
import os
import tempfile
import typing
from pathlib import Path
from typing import Annotated, Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, create_model

from drapto_tui.engine.api import Core
from drapto_tui.engine.store import lock_holder

#: Bump when a message changes shape; a client and a service of different versions refuse each other.
PROTOCOL_VERSION = 1
#: One message may carry the whole queue (the snapshot); a longer line is a broken peer.
MAX_LINE = 64 * 1024 * 1024
#: Unix socket paths are limited to about 108 bytes; a longer state dir gets its socket in a private temp dir.
MAX_SOCKET_PATH = 100


class Hello(BaseModel):
    type: Literal["hello"] = "hello"
    version: int = PROTOCOL_VERSION
    client: str = "app"  # app, encode, queue, web: shown in `service status`
    pid: int = Field(default_factory=os.getpid)


class Welcome(BaseModel):
    type: Literal["welcome"] = "welcome"
    version: int = PROTOCOL_VERSION
    service_pid: int
    jobs: list[dict[str, Any]]  # ProcessingState.model_dump(mode="json") of every job
    paused_all: bool = False
    clients: int = 1
    queue_eta: float | None = None  # the service's own figure, so a new viewer shows it from its first frame
    lifetime_saved: int = 0  # bytes saved over every film the ledger holds (engine/ledger.py)
    waiting: str | None = None  # why the schedule holds the queue now (engine/schedule.py)


class Refused(BaseModel):
    type: Literal["refused"] = "refused"
    reason: str


class EventMessage(BaseModel):
    type: Literal["event"] = "event"
    event: str  # Event.to_json()


class Status(BaseModel):
    type: Literal["status"] = "status"
    paused_all: bool
    launching: bool
    clients: int
    #: The queue's time left in seconds (engine/eta.py), measured once, in the service, for every viewer.
    queue_eta: float | None = None
    lifetime_saved: int = 0
    waiting: str | None = None


class Call(BaseModel):
    type: Literal["call"] = "call"
    id: int
    method: str
    args: dict[str, Any] = Field(default_factory=dict)


class Reply(BaseModel):
    type: Literal["reply"] = "reply"
    id: int
    result: Any = None
    error: str | None = None


Message = Annotated[
    Hello | Welcome | Refused | EventMessage | Status | Call | Reply, Field(discriminator="type")
]
MESSAGE: TypeAdapter[Message] = TypeAdapter(Message)


class ServiceCalls(Core, Protocol):
    """Every call a client may make over the socket, typed: the Core commands that act on the engine, and three
    that only a client of the service makes. A client names the method itself (`client.call(ServiceCalls.move,
    job_id=..., offset=...)`), so mypy checks its arguments against this signature, and the service validates
    what arrives against the same signature before the engine sees it."""

    def encode_paths(self, paths: list[Path], options: dict[str, Any]) -> dict[str, list[str]]:
        """Queue these films for a foreground `encode` (one job each) and start them: {"ids", "errors"}."""
        ...

    def watch(self, dirs: list[Path], output_dir: Path | None = None) -> dict[str, Any]:
        """Watch these folders for new films, their outputs in `output_dir` (the client's): {"dirs", "settle"}."""
        ...

    def hooks_running(self) -> list[str]: ...

    def retry_outside_failures(self) -> list[str]:
        """`encode --resume`: the failed jobs whose cause was outside their film, queued again; their ids."""
        ...

    def restore(self, target: str) -> str:
        """Library mode: a replaced film's original back at its path and the encode gone (one line said)."""
        ...

    def replacements(self) -> list[dict[str, Any]]:
        """Every film replaced in place: source, encode, trash entry, when replaced, restored, purged."""
        ...


#: Core's members that are each client's own business and never cross the socket.
LOCAL_ONLY = frozenset(
    {"listen", "jobs", "is_running", "start", "preview", "close", "queue_eta", "lifetime_saved"}
)
#: What a client may ask, by name: the typed calls above and nothing else.
REMOTE_CALLS = (
    frozenset(
        name
        for cls in (Core, ServiceCalls)
        for name, member in vars(cls).items()
        if inspect.isfunction(member) and not name.startswith("_")
    )
    - LOCAL_ONLY
)


@functools.cache
def _arguments_of(method: str) -> type[BaseModel]:
    """A model of the method's parameters, read from its signature in ServiceCalls (or Core)."""
    stub = getattr(ServiceCalls, method)
    hints = typing.get_type_hints(stub)
    fields: dict[str, Any] = {}
    for param in list(inspect.signature(stub).parameters.values())[1:]:  # after self
        required = param.default is inspect.Parameter.empty or param.default is Ellipsis
        hint = hints.get(param.name, Any)
        if (
            typing.get_origin(hint) is collections.abc.Iterable
        ):  # read it whole here, not lazily in the engine
            hint = list[typing.get_args(hint)]  # type: ignore[misc]
        fields[param.name] = (hint, ... if required else param.default)
    config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)
    model: type[BaseModel] = create_model(f"{method}_arguments", __config__=config, **fields)
    return model


def call_arguments(method: str, args: dict[str, Any]) -> dict[str, Any]:
    """The call's arguments validated against its typed signature; anything else raises ValueError in one line."""
    if method not in REMOTE_CALLS:
        raise ValueError(f"no such command {method!r}")
    try:
        validated = _arguments_of(method).model_validate(args)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'arguments'}: {e['msg']}" for e in exc.errors()
        )
        raise ValueError(problems) from None
    return {name: getattr(validated, name) for name in type(validated).model_fields}


def encode(message: BaseModel) -> bytes:
    return message.model_dump_json().encode() + b"\n"


def decode(line: bytes) -> Message:
    """One message from one line; raises ValueError for anything else."""
    try:
        return MESSAGE.validate_json(line)
    except Exception as exc:  # pydantic's ValidationError, or bad UTF-8 / JSON
        raise ValueError(f"not a drapto-tui service message: {exc}") from None


def socket_path(state_dir: Path) -> Path:
    """Where the service for this state dir listens: inside the state dir when the path fits the limit, else in
    a per-user private folder under the system temp dir, named by the state dir."""
    inside = state_dir / "service.sock"
    if len(os.fsencode(inside)) <= MAX_SOCKET_PATH:
        return inside
    digest = hashlib.sha256(os.fsencode(state_dir.resolve())).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"drapto-tui-{os.getuid()}" / f"{digest}.sock"


def info_path(state_dir: Path) -> Path:
    """service.json: the running service's pid, socket and version, for clients and `service status`."""
    return state_dir / "service.json"


def live_info(state_dir: Path) -> dict[str, Any] | None:
    """service.json when the process it names is the one holding the state dir's lock; else None.

    A service killed outright leaves its service.json behind, and its pid may since have gone to another
    process: only the lock says whether that service still lives. A stale file is removed here (it can name no
    live service: whoever holds the lock now did not write it, or nobody holds it)."""
    info = read_info(state_dir)
    if info is None:
        return None
    holder = lock_holder(state_dir)
    if holder is not None and holder == info.get("pid"):
        return info
    if holder is None or holder > 0:
        with contextlib.suppress(OSError):
            info_path(state_dir).unlink()
    return None


def read_info(state_dir: Path) -> dict[str, Any] | None:
    """service.json as written, whether or not its service still lives (live_info decides that)."""
    try:
        data = json.loads(info_path(state_dir).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


__all__ = [
    "MAX_LINE",
    "PROTOCOL_VERSION",
    "REMOTE_CALLS",
    "Call",
    "EventMessage",
    "Hello",
    "Message",
    "Refused",
    "Reply",
    "ServiceCalls",
    "Status",
    "Welcome",
    "call_arguments",
    "decode",
    "encode",
    "info_path",
    "live_info",
    "read_info",
    "socket_path",
]
