"""shared/protocol.py: framing, limits and parameter validation."""
import json

import numpy as np
import pytest

from shared.protocol import (PROTOCOL_VERSION, ErrorCode, Limits, ParamSpec, ProtocolError, decode_message,
                             encode_message, validate_params)


def _code(frames, limits=Limits()):
    with pytest.raises(ProtocolError) as info:
        decode_message(frames, limits)
    return info.value.code


def test_round_trip_keeps_arrays_and_header():
    arrays = [("a", np.arange(6, dtype=np.float32).reshape(2, 3)), ("b", np.array([1, -2], dtype=np.int32)),
              ("c", np.zeros((2, 2, 4), dtype=np.uint8))]
    header, decoded = decode_message(encode_message({"type": "x", "id": 7}, arrays))
    assert header["kiln"] == PROTOCOL_VERSION and header["id"] == 7
    for name, array in arrays:
        assert decoded[name].dtype == array.dtype and np.array_equal(decoded[name], array)
    decoded["a"][0, 0] = 5  # decoded buffers are private and writable


def test_big_endian_input_is_sent_little_endian():
    frames = encode_message({"type": "x"}, [("a", np.array([1.5, 2.5], dtype=">f4"))])
    assert frames[1] == np.array([1.5, 2.5], dtype="<f4").tobytes()


@pytest.mark.parametrize("frames, code", [
    ([], ErrorCode.BAD_REQUEST),
    ([b"{not json"], ErrorCode.BAD_REQUEST),
    ([b"\xff\xfe"], ErrorCode.BAD_REQUEST),
    ([b"[1, 2]"], ErrorCode.BAD_REQUEST),
    ([b'{"kiln": 2, "type": "hello"}'], ErrorCode.VERSION_MISMATCH),
    ([b'{"type": "hello"}'], ErrorCode.VERSION_MISMATCH),
    ([b'{"kiln": 1, "type": 5}'], ErrorCode.BAD_REQUEST),
    ([b'{"kiln": 1, "type": "x", "buffers": [{"name": "a", "dtype": "float32", "shape": [2]}]}'],
     ErrorCode.BAD_REQUEST),
    ([b'{"kiln": 1, "type": "x", "buffers": [{"name": "a", "dtype": "float64", "shape": [1]}]}', b"\0" * 8],
     ErrorCode.BAD_REQUEST),
    ([b'{"kiln": 1, "type": "x", "buffers": [{"name": "a", "dtype": "float32", "shape": [3]}]}', b"\0" * 8],
     ErrorCode.BAD_REQUEST),
    ([b'{"kiln": 1, "type": "x", "buffers": [{"name": "a", "dtype": "float32", "shape": [-1]}]}', b""],
     ErrorCode.BAD_REQUEST),
    ([b'{"kiln": 1, "type": "x", "buffers": [{"name": "a", "dtype": "uint8", "shape": [1]}, '
      b'{"name": "a", "dtype": "uint8", "shape": [1]}]}', b"1", b"2"], ErrorCode.BAD_REQUEST),
    ([b'{"kiln": 1, "type": "x", "buffers": "nope"}'], ErrorCode.BAD_REQUEST),
])
def test_malformed_frames_are_rejected_with_a_code(frames, code):
    assert _code(frames) == code


def test_limits_are_enforced_before_parsing():
    limits = Limits(max_header_bytes=100, max_frames=3, max_total_bytes=1000)
    assert _code([b" " * 101], limits) == ErrorCode.TOO_LARGE
    assert _code([b"{}"] * 4, limits) == ErrorCode.TOO_LARGE
    assert _code([b"{}", b"\0" * 1000], limits) == ErrorCode.TOO_LARGE
    header = {"kiln": 1, "type": "x", "buffers": [{"name": "a", "dtype": "uint8", "shape": [1, 1, 1, 1]}]}
    assert _code([json.dumps(header).encode(), b"\0"], limits) == ErrorCode.BAD_REQUEST


def test_encode_refuses_nan_in_header_and_bad_dtypes():
    with pytest.raises(ValueError):
        encode_message({"type": "x", "v": float("nan")})
    with pytest.raises(ProtocolError):
        encode_message({"type": "x"}, [("a", np.zeros(2, dtype=np.float64))])


def test_param_specs_coerce_and_reject():
    schema = [ParamSpec("faces", "int", 100, minimum=10, maximum=1000), ParamSpec("ratio", "float", 0.5),
              ParamSpec("mode", "choice", "quad", choices=["quad", "tri"]), ParamSpec("sharp", "bool", True),
              ParamSpec("prompt", "str", "", max_length=5)]
    assert validate_params(schema, {"faces": 20.0}) == {"faces": 20, "ratio": 0.5, "mode": "quad",
                                                        "sharp": True, "prompt": ""}
    bad = [{"faces": 5}, {"faces": 2000}, {"faces": 1.5}, {"faces": True}, {"faces": "10"},
           {"ratio": float("inf")}, {"mode": "hex"}, {"sharp": 1}, {"prompt": "toolong"}, {"prompt": 3},
           {"unknown": 1}]
    for params in bad:
        with pytest.raises(ProtocolError) as info:
            validate_params(schema, params)
        assert info.value.code == ErrorCode.BAD_REQUEST
    with pytest.raises(ProtocolError):
        validate_params(schema, [1, 2])
    spec = ParamSpec.from_json(schema[0].to_json())
    assert spec == schema[0]


def test_json_safe_makes_metadata_encodable():
    from shared.protocol import json_safe

    value = {"nan": float("nan"), "inf": np.float32("inf"), "n": np.int64(3), "arr": np.arange(2),
             "nested": [(1.5, None)], 7: object}
    safe = json_safe(value)
    assert safe["nan"] is None and safe["inf"] is None and safe["n"] == 3 and safe["arr"] == [0, 1]
    assert safe["nested"] == [[1.5, None]] and safe["7"].startswith("<class")
    encode_message({"type": "x", "info": safe})  # would raise on NaN or numpy values
