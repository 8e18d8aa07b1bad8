"""Text values of the lean header reader, decoded with the file's Specific Character Set as pydicom decodes them.

PS3.5 6.1.2.3: the Specific Character Set (0008,0005) applies to SH, LO, UC, ST, LT, UT and PN
values; every other string VR uses the default repertoire. Decoding is pydicom's own (its value
converters, ISO 2022 code extensions of PS3.5 6.1.2.5 included), so the lean reader and the
pydicom fallback never show one patient under two names. A value in the default repertoire
(ASCII without an escape) reads the same in every defined character set and skips the codecs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydicom.charset import convert_encodings, decode_bytes, default_encoding
from pydicom.datadict import dictionary_VR
from pydicom.valuerep import PersonName
from pydicom.values import convert_PN, convert_single_string, convert_string, convert_text

if TYPE_CHECKING:
    from collections.abc import Iterable

CHARSET_TAG = 0x00080005
_CHARSET_VRS = frozenset({"SH", "LO", "UC", "ST", "LT", "UT", "PN"})
_SINGLE_VALUED_VRS = frozenset({"ST", "LT", "UT"})  # backslash is text in these, not a value separator
_ESC = b"\x1b"


def charset_vrs(tags: Iterable[int]) -> dict[int, str]:
    """The dictionary VR of each of ``tags`` that the Specific Character Set applies to."""
    found = {tag: dictionary_VR(tag) for tag in tags if tag >> 16 != 0x0002}
    return {tag: vr for tag, vr in found.items() if vr in _CHARSET_VRS}


def plain_text(raw: bytes) -> str:
    """A default-repertoire value without its padding (trailing NULs and spaces, leading spaces).

    An ISO 2022 escape where none belongs (a number, a code string) is dropped as pydicom drops it.
    """
    text = decode_bytes(raw, [default_encoding], set()) if _ESC in raw else raw.decode("latin-1")
    return text.rstrip("\x00 ").strip()


def is_plain(raw: bytes) -> bool:
    """True when ``raw`` is ASCII without an ISO 2022 escape: the same text in every character set."""
    return raw.isascii() and _ESC not in raw


def decode_text(raw: bytes, vr: str, charset: bytes | None) -> str:
    """``raw`` (a value of ``vr``) decoded with the Specific Character Set value ``charset`` (raw bytes).

    Multiple values are joined by backslashes, as the rest of the index stores them.
    """
    if is_plain(raw):
        return plain_text(raw)
    encodings = convert_encodings(_charset_terms(charset))
    if vr == "PN":
        value: object = convert_PN(raw, encodings)
    elif vr in _SINGLE_VALUED_VRS:
        value = convert_single_string(raw, encodings)
    else:
        value = convert_text(raw, encodings)
    if isinstance(value, (str, PersonName)):
        return str(value)
    return "\\".join(str(v) for v in value)  # type: ignore[attr-defined]


def _charset_terms(raw: bytes | None) -> list[str]:
    """The defined terms of (0008,0005) as pydicom reads them (CS, backslash-separated); '' is the default."""
    if not raw:
        return [""]
    value = convert_string(raw, True)
    return [value] if isinstance(value, str) else list(value)
