"""What a runner trusts from its store: which format it decodes, whether pickle may be
decoded at all, and which key signs and verifies what it stores; plus how it stores a
result (compressed or not, `memokey.compression`), since `Trust` is what encodes it.

A runner asks `TrustSettings.current()` once per call: explicit settings win, and the
environment (``MEMOKEY_SIGNING_KEY``, ``MEMOKEY_ALLOW_PICKLE``) is read per call, so a
variable set after decoration still applies. Pickle is allowed only when neither the
runner (``allow_pickle=False``) nor the environment (``MEMOKEY_ALLOW_PICKLE=0``) forbids
it: the stricter setting wins.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from memokey.compression import Compression, check_compress, resolve
from memokey.errors import ConfigurationError
from memokey.results import DEFAULT_SERIALIZER, Serializer, decode_result, encode_parts
from memokey.signing import KeySpec, Signer, env_signer, env_value, parse_keys

__all__ = ["ALLOW_PICKLE_ENV", "OPEN", "Trust", "TrustSettings", "env_allows_pickle"]

ALLOW_PICKLE_ENV = "MEMOKEY_ALLOW_PICKLE"
_FALSE = ("0", "false", "no", "off")
_TRUE = ("", "1", "true", "yes", "on")


def env_allows_pickle(value: str | None = None) -> bool:
    """False when ``MEMOKEY_ALLOW_PICKLE`` (or `value`) says no (0/false/no/off)."""
    raw = (env_value(ALLOW_PICKLE_ENV) if value is None else value) or ""
    raw = raw.strip().lower()
    if raw in _FALSE:
        return False
    if raw in _TRUE:
        return True
    raise ConfigurationError(
        f"{ALLOW_PICKLE_ENV}={raw!r} is not understood; set it to 0 (refuse pickle) or 1"
    )


@dataclass(frozen=True)
class Trust:
    """The settings one call runs with (see the module docstring)."""

    serializer: Serializer | None
    allow_pickle: bool
    signer: Signer | None
    #: The runner's `compress=` (None: ``MEMOKEY_COMPRESS`` decides at each publish).
    compress: Compression | None = None

    def encode_result(
        self,
        value: Any,
        path: str,
        extra: dict[str, Any] | None = None,
        *,
        meta: Mapping[str, Any] | None = None,
    ) -> bytes:
        """The entry object for `value` (with `meta` as its metadata trailer), signed for
        `path` when a key is configured."""
        return b"".join(self.encode_parts(value, path, extra, meta=meta))

    def encode_parts(
        self,
        value: Any,
        path: str,
        extra: dict[str, Any] | None = None,
        *,
        meta: Mapping[str, Any] | None = None,
    ) -> list[Any]:
        """`encode_result` as the buffers to write in order (no copy of a large array)."""
        serializer = self.serializer if self.serializer is not None else DEFAULT_SERIALIZER
        return encode_parts(
            value,
            serializer,
            extra=extra,
            meta=meta,
            signer=self.signer,
            path=path,
            round_trip=True,
            compress=resolve(self.compress),
        )

    def decode_result(self, data: bytes, uri: str) -> Any:
        """`memokey.results.decode_result` under these settings."""
        return decode_result(
            data, uri, expect=self.serializer, allow_pickle=self.allow_pickle, signer=self.signer
        )


OPEN = Trust(None, True, None)
"""No checks beyond the checksum: what memokey did before signing existed."""


class TrustSettings:
    """A runner's explicit settings; `current()` adds the environment's."""

    def __init__(
        self,
        serializer: Serializer,
        signing_key: KeySpec | None,
        allow_pickle: bool | None,
        compress: object = None,
    ) -> None:
        if allow_pickle is not None and not isinstance(allow_pickle, bool):
            raise ConfigurationError(
                f"allow_pickle={allow_pickle!r} is not a bool; write allow_pickle=False "
                "(decode only formats that cannot run code), allow_pickle=True, or leave it "
                "out (MEMOKEY_ALLOW_PICKLE decides, pickle allowed by default)"
            )
        self.serializer = serializer
        self.signer = None if signing_key is None else Signer(parse_keys(signing_key))
        self.allow_pickle = allow_pickle
        self.compress = check_compress(compress)
        resolve(self.compress)  # a bad MEMOKEY_COMPRESS fails at decoration, not at a miss
        if allow_pickle is False:
            self._check_format(False)
        self._last: tuple[Signer | None, str | None, Trust] | None = None

    def current(self) -> Trust:
        """The settings for a call starting now (cheap: one object per change)."""
        signer = self.signer if self.signer is not None else env_signer()
        raw = env_value(ALLOW_PICKLE_ENV)
        last = self._last
        if last is not None and last[0] is signer and last[1] == raw:
            return last[2]
        allow = self.allow_pickle is not False and env_allows_pickle(raw or "")
        self._check_format(allow)
        trust = Trust(self.serializer, allow, signer, self.compress)
        self._last = (signer, raw, trust)
        return trust

    def _check_format(self, allow_pickle: bool) -> None:
        if not allow_pickle and self.serializer.runs_code:
            raise ConfigurationError(
                f"pickle is refused (allow_pickle=False or {ALLOW_PICKLE_ENV}=0) but this "
                f"function stores results with {self.serializer.name!r}, which can run "
                "code when decoded; pass serializer='json', 'numpy' or 'arrow' (or a "
                "serializer registered with runs_code=False)"
            )
