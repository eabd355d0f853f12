#!/usr/bin/python3
"""Decode lossless JPEG and RLE files made by DCMTK and GDCM with obia.

Native source images are made with pydicom (Explicit VR Little Endian):
MONOCHROME2 with 8 bits stored (signed and unsigned, and 7 bits signed),
12 and 16 bits stored in 16 (signed and unsigned), RGB of 8 and 16 bits,
a 3-frame 16-bit image, a 3-frame 32-bit one. Their content is rough on
purpose: gradients, noise, edges, and jumps from 0 to half the range and
back (JPEG difference category 16: a difference of 32768, no extra bits).

Each is compressed by:
  - DCMTK `dcmcjpeg +el +sv N` for every selection value 1-7 (process 14,
    1.2.840.10008.1.2.4.57), `dcmcjpeg +e1` (1.2.840.10008.1.2.4.70), and
    `+pt 2` (point transform: the lowest 2 bits are dropped);
  - GDCM `gdcmconv --jpeg` (lossless, .70);
  - a small encoder in this file for what the tools cannot make: restart
    intervals (DRI/RSTn) with every predictor, one scan per colour
    component, Huffman tables redefined between scans, fill bytes before
    markers; checked by DCMTK's decoder as well;
  - DCMTK `dcmcrle` and GDCM `gdcmconv --rle` (RLE Lossless, multi-frame,
    8/16/32 bits, 1 and 3 samples).

Every frame is decoded with `obia render --frame N --format raw` and must
equal the source's values exactly (JPEG lossless codes stored values; for
signed images obia gives them sign-extended from Bits Stored, which clean
sources already are; with a point transform, the source with its low bits
cleared), and the values that `dcmdjpeg`/`dcmdrle` give, read by pydicom
(compared after the same sign extension: DCMTK leaves the high bits as the
encoder coded them).

A tool that cannot make a case (GDCM has no 32-bit RLE) is reported and
skipped; a tool missing altogether skips its cases. Environment (set by
CTest): OBIA (the obia binary). Exit status 0 = pass, 1 = fail, 77 =
skipped (no pydicom/numpy, or none of DCMTK and GDCM).
"""

import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
import corpus  # noqa: E402

JPEG_57 = "1.2.840.10008.1.2.4.57"
JPEG_70 = "1.2.840.10008.1.2.4.70"
RLE = "1.2.840.10008.1.2.5"
EXPLICIT_LE = "1.2.840.10008.1.2.1"
TIMEOUT = 60


# --------------------------------------------------------------------------
# Source images
# --------------------------------------------------------------------------

class Source:
    """A native image: name, numpy array (frames, rows, cols[, 3]) and its
    pixel description."""

    def __init__(self, name, arr, allocated, stored, signed, spp=1):
        self.name, self.arr = name, arr
        self.allocated, self.stored, self.signed, self.spp = (
            allocated, stored, signed, spp)
        self.frames, self.rows, self.cols = arr.shape[:3]


