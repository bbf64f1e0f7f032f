"""`phenbench data download bbbc021`: fetch the release from the Broad Bioimage Benchmark Collection.

Downloads resume: a file in progress is kept as `<name>.part`, and a later run asks the server for
the remaining bytes only (an HTTP Range request). A finished file is checked against a known
checksum where one is given (sha256 or md5) and its sha256 is recorded in `SHA256SUMS` beside it, so
a second run skips files that are complete and unchanged. Image archives are unzipped into
`<dest>/WeekN/`, the layout `BBBC021_v1_image.csv` names (`WeekN/WeekN_<plate>/<file>.tif`).

The Broad publishes no checksums for these files, so `KNOWN_CHECKSUMS` is empty by default: the
recorded sha256 is what later runs verify against.
"""

from __future__ import annotations

import hashlib
import os
import socket
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path

from phenbench.core.errors import DataError, UnknownNameError

BASE_URL = "https://data.broadinstitute.org/bbbc/BBBC021/"
METADATA_FILES = ("BBBC021_v1_image.csv", "BBBC021_v1_compound.csv", "BBBC021_v1_moa.csv")
# The 55 plates of the release (10 weeks); each is one archive `BBBC021_v1_images_<plate>.zip`.
PLATES = (
    "Week1_22123", "Week1_22141", "Week1_22161", "Week1_22361", "Week1_22381", "Week1_22401",
    "Week2_24121", "Week2_24141", "Week2_24161", "Week2_24361", "Week2_24381", "Week2_24401",
    "Week3_25421", "Week3_25441", "Week3_25461", "Week3_25681", "Week3_25701", "Week3_25721",
    "Week4_27481", "Week4_27521", "Week4_27542", "Week4_27801", "Week4_27821", "Week4_27861",
    "Week5_28901", "Week5_28921", "Week5_28961", "Week5_29301", "Week5_29321", "Week5_29341",
    "Week6_31641", "Week6_31661", "Week6_31681", "Week6_32061", "Week6_32121", "Week6_32161",
    "Week7_34341", "Week7_34381", "Week7_34641", "Week7_34661", "Week7_34681",
    "Week8_38203", "Week8_38221", "Week8_38241", "Week8_38341", "Week8_38342",
    "Week9_39206", "Week9_39221", "Week9_39222", "Week9_39282", "Week9_39283", "Week9_39301",
    "Week10_40111", "Week10_40115", "Week10_40119",
)
# file name -> ("sha256" | "md5", hex digest). The Broad publishes none; users may add their own.
KNOWN_CHECKSUMS: dict[str, tuple[str, str]] = {}
SUMS_FILE = "SHA256SUMS"
CHUNK = 1 << 20


def archive_name(plate: str) -> str:
    return f"BBBC021_v1_images_{plate}.zip"


def release_urls(plates: Sequence[str] = (), *, base_url: str = BASE_URL) -> list[str]:
    """The URLs of the metadata tables and of the chosen plates' archives (all plates if none)."""
    for plate in plates:
        if plate not in PLATES:
            raise UnknownNameError("BBBC021 plate", plate, PLATES)
    chosen = plates or PLATES
    return [base_url + name for name in METADATA_FILES] + [base_url + archive_name(p) for p in chosen]


