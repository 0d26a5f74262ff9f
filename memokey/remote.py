"""Running a call somewhere else: the `invocation` object and the far side's entry point.

A shim that runs a call in another process or machine cannot hand it a Python object, only
the entry's URI. So the caller stores ``{entry}.invocation`` beside it (cloudpickle of the
function and its bound arguments), the far side runs ``python -m memokey run URI``, which
reads it, runs the function and publishes either the entry (exclusive create with its
metadata trailer, like a local miss) or ``{entry}.error`` (the exception, pickled when
possible, and its traceback text).
The caller then reads the outcome back from the store: the store is the only channel, so
any process that can reach the store can be the far side.

Exit codes of `main` / `run_invocation`: 0 the result is published (now or earlier),
1 the function raised and ``error`` is published, 2 the invocation could not be run
(missing, unreadable, store unreachable): nothing was published.

Storage options (credentials, endpoints) are never written into the store: the far side
gets them as an argument (`execute`) or, for the command line, as JSON in the
``MEMOKEY_STORAGE_OPTIONS`` environment variable.

Signing: with a key configured, ``invocation`` and ``error`` are sealed (`memokey.signing`)
and checked before they are parsed or unpickled. The far side takes its key from
``MEMOKEY_RUN_SIGNING_KEY`` (where a subprocess shim passes the caller's key for that one
run) or ``MEMOKEY_SIGNING_KEY`` (Dask and executor workers need it in their own
environment; without it they refuse a signed caller's call) and signs what it publishes
with it.
With ``MEMOKEY_ALLOW_PICKLE=0`` the far side runs nothing: an invocation is a pickle.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import inspect
import json
import os
import pickle
import socket
import sys
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Any

import cloudpickle

from memokey._fixes import rm_command
from memokey._terminal import printable
from memokey.compression import Compression
from memokey.errors import (
    MemokeyError,
    RemoteError,
    SerializationError,
    ShimError,
    WriteConflictError,
)
from memokey.expiry import stamped
from memokey.layout import ERROR, INVOCATION, sibling
from memokey.manifest import key_manifest
from memokey.meta import argument_summary, build_meta
from memokey.results import DEFAULT_SERIALIZER, Serializer, encode_result
from memokey.roots import root
from memokey.signatures import true_signature
from memokey.signing import SIGNING_KEY_ENV, Signer, place_of, run_signer, seal, unseal
from memokey.trust import ALLOW_PICKLE_ENV, OPEN, Trust, env_allows_pickle
from memokey_backends import open_store
from memokey_backends.protocol import Store

__all__ = [
    "ERROR",
    "INVOCATION",
    "RESULT",
    "STORAGE_OPTIONS_ENV",
    "Invocation",
    "RemoteFailure",
    "decode_invocation",
    "encode_invocation",
    "execute",
    "main",
    "publish_failure",
    "raise_failure",
    "read_failure",
    "run_invocation",
]

RESULT = "result"  # what `memo_dir` arguments name: the entry itself
STORAGE_OPTIONS_ENV = "MEMOKEY_STORAGE_OPTIONS"
_FORMAT = 1

EXIT_OK = 0
EXIT_RAISED = 1
EXIT_UNRUNNABLE = 2


@dataclass
class Invocation:
    """One call, as the far side needs it. `func` is the undecorated function, so running
    it does not re-enter memoization for this same call (inner memoized calls still do).

    `context_root` is the URL of the caller's ``with memokey.root(...)`` block, if any: the
    far side re-enters it so that nested memoized calls land where they would locally.

    `digest` and `code` (the caller's argument digest and the header fields describing its
    code fingerprint) let the far side check that it runs what the key names
    (`memokey.remote_check`); `code_keyed` says the fingerprint is in the key's path.
    """

    func: Callable[..., Any]
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    serializer: str | Serializer = DEFAULT_SERIALIZER
    context_root: str | None = None
    function_id: str = ""
    format: int = _FORMAT
    digest: str = ""
    code: dict[str, Any] | None = None
    code_keyed: bool = False
    #: How the far side stores the result (the caller's setting, resolved: None is
    #: uncompressed); invocations and errors themselves are never compressed.
    compress: Compression | None = None


def encode_invocation(
    invocation: Invocation, signer: Signer | None = None, path: str = INVOCATION
) -> bytes:
    """The stored ``invocation``: cloudpickle, sealed for `path` when `signer` is set."""
    try:
        data: bytes = cloudpickle.dumps(invocation, protocol=5)
    except Exception as exc:
        raise SerializationError(
            f"cannot send {invocation.function_id or invocation.func!r} to another process: "
            f"its function or arguments do not pickle ({type(exc).__name__}: {exc}). Use the "
            "same-thread shim for this function, or pass picklable arguments.",
        ) from exc
    return seal(data, signer, kind=INVOCATION, place=place_of(path))


def decode_invocation(data: bytes, uri: str, trust: Trust = OPEN) -> Invocation:
    """The call stored at `uri`; its seal is checked first when `trust` has a key, and
    nothing is unpickled when `trust` refuses pickle."""
    body = unseal(data, trust.signer, kind=INVOCATION, place=place_of(uri), uri=uri)
    if not trust.allow_pickle:
        raise SerializationError(
            f"the invocation at {uri} is a pickle and pickle is refused here "
            f"({ALLOW_PICKLE_ENV}=0); remote runs need pickle: unset {ALLOW_PICKLE_ENV} on "
            "the far side and protect invocations with MEMOKEY_SIGNING_KEY instead",
            uri=uri,
        )
    try:
        invocation = pickle.loads(body)
    except Exception as exc:
        raise SerializationError(
            f"cannot load the invocation at {uri} ({type(exc).__name__}: {exc}); the far "
            "side needs the same packages (and versions) as the caller installed.",
            uri=uri,
        ) from exc
    if not isinstance(invocation, Invocation):
        raise SerializationError(
            f"{uri} does not hold a memokey invocation; was it written by memokey?", uri=uri
        )
    return invocation


@dataclass
class RemoteFailure:
    """The body of ``error``: JSON a person or tool can read, plus the pickled exception."""

    type_name: str
    message: str
    traceback: str
    host: str = field(default_factory=socket.gethostname)
    pid: int = field(default_factory=os.getpid)
    at: float = field(default_factory=time.time)
    pickled: bytes | None = None

    @classmethod
    def capture(cls, exc: BaseException) -> RemoteFailure:
        text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        return cls(
            type_name=f"{type(exc).__module__}.{type(exc).__qualname__}",
            message=str(exc),
            traceback=text,
            pickled=_pickle_exception(exc),
        )

    def encode(self) -> bytes:
        body = {
            "format": _FORMAT,
            "type": self.type_name,
            "message": self.message,
            "traceback": self.traceback,
            "host": self.host,
            "pid": self.pid,
            "at": self.at,
            "pickled": None if self.pickled is None else base64.b64encode(self.pickled).decode(),
        }
        return json.dumps(body, indent=1).encode()

    @classmethod
    def decode(cls, data: bytes, uri: str) -> RemoteFailure:
        # Whatever the bytes (a planted record is only parsed, never trusted, without a
        # key): JSON nested too deep, numbers too large and non-objects are "unreadable".
        try:
            raw = json.loads(data)
            if not isinstance(raw, dict):
                raise TypeError(f"it holds a JSON {type(raw).__name__}, not an object")
            pickled = raw.get("pickled")
            return cls(
                type_name=str(raw["type"]),
                message=str(raw["message"]),
                traceback=str(raw["traceback"]),
                host=str(raw.get("host", "?")),
                pid=int(raw.get("pid", 0)),
                at=float(raw.get("at", 0.0)),
                pickled=None if pickled is None else base64.b64decode(pickled),
            )
        except (ValueError, KeyError, TypeError, ArithmeticError, RecursionError) as exc:
            raise RemoteError(
                f"the error record at {uri} is unreadable ({type(exc).__name__}: {exc}); "
                f"delete it with `{rm_command(uri)}` and run again.",
                uri=uri,
            ) from exc

    def rebuild(self, uri: str, *, allow_pickle: bool = True) -> BaseException:
        """The original exception with the remote traceback attached as a note, or a
        `RemoteError` carrying the text when it cannot (or, without `allow_pickle`, may
        not) be unpickled here."""
        note = f"Remote traceback (host {self.host}, pid {self.pid}, {uri}):\n{self.traceback}"
        exc: BaseException | None = None
        if self.pickled is not None and allow_pickle:
            try:
                loaded = pickle.loads(self.pickled)
            except Exception:
                loaded = None
            if isinstance(loaded, BaseException):
                exc = loaded
        if exc is None:
            exc = RemoteError(
                f"the call at {uri} raised {self.type_name}: {self.message} (the exception "
                "could not be rebuilt here, so its text is attached; see `remote_traceback`)",
                uri=uri,
                remote_type=self.type_name,
                remote_message=self.message,
                remote_traceback=self.traceback,
            )
        _add_note(exc, note)
        return exc


def _pickle_exception(exc: BaseException) -> bytes | None:
    """cloudpickle of `exc` if it survives a round trip here (else the caller gets text)."""
    try:
        data: bytes = cloudpickle.dumps(exc, protocol=5)
        back = pickle.loads(data)
    except Exception:
        return None
    if type(back) is not type(exc) or str(back) != str(exc):
        return None
    return data


def _add_note(exc: BaseException, note: str) -> None:
    if hasattr(exc, "add_note"):  # Python 3.11+
        exc.add_note(note)
    else:  # pragma: no cover - Python 3.10: same attribute, shown by tools that know it
        notes = list(getattr(exc, "__notes__", []))
        exc.__notes__ = [*notes, note]  # type: ignore[attr-defined]


def _at(entry: str, name: str) -> str:
    """The path of the entry's `name` sibling (``{entry}.{name}``)."""
    return sibling(entry, name)


