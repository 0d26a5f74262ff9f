"""Which code a key names: function ids, logic keys and the code fingerprint.

Sits below `memokey.keys` and `memokey.hashing`: it imports neither (the value encoder
is passed in where a fingerprint needs one). Modules: `naming` (stable module names),
`ids` (function ids, logic keys, whether a name round-trips), `firstparty` (where the
walk stops), `source` (normalized source), `fingerprint` (the walk and its validity
check).
"""

from __future__ import annotations

from memokey.identity.fingerprint import (
    CodeIdentity,
    Fingerprint,
    ValueDigest,
    absorb_side_effects,
    class_identity,
    code_identity,
    describe_changes,
)
from memokey.identity.firstparty import is_first_party
from memokey.identity.ids import (
    LOGIC_KEY_ATTR,
    function_id,
    has_stable_name,
    logic_key_of,
    round_trips,
)

__all__ = [
    "LOGIC_KEY_ATTR",
    "CodeIdentity",
    "Fingerprint",
    "ValueDigest",
    "absorb_side_effects",
    "class_identity",
    "code_identity",
    "describe_changes",
    "function_id",
    "has_stable_name",
    "is_first_party",
    "logic_key_of",
    "round_trips",
]