def rough(np, rng, shape, lo, hi):
    """Image-like values in [lo, hi]: a gradient, noise, a bright square,
    and single pixels jumping by half the range."""
    frames, rows, cols = shape[:3]
    y, x = np.mgrid[0:rows, 0:cols]
    span = hi - lo
    base = lo + (x * span // (2 * cols) + y * span // (3 * rows))
    out = []
    for f in range(frames):
        img = base + rng.integers(-span // 64 - 1, span // 64 + 2, size=(rows, cols))
        img[rows // 4: rows // 2, cols // 3: cols // 2] = hi - f
        jumps = rng.random((rows, cols)) < 0.03
        img = np.where(jumps, np.where(img > lo + span // 2, img - span // 2 - 1,
                                       img + span // 2 + 1), img)
        img[0, 0], img[-1, -1], img[0, -1] = lo, hi, lo + span // 2 + 1
        img = np.clip(img, lo, hi)
        if len(shape) == 4:
            img = np.stack([img, hi + lo - img, np.roll(img, 3, axis=1)], axis=-1)
        out.append(img)
    return np.array(out)


def make_sources(np):
    rng = np.random.default_rng(20240601)
    s = []

    def add(name, allocated, stored, signed, shape, spp=1):
        lo, hi = ((-(1 << (stored - 1)), (1 << (stored - 1)) - 1) if signed
                  else (0, (1 << stored) - 1))
        dtype = {(8, False): np.uint8, (8, True): np.int8,
                 (16, False): np.uint16, (16, True): np.int16,
                 (32, False): np.uint32, (32, True): np.int32}[(allocated, signed)]
        arr = rough(np, rng, shape, lo, hi).astype(dtype)
        s.append(Source(name, arr, allocated, stored, signed, spp))

    add("u8", 8, 8, False, (1, 41, 57))
    add("u8e", 8, 8, False, (1, 40, 64))   # GDCM's RLE encoder needs even sizes
    add("s8", 8, 8, True, (1, 41, 57))
    add("s7", 8, 7, True, (1, 33, 29))
    add("u12", 16, 12, False, (1, 47, 53))
    add("s12", 16, 12, True, (1, 47, 53))
    add("u16", 16, 16, False, (1, 64, 61))
    add("s16", 16, 16, True, (1, 64, 61))
    add("rgb8", 8, 8, False, (2, 35, 43, 3), spp=3)
    add("rgb16", 16, 16, False, (1, 21, 19, 3), spp=3)
    add("mf16", 16, 16, False, (3, 30, 31))
    add("u32", 32, 32, False, (3, 17, 23))
    # signed 12-bit values stored without their sign extension (0x0FFF for
    # -1), as some devices write them: JPEG lossless output is
    # sign-extended from Bits Stored, so it equals s12's values
    s12 = next(x for x in s if x.name == "s12")
    s.append(Source("s12m", (s12.arr & 0x0FFF).astype(np.int16), 16, 12, True))
    return {x.name: x for x in s}


def write_native(pydicom, src, path):
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import generate_uid
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = EXPLICIT_LE
    ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
    ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.Modality, ds.PatientID, ds.PatientName = "OT", "LOSSLESS", "Test^Lossless"
    ds.Rows, ds.Columns, ds.SamplesPerPixel = src.rows, src.cols, src.spp
    ds.PhotometricInterpretation = "RGB" if src.spp == 3 else "MONOCHROME2"
    if src.spp == 3:
        ds.PlanarConfiguration = 0
    if src.frames > 1:
        ds.NumberOfFrames = src.frames
    ds.BitsAllocated, ds.BitsStored = src.allocated, src.stored
    ds.HighBit, ds.PixelRepresentation = src.stored - 1, int(src.signed)
    ds.PixelData = src.arr.astype(src.arr.dtype.newbyteorder("<")).tobytes()
    ds.is_little_endian, ds.is_implicit_VR = True, False
    ds.save_as(path, write_like_original=False)


# --------------------------------------------------------------------------
# A JPEG lossless encoder (T.81 Annex H) for the streams the tools cannot
# make: restart intervals, separate scans, redefined tables, fill bytes.
# --------------------------------------------------------------------------

# Category tables: A gives small categories short codes (up to 16 bits),
# B gives all 17 categories 5-bit codes in reverse order.
TABLE_A = ([0, 3] + [1] * 14, list(range(17)))
TABLE_B = ([0, 0, 0, 0, 17] + [0] * 11, list(range(16, -1, -1)))


def canonical(table):
    counts, vals = table
    codes, code, k = {}, 0, 0
    for length in range(1, 17):
        for _ in range(counts[length - 1]):
            codes[vals[k]] = (code, length)
            code, k = code + 1, k + 1
        code <<= 1
    return codes


class BitWriter:
    def __init__(self, out):
        self.out, self.acc, self.n = out, 0, 0

    def put(self, value, n):
        for i in range(n - 1, -1, -1):
            self.acc = (self.acc << 1) | ((value >> i) & 1)
            self.n += 1
            if self.n == 8:
                self.out.append(self.acc)
                if self.acc == 0xFF:
                    self.out.append(0)
                self.acc = self.n = 0

    def flush(self):
        while self.n:
            self.put(1, 1)


def predict(sv, ra, rb, rc):
    return {1: ra, 2: rb, 3: rc, 4: ra + rb - rc, 5: ra + ((rb - rc) >> 1),
            6: rb + ((ra - rc) >> 1), 7: (ra + rb) >> 1}[sv]


def encode_lossless(img, precision, sv, restart_rows=0, separate=False,
                    two_tables=False, fill=False):
    """img: a list of rows of lists of component values (unsigned, below
    2**precision). Returns the JPEG stream as bytes."""
    rows, cols, nc = len(img), len(img[0]), len(img[0][0])
    out = bytearray(b"\xFF\xD8")

    def marker(m):
        if fill:
            out.extend(b"\xFF\xFF")
        out.extend((0xFF, m))

    def segment(m, body):
        marker(m)
        out.extend(((len(body) + 2) >> 8, (len(body) + 2) & 0xFF))
        out.extend(body)

    def dht(ident, table):
        segment(0xC4, bytes([ident]) + bytes(table[0]) + bytes(table[1]))

    segment(0xFE, b"obia test encoder")
    sof = bytes([precision, rows >> 8, rows & 0xFF, cols >> 8, cols & 0xFF, nc])
    for c in range(nc):
        sof += bytes([c + 1, 0x11, 0])
    segment(0xC3, sof)
    dht(0, TABLE_A)
    if two_tables:
        dht(1, TABLE_B)
    if restart_rows:
        ri = restart_rows * cols
        segment(0xDD, bytes([ri >> 8, ri & 0xFF]))
    code_a, code_b = canonical(TABLE_A), canonical(TABLE_B)
    scans = [[c] for c in range(nc)] if separate else [list(range(nc))]
    for number, comps in enumerate(scans):
        redefined = two_tables and separate and number >= 1
        if redefined and number == 1:
            dht(0, TABLE_B)
        tables, sos = [], bytes([len(comps)])
        for c in comps:
            use_b = two_tables and c > 0
            tables.append(code_b if use_b else code_a)
            sos += bytes([c + 1, 0x10 if use_b and not redefined else 0])
        segment(0xDA, sos + bytes([sv, 0, 0]))
        w, rst = BitWriter(out), 0
        for y in range(rows):
            first_row = y == 0
            if restart_rows and y and y % restart_rows == 0:
                w.flush()
                marker(0xD0 + (rst & 7))
                rst += 1
                first_row = True
            for x in range(cols):
                for j, c in enumerate(comps):
                    if first_row:
                        p = 1 << (precision - 1) if x == 0 else img[y][x - 1][c]
                    elif x == 0:
                        p = img[y - 1][0][c]
                    else:
                        p = predict(sv, img[y][x - 1][c], img[y - 1][x][c],
                                    img[y - 1][x - 1][c])
                    d = (img[y][x][c] - p) & 0xFFFF
                    if d > 32768:
                        d -= 65536
                    ssss = abs(d).bit_length()
                    code, length = tables[j][ssss]
                    w.put(code, length)
                    if 0 < ssss < 16:
                        w.put((d - 1 if d < 0 else d) & ((1 << ssss) - 1), ssss)
        w.flush()
    marker(0xD9)
    return bytes(out)


def write_encapsulated(pydicom, native_path, path, frames, ts):
    """The native file rewritten with the given encoded frames."""
    from pydicom.encaps import encapsulate
    ds = pydicom.dcmread(native_path)
    ds.file_meta.TransferSyntaxUID = ts
    ds.PixelData = encapsulate(frames)
    ds["PixelData"].VR = "OB"
    ds["PixelData"].is_undefined_length = True
    ds.is_little_endian, ds.is_implicit_VR = True, False
    ds.save_as(path, write_like_original=False)


# --------------------------------------------------------------------------
# Comparisons
# --------------------------------------------------------------------------

def container(np, src):
    bits = 8 if src.allocated <= 8 else src.allocated
    return np.dtype(("<i%d" if src.signed else "<u%d") % (bits // 8))


def sign_extended(np, arr, src):
    """arr with the bits above Bits Stored set from its sign bit (signed
    images), as int64."""
    a = arr.astype(np.int64)
    if not src.signed:
        return a
    m = (1 << src.stored) - 1
    a &= m
    return np.where(a >= (1 << (src.stored - 1)), a - (1 << src.stored), a)


def expected(np, src, frame, point_transform):
    a = sign_extended(np, src.arr[frame], src)
    if point_transform:
        a = (a >> point_transform) << point_transform
    return a


def run(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT)
    return p.returncode, (p.stderr or p.stdout).strip()


def obia_frame(np, obia, path, frame, src, work):
    out = os.path.join(work, "frame.raw")
    if os.path.exists(out):
        os.unlink(out)
    rc, msg = run([obia, "render", "--frame", str(frame + 1), "--format", "raw",
                   "--out", out, path])
    if rc != 0:
        return None, "obia render failed (%d): %s" % (rc, msg.splitlines()[-1] if msg else "")
    data = open(out, "rb").read()
    shape = (src.rows, src.cols) + ((3,) if src.spp == 3 else ())
    dt = container(np, src)
    want = int(np.prod(shape)) * dt.itemsize
    if len(data) != want:
        return None, "obia gave %d bytes, not %d" % (len(data), want)
    return np.frombuffer(data, dtype=dt).reshape(shape), None


def tool_frames(np, pydicom, tool, path, src, work):
    """The frames as the tool's own decoder gives them (pydicom reading its
    native output), or None with why."""
    out = os.path.join(work, "tool-decoded.dcm")
    rc, msg = run([tool, path, out])
    if rc != 0:
        return None, "%s failed: %s" % (tool, msg)
    arr = pydicom.dcmread(out).pixel_array
    if src.frames == 1:
        arr = arr[np.newaxis]
    return arr, None


def describe_diff(np, got, want):
    bad = np.argwhere(got != want)
    first = tuple(int(i) for i in bad[0])
    return "%d values differ, first at %s: %d, expected %d" % (
        len(bad), first, int(got[first]), int(want[first]))


def main():
    obia, pydicom = corpus.obia_and_pydicom()
    try:
        import numpy as np
    except ImportError:
        print("SKIP: numpy is not installed")
        return 77
    have = {t: shutil.which(t) is not None
            for t in ("dcmcjpeg", "dcmdjpeg", "dcmcrle", "dcmdrle", "gdcmconv")}
    if not (have["dcmcjpeg"] or have["dcmcrle"] or have["gdcmconv"]):
        print("SKIP: neither DCMTK nor GDCM is installed")
        return 77
    for t, ok in have.items():
        if not ok:
            print("NOTE: %s is missing; its cases are skipped" % t)

    sources = make_sources(np)
    work = tempfile.mkdtemp(prefix="obia-lossless-")
    results = {"pass": 0, "fail": 0, "skip": 0}
    frames_checked = 0

    def native(src):
        return os.path.join(work, "%s-nat-.dcm" % src.name)

    for src in sources.values():
        write_native(pydicom, src, native(src))

    def check(label, path, src, ts_wanted, decoder, point_transform=0):
        nonlocal frames_checked
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        ts = str(ds.file_meta.TransferSyntaxUID)
        if ts not in ts_wanted:
            print("skip %-44s the tool wrote transfer syntax %s" % (label, ts))
            results["skip"] += 1
            return
        problems = []
        ref = None
        if decoder and have.get(decoder):
            ref, why = tool_frames(np, pydicom, decoder, path, src, work)
            if why:
                problems.append(why)
        for f in range(src.frames):
            got, why = obia_frame(np, obia, path, f, src, work)
            if why:
                problems.append("frame %d: %s" % (f + 1, why))
                continue
            frames_checked += 1
            g = got.astype(np.int64)
            want = expected(np, src, f, point_transform)
            if not np.array_equal(g, want):
                problems.append("frame %d against the source: %s"
                                % (f + 1, describe_diff(np, g, want)))
            if ref is not None:
                r = sign_extended(np, ref[f], src)
                if not np.array_equal(sign_extended(np, g, src), r):
                    problems.append("frame %d against %s: %s"
                                    % (f + 1, decoder, describe_diff(np, g, r)))
        if problems:
            results["fail"] += 1
            print("FAIL %-44s %s" % (label, "; ".join(problems)))
        else:
            results["pass"] += 1
            print("ok   %-44s %d frame%s (%s)" % (label, src.frames,
                                                   "" if src.frames == 1 else "s", ts))

    jpeg_sources = ["u8", "s8", "s7", "u12", "s12", "s12m", "u16", "s16", "rgb8", "mf16"]
    rle_sources = ["u8", "u8e", "s8", "u12", "s12", "u16", "s16", "rgb8", "rgb16", "mf16", "u32"]

    # ---- DCMTK dcmcjpeg -----------------------------------------------------
    if have["dcmcjpeg"]:
        for name in jpeg_sources:
            src = sources[name]
            variants = [("+sv%d" % sv, ["+el", "+sv", str(sv)], 0) for sv in range(1, 8)]
            variants.append(("+e1", ["+e1"], 0))
            if name in ("u12", "rgb8", "s16"):
                variants.append(("+sv4 +pt2", ["+el", "+sv", "4", "+pt", "2"], 2))
            for tag, opts, pt in variants:
                out = os.path.join(work, "%s-dcmcjpeg%s.dcm" % (name, tag.replace(" ", "")))
                label = "dcmcjpeg %s %s" % (tag, name)
                rc, msg = run(["dcmcjpeg"] + opts + [native(src), out])
                if rc != 0:
                    results["fail"] += 1
                    print("FAIL %-44s dcmcjpeg failed: %s" % (label, msg))
                    continue
                check(label, out, src, (JPEG_57, JPEG_70), "dcmdjpeg", pt)

    # ---- GDCM gdcmconv --jpeg -------------------------------------------------
    if have["gdcmconv"]:
        for name in jpeg_sources:
            src = sources[name]
            out = os.path.join(work, "%s-gdcm-jpeg.dcm" % name)
            label = "gdcmconv --jpeg %s" % name
            rc, msg = run(["gdcmconv", "--jpeg", native(src), out])
            if rc != 0 or not os.path.exists(out):
                print("skip %-44s gdcmconv cannot: %s" % (label, msg))
                results["skip"] += 1
                continue
            check(label, out, src, (JPEG_57, JPEG_70), "dcmdjpeg")

    # ---- the encoder of this file ---------------------------------------------
    enc_cases = []
    for sv in range(1, 8):
        enc_cases.append(("u16", sv, dict(restart_rows=1 + sv % 5)))
    enc_cases += [
        ("s12", 7, dict(restart_rows=4)),
        ("rgb8", 1, dict(restart_rows=3)),
        ("rgb8", 6, dict(separate=True)),
        ("rgb8", 4, dict(separate=True, two_tables=True, restart_rows=2)),
        ("rgb8", 5, dict(two_tables=True, fill=True)),
        ("mf16", 3, dict(restart_rows=7, fill=True)),
    ]
    for name, sv, opts in enc_cases:
        src = sources[name]
        precision = src.stored   # signed: the stored bits, sign-extended by obia
        mask = (1 << precision) - 1
        frames = []
        for f in range(src.frames):
            a = src.arr[f].astype(np.int64) & mask
            if src.spp == 1:
                a = a[..., np.newaxis]
            frames.append(encode_lossless(a.tolist(), precision, sv, **opts))
        tag = "sv%d %s" % (sv, " ".join("%s=%s" % kv for kv in sorted(opts.items())))
        label = "encoder %s %s" % (tag, name)
        out = os.path.join(work, "%s-enc-%s.dcm" % (name, tag.replace(" ", "_")))
        write_encapsulated(pydicom, native(src), out, frames, JPEG_70 if sv == 1 else JPEG_57)
        check(label, out, src, (JPEG_57, JPEG_70), "dcmdjpeg")

    # ---- RLE: DCMTK dcmcrle and GDCM gdcmconv --rle ---------------------------
    for tool, cmd in (("dcmcrle", ["dcmcrle"]), ("gdcmconv", ["gdcmconv", "--rle"])):
        if not have[tool]:
            continue
        for name in rle_sources:
            src = sources[name]
            out = os.path.join(work, "%s-%s-rle.dcm" % (name, tool))
            label = "%s %s" % (" ".join(cmd), name)
            rc, msg = run(cmd + [native(src), out])
            if rc != 0 or not os.path.exists(out):
                print("skip %-44s %s cannot: %s" % (label, tool, msg))
                results["skip"] += 1
                continue
            try:
                check(label, out, src, (RLE,), "dcmdrle")
            except Exception as e:   # a tool's broken output (GDCM, 32 bits)
                print("skip %-44s %s wrote a file pydicom cannot read: %s"
                      % (label, tool, e))
                results["skip"] += 1

    shutil.rmtree(work, ignore_errors=True)
    total = results["pass"] + results["fail"]
    print("pixel_lossless: %d cases (%d frames): %d passed, %d failed; %d skipped"
          % (total, frames_checked, results["pass"], results["fail"], results["skip"]))
    if total == 0:
        return 77
    return 1 if results["fail"] else 0


if __name__ == "__main__":
    sys.exit(main())
