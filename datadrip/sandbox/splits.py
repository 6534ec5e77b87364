"""Exact, deterministic splits of a day's numbers over breakdown values, for both platforms'
emulations: each part's share comes from a hash of (seed, account, entity, day, value), and the
parts add up exactly to the whole (largest remainder, in whole steps of the currency's minor unit
for money).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import struct
from collections.abc import Sequence


def weights(seed: int, account_id: str, entity_id: str, day: dt.date,
            values: Sequence[str]) -> list[int]:
    """A weight 1…1000 for each value, the same for the same seed, entity, day and value."""
    key = struct.pack("<q", seed)
    found = []
    for value in values:
        digest = hashlib.blake2b(f"{account_id}|{entity_id}|{day.isoformat()}|{value}".encode(),
                                 key=key, digest_size=4).digest()
        found.append(1 + int.from_bytes(digest, "little") % 1000)
    return found


def split(total: int, shares: Sequence[int], step: int = 1) -> list[int]:
    """`total` into len(shares) parts in proportion to `shares`, each a multiple of `step` (a
    total that is not one keeps its remainder in the largest part), summing exactly to `total`."""
    whole = sum(shares)
    units, rest = divmod(total, step)
    parts = [units * share // whole for share in shares]
    left = units - sum(parts)
    order = sorted(range(len(shares)), key=lambda i: (-(units * shares[i] % whole), i))
    for index in order[:left]:
        parts[index] += 1
    amounts = [part * step for part in parts]
    if rest:
        amounts[max(range(len(shares)), key=lambda i: (shares[i], -i))] += rest
    return amounts