def publish_failure(
    store: Store, exc: BaseException, memo_dir: str, signer: Signer | None = None
) -> None:
    """Write ``{entry}.error`` (replacing an older one) for the entry at `memo_dir`: the
    exception for callers and people, sealed when `signer` is set."""
    path = _at(memo_dir, ERROR)
    body = RemoteFailure.capture(exc).encode()
    store.write(path, seal(body, signer, kind=ERROR, place=place_of(store.uri(path))))


def read_failure(store: Store, memo_dir: str, trust: Trust = OPEN) -> RemoteFailure | None:
    """The stored ``{entry}.error``, its seal checked first when `trust` has a key."""
    path = _at(memo_dir, ERROR)
    data = store.read(path)
    if data is None:
        return None
    uri = store.uri(path)
    body = unseal(data, trust.signer, kind=ERROR, place=place_of(uri), uri=uri)
    return RemoteFailure.decode(body, uri)


def raise_failure(store: Store, memo_dir: str, trust: Trust = OPEN) -> None:
    """Re-raise the failure stored beside the entry `memo_dir` (no-op when there is none)."""
    failure = read_failure(store, memo_dir, trust)
    if failure is not None:
        raise failure.rebuild(store.uri(memo_dir), allow_pickle=trust.allow_pickle)


def _context(invocation: Invocation, storage_options: Mapping[str, Any]) -> Any:
    if invocation.context_root is None:
        return nullcontext()
    ctx: AbstractContextManager[str] = root(invocation.context_root, **dict(storage_options))
    return ctx


