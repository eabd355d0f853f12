#!/usr/bin/python3
"""Cross-check obia's JPEG, JPEG-LS and JPEG 2000 decoders against pydicom.

Every frame of every corpus file (../shared/testdata, else tests/data) in
JPEG Baseline or Extended, JPEG-LS, JPEG 2000 or HTJ2K is decoded with
`obia render --frame N --format raw` (the stored values, samples
interleaved, little endian: include/obia/pixel.h) and compared with the
same frame from pydicom 2.3. Debian's pydicom has no handler for these
syntaxes (no Pillow, pylibjpeg nor GDCM bindings), so where pydicom cannot
decode a file it is first made native by a toolkit -- DCMTK's dcmdjpeg or
dcmdjpls, or `gdcmconv --raw` -- and pydicom reads that file's pixel_array.

How values are compared:
- Colour. obia gives RGB for JPEG coded as YCbCr (YBR_FULL, YBR_FULL_422)
  and for JPEG 2000 with the multiple-component transform (YBR_ICT,
  YBR_RCT). dcmdjpeg does the same; gdcmconv leaves JPEG's YBR_FULL as it
  is, and then pydicom's convert_color_space makes the reference RGB
  (which rounds differently: within tolerance only).
- Stored bits. Values are compared in the width of Bits Stored (PS3.5
  8.1.1: bits above the High Bit are not part of the value). obia
  sign-extends signed values; GDCM and DCMTK leave a signed JPEG-LS value
  as its bit pattern (pydicom 3 sign-extends, as obia does). That counts as
  equal and is listed.
- Lossless syntaxes (JPEG-LS lossless, JPEG 2000 lossless, HTJ2K lossless)
  must be equal. Lossy ones must be equal or within TOLERANCE (max abs
  difference of stored values); the max and mean difference are printed.
- Refusals. 12-bit lossy JPEG is refused by design (no Debian library
  decodes it), and a file that no tool decodes either may be refused; any
  other refusal fails the test.
- Files that no tool on Debian decodes (HTJ2K) are checked against the
  reference values pydicom 3.0 publishes for them (SPOT_VALUES, from
  pydicom's tests/pixels/pixels_reference.py), else listed as unchecked.

Environment (set by CTest): OBIA (the obia binary), OBIA_SHARED_TESTDATA
(the shared corpus, preferred), OBIA_TEST_DATA (fallback corpus). Exit status
0 = pass, 1 = fail, 77 = skipped (no pydicom, no numpy, no corpus, or no
`obia render`).
"""

import os
import shutil
import struct
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
import corpus  # noqa: E402

# transfer syntax: (short name, codec, lossless only)
SYNTAXES = {
    "1.2.840.10008.1.2.4.50": ("JPEG Baseline", "jpeg", False),
    "1.2.840.10008.1.2.4.51": ("JPEG Extended", "jpeg", False),
    "1.2.840.10008.1.2.4.80": ("JPEG-LS lossless", "jpegls", True),
    "1.2.840.10008.1.2.4.81": ("JPEG-LS near-lossless", "jpegls", False),
    "1.2.840.10008.1.2.4.90": ("JPEG 2000 lossless", "j2k", True),
    "1.2.840.10008.1.2.4.91": ("JPEG 2000", "j2k", False),
    "1.2.840.10008.1.2.4.201": ("HTJ2K lossless", "j2k", True),
    "1.2.840.10008.1.2.4.202": ("HTJ2K lossless RPCL", "j2k", True),
    "1.2.840.10008.1.2.4.203": ("HTJ2K", "j2k", False),
}

# Largest difference accepted for lossy syntaxes, per codec, in stored
# values. JPEG: libjpeg-turbo and DCMTK's IJG code are bit-exact, but a
# reference made RGB by pydicom's floating-point YCbCr conversion is off by
# up to 2 (3 where 4:2:0 chroma is upsampled differently). JPEG-LS
# near-lossless: decoding is defined exactly, any conformant decoder gives
# the same values. JPEG 2000: the 9-7 wavelet in floating point may round
# differently by one, and obia clamps lossy values to Bits Stored.
TOLERANCE = {"jpeg": 3, "jpegls": 0, "j2k": 1}

