#!/usr/bin/env python3
"""Cross-checks kez-nats output with the Python NATS implementations.

Run by kez-verify/nats/tests/server.rs with `.venv-nats/bin/python` (crosstest/nats/setup.sh):

    check_py.py INPUT.json

INPUT.json (written by the Rust test) holds:
  url            nats://127.0.0.1:PORT of a nats-server running the generated config
  creds          a generated .creds file
  allowed        a subject the user may publish and subscribe to
  denied_pub     a subject the user may not publish to
  denied_sub     a subject the user may not subscribe to
  keys           [{"role", "seed_file", "public", "raw_hex"}] for operator, account, user
  message_hex    a message, and signature_hex its Ed25519 signature by keys[-1] (our crate)
  jwt            a JWT signed by our crate, and jwt_signer its issuer's seed file

Prints one JSON object on stdout (see `main`); exit status 0 unless the script itself broke.
"""

import asyncio
import base64
import json
import sys
from importlib.metadata import version

import nacl.signing
import nats
import nkeys
from nats.errors import Error as NatsError

TIMEOUT = 5.0


def decode_public(text):
    """Decodes a public nkey with only base64 and nkeys.crc16: (prefix byte, raw 32 bytes)."""
    padded = text + "=" * (-len(text) % 8)
    raw = base64.b32decode(padded)
    body, crc = raw[:-2], int.from_bytes(raw[-2:], "little")
    if nkeys.crc16(bytearray(body)) != crc:
        raise ValueError("bad crc")
    if not nkeys.valid_public_prefix_byte(body[0]):
        raise ValueError("bad prefix")
    return body[0], bytes(body[1:])


def check_keys(spec):
    out = []
    for key in spec["keys"]:
        with open(key["seed_file"], "rb") as f:
            seed = f.read().strip()
        prefix, raw_seed = nkeys.decode_seed(seed)
        pair = nkeys.from_seed(bytearray(seed))
        public_from_seed = pair.public_key.decode()
        pub_prefix, raw_public = decode_public(key["public"])
        raw_from_seed = bytes(nacl.signing.SigningKey(bytes(raw_seed)).verify_key)
        out.append(
            {
                "role": key["role"],
                "public_from_seed": public_from_seed,
                "public_matches": public_from_seed == key["public"],
                "raw_matches": raw_public.hex() == key["raw_hex"] == raw_from_seed.hex(),
                "prefix_matches": prefix == pub_prefix,
            }
        )
    return out


def check_signatures(spec):
    user = spec["keys"][-1]
    with open(user["seed_file"], "rb") as f:
        pair = nkeys.from_seed(bytearray(f.read().strip()))
    message = bytes.fromhex(spec["message_hex"])
    result = {}
    try:
        result["ours_verifies"] = pair.verify(message, bytes.fromhex(spec["signature_hex"]))
    except nkeys.ErrInvalidSignature:
        result["ours_verifies"] = False
    tampered = bytes([message[0] ^ 1]) + message[1:]
    try:
        result["tampered_verifies"] = pair.verify(tampered, bytes.fromhex(spec["signature_hex"]))
    except nkeys.ErrInvalidSignature:
        result["tampered_verifies"] = False
    # A signature by Python, for the Rust side to verify.
    result["python_signature_hex"] = pair.sign(message).hex()
    # The JWT: Ed25519 by its issuer over "header.payload".
    with open(spec["jwt_signer"], "rb") as f:
        signer = nkeys.from_seed(bytearray(f.read().strip()))
    header, payload, signature = spec["jwt"].split(".")
    sig = base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4))
    try:
        result["jwt_verifies"] = signer.verify(f"{header}.{payload}".encode(), sig)
    except nkeys.ErrInvalidSignature:
        result["jwt_verifies"] = False
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    result["jwt_iss_matches"] = claims["iss"] == signer.public_key.decode()
    return result


async def check_client(spec):
    errors = []

    async def error_cb(e):
        errors.append(str(e))

    result = {}
    nc = await asyncio.wait_for(
        nats.connect(
            spec["url"],
            user_credentials=spec["creds"],
            error_cb=error_cb,
            allow_reconnect=False,
            connect_timeout=TIMEOUT,
        ),
        TIMEOUT,
    )
    try:
        result["connected"] = nc.is_connected
        sub = await nc.subscribe(spec["allowed"])
        await nc.publish(spec["allowed"], b"hello from nats-py")
        await nc.flush(timeout=TIMEOUT)
        msg = await sub.next_msg(timeout=TIMEOUT)
        result["round_trip"] = msg.data.decode()

        async def wait_for(needle):
            for _ in range(int(TIMEOUT / 0.05)):
                # nats-py reports the server's -ERR in lower case.
                hits = [e for e in errors if needle.lower() in e.lower()]
                if hits:
                    return hits[0]
                await asyncio.sleep(0.05)
            return None

        await nc.publish(spec["denied_pub"], b"must not pass")
        await nc.flush(timeout=TIMEOUT)
        result["denied_pub_error"] = await wait_for(
            f'Permissions Violation for Publish to "{spec["denied_pub"]}"'
        )
        await nc.subscribe(spec["denied_sub"])
        await nc.flush(timeout=TIMEOUT)
        result["denied_sub_error"] = await wait_for(
            f'Permissions Violation for Subscription to "{spec["denied_sub"]}"'
        )
        result["still_connected"] = nc.is_connected
    finally:
        await asyncio.wait_for(nc.close(), TIMEOUT)
    result["errors"] = errors
    return result


def main():
    with open(sys.argv[1], encoding="utf-8") as f:
        spec = json.load(f)
    out = {
        "nats_py": version("nats-py"),
        "keys": check_keys(spec),
        "signatures": check_signatures(spec),
    }
    try:
        out["client"] = asyncio.run(check_client(spec))
    except (NatsError, asyncio.TimeoutError, OSError) as e:
        out["client"] = {"exception": f"{type(e).__name__}: {e}"}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
