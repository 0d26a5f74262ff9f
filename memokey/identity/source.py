"""Normalized source: what a function's or class's code says, not how it is written.

A module's source (from `linecache`, which also knows notebook cells) is parsed once;
functions are found by their code object's first line, name and parameters, classes by
qualname. The canonical form walks the AST and ignores positions, comments, docstrings,
formatting, ``Constant.kind``, type comments, the memoizing decorator and fields that are
empty or None (3.12's ``type_params=[]`` equals its absence before 3.12), so the same
source gives the same digest on Python 3.10 to 3.13.
"""

from __future__ import annotations
import __future__

import ast
import linecache
import threading
import types
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "assigned_attributes",
    "canonical_digest",
    "canonical_text",
    "class_file",
    "class_node",
    "function_node",
    "written_globals",
]

#: Methods that change their receiver in place (a dict, list, set, Counter, deque).
_MUTATORS = frozenset(
    {
        "append",
        "extend",
        "insert",
        "remove",
        "pop",
        "popitem",
        "clear",
        "update",
        "setdefault",
        "add",
        "discard",
        "sort",
        "reverse",
        "appendleft",
        "extendleft",
        "popleft",
        "subtract",
        "put",
        "put_nowait",
    }
)

_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)
_DOC_HOLDERS = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)
_SKIPPED_FIELDS = frozenset({"kind", "type_comment", "ctx"})
#: Decorators that are memokey's own (their options are keyed separately).
_MEMOIZING = frozenset({"memoize", "use_runner"})
_MAX_MODULES = 256

Node = ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda


@dataclass
class _Index:
    lines: list[str]
    tree: ast.Module
    by_line: dict[int, list[Node]] = field(default_factory=dict)
    classes: dict[str, list[ast.ClassDef]] = field(default_factory=dict)
    codes: dict[tuple[str, int], list[types.CodeType]] | None = None
    compiled: bool = False


_indexes: dict[str, _Index] = {}
_lock = threading.Lock()


def _index(filename: str, module_globals: dict[str, Any] | None) -> _Index | None:
    """The parsed source of `filename` (None when there is none: exec'd code, stdin)."""
    if not filename or (filename.startswith("<") and not filename.startswith("<ipython")):
        return None
    try:
        linecache.checkcache(filename)  # a reloaded module: its new source (a stat call)
        lines = linecache.getlines(filename, module_globals)
    except Exception:
        return None
    if not lines:
        return None
    cached = _indexes.get(filename)
    if cached is not None and cached.lines is lines:
        return cached
    try:
        tree = ast.parse("".join(lines), filename)
    except (SyntaxError, ValueError):
        return None  # the file changed under us into something else: no source
    index = _Index(lines, tree)
    _walk(tree, "", index)
    with _lock:
        if len(_indexes) >= _MAX_MODULES:
            _indexes.clear()
        _indexes[filename] = index
    return index


def _walk(node: ast.AST, prefix: str, index: _Index) -> None:
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.ClassDef):
            qualname = prefix + child.name
            index.classes.setdefault(qualname, []).append(child)
            _walk(child, qualname + ".", index)
        elif isinstance(child, _FUNCTIONS):
            first = min([child.lineno, *(d.lineno for d in child.decorator_list)])
            index.by_line.setdefault(first, []).append(child)
            _walk(child, f"{prefix}{child.name}.<locals>.", index)
        elif isinstance(child, ast.Lambda):
            index.by_line.setdefault(child.lineno, []).append(child)
            _walk(child, f"{prefix}<lambda>.<locals>.", index)
        else:
            _walk(child, prefix, index)


def _parameters(args: ast.arguments) -> tuple[str, ...]:
    """Parameter names in the order a code object's ``co_varnames`` starts with."""
    names = [a.arg for a in (*args.posonlyargs, *args.args, *args.kwonlyargs)]
    names += [a.arg for a in (args.vararg, args.kwarg) if a is not None]
    return tuple(names)


def _code_parameters(code: types.CodeType) -> tuple[str, ...]:
    count = code.co_argcount + code.co_kwonlyargcount
    count += bool(code.co_flags & 0x04) + bool(code.co_flags & 0x08)  # *args, **kwargs
    return tuple(code.co_varnames[:count])


def function_node(code: types.CodeType, module_globals: dict[str, Any] | None) -> Node | None:
    """The AST of the function whose code is `code`, or None when its source cannot be
    found unambiguously or no longer compiles to `code` (the file was edited after the
    import): then the caller falls back to the code object."""
    index = _index(code.co_filename, module_globals)
    if index is None or not _is_loaded(index, code):
        return None
    return _find_node(index, code)