def execute(
    memo_uri: str, storage_options: Mapping[str, Any] | None = None, *, signed: bool = False
) -> bool:
    """Run the invocation stored at `memo_uri` and publish its outcome: True when
    ``result`` is published (now or earlier), False when the function raised and ``error``
    is published. Raises `ShimError` when nothing could be published. What executor and
    Dask shims send to their workers. `signed`: the caller signed the invocation, so a
    worker without a key refuses it (unverified, it could be anything a writer planted)."""
    options = dict(storage_options or {})
    try:
        signer = run_signer()
        trust = Trust(None, env_allows_pickle(), signer)
    except MemokeyError as exc:
        raise ShimError(f"cannot run {memo_uri}: {exc}", uri=memo_uri) from exc
    if signed and signer is None:
        raise ShimError(
            f"did not run {memo_uri}: its caller signs what it stores, and this worker has "
            "no signing key to verify the invocation with (it could have been replaced by "
            f"anyone who can write to the store); set {SIGNING_KEY_ENV} in the workers' "
            "environment to the caller's key",
            uri=memo_uri,
        )
    parent, _, entry = memo_uri.rstrip("/").rpartition("/")
    invocation_path = sibling(entry, INVOCATION)
    try:
        store = open_store(parent, **options)
        if store.exists(entry):
            return True
        data = store.read(invocation_path)
    except MemokeyError as exc:
        raise ShimError(f"could not read the invocation at {memo_uri}: {exc}") from exc
    if data is None:
        raise ShimError(
            f"no invocation at {sibling(memo_uri, INVOCATION)}; a caller stores it before "
            "starting a remote shim (is the URI an entry's?)",
            uri=memo_uri,
        )
    uri = store.uri(invocation_path)
    try:  # a refused invocation runs nothing and publishes nothing
        unseal(data, signer, kind=INVOCATION, place=place_of(uri), uri=uri)
        if not trust.allow_pickle:
            decode_invocation(data, uri, trust)  # raises, saying why
    except MemokeyError as exc:
        raise ShimError(f"did not run {memo_uri}: {exc}", uri=memo_uri) from exc
    try:
        invocation: Invocation | Exception = decode_invocation(data, uri, trust)
    except SerializationError as exc:
        invocation = exc  # published below as the call's failure
    if isinstance(invocation, Invocation):
        from memokey.remote_check import verify_invocation  # the key engine: lazily

        verify_invocation(invocation, memo_uri)  # a mismatch publishes nothing
    try:
        if not isinstance(invocation, Invocation):
            raise invocation
        started, clock = time.time(), time.perf_counter()
        with _context(invocation, options):
            value = invocation.func(*invocation.args, **invocation.kwargs)
            if inspect.iscoroutine(value):  # a coroutine function runs to completion here
                value = asyncio.run(value)
        meta = _far_side_meta(memo_uri, invocation, started, time.perf_counter() - clock)
        payload = encode_result(
            value,
            invocation.serializer,
            extra=stamped(invocation.code, time.perf_counter() - clock),
            meta=meta,
            signer=signer,
            path=store.uri(entry),
            round_trip=True,
            compress=invocation.compress,
        )
    except Exception as exc:
        failure: BaseException | None = exc
    else:
        failure = None
    try:
        if failure is None:
            _publish_result(store, entry, payload)
        else:
            publish_failure(store, failure, entry, signer=signer)
    except MemokeyError as exc:
        raise ShimError(
            f"ran {memo_uri} but could not publish its outcome: {exc}", uri=memo_uri
        ) from exc
    return failure is None


