"""Reading export files: encodings, quoting, ragged and broken records, each problem located."""

from __future__ import annotations

from pathlib import Path

import pytest

from leadpact.adapters.importers.table import Problem, Row, TableFile, detect_encoding


def table(tmp_path: Path, data: bytes, encoding: str | None = None) -> tuple[TableFile, list[Row | Problem]]:
    path = tmp_path / "export.csv"
    path.write_bytes(data)
    found = TableFile(path, encoding)
    return found, list(found.rows())


def rows(found: list[Row | Problem]) -> list[tuple[int, dict[str, str]]]:
    return [(r.line, r.cells) for r in found if isinstance(r, Row)]


def problems(found: list[Row | Problem]) -> list[str]:
    return [str(p) for p in found if isinstance(p, Problem)]


@pytest.mark.parametrize(
    ("data", "encoding"),
    [
        ("メール,会社名\na@x.jp,株式会社テスト\n".encode(), "utf-8"),
        ("\ufeffメール,会社名\na@x.jp,株式会社テスト\n".encode(), "utf-8-sig"),
        ("メール,会社名\na@x.jp,株式会社テスト\n".encode("cp932"), "cp932"),
        ("メール,会社名\r\na@x.jp,株式会社テスト\r\n".encode("utf-16"), "utf-16"),  # Excel's "Unicode text"
    ],
)
def test_the_encoding_is_detected(tmp_path: Path, data: bytes, encoding: str) -> None:
    found, read = table(tmp_path, data)
    assert found.encoding == encoding
    assert rows(read) == [(2, {"メール": "a@x.jp", "会社名": "株式会社テスト"})]


def test_cp932_only_characters_and_a_cut_utf8_character_at_the_sniff_edge() -> None:
    assert detect_encoding("①髙﨑".encode("cp932")) == "cp932"  # NEC and IBM extensions of CP932
    assert detect_encoding("株式会社".encode()[:-1]) == "utf-8"


def test_a_wrong_declared_encoding_quarantines_the_lines_it_cannot_read(tmp_path: Path) -> None:
    data = "email,name\na@x.jp,Taro\nb@x.jp,花子\n".encode("cp932")
    _, read = table(tmp_path, data, encoding="utf-8")
    assert rows(read) == [(2, {"email": "a@x.jp", "name": "Taro"})]
    assert problems(read) == ["export.csv:3: bytes at offset 7 are not valid utf-8"]


def test_quoting_embedded_newlines_and_doubled_quotes(tmp_path: Path) -> None:
    data = 'email,note\na@x.jp,"二行の\nメモ"\nb@x.jp,"He said ""hi"""\n'.encode()
    _, read = table(tmp_path, data)
    assert rows(read) == [
        (2, {"email": "a@x.jp", "note": "二行の\nメモ"}),
        (4, {"email": "b@x.jp", "note": 'He said "hi"'}),
    ]


def test_broken_records_are_located_and_the_rest_still_read(tmp_path: Path) -> None:
    data = b'email,name\na@x.jp,x\nb@x.jp\nc@x.jp,a\x00b\nd@x.jp,q,r\ne@x.jp,"ab"cd\nf@x.jp,ok\n\n'
    _, read = table(tmp_path, data)
    assert rows(read) == [(2, {"email": "a@x.jp", "name": "x"}), (7, {"email": "f@x.jp", "name": "ok"})]
    assert problems(read) == [
        "export.csv:3: 1 cells, but the header has 2",
        "export.csv:4: the line holds NUL characters (a binary or UTF-16 file?)",
        "export.csv:5: 3 cells, but the header has 2",
        "export.csv:6: broken quoting: ',' expected after '\"'",
    ]


def test_an_unclosed_quote_quarantines_the_lines_it_swallowed_with_their_range(tmp_path: Path) -> None:
    data = 'email,name\na@x.jp,x\nb@x.jp,"花子\nc@x.jp,次郎\n'.encode()
    _, read = table(tmp_path, data)
    assert rows(read) == [(2, {"email": "a@x.jp", "name": "x"})]
    (problem,) = [p for p in read if isinstance(p, Problem)]
    assert str(problem) == "export.csv:3-4: a quoted cell opened here never closes (read to line 4): a quote is missing"
    assert problem.raw == 'b@x.jp,"花子\nc@x.jp,次郎\n'  # nothing lost: quarantine keeps the text


def test_a_huge_cell_is_a_problem_of_its_column(tmp_path: Path) -> None:
    data = b"email,note\na@x.jp," + b"x" * 1_000_000 + b"\nb@x.jp,ok\n"
    _, read = table(tmp_path, data)
    assert rows(read) == [(3, {"email": "b@x.jp", "note": "ok"})]
    assert problems(read) == ["export.csv:2: note: the cell holds 1,000,000 characters (at most 65,536)"]


def test_empty_header_only_and_repeated_headers(tmp_path: Path) -> None:
    found, read = table(tmp_path, b"")
    assert read == [] and [str(p) for p in found.problems] == ["export.csv: the file is empty: no header row"]
    found, read = table(tmp_path, b"email,name\n")
    assert read == [] and found.header == ["email", "name"] and found.problems == []
    found, read = table(tmp_path, b"email,name,email\na@x.jp,x,b@x.jp\n")
    assert rows(read) == [(2, {"email": "a@x.jp", "name": "x"})]
    assert [str(p) for p in found.problems] == [
        "export.csv:1: email: the header repeats 'email' (columns 1 and 3); the first is read"
    ]


def test_an_unknown_encoding_name_is_refused(tmp_path: Path) -> None:
    (tmp_path / "x.csv").write_bytes(b"a\n")
    with pytest.raises(ValueError, match="unknown encoding 'klingon'"):
        TableFile(tmp_path / "x.csv", "klingon")
    assert TableFile(tmp_path / "x.csv", "Shift_JIS").encoding == "cp932"