def _find_node(index: _Index, code: types.CodeType) -> Node | None:
    name = code.co_name
    params = _code_parameters(code)
    found = [
        node
        for node in index.by_line.get(code.co_firstlineno, ())
        if (node.name if isinstance(node, _FUNCTIONS) else "<lambda>") == name
        and _parameters(node.args) == params
    ]
    # e.g. two lambdas on one line: equal source is no ambiguity; else the one whose
    # text holds the code's instruction positions (3.11+), else match constants
    if len(found) > 1 and len({canonical_digest(node) for node in found}) > 1:
        placed = [node for node in found if _holds_positions(node, code)]
        if len(placed) == 1:
            return placed[0]
        found = [node for node in found if _constants_match(node, code)]
        if len({canonical_digest(node) for node in found}) != 1:
            return None
    return found[0] if found else None


def _holds_positions(node: ast.AST, code: types.CodeType) -> bool:
    """Whether every source position `code`'s instructions carry lies inside `node`
    (False when the code has none: Python 3.10)."""
    positions = getattr(code, "co_positions", None)
    if positions is None:
        return False
    spans = [p for p in positions() if None not in p and (p[1], p[3]) > (p[0], p[2])]
    start = (getattr(node, "lineno", 0), getattr(node, "col_offset", 0))
    end = (getattr(node, "end_lineno", 0) or 0, getattr(node, "end_col_offset", 0) or 0)
    return bool(spans) and all(start <= (p[0], p[2]) and (p[1], p[3]) <= end for p in spans)


def _constants_match(node: ast.AST, code: types.CodeType) -> bool:
    """Whether the literal numbers and strings in `node` are the ones `code` holds."""
    wanted = {
        (type(c.value), c.value)
        for c in ast.walk(node)
        if isinstance(c, ast.Constant) and isinstance(c.value, (int, float, str, bytes))
    }
    have: set[tuple[type, object]] = set()
    stack = [code]
    while stack:
        current = stack.pop()
        for const in current.co_consts:
            if isinstance(const, types.CodeType):
                stack.append(const)
            elif isinstance(const, (int, float, str, bytes)):
                have.add((type(const), const))
    return wanted <= have


def class_file(cls: type, module_globals: dict[str, Any] | None) -> str | None:
    """The file whose text defined `cls`: its first method's (a method's code knows the
    file even in a notebook), else its module's."""
    for member in vars(cls).values():
        func = getattr(member, "__func__", member)
        code = getattr(func, "__code__", None)
        if (
            isinstance(code, types.CodeType)
            and func.__qualname__.startswith(cls.__qualname__ + ".")
            and not (code.co_filename.startswith("<") and code.co_filename[:8] != "<ipython")
        ):  # its own method, not one a library generated (a dataclass's ``__init__``)
            return code.co_filename
    filename = getattr(module_globals, "get", lambda _: None)("__file__")
    return filename if isinstance(filename, str) else None


def class_node(cls: type, module_globals: dict[str, Any] | None) -> ast.ClassDef | None:
    """The class statement that made `cls` (by file and qualname), if exactly one did."""
    filename = class_file(cls, module_globals)
    if filename is None:
        return None
    index = _index(filename, module_globals)
    if index is None:
        return None
    found = index.classes.get(cls.__qualname__, [])
    return found[0] if len(found) == 1 else None


def canonical_text(node: ast.AST) -> str:
    """`node`'s canonical form (see the module docstring); standard library only, so
    tests can compare it across Python versions."""
    out: list[str] = []
    _canonical(node, out)
    return "\x1f".join(out)


def canonical_digest(node: ast.AST) -> str:
    """xxh3_128 of `node`'s canonical form."""
    import xxhash

    return xxhash.xxh3_128_hexdigest(canonical_text(node).encode("utf-8", "surrogatepass"))


def _is_memoizing(decorator: ast.expr) -> bool:
    target = decorator.func if isinstance(decorator, ast.Call) else decorator
    name = target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", None)
    return name in _MEMOIZING


