"""Read a class's downloads (a folder or a platform zip) and map each notebook to one student.

File names are what learning platforms write: Moodle's "Jane Doe_1234567_assignsubmission_file_
01_toy_signal.ipynb", Canvas's "doejane_LATE_12345_67890_01_toy_signal-1.ipynb", a per-student
folder holding "Copy of 01_toy_signal.ipynb", and so on. The student's name is kept as the
platform wrote it; the id nbgrader gets is a folder-safe slug in any script, the same for one
learner in every module where the platform's name allows it:

- Canvas writes ``lastfirst_[LATE_]userid_submissionid_file``: the user id stays, the submission id
  changes with every assignment, so the id is ``lastfirst_userid``, and LATE is noted;
- Moodle writes ``Full Name_participantid_assignsubmission_file_file``, and the participant id changes
  with every assignment: the id is the full name (two students of one name keep their participant ids,
  and the summary says their ids cannot be stable);
- other names (per-student folders, plain files) give the name they hold.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import time
import unicodedata
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import nbformat

from helpers.teach.notebooks import grade_id

# Platform words, removed only as whole tokens: "late" goes from "doejane_LATE_1", not from "Plateau".
NOISE_TOKENS = {"late", "assignsubmission", "file", "onlinetext", "submission"}
NOISE_PREFIXES = (("copy", "of"),)
RESUBMISSION = re.compile(r"(\s*\(\d+\)|-\d+)$")  # "name (1)", "name-1": the same file uploaded again
CANVAS = re.compile(r"^(?P<name>[a-z]+)_(?P<late>LATE_)?(?P<user>\d+)_(?P<submission>\d+)_(?P<file>.+)$")
MOODLE = re.compile(r"^(?P<name>[^_]+)_(?P<participant>\d+)_assignsubmission_(?:file|onlinetext)_(?P<file>.*)$")
STABLE = {  # platform: how its ids carry over from module to module, for the summary
    "canvas": "Canvas ids are lastfirst_userid: the same in every module",
    "moodle": "Moodle's participant ids change with every assignment, so Moodle ids are the students' names",
}
MAX_ARCHIVE_BYTES = 2 << 30  # uncompressed bytes a zip may hold
MAX_ARCHIVE_FILES = 5000


@dataclass
class Submission:
    """One file found among the downloads, and what became of it."""

    source: Path
    name: str = ""  # the student as the platform wrote it
    student: str = ""  # the id nbgrader uses
    status: str = "graded"
    notes: list[str] = field(default_factory=list)
    score: float | None = None
    max_score: float | None = None
    platform: str = ""  # "canvas" or "moodle" when the file name is theirs
    late: bool = False  # the platform marked it late (Canvas's LATE)
    uploaded: float | None = None  # the file's time (a zip entry's, or the file's mtime), read when it is found
    days_late: int | None = None  # by --due and the file's time (helpers.teach.late); None when unknown
    final: float | None = None  # the score after a late penalty (the raw score without one)


def slug(text: str) -> str:
    """A folder-safe student id in any script: letters and digits of every alphabet, '-' and '_'."""
    text = unicodedata.normalize("NFC", text)
    cleaned = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in text)
    return re.sub(r"_+", "_", cleaned).strip("_-")


def platform_name(path: Path, module: str, top: Path) -> str:
    """The student's name in the file name (or its per-student folder), as the platform wrote it.

    Platform words are removed only as whole tokens, with the separators around them kept as written.
    """
    stem = RESUBMISSION.sub("", path.stem).replace(module, " ")
    pieces = re.split(r"([\s_]+)", stem)  # tokens at even positions, separators at odd ones
    tokens = pieces[0::2]
    lowered = [t.lower() for t in tokens]
    drop = {i for i, t in enumerate(lowered) if t in NOISE_TOKENS or not any(ch.isalnum() for ch in t)}
    for prefix in NOISE_PREFIXES:
        words = [i for i, t in enumerate(lowered) if t]
        if [lowered[i] for i in words[: len(prefix)]] == list(prefix):
            drop |= set(words[: len(prefix)])
    kept = []
    for i, token in enumerate(tokens):
        if i not in drop and token:
            if kept:
                kept.append(pieces[2 * i - 1] if 2 * i - 1 < len(pieces) else " ")
            kept.append(token)
    name = "".join(kept).strip(" _-")
    if not slug(name) and path.parent != top:  # "Copy of 01_toy_signal.ipynb" inside a folder named for the student
        name = path.parent.relative_to(top).parts[0]
    return name


def student_from_name(path: Path, module: str, top: Path) -> str:
    """The nbgrader id for the student a platform's file name (or per-student folder) names."""
    return identify(path, module, top)[1]


