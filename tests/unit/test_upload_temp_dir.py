"""A large upload spools to a private folder of the data directory, never to the shared /tmp."""

import os
import stat
from pathlib import Path

from django.conf import settings
from django.core.files.uploadedfile import TemporaryUploadedFile


def test_uploads_spool_in_a_private_folder_under_the_data_dir():
    folder = Path(settings.FILE_UPLOAD_TEMP_DIR)
    assert folder.parent == Path(settings.DATA_DIR)
    assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700
    spooled = TemporaryUploadedFile("evidence.png", "image/png", 10, "utf-8")
    try:
        assert Path(spooled.temporary_file_path()).parent == folder
    finally:
        spooled.close()
