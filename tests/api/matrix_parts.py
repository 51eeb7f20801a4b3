"""The parts of the permission matrix beyond the core (see matrix_common): one module per feature."""

from __future__ import annotations

from types import ModuleType

PARTS: list[ModuleType] = []