def identify(path: Path, module: str, top: Path) -> tuple[str, str, str, bool]:
    """(name, id, platform, late) for a file: Canvas's lastfirst and lastfirst_userid, Moodle's full name (twice),
    else the name found and its slug."""
    stem = RESUBMISSION.sub("", path.stem)
    if match := CANVAS.match(stem):
        return match["name"], slug(f"{match['name']}_{match['user']}"), "canvas", bool(match["late"])
    if (match := MOODLE.match(stem)) and slug(match["name"]):
        return match["name"], slug(match["name"]), "moodle", False
    name = platform_name(path, module, top)
    return name, slug(name) or "unknown", "", False


def grade_ids(nb: dict) -> set[str]:
    """The nbgrader grade ids of a notebook's cells."""
    return {grade_id(c) for c in nb.get("cells", [])} - {None}


class ArchiveRefused(ValueError):
    """A zip that is too large, holds too many files, or cannot be read."""


def _check_size(archive: Path, entries: list, max_bytes: int, max_files: int) -> None:
    """Refuse, before writing anything, a zip that declares too many files or too many bytes."""
    if len(entries) > max_files:
        raise ArchiveRefused(
            f"{archive} holds {len(entries)} files, more than the limit of {max_files}; raise it "
            f"with --max-files {len(entries)} if this really is one class's download."
        )
    declared = sum(e.file_size for e in entries)
    if declared > max_bytes:
        raise ArchiveRefused(
            f"{archive} unpacks to {declared / 2**20:.0f} MiB, more than the limit of "
            f"{max_bytes / 2**20:.0f} MiB; raise it with --max-archive-mb if you expect that."
        )


def _extract(zf: zipfile.ZipFile, entry: zipfile.ZipInfo, target: Path, budget: int, limit: int, archive: Path) -> int:
    """Write one entry, counting the bytes really written (a zip's declared sizes can lie); return how many."""
    written = 0
    target.parent.mkdir(parents=True, exist_ok=True)
    with zf.open(entry) as src, target.open("wb") as out:
        while chunk := src.read(1 << 20):
            written += len(chunk)
            if written > budget:
                raise ArchiveRefused(
                    f"{archive} unpacks to more than {limit / 2**20:.0f} MiB (the limit); raise it with "
                    "--max-archive-mb if you expect that."
                )
            out.write(chunk)
    stamp = time.mktime((*entry.date_time, 0, 0, -1))  # the upload time the platform recorded, as unzip keeps it
    os.utime(target, (stamp, stamp))
    return written


def unpack(archive: Path, dest: Path, max_bytes: int = MAX_ARCHIVE_BYTES, max_files: int = MAX_ARCHIVE_FILES) -> Path:
    """Extract a platform zip into ``dest``, every entry kept inside it (absolute paths and '..' are cut off)."""
    try:
        zf = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError) as error:
        raise ArchiveRefused(
            f"{archive} is not a readable zip ({error}); download it again from your platform."
        ) from None
    with zf:
        entries = [e for e in zf.infolist() if not e.is_dir()]
        _check_size(archive, entries, max_bytes, max_files)
        written = 0
        for entry in entries:
            parts = [p for p in PurePosixPath(entry.filename.replace("\\", "/")).parts if p not in ("", ".", "..", "/")]
            target = dest.joinpath(*parts)
            if parts and dest.resolve() in target.resolve().parents:  # the second test is a guard; parts cannot escape
                written += _extract(zf, entry, target, max_bytes - written, max_bytes, archive)
    return dest


def _namesakes(found: list[Submission]) -> None:
    """Moodle students who share a name but not a participant id are different people: each id keeps the participant
    id, and the note says that such an id cannot be stable (Moodle's participant ids change with every assignment)."""
    groups: dict[str, dict[str, list[Submission]]] = {}
    for sub in found:
        if sub.platform == "moodle":
            participant = MOODLE.match(RESUBMISSION.sub("", sub.source.stem))["participant"]
            groups.setdefault(sub.student, {}).setdefault(participant, []).append(sub)
    for student, by_participant in groups.items():
        if len(by_participant) < 2:
            continue
        for participant, subs in by_participant.items():
            for sub in subs:
                sub.student = f"{student}_{participant}"
                sub.notes.append(
                    f"{len(by_participant)} students named {sub.name!r}, told apart by Moodle's participant id "
                    f"{participant}; it changes with every assignment, so this id is not the same in other modules"
                )


