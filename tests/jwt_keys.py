"""Key pairs for tokens signed by an identity provider (RS256, ES256), as PEM text: made once per session."""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes


def _pems(key: PrivateKeyTypes) -> tuple[str, str]:
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return private.decode(), public.decode()


@functools.cache
def rsa_pems(bits: int = 2048) -> tuple[str, str]:
    """(private, public) PEM of an RSA key."""
    return _pems(rsa.generate_private_key(public_exponent=65537, key_size=bits))


@functools.cache
def ec_pems() -> tuple[str, str]:
    """(private, public) PEM of a P-256 key, for ES256."""
    return _pems(ec.generate_private_key(ec.SECP256R1()))


def hs256_signed_with(key: bytes, claims: dict[str, Any]) -> str:
    """An HS256 token made by hand: PyJWT refuses a PEM as an HMAC key, an attacker's own code does not."""

    def part(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    head = part(b'{"alg":"HS256","typ":"JWT"}') + "." + part(json.dumps(claims).encode())
    return head + "." + part(hmac.new(key, head.encode(), hashlib.sha256).digest())
