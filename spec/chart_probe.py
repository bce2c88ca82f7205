# What spec/test_chart.lua asks of a real XML parser and of Chromium's screenshots.
#   chart_probe.py svg FILE          FILE holds SVG documents split by "\n\0\n"; prints a
#                                    JSON list, per document its parse error or its parts
#   chart_probe.py png FILE PROBES   prints one line per probe of the PROBES file:
#     px X Y            the colour of pixel X, Y as #rrggbb
#     dark X Y W H      how many pixels of that box are ink (dark grey, or failure red)
#     ink X Y W H       the leftmost and rightmost column of ink in the box
#     near X Y R COLOUR how many pixels within R of X, Y are within 48 of COLOUR
#     nonwhite          the share of pixels that are not white
import json
import struct
import sys
import xml.etree.ElementTree as ET
import zlib


def shown_text(el):
    """The text an element shows: its own and its children's, without <title>s."""
    parts = [el.text or ""]
    for child in el:
        if child.tag != "title":
            parts.append("".join(child.itertext()))
        parts.append(child.tail or "")
    return "".join(parts)


def svg_parts(doc):
    root = ET.fromstring(doc)
    parts = {"root": root.tag, "viewBox": root.get("viewBox"), "texts": [], "titles": [],
             "shapes": []}
    for el in root.iter():
        if el.tag == "text":
            parts["texts"].append({"text": shown_text(el), "x": el.get("x"), "y": el.get("y"),
                                   "anchor": el.get("text-anchor") or "start",
                                   "size": el.get("font-size"),
                                   "transform": el.get("transform")})
        elif el.tag == "title":
            parts["titles"].append(el.text or "")
        elif el.tag in ("rect", "circle", "path", "polyline", "line"):
            shape = dict(el.attrib)
            shape["tag"] = el.tag
            parts["shapes"].append(shape)
    return parts


def svg_main(path):
    out = []
    for doc in open(path, encoding="utf-8").read().split("\n\0\n"):
        try:
            out.append(svg_parts(doc))
        except ET.ParseError as e:
            out.append({"error": str(e)})
    print(json.dumps(out, ensure_ascii=False))


def paeth(a, b, c):
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    return a if pa <= pb and pa <= pc else b if pb <= pc else c


def unfilter(kind, line, prev, bpp):
    """Undo one row's PNG filter in place (a loop per kind: this runs for every byte)."""
    n = len(line)
    if kind == 1:
        for i in range(bpp, n):
            line[i] = (line[i] + line[i - bpp]) & 255
    elif kind == 2:
        for i in range(n):
            line[i] = (line[i] + prev[i]) & 255
    elif kind == 3:
        for i in range(n):
            line[i] = (line[i] + ((line[i - bpp] if i >= bpp else 0) + prev[i]) // 2) & 255
    elif kind == 4:
        for i in range(n):
            a, c = (line[i - bpp], prev[i - bpp]) if i >= bpp else (0, 0)
            line[i] = (line[i] + paeth(a, prev[i], c)) & 255


def decode(path):
    """An 8-bit RGB or RGBA PNG as (width, height, bytes per pixel, rows)."""
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat = 8, []
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            w, h, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        pos += 12 + n
    assert depth == 8 and interlace == 0 and ctype in (2, 6), (depth, ctype, interlace)
    bpp = 3 if ctype == 2 else 4
    raw, stride = zlib.decompress(b"".join(idat)), w * bpp
    rows, prev = [], bytearray(stride)
    for y in range(h):
        start = y * (stride + 1)
        line = bytearray(raw[start + 1:start + 1 + stride])
        unfilter(raw[start], line, prev, bpp)
        rows.append(line)
        prev = line
    return w, h, bpp, rows


def png_main(path, probes):
    w, h, bpp, rows = decode(path)

    def rgb(x, y):
        if not (0 <= x < w and 0 <= y < h):
            return (255, 255, 255)
        i = x * bpp
        return tuple(rows[y][i:i + 3])

    def box(x, y, bw, bh):
        for yy in range(int(y), int(y + bh)):
            for xx in range(int(x), int(x + bw)):
                yield xx, yy, rgb(xx, yy)

    def is_dark(c):
        """Ink of text or lines: dark grey, or the red of a failure; not a bar's colour."""
        grey = 0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2] < 120 and max(c) - min(c) < 50
        return grey or (abs(c[0] - 0xC0) < 60 and c[1] < 60 and c[2] < 60)

    for probe in open(probes).read().split("\n"):
        f = probe.split()
        if not f:
            continue
        if f[0] == "px":
            print("#%02x%02x%02x" % rgb(int(float(f[1])), int(float(f[2]))))
        elif f[0] == "dark":
            print(sum(1 for _, _, c in box(*map(float, f[1:5])) if is_dark(c)))
        elif f[0] == "ink":
            xs = [x for x, _, c in box(*map(float, f[1:5])) if is_dark(c)]
            print("%d %d" % (min(xs), max(xs)) if xs else "none")
        elif f[0] == "near":
            x, y, r = float(f[1]), float(f[2]), float(f[3])
            want = tuple(int(f[4][i:i + 2], 16) for i in (1, 3, 5))
            print(sum(1 for _, _, c in box(x - r, y - r, 2 * r + 1, 2 * r + 1)
                      if max(abs(c[i] - want[i]) for i in range(3)) <= 48))
        elif f[0] == "nonwhite":
            white = sum(1 for row in rows
                        for c in zip(row[0::bpp], row[1::bpp], row[2::bpp])
                        if c == (255, 255, 255))
            print("%.4f" % (1 - white / (w * h)))


if __name__ == "__main__":
    if sys.argv[1] == "svg":
        svg_main(sys.argv[2])
    else:
        png_main(sys.argv[2], sys.argv[3])
