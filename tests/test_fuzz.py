"""Random multipart messages thrown at a real backend: every one gets one reply, the server survives."""
import json
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.platform_helpers.server_proc import running_server
from tests.platform_helpers.wire import RawPeer


@pytest.fixture(scope="module")
def peer(tmp_path_factory):
    with running_server(tmp_path_factory.mktemp("store"), "--max-message-mb", "1") as server:
        raw = RawPeer(server.address)
        yield raw
        raw.close()


json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
                           lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                           max_leaves=12)
buffer_desc = st.fixed_dictionaries({"name": st.sampled_from(["mesh.positions", "mesh.face_sizes", "mesh.face_indices",
                                                              "image.pixels", "x", ""]),
                                     "dtype": st.sampled_from(["float32", "int32", "uint8", "float64", "object"]),
                                     "shape": st.lists(st.integers(-2, 6), max_size=4)})
headers = st.fixed_dictionaries(
    {"kiln": st.sampled_from([1, 1, 1, 2, None, "1"]),
     "type": st.sampled_from(["hello", "submit", "cancel", "status", "fetch", "unload", "welcome", "zzz"]),
     "op": st.sampled_from(["count", "model_count", "nope", None]),
     "params": json_values,
     "inputs": st.one_of(st.just({"mesh": {"kind": "mesh"}}), json_values),
     "job": st.one_of(st.text(max_size=30), st.none()),
     "buffers": st.lists(buffer_desc, max_size=4)},
    optional={"client": json_values, "limit": json_values, "model": json_values})
structured = st.tuples(headers, st.lists(st.binary(max_size=96), max_size=4))
garbage = st.lists(st.binary(max_size=300), min_size=1, max_size=5)
_ids = iter(range(10**9))


def _is_job_event(header: dict) -> bool:
    """Progress/result/error events of jobs the fuzzer managed to submit (not replies)."""
    return header.get("id") is None and "job" in header and header.get("type") in ("progress", "result", "error")


def _next_reply(peer, timeout: float):
    deadline = time.monotonic() + timeout
    while (remaining := deadline - time.monotonic()) > 0:
        header = peer.reply(remaining)
        if header is None or not _is_job_event(header):
            return header
    return None


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])
@given(message=st.one_of(structured, garbage.map(lambda frames: (None, frames))))
def test_random_messages_get_one_reply_each(peer, message):
    header, buffers = message
    marker = None
    if header is not None:
        marker = f"fuzz-{next(_ids)}"
        frames = [json.dumps({**header, "id": marker}).encode()] + buffers
    else:
        frames = buffers
    peer.send(frames)
    reply = _next_reply(peer, 20)
    assert reply is not None, "no reply"
    assert reply["type"] in ("error", "welcome", "accepted", "status", "result")
    if marker is not None and header.get("kiln") == 1:
        assert reply["id"] == marker
    assert _next_reply(peer, 0.02) is None, "a second reply"


def test_server_still_serves_after_fuzzing(peer):
    peer.replies_until_quiet(0.5)
    assert peer.request({"type": "hello", "id": "last"})["type"] == "welcome"
