"""`kiln-backend keys DIR`: create CurveZMQ key pairs for a server and its allowed clients.

DIR/server.key(_secret)           the server's pair (serve --curve-keys DIR)
DIR/authorized_clients/NAME.key   public keys the server accepts (delete one to revoke it)
DIR/clients/NAME/                 a bundle to give to client NAME: its pair + server.key
                                  (submit --curve-keys DIR/clients/NAME, or the add-on's setting)
Files are zmq.auth's plain-text certificates; secret files are readable by the owner only.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path


def register(subparsers) -> None:
    parser = subparsers.add_parser("keys", help="create CURVE keys for a non-loopback server",
                                   description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("directory", type=Path, help="keys folder")
    parser.add_argument("--client", action="append", default=[], metavar="NAME",
                        help="create a key pair for this client (repeatable; default: one named 'blender')")
    parser.set_defaults(func=run)


def run(args) -> int:
    import zmq.auth

    directory = args.directory
    allowed = directory / "authorized_clients"
    allowed.mkdir(parents=True, exist_ok=True)
    if not (directory / "server.key_secret").exists():
        zmq.auth.create_certificates(directory, "server")
        os.chmod(directory / "server.key_secret", 0o600)
        print(f"created server keys in {directory}")
    names = args.client or ([] if any(allowed.glob("*.key")) else ["blender"])
    for name in names:
        if not name.replace("-", "").replace("_", "").isalnum():
            print(f"client name {name!r} must be letters, digits, - or _")
            return 2
        bundle = directory / "clients" / name
        if (bundle / f"{name}.key_secret").exists():
            print(f"client {name} already has keys in {bundle}")
            continue
        bundle.mkdir(parents=True, exist_ok=True)
        public, secret = zmq.auth.create_certificates(bundle, name)
        os.chmod(secret, 0o600)
        shutil.copy(public, allowed / f"{name}.key")
        shutil.copy(directory / "server.key", bundle / "server.key")
        print(f"created client {name}: give {bundle} to that user")
    return 0
