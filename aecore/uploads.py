"""Many user images: a .zip (an upload) or a local folder of them, as one labelled `Dataset`.

Entries are checked against budgets before anything is decoded (module
constants, the defaults of both loaders): MAX_FILES image entries, MAX_ZIP_ENTRIES
entries of any kind, MAX_TOTAL_BYTES declared bytes, MAX_RATIO compression
ratio per entry (zip bombs), and MAX_TOTAL_PIXELS summed from the image headers;
each image is then opened header first and refused over MAX_PIXELS, as in
`aecore.images`, whose conversion rules apply. Zips are read in memory only
(entry names are never used as paths). Unreadable files are skipped and listed
in `Dataset.skipped`; labels come from sub-folder names.
"""

import io
import os
import stat
import zipfile
from pathlib import Path

import numpy as np

from .data import _one_line, dataset_from_arrays
from .images import (
    IMAGE_EXTENSIONS,
    MAX_PIXELS,
    _check_positive,
    _check_size_channels,
    _decode,
    _finish,
    _open_header,
    _pil_to_float,
    _read_filelike,
    _Refused,
)

# Limits on a zip or folder of user images; each is the default of every loader that takes it (MAX_PIXELS, per
# image, is in aecore.images).
MAX_TOTAL_PIXELS = 20_000 * 256 * 256  # per zip or folder, from the headers before decoding: room for
                                     # MAX_FILES images of 256x256 (1.3 gigapixels, ~20 s of decoding at
                                     # the ~70 megapixels/s measured here), refuses 15,330 x 6000x6000
MAX_FILES = 20_000                   # image entries per zip or folder: twice MNIST's test set
MAX_ZIP_ENTRIES = 60_000             # entries of any kind (folders, __MACOSX twins, other files): room for a
                                     # folder entry and a macOS twin per image; each costs ~0.6 KB and ~5 us
                                     # to list, so the count is checked before the directory is parsed
MAX_TOTAL_BYTES = 512 * 2**20        # declared uncompressed bytes of a zip's image entries (bounds inflating)
MAX_RATIO = 100.0                    # uncompressed / compressed size of one entry: PNG/JPEG/GIF/WebP hardly
                                     # compress (~1), BMPs a few times; 100 is a zip bomb
_RATIO_MIN_BYTES = 1 << 20           # ... for entries above 1 MiB (small files can compress well legitimately)
_CD_BYTES_PER_ENTRY = 256            # central-directory bytes allowed per entry (46-byte record + name + extras)
_HEADER_BYTES = 8192                 # first bytes of a file read to parse its header (PNG/GIF/BMP need < 100;
                                     # a JPEG with big EXIF/ICC segments is read whole when they do not fit)


def _reason(e):
    """Short human reason for a file that was not read, for Dataset.skipped."""
    return str(e) if isinstance(e, _Refused) else _one_line(e)


def _parts(name):
    """Entry name -> clean path components ('\\' treated as '/', '', '.', '..' dropped)."""
    return [p for p in name.replace("\\", "/").split("/") if p not in ("", ".", "..")]


def _wanted(name):
    """True for image files that are not hidden and not macOS metadata."""
    raw = name.replace("\\", "/").split("/")
    if any(p == "__MACOSX" or (p.startswith(".") and p not in (".", "..")) for p in raw):
        return False
    return name.lower().endswith(IMAGE_EXTENSIONS)


