"""A keyed call (`Target`): where its entry and siblings live, reading its result, the
metadata trailer it is published with, and the per-function work done once.

Everything on a hit that does not depend on the call's arguments is computed once per
(function, store) and kept in a `Place`: the function id, the logic key and the path and
URI prefixes of its memo directories. Per call only the digest is new, so a target's
paths are two string concatenations; its `MemoKey` is built only when someone asks for
it (a miss, `key_for`, a log line).
"""

from __future__ import annotations

import inspect
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from memokey.code_policy import CodeMode, code_extra, effective_mode, identity_of, warn_if_changed
from memokey.errors import MemokeyError
from memokey.identity import CodeIdentity
from memokey.keys import MemoKey, entry_digest, function_id, logic_key_of, memo_dir, place_salt
from memokey.layout import sibling
from memokey.manifest import key_manifest
from memokey.meta import argument_summary, build_meta
from memokey.readback import intact
from memokey.signing import TRAILER_SIZE, Signer, place_of
from memokey.trust import OPEN, Trust
from memokey.verified import record_published, unchanged
from memokey_backends import Store
from memokey_backends.mapped import MappedFile, PublishedFile

__all__ = [
    "Place",
    "PlaceCache",
    "Target",
    "entry_meta",
    "lookup",
    "read_entry",
    "unwrap_memoized",
    "write_entry",
]

logger = logging.getLogger("memokey")

_MAX_PLACES = 1024


@dataclass(frozen=True)
class Place:
    """Where one function's results live in one store (everything but the digest), and
    the code identity it was computed for (`is_current` says whether it still holds)."""

    store: Store
    namespace: str
    function_id: str
    logic_key: str | None
    path_prefix: str  # "memokey-v2/{namespace}/{function_id}[@{logic_key}][~{code}]/"
    uri_prefix: str  # store URL + "/" + path_prefix
    code_version: str | None = None
    code_mode: CodeMode = "off"
    identity: CodeIdentity | None = None
    #: Written into each result's header (the fingerprint and its manifest).
    extra: dict[str, Any] | None = None
    #: What entry names are bound to (`memokey.keys.entry_digest`).
    salt: bytes = b""

    @classmethod
    def of(
        cls,
        store: Store,
        namespace: str,
        function_id: str,
        logic_key: str | None,
        *,
        code_mode: CodeMode = "off",
        identity: CodeIdentity | None = None,
    ) -> Place:
        code_version = None
        if code_mode == "key" and identity is not None:
            code_version = identity.fingerprint.digest
        prefix = memo_dir(namespace, function_id, logic_key, "", code_version)
        return cls(
            store,
            namespace,
            function_id,
            logic_key,
            prefix,
            f"{store.url.rstrip('/')}/{prefix}",
            code_version,
            code_mode,
            identity,
            None if identity is None else code_extra(identity),
            place_salt(prefix),
        )

    def entry(self, arguments_digest: str) -> str:
        """The entry name (digest) of a call with these arguments in this place."""
        return entry_digest(self.salt, arguments_digest)

    def is_current(self) -> bool:
        """False when the code this place was keyed for has changed since."""
        return self.identity is None or self.identity.is_current()

    def after_run(self) -> None:
        """The function ran here: its own side effects on values it reads do not re-key."""
        if self.identity is not None:
            self.identity.absorb_side_effects()

    def check_hit(self, data: bytes, uri: str) -> None:
        """``code="warn"``: warn (once) when a hit was computed by other code."""
        if self.code_mode == "warn" and self.identity is not None:
            warn_if_changed(data, uri, self.function_id, self.identity, self.logic_key)


class Target:
    """A keyed call: its store, where its entry is, and the arguments keyed. The entry
    is one object at `path` (``result_path`` is the same path); its siblings are
    `sibling(path, kind)` (`memokey.layout`)."""

    __slots__ = (
        "_key",
        "_keyed",
        "arguments_digest",
        "classes",
        "digest",
        "path",
        "place",
        "store",
        "trust",
        "uri",
    )

    def __init__(
        self,
        place: Place,
        arguments_digest: str,
        keyed: inspect.BoundArguments | Callable[[], inspect.BoundArguments],
        trust: Trust = OPEN,
    ) -> None:
        self.place = place
        self.trust = trust  # what this call decodes and how it signs (memokey.trust)
        self.store = place.store
        self.arguments_digest = arguments_digest
        digest = self.digest = place.entry(arguments_digest)
        self._keyed = keyed  # or how to bind it, when first needed (`keyed`)
        self.path = place.path_prefix + digest
        self.uri = place.uri_prefix + digest
        self._key: MemoKey | None = None
        #: First-party classes whose code the digest holds (``code="key"``).
        self.classes: frozenset[type] = frozenset()

    @property
    def keyed(self) -> inspect.BoundArguments:
        """The arguments keyed, bound to the signature (bound on first use: a hit
        keyed by `memokey.keys.positional_digest` never needs them)."""
        keyed = self._keyed
        if not isinstance(keyed, inspect.BoundArguments):
            keyed = self._keyed = keyed()
        return keyed

    @property
    def key(self) -> MemoKey:
        """The call's `MemoKey` (equal to `MemoKey.build` of the same parts)."""
        if self._key is None:
            place = self.place
            self._key = MemoKey(
                namespace=place.namespace,
                function_id=place.function_id,
                logic_key=place.logic_key,
                digest=self.digest,
                root_url=place.store.url,
                path=self.path,
                uri=self.uri,
                code_version=place.code_version,
            )
        return self._key

    @property
    def result_path(self) -> str:
        return self.path

    @property
    def result_uri(self) -> str:
        return self.uri

    def sibling(self, kind: str) -> str:
        """The store path of this entry's `kind` sibling (lease, invocation, error)."""
        return sibling(self.path, kind)


