"""Bad input against a real backend subprocess: each gets one clear error and the server goes on."""
import json

import numpy as np
import pytest

from shared.client import Client
from shared.payload import MeshPayload, pack_payloads
from shared.protocol import ErrorCode, encode_message
from tests.platform_helpers.meshes import quad_box
from tests.platform_helpers.server_proc import running_server
from tests.platform_helpers.wire import RawPeer


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with running_server(tmp_path_factory.mktemp("store"), "--max-message-mb", "1") as proc:
        yield proc


@pytest.fixture
def peer(server):
    raw = RawPeer(server.address)
    yield raw
    raw.close()


def _mesh_submit(mesh_fields: dict, op="count", params=None):
    """A submit whose mesh buffers are overridden by ``mesh_fields`` (name -> array)."""
    described, buffers = pack_payloads({"mesh": quad_box(parts=False, uvs=False)})
    arrays = dict(buffers)
    arrays.update({f"mesh.{k}": v for k, v in mesh_fields.items()})
    return encode_message({"type": "submit", "id": "r1", "op": op, "params": params or {}, "inputs": described},
                          list(arrays.items()))


def _header(extra: dict) -> list[bytes]:
    return [json.dumps({"kiln": 1, "id": "r1", **extra}).encode()]


CASES = {
    "malformed json": ([b'{"kiln": 1, "id": "r1", "type": '], ErrorCode.BAD_REQUEST, "JSON"),
    "header not object": ([b"[1]"], ErrorCode.BAD_REQUEST, "object"),
    "wrong version": (_header({"kiln": 99, "type": "hello"}), ErrorCode.VERSION_MISMATCH, "version"),
    "unknown type": (_header({"type": "dance"}), ErrorCode.BAD_REQUEST, "unknown request type"),
    "wrong id type": (_header({"type": "hello", "id": [1]}), ErrorCode.BAD_REQUEST, "'id'"),
    "unknown op": (_header({"type": "submit", "op": "teleport"}), ErrorCode.UNKNOWN_OP, "count"),
    "op not a string": (_header({"type": "submit", "op": 3}), ErrorCode.UNKNOWN_OP, "unknown op"),
    "unknown param": (_header({"type": "submit", "op": "count", "params": {"speed": 1}}),
                      ErrorCode.BAD_REQUEST, "speed"),
    "wrong param type": (_header({"type": "submit", "op": "count", "params": {"n": "five"}}),
                         ErrorCode.BAD_REQUEST, "integer"),
    "param out of range": (_header({"type": "submit", "op": "count", "params": {"n": -1}}),
                           ErrorCode.BAD_REQUEST, ">="),
    "params not object": (_header({"type": "submit", "op": "count", "params": [1]}), ErrorCode.BAD_REQUEST, "object"),
    "unknown input": (_header({"type": "submit", "op": "count", "inputs": {"img": {"kind": "image"}}}),
                      ErrorCode.BAD_REQUEST, "missing buffer"),
    "dtype mismatch": (_mesh_submit({"positions": np.zeros((8, 3), np.uint8)}), ErrorCode.BAD_REQUEST, "float32"),
    "shape mismatch": (_mesh_submit({"positions": np.zeros((8, 2), np.float32)}), ErrorCode.BAD_REQUEST, "(V,3)"),
    "nan coordinates": (_mesh_submit({"positions": np.full((8, 3), np.nan, np.float32)}),
                        ErrorCode.BAD_REQUEST, "NaN"),
    "index out of range": (_mesh_submit({"face_indices": np.full(24, 50, np.int32)}),
                           ErrorCode.BAD_REQUEST, "out of range"),
    "empty mesh": (_mesh_submit({"positions": np.zeros((0, 3), np.float32), "face_sizes": np.zeros(0, np.int32),
                                 "face_indices": np.zeros(0, np.int32)}), ErrorCode.BAD_REQUEST, "empty"),
    "frame size lies": ([json.dumps({"kiln": 1, "id": "r1", "type": "submit", "op": "count", "buffers": [
        {"name": "mesh.positions", "dtype": "float32", "shape": [100, 3]}]}).encode(), b"\0" * 12],
        ErrorCode.BAD_REQUEST, "frame of 12 bytes"),
    "oversized message": (_header({"type": "hello"}) + [b"\0" * (2 * 1024 * 1024)], ErrorCode.TOO_LARGE, "at most"),
    "cancel unknown job": (_header({"type": "cancel", "job": "20990101-000000-deadbeef"}), ErrorCode.NOT_FOUND, "no job"),
    "fetch unknown job": (_header({"type": "fetch", "job": "../../etc/passwd"}), ErrorCode.NOT_FOUND, "no job"),
    "status bad job type": (_header({"type": "status", "job": 5}), ErrorCode.BAD_REQUEST, "job id"),
    "status bad limit": (_header({"type": "status", "limit": 10**6}), ErrorCode.BAD_REQUEST, "limit"),
    "hello with buffers": (encode_message({"type": "hello", "id": "r1"}, [("x", np.zeros(1, np.uint8))]),
                           ErrorCode.BAD_REQUEST, "no buffers"),
    "client name too long": (_header({"type": "submit", "op": "count", "client": "x" * 500}),
                             ErrorCode.BAD_REQUEST, "client"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_request_gets_exactly_one_clear_error(server, peer, case):
    frames, code, words = CASES[case]
    peer.send(frames)
    replies = peer.replies_until_quiet(0.5 if case == "oversized message" else 0.15)
    assert len(replies) == 1, replies
    (reply,) = replies
    assert reply["type"] == "error" and reply["code"] == code, reply
    assert words in reply["message"]
    if case not in ("malformed json", "header not object", "wrong id type"):
        assert reply["id"] == "r1"  # the error answers the request it belongs to
    assert peer.request({"type": "hello", "id": "after"})["type"] == "welcome"


def test_wrong_input_kind_and_missing_required_input(server):
    with Client(server.address) as client:
        client.connect()
        from shared.client import KilnError
        from shared.payload import ImagePayload

        with pytest.raises(KilnError) as info:
            client.submit("count", {}, {"mesh": ImagePayload(np.zeros((2, 2, 4), np.uint8))})
        assert info.value.code == ErrorCode.BAD_REQUEST and "must be a mesh" in info.value.message
        with pytest.raises(KilnError) as info:
            client.submit("count", {}, {"extra": MeshPayload.from_triangles(np.eye(3), [[0, 1, 2]])})
        assert "no input(s) extra" in info.value.message


def test_server_logs_rejections(server):
    assert "rejected" in server.log_text()