# Reference tools, tried in order, per codec.
TOOLS = {
    "jpeg": (["dcmdjpeg"], ["gdcmconv", "--raw"]),
    "jpegls": (["dcmdjpls"], ["gdcmconv", "--raw"]),
    "j2k": (["gdcmconv", "--raw"],),
}

# pydicom 3.0's reference values (tests/pixels/pixels_reference.py) for
# files that no tool on Debian 12 decodes: (frame, row, column) -> value(s).
SPOT_VALUES = {
    "gh-pydicom-data/HTJ2KLossless_08_RGB.dcm": {
        (0, 160, 295): (90, 38, 1), (0, 160, 298): (173, 122, 59),
        (0, 160, 304): (169, 136, 79), (0, 275, 635): (208, 193, 172),
        (0, 281, 635): (224, 218, 205), (0, 284, 635): (242, 236, 226),
    },
    "gh-pydicom-data/HTJ2K_08_RGB.dcm": {
        (0, 160, 295): (91, 37, 2), (0, 160, 298): (174, 123, 59),
        (0, 160, 304): (169, 136, 78), (0, 275, 635): (207, 193, 171),
        (0, 281, 635): (225, 218, 206), (0, 284, 635): (242, 236, 227),
    },
    # checked in addition to the tools' reference: the cases where
    # libraries disagree (sign of a J2K codestream against Pixel
    # Representation, JPEG-LS sign extension, RGB JPEG without APP14)
    "deb-python3-pydicom/test_files/J2K_pixelrep_mismatch.dcm": {
        (0, 0, 0): -2000, (0, 47, 279): 621, (0, 50, 279): -193,
        (0, 56, 279): -995, (0, 328, 106): -377, (0, 337, 106): 1732,
    },
    "gh-pydicom-data/JLSL_16_15_1_1F.dcm": {
        (0, 59, 58): -2073, (0, 60, 58): -2629, (0, 61, 58): -1167,
        (0, 62, 58): 5566, (0, 63, 58): 11808, (0, 64, 58): 15604,
    },
    "deb-python3-pydicom/test_files/SC_jpeg_no_color_transform.dcm": {
        (0, 29, 77): (240, 243, 246), (0, 29, 78): (214, 210, 213),
        (0, 29, 79): (150, 134, 134), (0, 29, 80): (244, 244, 244),
    },
    "deb-python3-pydicom/test_files/GDCMJ2K_TextGBR.dcm": {
        (0, 45, 140): (223, 32, 32), (0, 46, 140): (255, 0, 0),
        (0, 350, 195): (128, 128, 128),
    },
}


def jpeg_precision(pixel_data):
    """The sample precision in the first SOF marker of encapsulated JPEG
    data (8 or 12), or None."""
    start = pixel_data.find(b"\xff\xd8\xff")
    if start < 0:
        return None
    i = start + 2
    while i + 4 <= len(pixel_data) and pixel_data[i] == 0xFF:
        marker = pixel_data[i + 1]
        if marker == 0xFF:
            i += 1
            continue
        (length,) = struct.unpack(">H", pixel_data[i + 2:i + 4])
        if marker in (0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9,
                      0xCA, 0xCB, 0xCD, 0xCE, 0xCF) and i + 4 < len(pixel_data):
            return pixel_data[i + 4]
        if marker == 0xDA:
            return None
        i += 2 + length
    return None


def expected_photometric(codec, pi, samples):
    """The photometric interpretation of obia's decoded values."""
    if samples == 3 and codec == "jpeg" and pi in ("RGB", "YBR_FULL", "YBR_FULL_422"):
        return "RGB"
    if samples == 3 and codec == "j2k" and pi in ("YBR_ICT", "YBR_RCT"):
        return "RGB"
    return pi


class Reference:
    """All frames of a file as pydicom gives them: (frames, rows, columns,
    samples) int64 values, their photometric interpretation and the tool."""

    def __init__(self, arr, pi, tool):
        self.arr, self.pi, self.tool = arr, pi, tool


