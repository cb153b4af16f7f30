"""Kiln wire protocol v1: header schema, message types, limits, validation, error codes.

A message is a ZeroMQ multipart message. Frame 0 is a UTF-8 JSON header; frames 1..n are raw
little-endian buffers described, in order, by ``header["buffers"] = [{"name", "dtype", "shape"}]``.
Nothing is ever pickled. Pure Python: stdlib + numpy only, so Blender can import it.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, asdict
from typing import Any

import numpy as np

PROTOCOL_VERSION = 1
DEFAULT_ADDRESS = "tcp://127.0.0.1:5555"


class MsgType:
    """Every value the header's ``type`` field may hold."""

    # client -> server
    HELLO = "hello"
    SUBMIT = "submit"
    CANCEL = "cancel"
    STATUS = "status"
    FETCH = "fetch"
    UNLOAD = "unload"
    # server -> client
    WELCOME = "welcome"
    ACCEPTED = "accepted"
    PROGRESS = "progress"
    RESULT = "result"
    ERROR = "error"
    # STATUS is used for both the request and its reply.

    REQUESTS = frozenset({HELLO, SUBMIT, CANCEL, STATUS, FETCH, UNLOAD})


class ErrorCode:
    """Error codes carried by ``error`` messages."""

    BAD_REQUEST = "bad_request"
    UNKNOWN_OP = "unknown_op"
    TOO_LARGE = "too_large"
    VERSION_MISMATCH = "version_mismatch"
    UNAUTHORIZED = "unauthorized"
    NOT_FOUND = "not_found"
    CANCELLED = "cancelled"
    FAILED = "failed"
    INTERNAL = "internal"

    ALL = frozenset({BAD_REQUEST, UNKNOWN_OP, TOO_LARGE, VERSION_MISMATCH, UNAUTHORIZED,
                     NOT_FOUND, CANCELLED, FAILED, INTERNAL})


class JobState:
    """Job lifecycle: queued -> running -> done | failed | cancelled."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"

    FINAL = frozenset({DONE, FAILED, CANCELLED})


class ProtocolError(Exception):
    """A request or reply that breaks the protocol; carries an error code for the reply."""

    def __init__(self, code: str, message: str, job: str | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.job = job


ALLOWED_DTYPES = {"float32": np.float32, "int32": np.int32, "uint8": np.uint8}


@dataclass(frozen=True)
class Limits:
    """Hard limits checked before any work is done on a message."""

    max_header_bytes: int = 256 * 1024
    max_frames: int = 64
    max_total_bytes: int = 512 * 1024 * 1024
    max_buffer_dims: int = 3


DEFAULT_LIMITS = Limits()


# --------------------------------------------------------------------------------------------
# Parameter schemas: one description serves validation, the welcome message, CLI flags and UI.

PARAM_TYPES = ("int", "float", "bool", "str", "choice")


@dataclass
class ParamSpec:
    """Describes one op parameter. ``choices`` only for type 'choice'; bounds for int/float."""

    name: str
    type: str
    default: Any = None
    help: str = ""
    minimum: float | None = None
    maximum: float | None = None
    choices: list[str] = field(default_factory=list)
    max_length: int = 2000

    def to_json(self) -> dict:
        return {k: v for k, v in asdict(self).items() if v is not None and v != []}

    @classmethod
    def from_json(cls, data: dict) -> "ParamSpec":
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        spec = cls(**known)
        if spec.type not in PARAM_TYPES:
            raise ProtocolError(ErrorCode.BAD_REQUEST, f"unknown parameter type {spec.type!r}")
        return spec

    def coerce(self, value: Any) -> Any:
        """Return ``value`` checked and converted to this parameter's type, or raise ProtocolError."""
        where = f"parameter {self.name!r}"
        if self.type == "bool":
            if isinstance(value, bool):
                return value
            raise ProtocolError(ErrorCode.BAD_REQUEST, f"{where} must be true or false, got {value!r}")
        if self.type == "int":
            if isinstance(value, bool) or not isinstance(value, (int, float)) or (
                    isinstance(value, float) and not value.is_integer()):
                raise ProtocolError(ErrorCode.BAD_REQUEST, f"{where} must be an integer, got {value!r}")
            value = int(value)
        elif self.type == "float":
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ProtocolError(ErrorCode.BAD_REQUEST, f"{where} must be a finite number, got {value!r}")
            value = float(value)
        elif self.type == "str":
            if not isinstance(value, str):
                raise ProtocolError(ErrorCode.BAD_REQUEST, f"{where} must be a string, got {value!r}")
            if len(value) > self.max_length:
                raise ProtocolError(ErrorCode.BAD_REQUEST, f"{where} is longer than {self.max_length} characters")
            return value
        elif self.type == "choice":
            if value not in self.choices:
                raise ProtocolError(ErrorCode.BAD_REQUEST,
                                    f"{where} must be one of {', '.join(map(str, self.choices))}; got {value!r}")
            return value
        if self.minimum is not None and value < self.minimum:
            raise ProtocolError(ErrorCode.BAD_REQUEST, f"{where} must be >= {self.minimum}, got {value}")
        if self.maximum is not None and value > self.maximum:
            raise ProtocolError(ErrorCode.BAD_REQUEST, f"{where} must be <= {self.maximum}, got {value}")
        return value


