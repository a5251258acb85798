"""Name-based ids (RFC 4122 version 5), as text.

`uuid5_text(namespace, name)` is `str(uuid.uuid5(namespace, name))` without making the
UUID object (whose construction and formatting cost twice the hashing): a harvest names
every object of every record it reads, and an export names every attribute it writes.
"""

from __future__ import annotations

import hashlib
import uuid


def uuid5_text(namespace: uuid.UUID, name: str) -> str:
    digest = bytearray(hashlib.sha1(namespace.bytes + name.encode()).digest()[:16])  # noqa: S324 - RFC 4122's name-based UUID, not a secret
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # RFC 4122 variant
    h = digest.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
