"""The upload policy on its own: safe names, strict base64, sizes and types."""

from __future__ import annotations

import pytest

from chatcore import InvalidError, MessageType, UploadPolicy
from chatcore.uploads import (
    DEFAULT_LIMITS,
    MAX_NAME_LENGTH,
    MB,
    content_disposition,
    decode_base64,
    display_file_name,
    name_in_key,
    sanitize_file_name,
)
from tests.unit.helpers import aac, b64, docx, gif, jpeg, m4a, mp3, ogg, pdf, png, wav, webp

IMAGE, FILE, VOICE, TEXT = MessageType.IMAGE, MessageType.FILE, MessageType.VOICE, MessageType.TEXT


@pytest.mark.parametrize(
    ("name", "safe"),
    [
        ("photo.jpg", "photo.jpg"),
        ("../../etc/passwd.txt", "passwd.txt"),
        ("..\\..\\boot.ini.txt", "boot.ini.txt"),
        ("/absolute/path/report.pdf", "report.pdf"),
        ("dir/", "file"),
        ("..", "file"),
        ("", "file"),
        ("...hidden.txt", "hidden.txt"),
        ("  spaced out .pdf  ", "spaced out .pdf"),
        ("tab\there\nnew.txt", "tabherenew.txt"),
        ("bell\x07\x00nul.png", "bellnul.png"),
        ("rtl\u202egnp.exe", "rtlgnp.exe"),
        ("semi;colon|pipe<>.txt", "semi_colon_pipe__.txt"),
        ("quote\"'`$.txt", "quote____.txt"),
        ("Résumé (final) [v2]+@x,y.docx", "Résumé (final) [v2]+@x,y.docx"),
        ("e\u0301t\u00e9.txt", "\u00e9t\u00e9.txt"),
    ],
)
def test_file_names_are_made_safe_for_storage_keys(name: str, safe: str) -> None:
    assert sanitize_file_name(name) == safe


def test_an_over_long_name_keeps_its_extension() -> None:
    safe = sanitize_file_name("x" * 300 + ".pdf")

    assert len(safe) == MAX_NAME_LENGTH
    assert safe.endswith("x.pdf")


def test_an_over_long_name_with_an_over_long_extension_is_cut() -> None:
    safe = sanitize_file_name("a." + "b" * 300)

    assert len(safe) == MAX_NAME_LENGTH
    assert safe.startswith("a.bbb")


def test_an_over_long_name_without_extension_is_cut() -> None:
    assert sanitize_file_name("z" * 500) == "z" * MAX_NAME_LENGTH


def test_display_names_drop_control_characters_and_are_capped() -> None:
    assert display_file_name("  ../a\r\nb.txt ") == "../ab.txt"
    assert display_file_name("\x00\x01") == "file"
    assert len(display_file_name("n" * 1000)) == 255


def test_base64_is_decoded_strictly() -> None:
    assert decode_base64(b64(b"hello")) == b"hello"
    assert decode_base64("data:text/plain;base64," + b64(b"hello")) == b"hello"
    for bad in ("aGVsbG8", "aGVs bG8=", "aGVsbG8=\n", "@@@@", "aGVsbG8=aGVsbG8="):
        with pytest.raises(InvalidError) as raised:
            decode_base64(bad)
        assert raised.value.field == "file_data"


def test_a_base64_error_names_the_given_field() -> None:
    with pytest.raises(InvalidError) as raised:
        decode_base64("!", field="chunk")

    assert raised.value.field == "chunk"


def test_the_default_limits_are_the_seeds() -> None:
    policy = UploadPolicy()

    assert DEFAULT_LIMITS == {IMAGE: 10 * MB, FILE: 50 * MB, VOICE: 20 * MB}
    assert (policy.limit(IMAGE), policy.limit(FILE), policy.limit(VOICE)) == (10 * MB, 50 * MB, 20 * MB)
    assert policy.largest == 50 * MB