def _build_user_dataset(entries, size, channels, max_pixels, max_total_pixels, skipped, name, source,
                        shown_as, where, n_entries):
    """Decode user image files into a Dataset; labels from sub-folders.

    Args:
        entries: (entry_name, read_head, read_all) triples: read_head() gives the
            file's first _HEADER_BYTES (or all of it when shorter), read_all() all of it.
        max_pixels, max_total_pixels: per-image and whole-set caps on width x height.
        skipped: list of "name: reason" strings to extend.
        name, source: of the Dataset; shown_as, where, n_entries: for messages.

    Two passes. First the headers are parsed in order (nothing decoded): other
    formats, unreadable headers and images over max_pixels are skipped, and the
    declared pixels of the rest are summed; as soon as the sum passes
    max_total_pixels -> ValueError, before any decoding. Then the images are
    decoded one at a time and resized.

    An image gets the label of its first sub-folder under the common root of all
    readable images, when every image sits in a sub-folder and there are at least
    2 distinct ones (class_names sorted); otherwise labels are None.
    """
    headed, declared = [], 0
    for n_read, (entry_name, read_head, read_all) in enumerate(entries, 1):
        try:
            head = read_head()
            try:
                im = _open_header(head, max_pixels)
            except _Refused as e:
                if e.kind != "broken" or len(head) < _HEADER_BYTES:
                    raise
                im = _open_header(read_all(), max_pixels)  # a header longer than _HEADER_BYTES (big EXIF, ...)
            w, h = im.size
        except Exception as e:
            skipped.append(f"{entry_name}: {_reason(e)}")
            continue
        declared += w * h
        headed.append((entry_name, read_all))
        if declared > max_total_pixels:  # stop here: a refusal costs at most max_total_pixels / w / h headers
            more = f" of {len(entries):,}" if len(entries) > n_read else ""
            raise ValueError(f"Expected at most max_total_pixels={max_total_pixels:,} pixels (width x height "
                             f"summed over the images) in {where}, received {shown_as!r} whose first {n_read:,}"
                             f"{more} image files already declare {declared:,} pixels; nothing was decoded.")

    images, names, decoded = [], [], 0
    for entry_name, read_all in headed:
        try:
            im = _decode(read_all(), max_pixels)
        except Exception as e:  # broken pixel data, a bad CRC in the zip, a file that vanished, ...
            skipped.append(f"{entry_name}: {_reason(e)}")
            continue
        decoded += im.size[0] * im.size[1]
        if decoded > max_total_pixels:  # only when a file changed between the two passes
            raise ValueError(f"Expected at most max_total_pixels={max_total_pixels:,} pixels in {where}, "
                             f"received {shown_as!r} whose images changed while it was read.")
        try:
            images.append(_finish(_pil_to_float(im), size, channels))
            names.append(entry_name)
        except Exception as e:
            skipped.append(f"{entry_name}: {_reason(e)}")
    if not images:
        shown = "; ".join(skipped[:5]) + (" ..." if len(skipped) > 5 else "")
        raise ValueError(f"Expected {where} with at least one PNG/JPEG/BMP/GIF/WebP image, received {shown_as!r} "
                         f"({n_entries} entries, {len(skipped)} skipped{': ' + shown if skipped else ''}).")

    dirs = [_parts(n)[:-1] for n in names]
    common = 0
    while all(len(d) > common for d in dirs) and len({d[common] for d in dirs}) == 1:
        common += 1
    folders = [d[common] if len(d) > common else None for d in dirs]
    labels, class_names = None, []
    if None not in folders and len(set(folders)) >= 2:
        class_names = sorted(set(folders))
        labels = np.array([class_names.index(f) for f in folders], dtype=np.int64)

    kind = "grayscale" if channels == 1 else "RGB"
    description = f"{len(images):,} user images from {shown_as}, resized to {size}x{size} {kind}"
    description += (f"; {len(class_names)} classes from sub-folder names ({', '.join(class_names[:10])}"
                    f"{', ...' if len(class_names) > 10 else ''})" if labels is not None else "; no labels")
    if skipped:
        description += f"; {len(skipped)} files skipped"
    description += "."
    return dataset_from_arrays(np.stack(images), labels, class_names or None, name=name,
                               description=description, source=source, skipped=skipped)


def _zip_directory_size(fp):
    """(entries, central-directory bytes) that a zip's end record declares, or None when it has none.
    Read before zipfile parses the whole directory (uses zipfile's own end-record reader)."""
    try:
        end = zipfile._EndRecData(fp)
    except Exception:
        return None
    if not end:
        return None
    return int(end[zipfile._ECD_ENTRIES_TOTAL]), int(end[zipfile._ECD_SIZE])


