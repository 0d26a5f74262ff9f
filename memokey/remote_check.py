"""The far side of a remote run checks that it runs what the key names.

The caller's `Invocation` carries its argument digest and its code fingerprint. Before
running, `verify_invocation` recomputes what it can here and refuses (`ShimError`,
``memokey run`` exit 2, nothing published) when it differs: the far side would otherwise
publish another version's result under the caller's key.

- Function id and argument digest: recomputed unless the function comes from the
  caller's ``__main__`` (its module name is the caller's script, which this process
  cannot know; cloudpickle sent it by value). Likewise a digest that differs only
  because the arguments hold instances of the caller's ``__main__`` classes is trusted.
- Fingerprint: recomputed when this side can read the function's source. Where it
  cannot (a Dask worker given a cloudpickled function without its file), this side
  trusts the caller's fingerprint: the code it runs is the code the caller pickled.
- The URI: an entry's name binds the argument digest to its namespace and function
  directory (`memokey.keys.entry_digest`), and the directory names the function id and
  code version. So an invocation copied to another key's URI (another function, other
  arguments, another code version) is refused, even unsigned.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from memokey.code_policy import CODE_FIELD, identity_of
from memokey.errors import MemokeyError, ShimError
from memokey.identity.naming import MAIN
from memokey.keys import (
    SCHEME,
    argument_classes,
    bind_call,
    call_digest,
    entry_digest,
    function_id,
    place_salt,
)

__all__ = ["verify_invocation"]


def _refuse(memo_uri: str, what: str) -> ShimError:
    return ShimError(
        f"refusing to run {memo_uri}: {what}, so its result would be published under "
        "another call's key. Run the far side with the caller's code and the same memokey "
        "and package versions (or delete the invocation and call again).",
        uri=memo_uri,
    )


def _holds_main_classes(bound: Any) -> bool:
    """Whether the arguments hold instances of classes of the caller's ``__main__``:
    cloudpickle sent them by value, and this side cannot name the caller's script, so
    (as for a function of ``__main__``) it trusts the caller's digest for them."""
    return any(getattr(cls, "__module__", None) == MAIN for cls in argument_classes(bound))


def _check_uri(memo_uri: str, function: str, arguments_digest: str, code: object) -> None:
    """The URI's last parts must be the key of this function id, arguments and code."""
    parts = memo_uri.rstrip("/").split("/")
    if len(parts) < 4 or parts[-4] != SCHEME:
        raise _refuse(memo_uri, f"it is not an entry under {SCHEME}/")
    namespace, directory, name = parts[-3:]
    if directory != function and not directory.startswith((f"{function}@", f"{function}=")):
        raise _refuse(memo_uri, f"its directory {directory} is not that of {function}")
    if "=" in directory and directory.rpartition("=")[2] != code:
        raise _refuse(memo_uri, "its directory names another code version")
    salt = place_salt(f"{SCHEME}/{namespace}/{directory}/")
    if entry_digest(salt, arguments_digest) != name:
        raise _refuse(memo_uri, "its name is not the key of these arguments")


def verify_invocation(invocation: Any, memo_uri: str) -> None:
    """Refuse (`ShimError`) to run a `memokey.remote.Invocation` whose key this side
    computes differently (this module sits below `remote`, hence `Any`)."""
    func: Callable[..., Any] = invocation.func
    expected_id: str = invocation.function_id
    expected_digest: str = invocation.digest
    if expected_id and expected_digest:
        stored_code = (invocation.code or {}).get(CODE_FIELD)
        _check_uri(memo_uri, expected_id, expected_digest, stored_code)
    from_main = getattr(func, "__module__", None) == MAIN
    if expected_id and not from_main:
        here = function_id(func)
        if here != expected_id:
            raise _refuse(memo_uri, f"the function is {here} here but {expected_id} for the caller")
    if expected_digest and not from_main:
        try:
            bound = bind_call(func, invocation.args, invocation.kwargs)
            here = call_digest(func, bound, code_classes=bool(invocation.code_keyed))
        except (MemokeyError, TypeError) as exc:
            raise _refuse(memo_uri, f"its arguments cannot be keyed here ({exc})") from exc
        if here != expected_digest and not _holds_main_classes(bound):
            raise _refuse(memo_uri, "its arguments have another digest here")
    stored = (invocation.code or {}).get(CODE_FIELD)
    if not isinstance(stored, str):
        return
    identity = identity_of(func)
    if identity is None or not identity.fingerprint.from_source:
        return  # no source here: trust the caller's fingerprint (module docstring)
    if identity.fingerprint.digest != stored:
        raise _refuse(memo_uri, "the function's code (or code it uses) differs here")
