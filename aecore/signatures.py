"""What a file's first bytes say it is ("PNG", "TIFF", "FITS", ...), without running any decoder.

`aecore.images` decodes only PNG, JPEG, BMP, GIF and WebP; for any other file it
names the format it found here, so a refused upload says what it was.
"""

# Signatures ("magic bytes") of image and other formats, to say what a refused file is without
# running its decoder: (offset, bytes, name); the first match wins. Netpbm, PCX, ISO media (AVIF/HEIF),
# ICO/CUR (whose 4-byte signature an uncompressed TGA can start with) and TGA (no signature; guessed
# from its header, last) are recognised in sniff.
_SIGNATURES = (
    (0, b"\x89PNG\r\n\x1a\n", "PNG"), (0, b"\xff\xd8\xff", "JPEG"), (0, b"GIF87a", "GIF"), (0, b"GIF89a", "GIF"),
    (8, b"WEBP", "WebP"), (0, b"BM", "BMP"),
    (0, b"II*\x00", "TIFF"), (0, b"MM\x00*", "TIFF"), (0, b"II+\x00", "BigTIFF"), (0, b"MM\x00+", "BigTIFF"),
    (0, b"SIMPLE", "FITS"), (0, b"\x01\xda", "SGI"),
    (0, b"Image type:", "IM"), (0, b"DDS ", "DDS"), (0, b"8BPS", "PSD"), (0, b"icns", "ICNS"),
    (0, b"\x00\x00\x00\x0cjP  \r\n\x87\n", "JPEG 2000"), (0, b"\xff\x4f\xff\x51", "JPEG 2000"),
    (0, b"%!PS", "EPS"), (0, b"\xc5\xd0\xd3\xc6", "EPS"), (0, b"%PDF", "PDF"), (0, b"qoif", "QOI"),
    (0, b"BLP1", "BLP"), (0, b"BLP2", "BLP"), (0, b"\x89HDF\r\n\x1a\n", "HDF5"), (0, b"GRIB", "GRIB"),
    (0, b"BUFR", "BUFR"), (0, b"DanM", "MSP"), (0, b"LinS", "MSP"), (0, b"\x59\xa6\x6a\x95", "Sun raster"),
    (0, b"\xb1\x68\xde\x3a", "DCX"), (0, b"FTEX", "FTEX"), (0, b"\x80\xe8\x00\x00", "Pixar"),
    (0, b"\xd7\xcd\xc6\x9a", "WMF"), (0, b"#define", "XBM"), (0, b"/* XPM */", "XPM"),
    (0, b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "OLE (MIC)"), (20, b"GIMP", "GIMP brush"),
    (0, b"PK\x03\x04", "ZIP"), (0, b"\x1f\x8b", "gzip"), (0, b"<svg", "SVG"), (0, b"<?xml", "XML"),
    (0, b"RIFF", "RIFF"), (4, b"\x11\xaf", "FLI"), (4, b"\x12\xaf", "FLC"),
)
_NETPBM = {b"1": "PBM", b"4": "PBM", b"2": "PGM", b"5": "PGM", b"3": "PPM", b"6": "PPM", b"7": "PAM",
           b"f": "PFM", b"F": "PFM"}


def sniff(head):
    """Name of the format a file's first bytes `head` announce ("PNG", "TIFF", "FITS", ...), or None.
    Only compares bytes: no decoder runs."""
    head = bytes(head[:64])
    for offset, magic, name in _SIGNATURES:
        if head[offset:offset + len(magic)] == magic:
            return name
    if head[:4] in (b"\x00\x00\x01\x00", b"\x00\x00\x02\x00") and int.from_bytes(head[4:6], "little") >= 1:
        return "ICO" if head[2] == 1 else "CUR"  # + the number of images, which a TGA has 0 of there
    if head[:1] == b"P" and head[1:2] in _NETPBM and head[2:3].isspace():
        return _NETPBM[head[1:2]]
    if len(head) >= 4 and head[0] == 0x0A and head[1] in (0, 2, 3, 4, 5) and head[2] in (0, 1) \
            and head[3] in (1, 2, 4, 8):  # manufacturer 10, version, RLE flag, bits per pixel
        return "PCX"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        return "AVIF" if brand in (b"avif", b"avis") else "HEIF" if brand in (b"heic", b"heix", b"mif1", b"msf1") \
            else "ISO media (MP4/MOV)"
    if (len(head) >= 18 and head[1] in (0, 1) and head[2] in (1, 2, 3, 9, 10, 11, 32, 33)
            and head[16] in (1, 8, 15, 16, 24, 32) and int.from_bytes(head[12:14], "little") > 0
            and int.from_bytes(head[14:16], "little") > 0):
        return "TGA"
    return None
