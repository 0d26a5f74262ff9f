"""Stable names (moved to `memokey.identity.naming`; kept here for existing imports)."""

from __future__ import annotations

from memokey.identity.naming import MAIN, main_module_name, module_name, qualified_name

__all__ = ["MAIN", "main_module_name", "module_name", "qualified_name"]