def _canonical(node: Any, out: list[str]) -> None:
    if isinstance(node, ast.AST):
        out.append(type(node).__name__)
        for name in sorted(node._fields):
            if name in _SKIPPED_FIELDS:
                continue
            value: Any = getattr(node, name, None)
            if name == "body" and isinstance(node, _DOC_HOLDERS):
                value = _without_docstring(value)
            elif name == "decorator_list":
                value = [d for d in value if not _is_memoizing(d)]
            if value is None or (isinstance(value, list) and not value):
                continue
            out.append(name)
            _canonical(value, out)
        out.append(")")
    elif isinstance(node, list):
        out.append("[")
        for item in node:
            _canonical(item, out)
        out.append("]")
    else:  # a constant's value or an identifier
        out.append(f"{type(node).__name__}:{node!r}")


def _without_docstring(body: list[ast.stmt]) -> list[ast.stmt]:
    if (
        body
        and isinstance(body[0], ast.Expr)
        and isinstance(body[0].value, ast.Constant)
        and isinstance(body[0].value.value, str)
    ):
        return body[1:]
    return body


def _base_name(node: ast.expr) -> str | None:
    while isinstance(node, (ast.Subscript, ast.Attribute)):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def written_globals(node: ast.AST) -> frozenset[str]:
    """Names whose value the code changes: ``global`` declarations, item or attribute
    assignment and deletion (``RUNS[k] += 1``) and mutating method calls
    (``SEEN.add(x)``). Such a name is the function's state, not one of its inputs."""
    written: set[str] = set()
    for child in ast.walk(node):
        if isinstance(child, ast.Global):
            written.update(child.names)
        elif isinstance(child, (ast.Subscript, ast.Attribute)) and isinstance(
            child.ctx, (ast.Store, ast.Del)
        ):
            name = _base_name(child)
            if name is not None:
                written.add(name)
        elif (
            isinstance(child, ast.Call)
            and isinstance(child.func, ast.Attribute)
            and child.func.attr in _MUTATORS
        ):
            name = _base_name(child.func.value)
            if name is not None:
                written.add(name)
    return frozenset(written)


def assigned_attributes(node: ast.AST) -> frozenset[str]:
    """Attribute names the code assigns or deletes (``Model.created += 1``,
    ``cls.registry = ...``): on a class, such an attribute is state, not configuration."""
    return frozenset(
        child.attr
        for child in ast.walk(node)
        if isinstance(child, ast.Attribute) and isinstance(child.ctx, (ast.Store, ast.Del))
    )


#: The compiler flags ``from __future__`` imports set.
_FUTURE_FLAGS = 0
for _feature in __future__.all_feature_names:
    _FUTURE_FLAGS |= getattr(__future__, _feature).compiler_flag


def _codes(index: _Index, code: types.CodeType) -> dict[tuple[str, int], list[types.CodeType]]:
    """Every code object the file's current text compiles to, by (name, first line):
    compiled once per parsed text, in its real context (enclosing classes and functions,
    its own ``__future__`` imports, and those `code` was compiled under: a notebook
    remembers a ``from __future__`` import of an earlier cell)."""
    if index.codes is None:
        codes: dict[tuple[str, int], list[types.CodeType]] = {}
        try:
            flags = code.co_flags & _FUTURE_FLAGS
            module = compile(index.tree, code.co_filename, "exec", flags, dont_inherit=True)
        except (SyntaxError, ValueError, TypeError):
            module = None  # cannot tell: the source is used unchecked, as before
        stack = [] if module is None else [module]
        while stack:
            current = stack.pop()
            codes.setdefault((current.co_name, current.co_firstlineno), []).append(current)
            stack.extend(c for c in current.co_consts if isinstance(c, types.CodeType))
        index.compiled = module is not None
        index.codes = codes
    return index.codes


def _is_loaded(index: _Index, code: types.CodeType) -> bool:
    """Whether `code` is what the file's current text compiles to: false once the file
    was edited after its module was imported (the running code is the old one)."""
    codes = _codes(index, code)
    if not index.compiled:
        return True
    return any(_same_code(c, code) for c in codes.get((code.co_name, code.co_firstlineno), ()))


def _same_code(a: types.CodeType, b: types.CodeType) -> bool:
    """Same bytecode, names, variables and constants, nested code included; positions
    and file names aside."""
    if (
        a.co_code != b.co_code
        or a.co_names != b.co_names
        or a.co_varnames != b.co_varnames
        or a.co_freevars != b.co_freevars
        or a.co_cellvars != b.co_cellvars
        or len(a.co_consts) != len(b.co_consts)
    ):
        return False
    for x, y in zip(a.co_consts, b.co_consts, strict=True):
        if isinstance(x, types.CodeType) and isinstance(y, types.CodeType):
            if not _same_code(x, y):
                return False
        elif type(x) is not type(y) or x != y:
            return False
    return True