def load_image_zip(source, size=28, channels=1, max_files=MAX_FILES, max_total_bytes=MAX_TOTAL_BYTES,
                   max_ratio=MAX_RATIO, max_pixels=MAX_PIXELS, max_total_pixels=MAX_TOTAL_PIXELS,
                   max_entries=MAX_ZIP_ENTRIES):
    """Load a .zip of images (e.g. a user upload) as a Dataset. Entries are read
    in memory only; nothing is extracted and entry names are never used as paths.
    The same bytes always give the same Dataset (entries are read sorted by name),
    so callers may cache the result by a hash of the bytes.

    Args:
        source: path (str / PathLike) to a .zip, its bytes, or a binary file-like
            object (e.g. Streamlit's UploadedFile).
        size: output side length, int in 8..128, default 28.
        channels: 1 (grayscale, default) or 3 (RGB).
        max_files: most image entries allowed; default MAX_FILES (20,000); more -> ValueError.
        max_total_bytes: most total declared uncompressed bytes of the image
            entries, stored or compressed; default MAX_TOTAL_BYTES (512 MiB);
            more -> ValueError. No entry is ever inflated past its declared size.
        max_ratio: entries over 1 MiB uncompressed whose uncompressed/compressed
            size ratio exceeds this are skipped as zip bombs; default MAX_RATIO (100).
        max_pixels: images whose header declares more than this width x height
            are skipped; default MAX_PIXELS (40,000,000).
        max_total_pixels: when the headers of the image entries declare more
            width x height than this in total, the whole zip is refused before
            anything is decoded; default MAX_TOTAL_PIXELS (1,310,720,000).
        max_entries: most entries of any kind (folders and other files too),
            checked before the zip's directory is parsed; default MAX_ZIP_ENTRIES (60,000).
    Accepted: .png .jpg .jpeg .bmp .gif .webp names (any case) holding PNG, JPEG,
    BMP, GIF or WebP data (other formats are skipped, named, without decoding);
    directories, other files, __MACOSX/ and hidden (dot) files are ignored.
    Unreadable images are listed in Dataset.skipped as "name: reason". Labels
    come from sub-folders (see _build_user_dataset). The Dataset is named
    "upload:<zip name>".
    """
    _check_size_channels(size, channels)
    _check_positive(max_files=max_files, max_total_bytes=max_total_bytes, max_ratio=max_ratio,
                    max_pixels=max_pixels, max_total_pixels=max_total_pixels, max_entries=max_entries)
    if isinstance(source, (str, os.PathLike)):
        label, origin = Path(source).name, str(source)
        if not Path(source).is_file():
            raise ValueError(f"Expected a .zip file, received path {str(source)!r} which is not a file.")
        data = Path(source).read_bytes()
    elif isinstance(source, (bytes, bytearray, memoryview)):
        label, origin, data = "upload.zip", "upload", bytes(source)
    elif hasattr(source, "read"):
        label, origin = Path(str(getattr(source, "name", "") or "upload.zip")).name, "upload"
        data = _read_filelike(source)
    else:
        raise ValueError(f"Expected a path, bytes or binary file-like .zip, received {type(source).__name__}.")
    directory = _zip_directory_size(io.BytesIO(data))
    if directory is not None:
        n_declared, cd_bytes = directory
        if n_declared > max_entries:
            raise ValueError(f"Expected at most max_entries={max_entries:,} entries in the zip (files and folders "
                             f"of any kind), received {n_declared:,}.")
        if cd_bytes > max_entries * _CD_BYTES_PER_ENTRY:
            raise ValueError(f"Expected a zip directory of at most {max_entries * _CD_BYTES_PER_ENTRY:,} bytes "
                             f"(max_entries={max_entries:,}), received one of {cd_bytes:,} bytes.")
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as e:
        raise ValueError(f"Expected a .zip file, received {label!r} ({len(data)} bytes) that is not a "
                         f"readable zip archive ({e}).") from e

    with zf:
        if len(zf.infolist()) > max_entries:  # an end record that undercounts
            raise ValueError(f"Expected at most max_entries={max_entries:,} entries in the zip (files and folders "
                             f"of any kind), received {len(zf.infolist()):,}.")
        infos = [i for i in zf.infolist() if not i.is_dir()]
        wanted = sorted((i for i in infos if _wanted(i.filename)), key=lambda i: i.filename)
        if len(wanted) > max_files:
            raise ValueError(f"Expected at most max_files={max_files} images in the zip, received {len(wanted)}.")
        # declared sizes of every image entry, stored or compressed; zipfile never returns more than the
        # declared size of an entry (nor more than its compressed size when stored), so a size that lies
        # low only truncates that entry, and one that lies high only counts against this cap
        total = sum(i.file_size for i in wanted)
        if total > max_total_bytes:
            raise ValueError(f"Expected at most max_total_bytes={max_total_bytes:,} bytes of images (uncompressed) "
                             f"in the zip, received {total:,}.")
        skipped, entries = [], []
        for info in wanted:
            ratio = info.file_size / max(info.compress_size, 1)
            if info.file_size > _RATIO_MIN_BYTES and ratio > max_ratio:
                skipped.append(f"{info.filename}: compression ratio {ratio:.0f} exceeds max_ratio={max_ratio:g} "
                               f"(possible zip bomb)")
                continue

            def read(n, info=info):
                with zf.open(info) as f:  # never more than the declared size
                    return f.read(min(n, info.file_size) + 1)[: min(n, info.file_size)]
            entries.append((info.filename, lambda read=read: read(_HEADER_BYTES),
                            lambda read=read, info=info: read(info.file_size)))
        return _build_user_dataset(entries, size, channels, max_pixels, max_total_pixels, skipped,
                                   name=f"upload:{label}", source=origin, shown_as=label, where="a zip",
                                   n_entries=len(infos))