def test_policies_do_not_share_their_limits() -> None:
    one, two = UploadPolicy(), UploadPolicy()
    one.limits[IMAGE] = 1

    assert two.limit(IMAGE) == 10 * MB


def test_text_carries_no_file() -> None:
    with pytest.raises(InvalidError) as raised:
        UploadPolicy().limit(TEXT)

    assert raised.value.field == "message_type"
    with pytest.raises(InvalidError):
        UploadPolicy(limits={TEXT: 5}).accept(TEXT, "a.txt", b"hi", uuid="u")


def test_sizes_are_checked_against_the_limit_and_the_declared_size() -> None:
    policy = UploadPolicy()
    policy.check_size(IMAGE, 10 * MB)
    policy.check_size(IMAGE, 100, declared=100)

    with pytest.raises(InvalidError, match="at most 10 MB") as over:
        policy.check_size(IMAGE, 10 * MB + 1)
    with pytest.raises(InvalidError) as empty:
        policy.check_size(FILE, 0)
    with pytest.raises(InvalidError) as mismatch:
        policy.check_size(VOICE, 100, declared=101)

    assert (over.value.field, empty.value.field, mismatch.value.field) == ("file_data", "file_data", "file_size")


@pytest.mark.parametrize(
    ("kind", "name", "head", "mime"),
    [
        (IMAGE, "a.png", png(), "image/png"),
        (IMAGE, "a.JPG", jpeg(), "image/jpeg"),
        (IMAGE, "a.gif", gif(), "image/gif"),
        (IMAGE, "a.webp", webp(), "image/webp"),
        (FILE, "a.pdf", pdf(), "application/pdf"),
        (FILE, "a.zip", docx(), "application/zip"),
        (FILE, "empty.zip", b"PK\x05\x06" + bytes(18), "application/zip"),
        (FILE, "a.txt", "ünïcode".encode() * 100, "text/plain; charset=utf-8"),
        (VOICE, "a.mp3", mp3(), "audio/mpeg"),
        (VOICE, "frame.mp3", b"\xff\xfb\x90\x64" + bytes(20), "audio/mpeg"),
        (VOICE, "a.wav", wav(), "audio/wav"),
        (VOICE, "a.ogg", ogg(), "audio/ogg"),
        (VOICE, "a.m4a", m4a(), "audio/mp4"),
        (VOICE, "a.aac", aac(), "audio/aac"),
        (VOICE, "adif.aac", b"ADIF" + bytes(20), "audio/aac"),
    ],
)
def test_accepted_files_get_the_type_their_content_shows(kind: MessageType, name: str, head: bytes, mime: str) -> None:
    accepted = UploadPolicy().accept(kind, name, head[:512], uuid="abc")

    assert accepted.mime_type == mime
    assert accepted.kind is kind
    assert accepted.file_name == name
    assert accepted.stored_name == f"abc-{name}"
    assert accepted.key == f"{ {IMAGE: 'images', FILE: 'files', VOICE: 'voices'}[kind] }/abc-{name}"


def test_a_text_head_cut_inside_a_multibyte_character_is_still_text() -> None:
    head = ("a" * 511 + "ü").encode()[:512]  # ends with half of 'ü'

    assert UploadPolicy().accept(FILE, "a.txt", head, uuid="u").mime_type.startswith("text/plain")


@pytest.mark.parametrize(
    "head",
    [
        pytest.param(b"caf\xe9 latin-1 text", id="not-utf8"),
        pytest.param(b"abc\x00def", id="nul-byte"),
        pytest.param(b"\xff\xfe\x00\x00", id="utf32"),
    ],
)
def test_binary_content_is_not_text(head: bytes) -> None:
    with pytest.raises(InvalidError) as raised:
        UploadPolicy().accept(FILE, "a.txt", head, uuid="u")

    assert raised.value.field == "file_data"
    assert "TXT" in raised.value.detail


