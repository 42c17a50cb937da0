"""Seeds derived from named parts, so that (run seed, epoch, stream) never collide and a resumed run draws
exactly what an uninterrupted one would. A leaf: data loading, corruptions and sparse methods all use it."""
from __future__ import annotations

import hashlib


def derive_seed(*parts) -> int:
    """A 63-bit seed from integers and strings."""
    return int.from_bytes(hashlib.sha256(repr(parts).encode()).digest()[:8], "little") >> 1