class PlaceCache:
    """`Place`s by (function, store), for one runner (its namespace, logic key and code
    mode; `override` sets a function's own code mode, from ``use_runner(code=...)``).

    The runner's own `logic_key` applies only to the function it decorates (`own`); a
    function a keyfunc returns brings its own. Unhashable callables are not cached. A
    cached place is checked against its code identity on every call (cheap: identity
    comparisons) and recomputed when the code it was keyed for changed.
    """

    def __init__(self, namespace: str, logic_key: str | None, code: CodeMode | None = None) -> None:
        self.namespace = namespace
        self.logic_key = logic_key
        self.code = code
        self._overrides: dict[Callable[..., Any], CodeMode] = {}
        self._places: dict[tuple[Callable[..., Any], bool, Store], Place] = {}
        self._lock = threading.Lock()

    def override(self, func: Callable[..., Any], code: CodeMode) -> None:
        with self._lock:
            self._overrides[func] = code
            self._places.clear()

    def get(self, func: Callable[..., Any], store: Store, *, own: bool) -> Place:
        key = (func, own, store)
        try:
            place = self._places[key]
        except KeyError:
            pass
        except TypeError:  # an unhashable callable
            return self._make(func, store, own=own)
        else:
            if place.identity is None or place.identity.is_current():
                return place
        place = self._make(func, store, own=own)
        with self._lock:
            if len(self._places) >= _MAX_PLACES:
                self._places.clear()
            self._places[key] = place
        return place

    def _make(self, func: Callable[..., Any], store: Store, *, own: bool) -> Place:
        logic_key = logic_key_of(func, self.logic_key if own else None)
        try:
            requested = self._overrides.get(func, self.code)
        except TypeError:  # an unhashable callable
            requested = self.code
        mode = effective_mode(func, requested, logic_key)
        identity = identity_of(func) if mode != "off" else None
        return Place.of(
            store, self.namespace, function_id(func), logic_key, code_mode=mode, identity=identity
        )


def unwrap_memoized(func: Callable[..., Any]) -> Callable[..., Any]:
    """The original function behind memokey wrappers (a keyfunc may return the wrapper)."""
    while getattr(func, "__memokey_runner__", None) is not None:
        func = func.__wrapped__  # type: ignore[attr-defined]
    return func


def lookup(target: Target) -> tuple[bool, Any]:
    """(True, value) on a hit; (False, None) when absent. One read; never a miss on error."""
    return decoded(target, read_entry(target.store, target.path))


def read_entry(store: Store, path: str) -> Any:
    """The entry's bytes in one read; a large local one memory-mapped (no copy) where
    the store can (`FsspecStore.read_buffer`); None when absent."""
    reader = getattr(store, "read_buffer", None)
    return store.read(path) if reader is None else reader(path)


def write_entry(
    store: Store,
    path: str,
    parts: list[Any],
    *,
    exclusive: bool = True,
    signer: Signer | None = None,
) -> None:
    """Publish an entry given as buffers (exclusive create; `exclusive=False`: atomic
    replace, for refresh), streamed where the store can (`FsspecStore.write_parts`),
    else joined once. A large local entry gets its verification record at once
    (`memokey.verified`; `signer`: the key the entry is signed with, which also keys it)."""
    publish = getattr(store, "publish_parts", None)
    if publish is not None:
        published = publish(path, parts, exclusive=exclusive)
        if published is not None:
            signature = bytes(memoryview(parts[-1])[-TRAILER_SIZE:]) if signer else b""
            record_published(
                published,
                place_of(path),
                signature,
                signer,
                lambda: _intact_as_published(store, path, published, signer),
            )
        return
    writer = getattr(store, "write_parts", None)
    if writer is None:
        store.write(path, b"".join(parts), exclusive=exclusive)
    else:
        writer(path, parts, exclusive=exclusive)


def _intact_as_published(
    store: Store, path: str, published: PublishedFile, signer: Signer | None
) -> bool:
    """Whether the entry at `path`, read back (memory-mapped, from the page cache), is
    still the file as published and passes the reader's byte check (`memokey.readback`)."""
    try:
        data = read_entry(store, path)
    except (MemokeyError, OSError):
        return False
    if not isinstance(data, MappedFile) or not unchanged(data.status, published.status):
        return False
    return intact(data, path, signer)


def decoded(target: Target, data: bytes | None) -> tuple[bool, Any]:
    """`lookup` for result bytes already read (None: absent)."""
    if data is None:
        return False, None
    value = target.trust.decode_result(data, target.uri)
    target.place.check_hit(data, target.uri)
    return True, value


def entry_meta(target: Target, *, runner: str, started: float, duration: float) -> dict[str, Any]:
    """The metadata trailer a miss publishes its result with (never read for a hit).
    The key's parts come from the place and target (what `Target.key` is built from),
    without building the `MemoKey` a miss otherwise never needs."""
    place = target.place
    return build_meta(
        uri=target.uri,
        function_id=place.function_id,
        logic_key=place.logic_key,
        namespace=place.namespace,
        digest=target.digest,
        runner=runner,
        arguments=argument_summary(target.keyed),
        manifest=key_manifest(target.keyed),
        code=target.place.extra,
        started=started,
        duration=duration,
    )
