"""Walking a root's entries for the commands, in memory that does not grow with them.

The scheme directory is read one level at a time (namespaces, then function
directories, then each function directory). A local function directory is read with
`os.scandir` twice, streaming: a first pass notes only siblings (leases, invocations,
errors: few), the second yields each entry as it is met, so 100,000 entries cost a few
hundred bytes each in flight, never a list of them. Object stores are listed one
function directory at a time (their listing API returns pages; fsspec joins them).
Entries come in directory order, not sorted. Nothing below a local root is reached
through a symbolic link.
"""

from __future__ import annotations

import os
import posixpath
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from memokey.keys import SCHEME
from memokey.layout import USED, split_name
from memokey_backends import Store
from memokey_backends._local import TMP_PREFIX, version_token

__all__ = ["Found", "function_dirs", "matches_function", "temp_files", "walk", "walk_function"]


@dataclass(frozen=True)
class Found:
    """One key in a function directory: its entry (if stored) and its siblings."""

    namespace: str
    function_dir: str
    digest: str
    has_entry: bool
    size: int  # the entry's bytes (0 without one)
    mtime: float | None
    siblings: tuple[str, ...] = ()
    sibling_bytes: int = 0
    #: (kind, size, mtime) of each sibling.
    sibling_files: tuple[tuple[str, int, float | None], ...] = ()
    #: The entry's version as a listing reports it (conditional deletes).
    version: str | None = None
    #: Last use: the local entry's access time, or the ``.used`` marker's time.
    used: float | None = None

    @property
    def path(self) -> str:
        return f"{SCHEME}/{self.namespace}/{self.function_dir}/{self.digest}"

    @property
    def id(self) -> str:
        return f"{self.namespace}/{self.function_dir}/{self.digest}"


def matches_function(function_dir: str, wanted: str) -> bool:
    """Whether `function_dir` is `wanted` exactly, or a version of function id `wanted`
    (``@`` and ``=`` appear in no function id, so a longer id never matches)."""
    return function_dir == wanted or (
        function_dir.startswith(wanted) and function_dir[len(wanted)] in "@="
    )


def _local(store: Store, path: str) -> str | None:
    local_path = getattr(store, "local_path", None)
    return None if local_path is None else local_path(path)


def _subdirs(store: Store, path: str) -> list[str]:
    where = _local(store, path)
    if where is not None:
        try:
            with os.scandir(where) as found:
                names = [e.name for e in found if e.is_dir(follow_symlinks=False)]
        except (FileNotFoundError, NotADirectoryError):
            return []
    else:
        names = [posixpath.basename(i.path.rstrip("/")) for i in store.list(path) if i.is_dir]
    return sorted(n for n in names if not n.startswith("."))


def function_dirs(
    store: Store, namespace: str | None = None, function: str | None = None
) -> Iterator[tuple[str, str]]:
    """(namespace, function directory) pairs, sorted, filtered as asked."""
    namespaces = [namespace] if namespace else _subdirs(store, SCHEME)
    for ns in namespaces:
        for fdir in _subdirs(store, f"{SCHEME}/{ns}"):
            if function is None or matches_function(fdir, function):
                yield ns, fdir


File = tuple[str, int, float | None, float | None, str | None]  # name size mtime atime version


def _files(store: Store, directory: str, *, hidden: bool = False) -> Iterable[File]:
    """(name, size, mtime, atime, version) of the regular files in `directory`,
    streamed where local (`hidden`: only names starting with a dot, e.g. temp files)."""
    where = _local(store, directory)
    if where is None:
        if hidden:
            return
        for info in store.list(directory):
            if not info.is_dir:
                yield posixpath.basename(info.path), info.size, info.mtime, None, info.version
        return
    try:
        with os.scandir(where) as found:
            for entry in found:
                try:
                    status = entry.stat(follow_symlinks=False)
                except FileNotFoundError:
                    continue  # deleted while walking
                if stat.S_ISREG(status.st_mode) and entry.name.startswith(".") == hidden:
                    yield (
                        entry.name,
                        status.st_size,
                        status.st_mtime,
                        status.st_atime,
                        version_token(status),
                    )
    except (FileNotFoundError, NotADirectoryError):
        return


def walk_function(store: Store, namespace: str, function_dir: str) -> Iterator[Found]:
    """The keys of one function directory: entries as met, then keys with siblings only."""
    directory = f"{SCHEME}/{namespace}/{function_dir}"
    siblings: dict[str, list[tuple[str, int, float | None]]] = {}
    for name, size, mtime, _atime, _version in _files(store, directory):
        named = split_name(name)
        if named is not None and named[1] is not None:
            siblings.setdefault(named[0], []).append((named[1], size, mtime))
    for name, size, mtime, atime, version in _files(store, directory):
        named = split_name(name)
        if named is None or named[1] is not None:
            continue
        own = siblings.pop(named[0], [])
        marks = [m for kind, _, m in own if kind == USED and m is not None]
        used = max(marks) if marks else atime
        yield _found(namespace, function_dir, named[0], own, size, mtime, version, used)
    for digest, own in sorted(siblings.items()):  # keys without an entry (yet)
        yield _found(namespace, function_dir, digest, own, None, None, None, None)


def _found(
    namespace: str,
    function_dir: str,
    digest: str,
    own: list[tuple[str, int, float | None]],
    size: int | None,
    mtime: float | None,
    version: str | None,
    used: float | None,
) -> Found:
    return Found(
        namespace,
        function_dir,
        digest,
        size is not None,
        size or 0,
        mtime,
        tuple(sorted(kind for kind, _, _ in own)),
        sum(n for _, n, _ in own),
        tuple(sorted(own, key=lambda item: item[0])),
        version,
        used,
    )


def temp_files(store: Store, namespace: str, function_dir: str) -> Iterator[File]:
    """Writes in progress (or orphaned by a crash) in a local function directory."""
    for found in _files(store, f"{SCHEME}/{namespace}/{function_dir}", hidden=True):
        if found[0].startswith(TMP_PREFIX):
            yield found


def walk(
    store: Store, namespace: str | None = None, function: str | None = None
) -> Iterator[Found]:
    """Every key under the root (or the namespace / function asked for)."""
    for ns, fdir in function_dirs(store, namespace, function):
        yield from walk_function(store, ns, fdir)
