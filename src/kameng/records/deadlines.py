"""Exports: the sealed copy kept for a second request is removed once its few minutes have passed."""

from kameng.core.deadlines import Deadline

from .services import export_files_forget

DEADLINES = [Deadline("export_files_removed", export_files_forget)]
