"""The parts of the permission matrix beyond the core (see matrix_common): one module per feature."""

from __future__ import annotations

from types import ModuleType

from tests.api import matrix_edits, matrix_fieldwork, matrix_people, matrix_tiles, matrix_web

PARTS: list[ModuleType] = [matrix_tiles, matrix_fieldwork, matrix_edits, matrix_web, matrix_people]
