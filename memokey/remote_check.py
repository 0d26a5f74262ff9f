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
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from memokey.code_policy import CODE_FIELD, identity_of
from memokey.errors import MemokeyError, ShimError
from memokey.identity.naming import MAIN
from memokey.keys import argument_classes, bind_call, call_digest, function_id

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


def verify_invocation(invocation: Any, memo_uri: str) -> None:
    """Refuse (`ShimError`) to run a `memokey.remote.Invocation` whose key this side
    computes differently (this module sits below `remote`, hence `Any`)."""
    func: Callable[..., Any] = invocation.func
    expected_id: str = invocation.function_id
    expected_digest: str = invocation.digest
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
