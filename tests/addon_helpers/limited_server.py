"""A ZeroMQ ROUTER on loopback that answers ``hello`` with a chosen welcome and refuses everything else.

Used only to show how the add-on behaves with a backend that lacks ops or parameters; the real
backend's welcome is covered by the backend's own tests and by the other add-on tests.
"""
from __future__ import annotations

import threading

import zmq

from shared.protocol import ErrorCode, decode_message, encode_message, error_header


class LimitedServer:
    def __init__(self, ops: dict, models: list | None = None):
        self.ops = ops
        self.models = models or []
        self._context = zmq.Context.instance()
        self._socket = self._context.socket(zmq.ROUTER)
        self._socket.setsockopt(zmq.LINGER, 0)
        port = self._socket.bind_to_random_port("tcp://127.0.0.1")
        self.address = f"tcp://127.0.0.1:{port}"
        self.requests: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            if not self._socket.poll(50):
                continue
            peer, *frames = self._socket.recv_multipart()
            header, _ = decode_message(frames)
            self.requests.append(header["type"])
            if header["type"] == "hello":
                reply = {"type": "welcome", "id": header["id"], "version": 1, "ops": self.ops,
                         "models": self.models, "device": "cpu"}
            elif header["type"] == "status" and "job" not in header:
                reply = {"type": "status", "id": header["id"], "jobs": []}
            else:
                reply = error_header(header["id"], ErrorCode.UNKNOWN_OP, "this test server runs nothing")
            self._socket.send_multipart([peer] + encode_message(reply))

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self._socket.close(0)
