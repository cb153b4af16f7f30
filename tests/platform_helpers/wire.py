"""Raw DEALER access for tests that must send what a well-behaved Client never would."""
from __future__ import annotations

import json

import zmq

from shared.protocol import decode_message, encode_message


class RawPeer:
    """A bare DEALER socket: send arbitrary frames, read replies."""

    def __init__(self, address: str, curve=None):
        self.context = zmq.Context.instance()
        self.socket = self.context.socket(zmq.DEALER)
        self.socket.setsockopt(zmq.LINGER, 0)
        if curve is not None:
            self.socket.curve_serverkey = curve.server_public
            self.socket.curve_publickey = curve.client_public
            self.socket.curve_secretkey = curve.client_secret
        self.socket.connect(address)

    def send(self, frames: list[bytes]) -> None:
        self.socket.send_multipart(frames)

    def request(self, header: dict, buffers=None) -> dict:
        self.send(encode_message(header, buffers))
        return self.reply()

    def reply(self, timeout: float = 10.0) -> dict | None:
        """The next message's header (decoded leniently), or None on timeout."""
        if not self.socket.poll(int(timeout * 1000)):
            return None
        frames = self.socket.recv_multipart()
        try:
            return decode_message(frames)[0]
        except Exception:
            return json.loads(frames[0])

    def replies_until_quiet(self, quiet: float = 0.3) -> list[dict]:
        found = []
        while (header := self.reply(quiet)) is not None:
            found.append(header)
        return found

    def close(self) -> None:
        self.socket.close(0)