def validate_params(schema: list[ParamSpec], params: Any) -> dict:
    """Check ``params`` against ``schema``: unknown names are errors, missing ones take defaults."""
    if params is None:
        params = {}
    if not isinstance(params, dict):
        raise ProtocolError(ErrorCode.BAD_REQUEST, "'params' must be an object")
    by_name = {p.name: p for p in schema}
    unknown = sorted(set(params) - set(by_name))
    if unknown:
        raise ProtocolError(ErrorCode.BAD_REQUEST,
                            f"unknown parameter(s) {', '.join(unknown)}; known: {', '.join(sorted(by_name))}")
    cleaned = {}
    for spec in schema:
        if spec.name in params:
            cleaned[spec.name] = spec.coerce(params[spec.name])
        else:
            cleaned[spec.name] = spec.default
    return cleaned


def json_safe(value):
    """``value`` with numpy scalars/arrays made plain, NaN/inf turned into None and anything else
    unknown into its string, so an op's metadata (say, a NaN metric) can never break the wire."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, np.ndarray):
        return json_safe(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, (bool, int, str)):
        return value
    return str(value)


# --------------------------------------------------------------------------------------------
# Framing

def encode_message(header: dict, buffers: list[tuple[str, np.ndarray]] | None = None) -> list[bytes]:
    """Build the frames of one message; ``header['buffers']`` is filled in from ``buffers``."""
    header = dict(header)
    header.setdefault("kiln", PROTOCOL_VERSION)
    frames: list[bytes] = []
    described = []
    for name, array in buffers or []:
        array = np.asarray(array)
        dtype_name = array.dtype.name
        if dtype_name not in ALLOWED_DTYPES:
            raise ProtocolError(ErrorCode.BAD_REQUEST, f"buffer {name!r} has dtype {dtype_name}, not allowed")
        little = array.astype(array.dtype.newbyteorder("<"), copy=False)
        described.append({"name": name, "dtype": dtype_name, "shape": list(array.shape)})
        frames.append(np.ascontiguousarray(little).tobytes())
    header["buffers"] = described
    return [json.dumps(header, separators=(",", ":"), allow_nan=False).encode("utf-8")] + frames


def decode_message(frames: list, limits: Limits = DEFAULT_LIMITS) -> tuple[dict, dict[str, np.ndarray]]:
    """Parse and validate frames into (header, {buffer name: array}). Raises ProtocolError."""
    if not frames:
        raise ProtocolError(ErrorCode.BAD_REQUEST, "empty message")
    if len(frames) > limits.max_frames:
        raise ProtocolError(ErrorCode.TOO_LARGE, f"{len(frames)} frames; at most {limits.max_frames} allowed")
    sizes = [len(memoryview(f)) for f in frames]
    if sum(sizes) > limits.max_total_bytes:
        raise ProtocolError(ErrorCode.TOO_LARGE,
                            f"message is {sum(sizes)} bytes; at most {limits.max_total_bytes} allowed")
    if sizes[0] > limits.max_header_bytes:
        raise ProtocolError(ErrorCode.TOO_LARGE, f"header is {sizes[0]} bytes; at most {limits.max_header_bytes}")
    try:
        header = json.loads(bytes(frames[0]).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"header is not valid UTF-8 JSON: {exc}") from None
    if not isinstance(header, dict):
        raise ProtocolError(ErrorCode.BAD_REQUEST, "header must be a JSON object")
    version = header.get("kiln")
    if version != PROTOCOL_VERSION:
        raise ProtocolError(ErrorCode.VERSION_MISMATCH,
                            f"protocol version {version!r} not supported; this side speaks {PROTOCOL_VERSION}")
    if not isinstance(header.get("type"), str):
        raise ProtocolError(ErrorCode.BAD_REQUEST, "header needs a string 'type'")
    described = header.get("buffers", [])
    if not isinstance(described, list):
        raise ProtocolError(ErrorCode.BAD_REQUEST, "'buffers' must be a list")
    if len(described) != len(frames) - 1:
        raise ProtocolError(ErrorCode.BAD_REQUEST,
                            f"header describes {len(described)} buffers but {len(frames) - 1} frames follow")
    arrays: dict[str, np.ndarray] = {}
    for desc, frame in zip(described, frames[1:]):
        name, array = _decode_buffer(desc, frame, limits)
        if name in arrays:
            raise ProtocolError(ErrorCode.BAD_REQUEST, f"buffer {name!r} appears twice")
        arrays[name] = array
    return header, arrays


def _decode_buffer(desc: Any, frame, limits: Limits) -> tuple[str, np.ndarray]:
    if not isinstance(desc, dict):
        raise ProtocolError(ErrorCode.BAD_REQUEST, "each buffer description must be an object")
    name, dtype_name, shape = desc.get("name"), desc.get("dtype"), desc.get("shape")
    if not isinstance(name, str) or not name or len(name) > 200:
        raise ProtocolError(ErrorCode.BAD_REQUEST, "buffer needs a non-empty string 'name'")
    if dtype_name not in ALLOWED_DTYPES:
        raise ProtocolError(ErrorCode.BAD_REQUEST,
                            f"buffer {name!r}: dtype {dtype_name!r} not allowed; use one of {sorted(ALLOWED_DTYPES)}")
    if (not isinstance(shape, list) or len(shape) > limits.max_buffer_dims
            or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in shape)):
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"buffer {name!r}: shape must be a list of non-negative ints")
    dtype = np.dtype(ALLOWED_DTYPES[dtype_name]).newbyteorder("<")
    count = math.prod(shape)
    nbytes = len(memoryview(frame))
    if count * dtype.itemsize != nbytes:
        raise ProtocolError(ErrorCode.BAD_REQUEST,
                            f"buffer {name!r}: shape {shape} x {dtype.itemsize} bytes != frame of {nbytes} bytes")
    array = np.frombuffer(frame, dtype=dtype).reshape(shape)
    return name, array.astype(dtype.newbyteorder("="))  # a private, writable copy: frames get reused


def error_header(request_id: Any, code: str, message: str, job: str | None = None) -> dict:
    """The header of an ``error`` reply."""
    header = {"kiln": PROTOCOL_VERSION, "type": MsgType.ERROR, "id": request_id, "code": code, "message": message}
    if job is not None:
        header["job"] = job
    return header
