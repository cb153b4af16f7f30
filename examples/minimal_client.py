"""A complete Kiln client in plain pyzmq + numpy; nothing from Kiln is imported (docs/protocol.md).

Usage: python examples/minimal_client.py tcp://HOST:PORT [target_faces]
Builds a UV sphere (quads, triangle fans at the poles), asks the backend to retopologize it into
quads, prints progress while it waits and writes the result to ./retopo.obj (Z up, as sent).
"""
import json
import sys

import numpy as np
import zmq

def receive(sock, timeout_s=30):
    """The next message: frame 0 a JSON header describing the raw little-endian buffers after it."""
    if not sock.poll(timeout_s * 1000):
        sys.exit(f"no message from the backend in {timeout_s} s; is it running?")
    header, *frames = sock.recv_multipart()
    header = json.loads(header)
    return header, {d["name"]: np.frombuffer(f, np.dtype(d["dtype"]).newbyteorder("<")).reshape(d["shape"])
                    for d, f in zip(header["buffers"], frames)}


def request(sock, header, buffers=()):
    """Send one request; return its direct reply (the same id). An ``error`` reply ends the program."""
    header = {"kiln": 1, "id": header["type"], **header,  # one request in flight: its type is a fine id
              "buffers": [{"name": n, "dtype": a.dtype.name, "shape": list(a.shape)} for n, a in buffers]}
    sock.send_multipart([json.dumps(header).encode()] + [a.astype(a.dtype.newbyteorder("<")).tobytes()
                                                         for _, a in buffers])
    while True:
        reply, arrays = receive(sock)
        if reply.get("id") == header["id"]:
            if reply["type"] == "error":
                sys.exit(f"{header['type']} refused: {reply['code']}: {reply['message']}")
            return reply, arrays


def uv_sphere(rings=12, segments=24):
    """positions float32 (V,3), face_sizes int32 (F,), face_indices int32 (sum of sizes)."""
    theta, phi = np.meshgrid(np.linspace(0, np.pi, rings + 1)[1:-1], np.linspace(0, 2 * np.pi, segments + 1)[:-1],
                             indexing="ij")
    ring = np.stack([np.sin(theta) * np.cos(phi), np.sin(theta) * np.sin(phi), np.cos(theta)], -1).reshape(-1, 3)
    top, bottom, last = len(ring), len(ring) + 1, rings - 2
    v = lambda r, i: r * segments + i % segments  # noqa: E731
    faces = [[top, v(0, i), v(0, i + 1)] for i in range(segments)] + [[bottom, v(last, i + 1), v(last, i)]
                                                                         for i in range(segments)]
    faces += [[v(r, i), v(r + 1, i), v(r + 1, i + 1), v(r, i + 1)] for r in range(last) for i in range(segments)]
    return (np.vstack([ring, [[0, 0, 1], [0, 0, -1]]]).astype(np.float32),
            np.array([len(f) for f in faces], np.int32), np.array(sum(faces, []), np.int32))


def main(address, target_faces=300):
    sock = zmq.Context().socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(address)
    welcome, _ = request(sock, {"type": "hello", "client": "minimal-client"})
    print(f"Kiln protocol v{welcome['version']} on {welcome['device']}; ops: {', '.join(welcome['ops'])}")
    mesh = dict(zip(("positions", "face_sizes", "face_indices"), uv_sphere()))
    job = request(sock, {"type": "submit", "op": "retopo", "inputs": {"mesh": {"kind": "mesh"}},
                         "params": {"target_faces": target_faces, "mode": "quad"}},
                  [(f"mesh.{k}", a) for k, a in mesh.items()])[0]["job"]
    print(f"job {job}: sent {len(mesh['face_sizes'])} faces")
    event = {}
    while event.get("type") != "result":  # this socket gets its own jobs' events: progress, then result or error
        event, arrays = receive(sock, timeout_s=600)
        if event["type"] == "progress":
            print(f"  {event['fraction']:4.0%} {event['stage']}: {event['message']}", flush=True)
        elif event["type"] == "error":
            sys.exit(f"job {event['job']} {event['code']}: {event['message']}")
    pos, sizes, indices = (arrays[f"mesh.{k}"] for k in ("positions", "face_sizes", "face_indices"))
    with open("retopo.obj", "w") as out:
        out.writelines(f"v {x:.6f} {y:.6f} {z:.6f}\n" for x, y, z in pos)
        out.writelines(f"f {' '.join(map(str, f))}\n" for f in np.split(indices + 1, np.cumsum(sizes)[:-1]))
    print(f"wrote retopo.obj: {len(pos)} vertices, {len(sizes)} faces ({np.mean(sizes == 4):.0%} quads)")


if __name__ == "__main__":
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    main(sys.argv[1], *map(int, sys.argv[2:]))