def _far_side_meta(
    memo_uri: str, invocation: Invocation, started: float, duration: float
) -> dict[str, Any]:
    """The metadata trailer of a result published here (the caller's runner is not here:
    its namespace and logic key come from the entry's path)."""
    parts = memo_uri.rstrip("/").split("/")
    namespace, function_dir, digest = parts[-3:] if len(parts) >= 3 else ["", "", parts[-1]]
    logic_key = function_dir.partition("@")[2] or None
    try:
        bound = true_signature(invocation.func).bind(*invocation.args, **invocation.kwargs)
        bound.apply_defaults()
        arguments, manifest = argument_summary(bound), key_manifest(bound)
    except (TypeError, ValueError):  # no signature to bind to: say nothing about them
        arguments, manifest = {}, {}
    return build_meta(
        uri=memo_uri,
        function_id=invocation.function_id,
        logic_key=logic_key,
        namespace=namespace,
        digest=digest,
        runner="remote",
        arguments=arguments,
        manifest=manifest,
        started=started,
        duration=duration,
        code=invocation.code,
    )


def run_invocation(memo_uri: str, storage_options: Mapping[str, Any] | None = None) -> int:
    """`execute` as an exit code (module docstring), for ``python -m memokey run``."""
    try:
        published_result = execute(memo_uri, storage_options)
    except ShimError as exc:
        print(printable(f"memokey run: {exc}"), file=sys.stderr)
        return EXIT_UNRUNNABLE
    return EXIT_OK if published_result else EXIT_RAISED


def _publish_result(store: Store, entry: str, payload: bytes) -> None:
    with contextlib.suppress(WriteConflictError):  # another caller published it first
        store.write(entry, payload, exclusive=True)
    store.delete(sibling(entry, ERROR))


def main(argv: Sequence[str] | None = None) -> int:
    """``memokey run URI``: `argv` is what follows ``run`` on the command line."""
    parser = argparse.ArgumentParser(
        prog="memokey run",
        description="Run the invocation stored in a memo directory and publish its outcome.",
    )
    parser.add_argument("uri", help="the entry's URL (`{URI}.invocation` holds the call)")
    ns = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    raw = os.environ.get(STORAGE_OPTIONS_ENV, "")
    try:
        options = json.loads(raw) if raw else {}
    except ValueError:
        print(f"memokey run: {STORAGE_OPTIONS_ENV} is not valid JSON", file=sys.stderr)
        return EXIT_UNRUNNABLE
    if not isinstance(options, dict):
        print(f"memokey run: {STORAGE_OPTIONS_ENV} must be a JSON object", file=sys.stderr)
        return EXIT_UNRUNNABLE
    return run_invocation(ns.uri, options)


if __name__ == "__main__":
    sys.exit(main())
