"""Every error code a service raises reaches a person as a sentence in their language, never as English
service text in a Chinese page (or a bare code)."""

import re
from pathlib import Path

import kameng
from kameng.core.error_texts import SPEAK_FOR_THEMSELVES, TEXTS

RAISED = re.compile(r'(?:Conflict|Invalid|NotFound|Forbidden|DomainError)\([^)]*?code="([A-Z_]+)"', re.S)


def raised_codes() -> set[str]:
    source = Path(kameng.__file__).parent
    return {code for path in source.rglob("*.py") for code in RAISED.findall(path.read_text(encoding="utf-8"))}


def test_every_raised_error_code_has_a_sentence_in_both_languages():
    codes = raised_codes()
    assert len(codes) > 50  # the pattern still finds the services' errors
    missing = sorted(codes - TEXTS.keys() - SPEAK_FOR_THEMSELVES)
    assert missing == []
    for code, (chinese, english) in TEXTS.items():
        assert re.search(r"[\u4e00-\u9fff]", chinese), code
        assert not re.search(r"[\u4e00-\u9fff：，。（）]", english.replace("休", "").replace("班", "")), code
