# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sophia.lambda_k3s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""OpenSSH public keys: parsing, comparison and fingerprints.

Shared by the lambda_ssh_key module and the cluster spec check of provision.yml, which refuses a
bad key (a private key given by mistake, above all) before any module sees it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import struct

MAX_PUBLIC_KEY_LENGTH = 4096
KEY_TYPES = (
    "ssh-ed25519",
    "ssh-rsa",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "sk-ssh-ed25519@openssh.com",
    "sk-ecdsa-sha2-nistp256@openssh.com",
    "ssh-dss",
)


class PublicKeyError(ValueError):
    """Input that is not a usable OpenSSH public key."""


def parse_public_key(text: str, label: str = "public_key") -> tuple:
    """Split an OpenSSH public key into (type, base64 body, comment); raise PublicKeyError if it is not one.

    The body must decode and start with its own type name, which catches truncated or pasted-wrong keys.
    ``label`` names the input in the messages, which never quote the text itself: a value refused
    here may be a private key pasted by mistake.
    """
    stripped = (text or "").strip()
    if "PRIVATE KEY" in stripped:
        raise PublicKeyError("%s holds a private key; give the public key (the .pub file), never the private key" % label)
    if len(stripped) > MAX_PUBLIC_KEY_LENGTH:
        raise PublicKeyError("%s is %d characters long; Lambda Cloud accepts at most %d" % (label, len(stripped), MAX_PUBLIC_KEY_LENGTH))
    if "\n" in stripped:
        raise PublicKeyError("%s holds more than one line; give exactly one key" % label)
    parts = stripped.split(None, 2)
    if len(parts) < 2 or parts[0] not in KEY_TYPES:
        raise PublicKeyError("%s must look like '<type> <base64> [comment]' with a type among %s" % (label, ", ".join(KEY_TYPES)))
    key_type, body = parts[0], parts[1]
    try:
        blob = base64.b64decode(body.encode("ascii"), validate=True)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        raise PublicKeyError("the key material of %s is not valid base64" % label) from None
    if _embedded_type(blob) != key_type:
        raise PublicKeyError("the key material of %s does not belong to a %s key; is it truncated?" % (label, key_type))
    return key_type, body, parts[2] if len(parts) > 2 else ""


def _embedded_type(blob: bytes) -> str:
    if len(blob) < 4:
        return ""
    (length,) = struct.unpack(">I", blob[:4])
    return blob[4:4 + length].decode("ascii", "replace")


def key_material(text: str) -> tuple:
    """(type, body) of a key as stored; a stored key we cannot parse compares by its raw text."""
    try:
        key_type, body, _comment = parse_public_key(text)
    except PublicKeyError:
        return ("unparsed", (text or "").strip())
    return key_type, body


def fingerprint(text: str) -> str:
    """OpenSSH's SHA256 fingerprint, to name keys in messages without printing them."""
    key_type, body = key_material(text)
    if key_type == "unparsed":
        return "an unparseable key"
    digest = hashlib.sha256(base64.b64decode(body)).digest()
    return "SHA256:" + base64.b64encode(digest).decode("ascii").rstrip("=")
