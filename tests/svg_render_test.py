#!/usr/bin/env python3
"""Renders the golden SVG pictures (tests/data/svg/*.svg) in headless Chromium and checks that
each screenshot is a real picture: a PNG of the window's size, mostly not blank, with many
colours, and the colours the picture promises (the vm-check picture's red refused mapping).

Usage: svg_render_test.py SOURCE_DIR [OUT_DIR]
Exit 77 (skipped) when Debian's chromium is not installed. OUT_DIR keeps the PNGs (to look at).
"""
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib


def decode_png(data):
    """(width, height, rows of RGB(A) pixel tuples) of an 8-bit RGB or RGBA PNG."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    pos, idat, ihdr = 8, b"", None
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind = data[pos + 4:pos + 8]
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            ihdr = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    width, height, depth, colour, _, _, interlace = ihdr
    if depth != 8 or colour not in (2, 6) or interlace:
        raise ValueError("unexpected PNG kind %r" % (ihdr,))
    bpp = 3 if colour == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * bpp
    rows, prev, at = [], bytearray(stride), 0
    for _ in range(height):
        f = raw[at]
        line = bytearray(raw[at + 1:at + 1 + stride])
        at += 1 + stride
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 0xFF
            elif f == 2:
                line[i] = (line[i] + b) & 0xFF
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 0xFF
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[i] = (line[i] + pred) & 0xFF
        rows.append([tuple(line[i:i + 3]) for i in range(0, stride, bpp)])
        prev = line
    return width, height, rows


def main():
    source = sys.argv[1]
    out_dir = sys.argv[2] if len(sys.argv) > 2 else None
    browser = shutil.which("chromium")
    if not browser:
        print("SKIP: Debian's chromium is not installed (apt-get install chromium); "
              "the SVG pictures were not rendered")
        return 77
    svg_dir = os.path.join(source, "tests", "data", "svg")
    names = sorted(n for n in os.listdir(svg_dir) if n.endswith(".svg"))
    if not names:
        print("FAIL: no golden SVG in", svg_dir)
        return 1
    failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            path = os.path.join(svg_dir, name)
            head = open(path, encoding="utf-8").read(600)
            m = re.search(r'<svg [^>]*width="([0-9.]+)" height="([0-9.]+)"', head)
            width, height = int(float(m.group(1)) + 0.5), int(float(m.group(2)) + 0.5)
            if out_dir:
                os.makedirs(out_dir, exist_ok=True)
            png = os.path.join(out_dir or tmp, name[:-4] + ".png")
            cmd = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                   "--no-first-run", "--user-data-dir=" + os.path.join(tmp, "profile"),
                   "--window-size=%d,%d" % (width, height), "--screenshot=" + png,
                   "file://" + os.path.abspath(path)]
            r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120)
            if r.returncode != 0 or not os.path.exists(png):
                print("FAIL %s: chromium exited %d:\n%s" % (name, r.returncode,
                                                           r.stdout.decode(errors="replace")))
                failed += 1
                continue
            w, h, rows = decode_png(open(png, "rb").read())
            pixels = [p for row in rows for p in row]
            colours = set(pixels)
            ink = sum(1 for p in pixels if p != (255, 255, 255)) / len(pixels)
            problems = []
            if (w, h) != (width, height):
                problems.append("size %dx%d, not the window's %dx%d" % (w, h, width, height))
            if len(colours) < 16:
                problems.append("only %d colours" % len(colours))
            if ink < 0.05:
                problems.append("%.1f%% of the pixels not white" % (100 * ink))
            # Colours the SVG fills large areas with appear as they are.
            for fill in ("#43a047", "#d32f2f") if name.startswith("vm-check") else ("#43a047",):
                rgb = tuple(int(fill[i:i + 2], 16) for i in (1, 3, 5))
                if fill in open(path, encoding="utf-8").read() and rgb not in colours:
                    problems.append("no pixel of " + fill)
            print("%s %s: %dx%d, %d colours, %.0f%% ink%s" % (
                "FAIL" if problems else "ok", name, w, h, len(colours), 100 * ink,
                "".join("; " + p for p in problems)))
            failed += bool(problems)
    print("%d passed, %d failed" % (len(names) - failed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
