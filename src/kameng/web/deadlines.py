"""Uploaded key files that no import job will read again are removed."""

from kameng.core.deadlines import Deadline

from .imports import imports_clean_abandoned

DEADLINES = [Deadline("import_files_removed", imports_clean_abandoned)]
