"""Image files and zips built in memory, ordinary and hostile, for the tests and bench/bench_hostile_uploads.py.

Only the standard library and Pillow: the bench imports this module without keras or the test fixtures.
"""

import io
import zipfile
import zlib

from PIL import Image


def encode(mode, size=(20, 20), color=128, fmt="PNG", **kw):
    """Bytes of a Pillow image of one colour saved in `fmt` (keyword arguments go to Image.save)."""
    buf = io.BytesIO()
    Image.new(mode, size, color).save(buf, fmt, **kw)
    return buf.getvalue()


def make_zip(entries, compression=zipfile.ZIP_DEFLATED):
    """Bytes of a zip of `entries`: a dict or an iterable of (name, bytes) pairs, written in that order."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as z:
        for name, payload in (entries.items() if isinstance(entries, dict) else entries):
            z.writestr(name, payload)
    return buf.getvalue()


def fits_bytes(width=16, height=16, payload_mib=0, pixels=True):
    """A FITS file Pillow's FITS plugin opens: an empty primary HDU, then a BINTABLE extension with a GZIP_1
    tile-compressed 8-bit image of width x height whose gzip stream holds `payload_mib` MiB of zeros, followed,
    when `pixels`, by 4 x width x height more zero bytes (the image's own data)."""
    def card(key, value=None):
        return (f"{key:<8}= {value:>20}" if value is not None else key).ljust(80).encode("ascii")
    primary = b"".join([card("SIMPLE", "T"), card("BITPIX", "8"), card("NAXIS", "0"), card("END")])
    ext = b"".join([card("XTENSION", "'BINTABLE'"), card("BITPIX", "8"), card("NAXIS", "0"), card("ZIMAGE", "T"),
                    card("ZCMPTYPE", "'GZIP_1  '"), card("ZBITPIX", "8"), card("ZNAXIS", "2"),
                    card("ZNAXIS1", str(width)), card("ZNAXIS2", str(height)), card("END")])
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)  # wbits 31: a gzip stream
    zeros = b"\0" * (1 << 20)
    body = [packer.compress(zeros) for _ in range(payload_mib)]
    if pixels:
        body.append(packer.compress(b"\0" * (4 * width * height)))
    return primary.ljust(2880, b" ") + ext.ljust(2880, b" ") + b"".join(body + [packer.flush()])


# Formats Pillow reads (and writes, but for FITS) that aecore must refuse without decoding.
OTHER_FORMATS = ["TIFF", "ICO", "PCX", "TGA", "PPM", "SGI", "IM", "DDS", "FITS"]


def other_format(fmt):
    """A small image in one of OTHER_FORMATS."""
    if fmt == "FITS":
        return fits_bytes()
    buf = io.BytesIO()
    Image.new("RGB", (16, 16), (10, 20, 30)).save(buf, fmt)
    return buf.getvalue()


def drawn(text="3", size=(300, 200), at=(120, 40), font_size=100, ink=0, paper=255, fmt="PNG"):
    """Bytes of a grayscale picture of `text` drawn with Pillow's own font: by default a dark "3" on white
    paper, 300 wide and 200 high, a little left of the middle (as a photo of a digit drawn on paper)."""
    from PIL import ImageDraw

    im = Image.new("L", size, paper)
    ImageDraw.Draw(im).text(at, text, fill=ink, font_size=font_size)
    buf = io.BytesIO()
    im.save(buf, fmt)
    return buf.getvalue()


def square(size=(300, 200), box=(100, 50, 199, 149), ink=0, paper=255):
    """PNG bytes of a filled square (`box`: left, top, right, bottom, inclusive) on paper of another shade."""
    from PIL import ImageDraw

    im = Image.new("L", size, paper)
    ImageDraw.Draw(im).rectangle(box, fill=ink)
    buf = io.BytesIO()
    im.save(buf, "PNG")
    return buf.getvalue()
