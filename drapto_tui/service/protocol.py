"""The service's wire protocol: JSON messages, one per line, over a Unix domain socket in the state dir.

A client connects and says `hello` with the protocol version it speaks; the service answers `welcome` with a
snapshot (every job's folded state, whether all work is paused), then streams every `event` as the engine
publishes it (the typed events of model/events.py, in their JSON form), and a `status` line whenever the
service-wide state changes. The client sends `call`s (a command of the Engine's API by name, with keyword
arguments); each gets a `reply` with the same id, carrying a result or a one-line error. A client speaking
another version gets a `refused` line naming both versions and closes.

Only the owner of the state dir can connect: the socket is created mode 0600 inside a folder only the owner
can enter. Nothing listens on TCP.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, TypeAdapter

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
    "Call",
    "EventMessage",
    "Hello",
    "Message",
    "Refused",
    "Reply",
    "Status",
    "Welcome",
    "decode",
    "encode",
    "info_path",
    "live_info",
    "read_info",
    "socket_path",
]