@pytest.mark.parametrize(
    ("kind", "name", "head"),
    [
        (IMAGE, "a.webp", wav()),
        (VOICE, "a.wav", webp()),
        (IMAGE, "a.png", b""),
        (VOICE, "a.m4a", b"\x00\x00\x00\x18mdat"),
        (VOICE, "a.mp3", b"\xff"),
        (VOICE, "a.aac", b"\xff\xfb"),
        (FILE, "a.rar", b"Rar!"),
        (FILE, "a.doc", docx()),
        (FILE, "a.docx", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"),
    ],
)
def test_content_that_does_not_match_the_extension_is_refused(kind: MessageType, name: str, head: bytes) -> None:
    with pytest.raises(InvalidError) as raised:
        UploadPolicy().accept(kind, name, head, uuid="u")

    assert raised.value.field == "file_data"


def test_the_refusal_lists_the_allowed_extensions() -> None:
    with pytest.raises(InvalidError) as raised:
        UploadPolicy().accept(IMAGE, "x.bmp", b"BM", uuid="u")

    assert raised.value.detail == "image files must be one of: jpg, jpeg, png, gif, webp"
    assert raised.value.field == "file_name"


@pytest.mark.parametrize(
    ("name", "header"),
    [
        ("payslip.pdf", "attachment; filename=\"payslip.pdf\"; filename*=UTF-8''payslip.pdf"),
        (
            "Gehaltsabrechnung März.pdf",
            "attachment; filename=\"Gehaltsabrechnung Marz.pdf\"; filename*=UTF-8''Gehaltsabrechnung%20M%C3%A4rz.pdf",
        ),
        (
            "給与明細.pdf",
            "attachment; filename=\"file.pdf\"; filename*=UTF-8''%E7%B5%A6%E4%B8%8E%E6%98%8E%E7%B4%B0.pdf",
        ),
        ("100% raise.txt", "attachment; filename=\"100_ raise.txt\"; filename*=UTF-8''100%25%20raise.txt"),
        ("", "attachment; filename=\"file\"; filename*=UTF-8''file"),
    ],
)
def test_the_download_header_keeps_the_name_with_an_ascii_fallback(name: str, header: str) -> None:
    assert content_disposition(name) == header


@pytest.mark.parametrize(
    "name",
    [
        'a"; filename="evil.exe',
        "x.pdf\r\nSet-Cookie: session=stolen",
        "x.pdf\rLocation: https://evil.example",
        "a;b=c; filename*=UTF-8''evil.exe",
        "..\\..\\windows\\system32\\x.dll",
        "../../etc/passwd",
        "%0d%0aInjected: yes.txt",
        "\u202eexe.pdf",  # right-to-left override
        "tab\there\x00nul\x7fdel.txt",
    ],
)
def test_no_file_name_can_break_out_of_the_download_header(name: str) -> None:
    header = content_disposition(name)
    assert all(ch.isprintable() and ord(ch) < 128 for ch in header), header  # no CR, LF, NUL, DEL or override
    disposition, fallback, extended = header.split("; ")  # exactly the three parts, no smuggled parameter
    assert disposition == "attachment"
    assert fallback.startswith('filename="')
    assert fallback.endswith('"')
    assert not set(fallback[len('filename="') : -1]) & set('"\\/;%')
    assert extended.startswith("filename*=UTF-8''")
    assert not set(extended.removeprefix("filename*=UTF-8''")) & set("\"\\/; '")


def test_images_are_shown_inline_with_their_name() -> None:
    assert content_disposition("Team photo.png", inline=True).startswith('inline; filename="Team photo.png"')


def test_the_name_in_a_storage_key_loses_its_unique_prefix() -> None:
    assert name_in_key("files/0123456789abcdef0123456789abcdef-payslip.pdf") == "payslip.pdf"
    assert name_in_key("files/not-a-prefix.pdf") == "not-a-prefix.pdf"
