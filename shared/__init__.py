"""Kiln shared package: the wire protocol, payloads and the client. Pure stdlib + numpy + pyzmq."""