def reference(pydicom, np, ds, path, codec, shape, tmp):
    try:
        arr = ds.pixel_array
        return Reference(np.asarray(arr).astype(np.int64).reshape(shape),
                         ds.PhotometricInterpretation, "pydicom")
    except Exception:
        pass
    out = os.path.join(tmp, "reference.dcm")
    for tool in TOOLS[codec]:
        if not shutil.which(tool[0]):
            continue
        if os.path.exists(out):
            os.unlink(out)
        r = subprocess.run(tool + [path, out], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, timeout=300)
        if r.returncode != 0 or not os.path.exists(out):
            continue
        try:
            native = pydicom.dcmread(out, force=True)
            arr = np.asarray(native.pixel_array).astype(np.int64).reshape(shape)
        except Exception:
            continue
        return Reference(arr, str(native.PhotometricInterpretation), " ".join(tool))
    return None


def stored(np, values, bits_stored, signed):
    """values in the width of Bits Stored: the bits above masked off, signed
    values sign-extended from it."""
    v = values & ((1 << bits_stored) - 1)
    if signed:
        sign = 1 << (bits_stored - 1)
        v = (v ^ sign) - sign
    return v


def obia_frame(obia, np, path, index, dtype, shape, tmp):
    """(values or None, error text) of frame index decoded by obia."""
    out = os.path.join(tmp, "frame.raw")
    if os.path.exists(out):
        os.unlink(out)
    r = subprocess.run([obia, "render", "--frame", str(index + 1), "--format", "raw",
                        "--out", out, path], capture_output=True, text=True, timeout=300)
    if r.returncode not in (0, 1):
        return None, "crashed (exit status %d): %s" % (r.returncode, r.stderr.strip())
    if r.returncode != 0:
        return None, r.stderr.strip() or "exit status 1"
    data = np.fromfile(out, dtype=dtype)
    want = shape[0] * shape[1] * shape[2]
    if data.size != want:
        return None, "wrote %d values, not %d" % (data.size, want)
    return data.astype(np.int64).reshape(shape), ""


def check_file(obia, pydicom, np, root, row, tmp):
    """One file: (outcome, detail) with outcome one of equal, tolerance,
    differing, refused, refused-ok, unchecked, skipped."""
    rel = row["path"]
    path = os.path.join(root, rel)
    name, codec, lossless = SYNTAXES[row["ts_uid"]]
    try:
        ds = pydicom.dcmread(path, force=True)
        rows, cols = int(ds.Rows), int(ds.Columns)
        samples = int(ds.SamplesPerPixel)
        bits_allocated, bits_stored = int(ds.BitsAllocated), int(ds.BitsStored)
        signed = int(ds.PixelRepresentation) == 1
        frames = int(getattr(ds, "NumberOfFrames", 1) or 1)
        pi = str(ds.PhotometricInterpretation)
        pixel_data = ds.PixelData
    except Exception as e:  # pydicom cannot read the header or pixel data
        return "skipped", "pydicom cannot read it: %s" % e
    shape = (rows, cols, samples)
    size = 1 if bits_allocated <= 8 else bits_allocated // 8
    dtype = np.dtype("%s%s%d" % ("<" if size > 1 else "|", "i" if signed else "u", size))

    twelve_bit = codec == "jpeg" and jpeg_precision(pixel_data) == 12
    ref = reference(pydicom, np, ds, path, codec, (frames,) + shape, tmp)
    spots = SPOT_VALUES.get(rel, {})
    want_pi = expected_photometric(codec, pi, samples)

    worst, notes, max_diff, mean_diff = "equal", [], 0, 0.0
    for index in range(frames):
        got, error = obia_frame(obia, np, path, index, dtype, shape, tmp)
        if got is None:
            if twelve_bit and "12-bit" in error:
                return "refused-ok", "12-bit lossy JPEG, refused as designed"
            if ref is None:
                return "refused-ok", "refused, and no tool decodes it either: %s" % error
            return "refused", "frame %d: %s" % (index + 1, error)
        for (f, y, x), value in spots.items():
            if f == index:
                have = tuple(int(v) for v in got[y, x]) if samples > 1 else int(got[y, x, 0])
                if have != value:
                    return "differing", ("frame %d (%d,%d): obia %s, pydicom 3.0 %s"
                                         % (f + 1, y, x, have, value))
        if ref is None:
            continue
        want = ref.arr[index]
        exact_colour = True
        if want_pi == "RGB" and ref.pi.startswith("YBR_FULL"):
            from pydicom.pixel_data_handlers.util import convert_color_space
            want = convert_color_space(want.astype(np.uint8), ref.pi, "RGB").astype(np.int64)
            exact_colour = False
            notes.append("reference made RGB by pydicom")
        if np.array_equal(got, want):
            continue
        a = stored(np, got, bits_stored, signed)
        b = stored(np, want, bits_stored, signed)
        if np.array_equal(a, b):
            if not np.array_equal(a, got):
                return "differing", "frame %d: obia's values exceed Bits Stored" % (index + 1)
            notes.append("equal in the %d stored bits (%s keeps bit patterns)"
                         % (bits_stored, ref.tool))
            continue
        diff = np.abs(a - b)
        max_diff = max(max_diff, int(diff.max()))
        mean_diff = max(mean_diff, float(diff.mean()))
        if lossless and exact_colour:
            at = np.unravel_index(int(diff.argmax()), diff.shape)
            return "differing", ("frame %d: lossless data differ, max %d mean %.4f, e.g. at "
                                 "%s obia %d %s %d" % (index + 1, max_diff, mean_diff, at,
                                                       int(a[at]), ref.tool, int(b[at])))
        worst = "tolerance"
    if ref is None:
        if spots:
            return "equal", "pydicom 3.0 reference values (no tool decodes it)"
        return "unchecked", "no tool decodes it"
    detail = "vs %s" % ref.tool
    if notes:
        detail += "; " + sorted(set(notes))[0]
    if worst == "tolerance":
        detail += "; max abs diff %d, mean %.4f" % (max_diff, mean_diff)
        if max_diff > TOLERANCE[codec]:
            return "differing", detail + " (tolerance %d)" % TOLERANCE[codec]
    return worst, detail


