"""Reading a class's downloads: platform zips unpacked safely and within limits, one id per student in any script."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from helpers.teach.intake import ArchiveRefused, collect, platform_name, slug, student_from_name, unpack
from helpers.teach.notebooks import solution

MODULE = "01_toy_signal"


@pytest.mark.parametrize(
    "name, student",
    [
        ("Jane Doe_1234567_assignsubmission_file_01_toy_signal.ipynb", "Jane_Doe"),
        ("doejane_LATE_12345_67890_01_toy_signal-1.ipynb", "doejane_12345"),
        ("Jane Doe - 01_toy_signal (1).ipynb", "Jane_Doe"),
        ("Мария Иванова_2001_assignsubmission_file_01_toy_signal.ipynb", "Мария_Иванова"),
        ("张伟_2002_onlinetext_01_toy_signal.ipynb", "张伟_2002"),
        ("Inflated Plateau_2003_01_toy_signal.ipynb", "Inflated_Plateau_2003"),
        ("Copy of Filemon Late_2004_01_toy_signal.ipynb", "Filemon_2004"),
    ],
)
def test_student_from_platform_file_names(name, student, tmp_path):
    assert student_from_name(tmp_path / name, MODULE, tmp_path) == student


@pytest.mark.parametrize(
    "downloads",
    [  # one learner's file in two modules, as each platform names it
        ("doejane_12345_67890_01_toy_signal.ipynb", "doejane_LATE_12345_71234_02_forward_process.ipynb"),
        (
            "Jane Doe_1234567_assignsubmission_file_01_toy_signal.ipynb",
            "Jane Doe_7654321_assignsubmission_file_02_forward_process.ipynb",
        ),
        ("Jane Doe/01_toy_signal.ipynb", "Jane Doe/02_forward_process.ipynb"),
        ("Jane Doe - 01_toy_signal.ipynb", "Jane Doe - 02_forward_process (1).ipynb"),
    ],
)
def test_one_learner_has_one_id_in_every_module(downloads, tmp_path):
    (first, second), modules = downloads, (MODULE, "02_forward_process")
    assert student_from_name(tmp_path / first, modules[0], tmp_path) == student_from_name(
        tmp_path / second, modules[1], tmp_path
    )


def test_canvas_late_mark_is_kept_and_moodle_namesakes_stay_apart(tmp_path, capsys):
    from helpers.teach.report import print_summary

    names = [
        "roesmary_LATE_501_9001_01_toy_signal.ipynb",
        "Jane Doe_11_assignsubmission_file_01_toy_signal.ipynb",
        "Jane Doe_12_assignsubmission_file_01_toy_signal.ipynb",
    ]
    for name in names:
        (tmp_path / name).write_bytes(solution(MODULE).read_bytes())
    found = {s.source.name: s for s in collect(tmp_path, MODULE, set(), tmp_path / "scratch")}
    late = found[names[0]]
    assert late.student == "roesmary_501" and late.late and "Canvas marked it LATE" in late.notes
    a, b = found[names[1]], found[names[2]]
    assert {a.student, b.student} == {"Jane_Doe_11", "Jane_Doe_12"} and a.status == b.status == "graded"
    assert all("not the same in other modules" in " ".join(s.notes) for s in (a, b))
    print_summary(list(found.values()))
    printed = capsys.readouterr().out
    assert "Canvas ids are lastfirst_userid" in printed and "Moodle ids are the students' names" in printed


def test_noise_words_go_only_as_whole_tokens(tmp_path):
    assert (
        platform_name(tmp_path / "Plateau Inflated_LATE_9_01_toy_signal.ipynb", MODULE, tmp_path)
        == "Plateau Inflated_9"
    )
    assert slug("Zoë  O'Brien") == "Zoë_O_Brien"


def _notebook_zip(path: Path, names: list[str], extra: dict[str, bytes] | None = None) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name in names:
            zf.writestr(name, solution(MODULE).read_bytes())
        for name, data in (extra or {}).items():
            zf.writestr(name, data)
    return path


def test_zip_entries_with_absolute_paths_or_dots_stay_inside(tmp_path):
    archive = _notebook_zip(
        tmp_path / "a.zip",
        ["../../evil_01_toy_signal.ipynb", "/tmp/abs_01_toy_signal.ipynb", "ok/Jane_01_toy_signal.ipynb"],
    )
    dest = unpack(archive, tmp_path / "out")
    files = sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*") if p.is_file())
    assert files == ["evil_01_toy_signal.ipynb", "ok/Jane_01_toy_signal.ipynb", "tmp/abs_01_toy_signal.ipynb"]
    assert not (tmp_path / "evil_01_toy_signal.ipynb").exists() and not Path("/tmp/abs_01_toy_signal.ipynb").exists()


def test_a_zip_with_too_many_files_is_refused_with_the_limit_and_its_flag(tmp_path):
    archive = _notebook_zip(tmp_path / "a.zip", [f"s{i}_01_toy_signal.ipynb" for i in range(5)])
    with pytest.raises(ArchiveRefused, match=r"holds 5 files, more than the limit of 4.*--max-files"):
        unpack(archive, tmp_path / "out", max_files=4)


def test_a_zip_too_large_is_refused_even_when_its_sizes_lie(tmp_path):
    archive = _notebook_zip(tmp_path / "a.zip", [], {"bomb.bin": b"\0" * (3 << 20)})
    with pytest.raises(ArchiveRefused, match=r"unpacks to 3 MiB, more than the limit of 2 MiB.*--max-archive-mb"):
        unpack(archive, tmp_path / "out", max_bytes=2 << 20)
    # A forged header that declares a tiny size is caught while reading.
    data = bytearray(archive.read_bytes())
    with zipfile.ZipFile(archive) as zf:
        info = zf.infolist()[0]
    for at in (data.find(b"PK\x01\x02"),):  # central directory entry: uncompressed size at offset 24
        data[at + 24 : at + 28] = (10).to_bytes(4, "little")
    (tmp_path / "forged.zip").write_bytes(bytes(data))
    with pytest.raises((ArchiveRefused, zipfile.BadZipFile)):
        unpack(tmp_path / "forged.zip", tmp_path / "out2", max_bytes=2 << 20)
    assert info.file_size == 3 << 20


def test_different_names_with_one_slug_get_distinct_ids_and_a_note(tmp_path):
    for name in ("Jane_Doe_01_toy_signal.ipynb", "Jane Doe!_01_toy_signal.ipynb"):
        (tmp_path / name).write_bytes(solution(MODULE).read_bytes())
    subs = collect(tmp_path, MODULE, set(), tmp_path / "scratch")
    assert len({s.student for s in subs}) == 2 and all(s.status == "graded" for s in subs)
    assert all(any("different names map to the id" in n for n in s.notes) for s in subs)
