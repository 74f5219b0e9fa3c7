"""The Chinese font the dossier's PDF embeds, made cheap to use.

Why: Noto Sans CJK SC is one face of a 20 MB collection with 65,535 glyphs. fpdf2 reads its metrics and
CFF index for every document and subsets it at output, which cost seconds and well over 100 MB per summary
(bench/dossier_pdf.py). The cost grows with the glyph count, not with the text, so the fix is a smaller font.

What: once per data directory the Simplified-Chinese face is cut down to a working set — every character of
GB 2312 (its 6,763 hanzi cover nearly all everyday text), ASCII, Latin-1, general and CJK punctuation,
arrows, box and geometric shapes, full-width forms: about 8,600 glyphs — and saved as
`<data dir>/fonts/dossier-cjk-<key>.otf` (the key names the source file, its size and time, and the working
set's version, so a new font package makes a new file). Summaries embed from that file, still subset to the
characters they use. A summary that needs a character outside the working set (a rare name, say) is built
again from the full face, so text is never lost: slower, always correct.

When: cutting the face down takes tens of seconds of one core, once. It never happens inside a request:
the first summary that finds no file starts it in a child process at low priority (one per data directory, by an
exclusive lock file) and embeds from the full face meanwhile, as before. `KAMENG_PDF_FONT_CACHE=0` turns
the cache off (the tests do, but for the ones about it).
"""

import hashlib
import logging
import os
import subprocess
import sys
import threading
from functools import lru_cache
from pathlib import Path

from django.conf import settings

from kameng.core.errors import DomainError

logger = logging.getLogger(__name__)

FONT_CANDIDATES = (
    # (path, index in a collection): Simplified Chinese faces first.
    ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", 2),
    ("/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc", 2),
    ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", 0),
    ("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", 0),
)
WORKING_SET_VERSION = 1
_building = threading.Lock()
_builder: subprocess.Popen | None = None


class FontMissing(DomainError):
    status = 503
    code = "PDF_FONT_MISSING"


@lru_cache(maxsize=1)
def cjk_font() -> tuple[str, int]:
    """The full Chinese font: KAMENG_PDF_FONT, else the first installed candidate."""
    configured = os.environ.get("KAMENG_PDF_FONT")
    if configured:
        return configured, int(os.environ.get("KAMENG_PDF_FONT_INDEX", "0"))
    for path, index in FONT_CANDIDATES:
        if Path(path).is_file():
            return path, index
    raise FontMissing("no Chinese font is installed for the dossier's PDF (apt-get install fonts-noto-cjk)")


@lru_cache(maxsize=1)
def working_set() -> frozenset[int]:
    ranges = ((0x20, 0x7F), (0xA0, 0x180), (0x2000, 0x2070), (0x2190, 0x2200), (0x2460, 0x2500),
              (0x2500, 0x2700), (0x3000, 0x3040), (0xFF00, 0xFFF0))
    chars = {code for low, high in ranges for code in range(low, high)}
    for high in range(0xA1, 0xF8):  # every GB 2312 code point, decoded
        for low in range(0xA1, 0xFF):
            try:
                chars.add(ord(bytes((high, low)).decode("gb2312")))
            except UnicodeDecodeError:
                pass
    return frozenset(chars)


def enabled() -> bool:
    return str(getattr(settings, "KAMENG_PDF_FONT_CACHE", os.environ.get("KAMENG_PDF_FONT_CACHE", "1"))) not in (
        "0", "False", "false", "")


def cache_path() -> Path:
    source, index = cjk_font()
    stat = os.stat(source)
    key = hashlib.sha256(f"{source}|{index}|{stat.st_size}|{stat.st_mtime_ns}|{WORKING_SET_VERSION}".encode())
    return Path(settings.DATA_DIR) / "fonts" / f"dossier-cjk-{key.hexdigest()[:16]}.otf"


def font_for_summary() -> tuple[str, int, bool]:
    """(path, collection index, is the working set): the cut-down font when it is ready, else the full one
    (and the cut-down one is started in the background)."""
    if enabled():
        cached = cache_path()
        if cached.is_file():
            return str(cached), 0, True
        start_building(cached)
    source, index = cjk_font()
    return source, index, False


def start_building(target: Path) -> None:
    """Cut the font down in a child process, at low priority: a thread would hold this process's GIL for
    the tens of seconds it takes, and every request this process serves meanwhile would wait (the served
    e2e tests timed out on exactly that). One child per process at a time; the lock file in `build` keeps
    it to one per data directory."""
    global _builder
    with _building:
        if _builder is not None and _builder.poll() is None:
            return  # still at it
        _builder = subprocess.Popen(
            [sys.executable, "-m", "kameng.aftersales.pdf_font", str(target)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        )


def build(target: Path, chars=None) -> bool:
    """Cut the face down to `chars` (the working set) at `target`; False if another process is at it."""
    from fontTools import subset
    from fontTools.ttLib import TTFont

    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    lock = target.with_suffix(".building")
    try:
        # One builder per data directory. A lock left by a process that died is stale after an hour.
        fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        if lock.stat().st_mtime > _now() - 3600:
            return False
        lock.unlink(missing_ok=True)
        return build(target, chars)
    os.close(fd)
    try:
        source, index = cjk_font()
        font = TTFont(source, fontNumber=index, lazy=True, recalcTimestamp=False)
        options = subset.Options()
        options.name_IDs = ["*"]  # the font's names and licence travel with it
        options.name_languages = ["*"]
        options.notdef_outline = True
        options.layout_features = []  # fpdf2 lays text out without OpenType features
        subsetter = subset.Subsetter(options)
        subsetter.populate(unicodes=chars if chars is not None else working_set())
        subsetter.subset(font)
        partial = target.with_suffix(f".{os.getpid()}.part")
        font.save(str(partial))
        os.replace(partial, target)  # readers see the whole file or none
        logger.info("dossier font cache ready: %s", target)
        return True
    finally:
        lock.unlink(missing_ok=True)


def _now() -> float:
    import time

    return time.time()  # a file's age on disk, not platform time: the test clock has no say here


def _main(target: str) -> int:
    """The child of `start_building`: build at low priority and say why if it cannot."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    os.nice(10)
    try:
        build(Path(target))
    except Exception:  # a summary still works from the full font; say why the fast one is missing
        logger.exception("could not prepare the dossier font cache at %s", target)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(_main(sys.argv[1]))