def main():
    obia, pydicom = corpus.obia_and_pydicom()
    try:
        import numpy as np
    except ImportError:
        print("SKIP: numpy is not installed for %s" % sys.executable)
        return 77
    root = corpus.require_root()
    r = subprocess.run([obia, "help", "render"], capture_output=True, text=True)
    if r.returncode != 0:
        print("SKIP: this obia has no render command")
        return 77
    rows = [row for row in corpus.manifest(root) if row.get("ts_uid") in SYNTAXES]
    if not rows:
        print("SKIP: no JPEG, JPEG-LS or JPEG 2000 file in %s" % root)
        return 77

    kinds = ("equal", "tolerance", "differing", "refused", "refused-ok", "unchecked",
             "skipped")
    table = {ts: dict.fromkeys(kinds, 0) for ts in SYNTAXES}
    failures = []
    with tempfile.TemporaryDirectory() as tmp:
        for row in sorted(rows, key=lambda r: (r["ts_uid"], r["path"])):
            outcome, detail = check_file(obia, pydicom, np, root, row, tmp)
            table[row["ts_uid"]][outcome] += 1
            print("%-10s %-48s %s: %s" % (outcome, row["path"][-48:], SYNTAXES[row["ts_uid"]][0],
                                          detail))
            if outcome in ("differing", "refused"):
                failures.append("%s: %s" % (row["path"], detail))

    print()
    print("%-24s %5s %5s %9s %9s %8s %9s %9s" % ("transfer syntax", "files", "equal",
                                                 "tolerance", "differing", "refused",
                                                 "unchecked", "skipped"))
    for ts, (name, _, _) in SYNTAXES.items():
        t = table[ts]
        n = sum(t.values())
        if n:
            print("%-24s %5d %5d %9d %9d %4d+%-3d %9d %9d"
                  % (name, n, t["equal"], t["tolerance"], t["differing"], t["refused-ok"],
                     t["refused"], t["unchecked"], t["skipped"]))
    print("(refused: as designed + unexpected)")
    if failures:
        print("\nFAIL: %d file(s):" % len(failures))
        for f in failures:
            print("  " + f)
        return 1
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
