"""Server and protocol benchmark; every number is printed next to a baseline measured in this run.

1. ``status`` round trips per second through a real backend vs a bare pyzmq DEALER/ROUTER echo.
2. 20 clients submitting concurrently: every job accepted once and finished once (none lost, none
   duplicated), with throughput.
3. A ~1M-triangle mesh through the protocol (submit = encode + send + server decode/validate,
   fetch = server load + send + decode) vs the same mesh written and read back as GLB by trimesh.

Run: .venv/bin/python bench/server.py   (about a minute on 2 cores; --quick for a smoke run)
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import zmq

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from shared.client import Client  # noqa: E402
from shared.payload import MeshPayload  # noqa: E402
from tests.platform_helpers.server_proc import start_server, stop_server  # noqa: E402


def grid_mesh(rows: int, cols: int) -> MeshPayload:
    """A wavy height-field of rows x cols quads, split into 2 * rows * cols triangles."""
    y, x = np.mgrid[0:rows + 1, 0:cols + 1].astype(np.float32)
    z = 0.1 * np.sin(x / 7) * np.cos(y / 5)
    positions = np.stack([x, y, z], axis=-1).reshape(-1, 3).astype(np.float32)
    index = np.arange((rows + 1) * (cols + 1)).reshape(rows + 1, cols + 1)
    a, b, c, d = index[:-1, :-1], index[:-1, 1:], index[1:, 1:], index[1:, :-1]
    tris = np.concatenate([np.stack([a, b, c], -1).reshape(-1, 3), np.stack([a, c, d], -1).reshape(-1, 3)])
    return MeshPayload.from_triangles(positions, tris)


def echo_round_trips(seconds: float) -> float:
    """Baseline: a bare ROUTER echo thread and a DEALER, same transport, no Kiln code."""
    context = zmq.Context()
    router = context.socket(zmq.ROUTER)
    port = router.bind_to_random_port("tcp://127.0.0.1")
    stop = threading.Event()

    def echo():
        poller = zmq.Poller()
        poller.register(router, zmq.POLLIN)
        while not stop.is_set():
            if poller.poll(100):
                router.send_multipart(router.recv_multipart())

    thread = threading.Thread(target=echo)
    thread.start()
    dealer = context.socket(zmq.DEALER)
    dealer.connect(f"tcp://127.0.0.1:{port}")
    message = b'{"kiln":1,"type":"status","id":"1","job":"20260101-000000-00000000","buffers":[]}'
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        dealer.send(message)
        dealer.recv()
        count += 1
    rate = count / (time.perf_counter() - start)
    stop.set()
    thread.join()
    dealer.close(0)
    router.close(0)
    context.term()
    return rate


def status_round_trips(address: str, job: str, seconds: float) -> float:
    with Client(address) as client:
        count, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            client.status(job)
            count += 1
        return count / (time.perf_counter() - start)


def concurrent_clients(address: str, clients: int, jobs_each: int) -> dict:
    accepted: list[str] = []
    finished: list[tuple[str, float]] = []
    errors: list[str] = []
    lock = threading.Lock()

    def work(index: int) -> None:
        try:
            with Client(address, client_name=f"bench-{index}", timeout=60) as client:
                mine = [client.submit("count", {"n": 1, "step_ms": 1, "scale": float(index * 100 + k)})
                        for k in range(jobs_each)]
                with lock:
                    accepted.extend(mine)
                for k, job in enumerate(mine):
                    value = float(client.wait(job, timeout=120)["mesh"].positions.max())
                    with lock:
                        finished.append((job, value))
                    if value != float(index * 100 + k):
                        errors.append(f"job {job} returned another client's result")
        except Exception as exc:  # counted as a failure below
            with lock:
                errors.append(repr(exc))

    start = time.perf_counter()
    threads = [threading.Thread(target=work, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - start
    ids = [job for job, _ in finished]
    return {"submitted": clients * jobs_each, "accepted": len(accepted), "finished": len(finished),
            "unique": len(set(ids)), "errors": errors, "seconds": elapsed}


def mesh_transfer(address: str, mesh: MeshPayload, repeats: int) -> dict:
    import trimesh

    with Client(address, timeout=300) as client:
        client.connect()
        submit_times, fetch_times = [], []
        for _ in range(repeats):
            start = time.perf_counter()
            job = client.submit("count", {"n": 0, "scale": 1.0}, {"mesh": mesh})
            submit_times.append(time.perf_counter() - start)
            client.wait(job, timeout=600)
            start = time.perf_counter()
            fetched = client.fetch(job)["mesh"]
            fetch_times.append(time.perf_counter() - start)
        assert np.array_equal(fetched.face_indices, mesh.face_indices)
    faces = mesh.triangulated()
    glb_times = []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "mesh.glb"
        for _ in range(repeats):
            start = time.perf_counter()
            trimesh.Trimesh(mesh.positions, faces, process=False).export(path)
            loaded = trimesh.load(path, force="mesh", process=False)
            glb_times.append(time.perf_counter() - start)
        assert len(loaded.faces) == len(faces)
    return {"submit": min(submit_times), "fetch": min(fetch_times), "glb": min(glb_times)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="short smoke run (smaller mesh, fewer seconds)")
    args = parser.parse_args()
    seconds = 1.0 if args.quick else 3.0
    rows, cols = (100, 100) if args.quick else (500, 1000)
    with tempfile.TemporaryDirectory() as store:
        server = start_server(Path(store) / "store", "--cpu-workers", "2")
        try:
            with Client(server.address) as client:
                job = client.submit("count", {"n": 1, "step_ms": 1})
                client.wait(job, timeout=60)
            echo = echo_round_trips(seconds)
            kiln = status_round_trips(server.address, job, seconds)
            print(f"status round trips/s: kiln {kiln:,.0f}  bare pyzmq echo {echo:,.0f}  ratio {kiln / echo:.2f}")

            result = concurrent_clients(server.address, clients=20, jobs_each=5)
            ok = (result["accepted"] == result["finished"] == result["unique"] == result["submitted"]
                  and not result["errors"])
            print(f"20 concurrent clients x 5 jobs: submitted {result['submitted']}, accepted {result['accepted']}, "
                  f"finished {result['finished']}, unique ids {result['unique']}, errors {len(result['errors'])} "
                  f"-> {'none lost or duplicated' if ok else 'FAILED ' + '; '.join(result['errors'][:3])}; "
                  f"{result['submitted'] / result['seconds']:.0f} jobs/s")

            mesh = grid_mesh(rows, cols)
            timing = mesh_transfer(server.address, mesh, repeats=1 if args.quick else 3)
            protocol = timing["submit"] + timing["fetch"]
            print(f"{mesh.num_faces:,}-triangle mesh ({mesh.num_vertices:,} vertices): protocol submit "
                  f"{timing['submit'] * 1000:.0f} ms + fetch {timing['fetch'] * 1000:.0f} ms = {protocol * 1000:.0f} ms; "
                  f"trimesh GLB write+read {timing['glb'] * 1000:.0f} ms; ratio (GLB / protocol) "
                  f"{timing['glb'] / protocol:.2f}x")
            return 0 if ok else 1
        finally:
            stop_server(server)


if __name__ == "__main__":
    sys.exit(main())