def _unique_ids(found: list[Submission]) -> None:
    """Different platform names that slug to one id get distinct ids, and the summary says so."""
    by_id: dict[str, set[str]] = {}
    for sub in found:
        by_id.setdefault(sub.student, set()).add(sub.name)
    for student, names in by_id.items():
        if len(names) < 2:
            continue
        for sub in found:
            if sub.student == student:
                digest = hashlib.sha1(sub.name.encode("utf-8")).hexdigest()[:6]
                sub.notes.append(
                    f"{len(names)} different names map to the id {student!r}; "
                    f"this one ({sub.name!r}) was graded as {student}_{digest}"
                )
                sub.student = f"{student}_{digest}"


def _drop_resubmissions(found: list[Submission]) -> None:
    """When one student has several gradable files, grade the newest and say which files were set aside."""
    by_student: dict[str, list[Submission]] = {}
    for sub in found:
        if sub.status == "graded":
            by_student.setdefault(sub.student, []).append(sub)
    for subs in by_student.values():
        if len(subs) < 2:
            continue
        subs.sort(key=lambda s: (s.source.stat().st_mtime, str(s.source)))
        newest = subs[-1]
        newest.notes.append(f"{len(subs)} files from this student; graded the newest, {newest.source.name}")
        for older in subs[:-1]:
            older.status = "superseded"
            older.notes.append(f"{newest.source.name} is newer and was graded instead")


def collect(
    source: Path,
    module: str,
    expected_ids: set[str],
    scratch: Path,
    max_bytes: int = MAX_ARCHIVE_BYTES,
    max_files: int = MAX_ARCHIVE_FILES,
) -> list[Submission]:
    """Find every notebook in the folder or zip and map it to a student, or say why not.

    A zip is unpacked into ``scratch``, which must stay until grading ends: the submissions are read from there.
    """
    if source.is_file() and zipfile.is_zipfile(source):
        top = unpack(source, scratch / "unzipped", max_bytes, max_files)
    elif source.is_dir():
        top = source
    else:
        raise SystemExit(f"{source} is neither a folder nor a zip file; pass the folder or zip your platform gave you.")
    files = sorted(
        p
        for p in top.rglob("*.ipynb")
        if p.is_file() and not p.is_symlink() and ".ipynb_checkpoints" not in p.parts and "__MACOSX" not in p.parts
    )
    if not files:
        raise SystemExit(f"no .ipynb files under {source}; is this the right download?")
    found = [_submission(path, module, top, expected_ids) for path in files]
    _namesakes(found)
    _unique_ids(found)
    _drop_resubmissions(found)
    return found


def _submission(path: Path, module: str, top: Path, expected_ids: set[str]) -> Submission:
    """One notebook file as a submission: its student, and whether it is a valid notebook of ``module``."""
    sub = Submission(path, uploaded=path.stat().st_mtime)
    sub.name, sub.student, sub.platform, sub.late = identify(path, module, top)
    if sub.late:
        sub.notes.append("Canvas marked it LATE")
    try:
        nb = json.loads(path.read_bytes())
        with warnings.catch_warnings():  # nbformat warns about duplicate cell ids; nbgrader copes with them
            warnings.simplefilter("ignore")
            nbformat.validate(nbformat.from_dict(nb))
    except Exception as error:  # not JSON, or JSON that is not a notebook
        sub.status = "not a valid notebook"
        sub.notes.append(f"{type(error).__name__}: {str(error).splitlines()[0][:160]}")
        return sub
    if module not in path.name and not (grade_ids(nb) & expected_ids):
        sub.status = "not this module"
        sub.notes.append(f"the file name lacks {module!r} and none of its graded cells belong to {module}")
    elif module not in path.name:
        sub.notes.append(f"renamed file; recognised as {module} by its graded cells")
    return sub


def copy_submission(sub: Submission, course: Path, module: str) -> Path:
    """Copy the learner's file into nbgrader's submitted/ folder of ``course``; the download itself is never touched."""
    dest = course / "submitted" / sub.student / module
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    shutil.copyfile(sub.source, dest / f"{module}.ipynb")
    return dest / f"{module}.ipynb"