def download_file(
    url: str,
    dest: Path,
    *,
    checksum: tuple[str, str] | None = None,
    timeout: float = 60.0,
    progress: Callable[[int, int | None], None] | None = None,
) -> Path:
    """Download `url` to `dest`, resuming a `.part` file, and verify `checksum` when given."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    if dest.is_file() and _complete(dest, checksum):
        return dest
    part = dest.with_name(dest.name + ".part")
    have = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            resumed = response.status == 206
            total = _total_size(response, have if resumed else 0)
            with open(part, "ab" if resumed else "wb") as out:
                done = have if resumed else 0
                while chunk := response.read(CHUNK):
                    out.write(chunk)
                    done += len(chunk)
                    if progress:
                        progress(done, total)
    except urllib.error.HTTPError as exc:
        if exc.code != 416 or not have:  # 416: the .part already holds the whole file
            raise DataError(f"Downloading {url} failed: HTTP {exc.code} {exc.reason}.") from None
    except (urllib.error.URLError, socket.timeout, ConnectionError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DataError(
            f"Cannot download {url} ({reason}): this machine seems to be offline. Fetch the files elsewhere "
            f"(`phenbench data download bbbc021 --list` prints the URLs) and copy them into {dest.parent}; "
            "the partial download is kept and resumes next time."
        ) from None
    digest = _verify(part, checksum, url)
    os.replace(part, dest)
    _record_sum(dest, digest)
    return dest


def _total_size(response, offset: int) -> int | None:
    length = response.headers.get("Content-Length")
    return offset + int(length) if length is not None else None


def _hash(path: Path, algorithm: str) -> str:
    digest = hashlib.new(algorithm)
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _verify(path: Path, checksum: tuple[str, str] | None, url: str) -> str:
    sha256 = _hash(path, "sha256")
    if checksum is not None:
        algorithm, expected = checksum
        actual = sha256 if algorithm == "sha256" else _hash(path, algorithm)
        if actual.lower() != expected.lower():
            path.unlink()
            raise DataError(
                f"The download of {url} is corrupt ({algorithm} {actual}, expected {expected}); "
                "it was deleted: run the download again."
            )
    return sha256


def _recorded_sums(folder: Path) -> dict[str, str]:
    sums = folder / SUMS_FILE
    if not sums.is_file():
        return {}
    pairs = (line.split(maxsplit=1) for line in sums.read_text().splitlines() if line.strip())
    return {name.strip().lstrip("*"): digest for digest, name in pairs}


def _record_sum(path: Path, sha256: str) -> None:
    sums = _recorded_sums(path.parent)
    sums[path.name] = sha256
    tmp = path.parent / (SUMS_FILE + ".tmp")
    tmp.write_text("".join(f"{digest}  {name}\n" for name, digest in sorted(sums.items())))
    os.replace(tmp, path.parent / SUMS_FILE)


def _complete(path: Path, checksum: tuple[str, str] | None) -> bool:
    """An existing file is complete when it matches the known or the recorded checksum."""
    if checksum is not None:
        return _hash(path, checksum[0]).lower() == checksum[1].lower()
    recorded = _recorded_sums(path.parent).get(path.name)
    return recorded is not None and _hash(path, "sha256") == recorded


def extract_archive(archive: Path, dest: Path) -> None:
    """Unzip a plate archive so that its TIFFs land in dest/WeekN/WeekN_<plate>/.

    Archives hold a `WeekN_<plate>/` folder; one that already starts with `WeekN/` is unzipped into
    `dest` itself. Members that would escape the target are refused.
    """
    week = archive.stem.removeprefix("BBBC021_v1_images_").split("_")[0]
    try:
        with zipfile.ZipFile(archive) as zf:
            tops = {name.split("/", 1)[0] for name in zf.namelist() if "/" in name}
            target = (dest if tops == {week} else dest / week).resolve()
            for member in zf.infolist():
                path = (target / member.filename).resolve()
                if not str(path).startswith(str(target) + os.sep):
                    raise DataError(f"{archive} holds {member.filename!r}, which points outside {target}.")
            zf.extractall(target)
    except zipfile.BadZipFile:
        raise DataError(f"{archive} is not a valid zip file; delete it and download it again.") from None


def download_bbbc021(
    dest: str | Path,
    plates: Sequence[str] = (),
    *,
    base_url: str = BASE_URL,
    checksums: dict[str, tuple[str, str]] | None = None,
    extract: bool = True,
    progress: bool = True,
) -> list[Path]:
    """Fetch the metadata and the chosen plates into `dest`; unzip archives. Returns the files."""
    from tqdm.auto import tqdm

    dest = Path(dest).expanduser()
    if dest.exists() and not dest.is_dir():
        raise DataError(f"--dest {dest} is a file; give a folder to download the release into (it is created if absent).")
    known = {**KNOWN_CHECKSUMS, **(checksums or {})}
    files = []
    for url in release_urls(plates, base_url=base_url):
        name = url.rsplit("/", 1)[-1]
        with tqdm(desc=name, unit="B", unit_scale=True, disable=not progress) as bar:

            def update(done: int, total: int | None, bar=bar) -> None:
                bar.total = total
                bar.n = done
                bar.refresh()

            path = download_file(url, dest / name, checksum=known.get(name), progress=update)
        if extract and name.endswith(".zip"):
            marker = dest / (name + ".extracted")
            if not marker.exists():
                extract_archive(path, dest)
                marker.write_text(_recorded_sums(dest).get(name, "") + "\n")
        files.append(path)
    return files