def load_image_folder(path, size=28, channels=1, max_files=MAX_FILES, max_total_bytes=MAX_TOTAL_BYTES,
                      max_pixels=MAX_PIXELS, max_total_pixels=MAX_TOTAL_PIXELS):
    """Load every image under a local folder (recursively) as a Dataset.

    Args:
        path: an existing directory.
        size: output side length, int in 8..128, default 28.
        channels: 1 (grayscale, default) or 3 (RGB).
        max_files: most image files allowed; default MAX_FILES (20,000); more -> ValueError.
        max_total_bytes: most total bytes of the image files; default
            MAX_TOTAL_BYTES (512 MiB); more -> ValueError.
        max_pixels: images whose header declares more than this width x height
            are skipped; default MAX_PIXELS (40,000,000).
        max_total_pixels: when the headers declare more width x height than this
            in total, the folder is refused before anything is decoded; default
            MAX_TOTAL_PIXELS (1,310,720,000).
    Same rules as load_image_zip: image extensions only, PNG/JPEG/BMP/GIF/WebP
    data only, hidden files/folders and __MACOSX skipped, names that are not
    regular files (devices, sockets, broken links) ignored, unreadable or
    too large images listed in Dataset.skipped, labels from sub-folder names.
    The Dataset is named "folder:<folder name>".
    """
    _check_size_channels(size, channels)
    _check_positive(max_files=max_files, max_total_bytes=max_total_bytes, max_pixels=max_pixels,
                    max_total_pixels=max_total_pixels)
    root = Path(path) if isinstance(path, (str, os.PathLike)) else None
    if root is None or not root.is_dir():
        raise ValueError(f"Expected path to be an existing directory, received {path!r}.")
    files = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d != "__MACOSX")
        for fn in sorted(filenames):
            rel = (Path(dirpath) / fn).relative_to(root).as_posix()
            if not _wanted(rel):
                continue
            try:
                st = os.stat(root / rel)  # follows links: a link to /dev/zero is not a regular file
            except OSError:
                continue
            if stat.S_ISREG(st.st_mode):
                files.append((rel, st.st_size))
    if len(files) > max_files:
        raise ValueError(f"Expected at most max_files={max_files} images in the folder, received {len(files)}.")
    total = sum(n for _, n in files)
    if total > max_total_bytes:
        raise ValueError(f"Expected at most max_total_bytes={max_total_bytes:,} bytes of images in the folder, "
                         f"received {total:,}.")

    def read(rel, n):
        with open(root / rel, "rb") as f:  # never more than the size listed (a file that grew is cut)
            return f.read(n)
    entries = [(rel, lambda rel=rel, n=n: read(rel, min(n, _HEADER_BYTES)), lambda rel=rel, n=n: read(rel, n))
               for rel, n in files]
    return _build_user_dataset(entries, size, channels, max_pixels, max_total_pixels, [], name=f"folder:{root.name}",
                               source=str(root), shown_as=str(root), where="a folder", n_entries=len(files))
