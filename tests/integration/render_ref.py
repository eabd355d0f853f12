#!/usr/bin/python3
"""Compare `obia render` with a reference rendering made from pydicom.

For each reference image (tests/data, plus more from the shared corpus when
it is there, plus a few files made here with pydicom: a segmented palette,
native YBR_FULL_422) the test runs

    $OBIA render --size 256 --format png --out X.png FILE

and renders the same frame in Python: pydicom's pixel_array, masked to Bits
Stored and sign-extended, through apply_modality_lut, apply_voi_lut's window
or VOI LUT (index 0; the automatic window of docs/pixel.md when the file
has none), MONOCHROME1 / Presentation LUT Shape INVERSE inversion, scaled
to 8 bits; colour through pydicom's apply_color_lut (16-bit palette
entries: the high byte) or convert_color_space for YBR; then resized to the
same size by exact area averaging in numpy. The two must agree within
TOLERANCE: a mean absolute difference of at most 2 levels of 256 (obia
rounds once, from 16 bits, after averaging; the reference averages floats).

Both PNGs of each image are written side by side into
build/test-report/render/index.html (next to $OBIA; OBIA_TEST_REPORT
overrides the folder) for a person to look at.

Only native (uncompressed) files must render now: a compressed file that
`obia render` refuses is skipped, saying so, until its decoder lands.

Environment (set by CTest): OBIA (the obia binary), OBIA_TEST_DATA (the local
corpus), OBIA_SHARED_TESTDATA (the shared corpus, optional). Exit status
0 = pass, 1 = fail, 77 = skipped (no pydicom/numpy, or no render command).
"""

import html
import logging
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import warnings
import zlib

TOLERANCE = 2.0      # mean absolute difference, in 8-bit levels
SIZE = 256
MIN_COMPARED = 8     # images that must be compared for the test to count

# (corpus path, what it exercises, extra arguments to obia render)
CASES = [
    ("deb-python3-pydicom/test_files/CT_small.dcm",
     "CT, signed, Rescale, Pixel Padding Value, no window: automatic", []),
    ("deb-python3-pydicom/test_files/CT_small.dcm",
     "the same with --window 40,400", ["--window", "40,400"]),
    ("deb-python3-pydicom/test_files/CT_small.dcm",
     "the same as 16-bit grey (--16bit)", ["--16bit"]),
    ("deb-python3-pydicom/test_files/MR_small.dcm", "MR, window", []),
    ("gh-suyashkumar-dicom/2.dcm", "PT, Rescale Slope 46.26, window", []),
    ("gh-highdicom/dx_image.dcm",
     "DX MONOCHROME1 with Presentation LUT Shape INVERSE, unequal spacing", []),
    ("deb-python3-pydicom/test_files/rtdose_1frame.dcm",
     "RT Dose, 32-bit unsigned, automatic window", []),
    ("gh-highdicom/sm_image_grayscale.dcm", "microscopy, frame 1 of 25, automatic", []),
    ("gh-highdicom/seg_image_cr_binary.dcm", "1-bit segmentation", []),
    ("gh-pydicom-data/OT-PAL-8-face.dcm",
     "PALETTE COLOR, 200 entries of 16 bits, no File Meta", []),
    ("deb-python3-pydicom/test_files/SC_rgb_small_odd.dcm", "RGB 3x3", []),
    ("deb-python3-pydicom/test_files/ExplVR_BigEnd.dcm", "RGB, Explicit VR Big Endian", []),
    # compressed: skipped while `obia render` refuses them
    ("deb-python3-pydicom/test_files/JPEG-lossy.dcm", "JPEG Extended 12-bit", []),
    ("deb-python3-pydicom/test_files/SC_rgb_rle.dcm", "RLE RGB", []),
    ("deb-python3-pydicom/test_files/SC_rgb_jpeg.dcm", "JPEG baseline YBR_FULL_422", []),
    ("gh-pydicom-data/JLSL_08_07_0_1F.dcm", "JPEG-LS lossless", []),
    ("gh-pydicom-data/OBXXXX1A_rle.dcm", "PALETTE COLOR, RLE (shared corpus)", []),
    ("gh-cornerstone3D/CTImage.dcm_JPEGProcess10_12TransferSyntax_1.2.840.10008.1.2.4.55.dcm",
     "CT, JPEG process 10", []),
    # in the shared corpus only
    ("gh-cornerstone3D/US-YBR_FULL_422-EVRLE.dcm", "US, native YBR_FULL_422", []),
    ("gh-pydicom-data/SC_ybr_full_uncompressed.dcm", "native YBR_FULL", []),
    ("gh-cornerstone3D/TestPattern_Palette.dcm", "PALETTE COLOR, 8-bit entries", []),
    ("gh-cornerstone3D/TestPattern_Palette_16.dcm", "PALETTE COLOR, 16-bit entries", []),
    ("gh-pydicom-data/MR-SIEMENS-DICOM-WithOverlays.dcm", "two windows: the first", []),
    ("gh-pydicom-data/mlut_18.dcm", "Modality LUT Sequence, signed 12 bits", []),
    ("gh-pydicom-data/vlut_04.dcm", "VOI LUT Sequence", []),
    ("gh-pydicom-data/parametric_map_float.dcm",
     "Float Pixel Data, window in the functional groups", []),
    ("gh-pydicom-data/SC_rgb_16bit.dcm", "RGB of 16 bits", []),
    ("deb-python3-pydicom/test_files/dicomdirtests/77654033/CR1/6154",
     "CR MONOCHROME1, 12 bits", []),
    ("gh-libdicom/ct_brain_single.dcm", "CT 512x512 to 256", []),
    ("gh-highdicom/seg_image_sm_control_labelmap_palette_color.dcm",
     "label map PALETTE COLOR, 22 entries", []),
]

NATIVE_TS = {"1.2.840.10008.1.2", "1.2.840.10008.1.2.1", "1.2.840.10008.1.2.2",
             "1.2.840.10008.1.2.1.99"}


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def skip(msg):
    print("SKIP: " + msg)
    sys.exit(77)


# ---- PNG without PIL ---------------------------------------------------------

def read_png(path, np):
    """8/16-bit grey or RGB, non-interlaced: an array (h, w[, 3]) of ints."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    pos, idat, ihdr = 8, [], None
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        pos += 12 + n
        if kind == b"IHDR":
            ihdr = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
    w, h, depth, ctype, _, _, interlace = ihdr
    if ctype not in (0, 2) or depth not in (8, 16) or interlace:
        raise ValueError("PNG kind not read here")
    ch = 3 if ctype == 2 else 1
    bpp = ch * depth // 8
    stride = w * bpp
    raw = zlib.decompress(b"".join(idat))
    out = np.zeros((h, stride), dtype=np.int64)
    prev = np.zeros(stride, dtype=np.int64)
    for y in range(h):
        ftype = raw[y * (stride + 1)]
        line = np.frombuffer(raw, np.uint8, stride, y * (stride + 1) + 1).astype(np.int64)
        if ftype == 0:
            cur = line
        elif ftype == 2:
            cur = (line + prev) & 255
        elif ftype == 1:
            cur = (np.cumsum(line.reshape(-1, bpp), axis=0) & 255).reshape(-1)
        else:
            cur = line.tolist()
            p = prev.tolist()
            for i in range(stride):
                a = cur[i - bpp] if i >= bpp else 0
                b = p[i]
                c = p[i - bpp] if i >= bpp else 0
                if ftype == 3:
                    pred = (a + b) >> 1
                else:
                    pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
                    pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                cur[i] = (cur[i] + pred) & 255
            cur = np.array(cur, dtype=np.int64)
        out[y] = cur
        prev = cur
    if depth == 16:
        out = out[:, 0::2] * 256 + out[:, 1::2]
    return out.reshape(h, w, ch) if ch == 3 else out.reshape(h, w)


def write_png(path, img, np):
    img = np.asarray(img, dtype=np.uint8)
    h, w = img.shape[:2]
    ctype = 2 if img.ndim == 3 else 0
    rows = b"".join(b"\x00" + img[y].tobytes() for y in range(h))

    def chunk(kind, body):
        return (struct.pack(">I", len(body)) + kind + body +
                struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF))
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, ctype, 0, 0, 0)) +
                chunk(b"IDAT", zlib.compress(rows, 6)) + chunk(b"IEND", b""))


# ---- the reference rendering -----------------------------------------------------

def functional_item(ds, macro):
    """Item 0 of a functional group macro: shared, else per-frame of a single frame."""
    for seq, single in (("SharedFunctionalGroupsSequence", False),
                        ("PerFrameFunctionalGroupsSequence", True)):
        groups = ds.get(seq)
        if not groups:
            continue
        if single and int(ds.get("NumberOfFrames", 1) or 1) > 1:
            continue
        m = groups[0].get(macro)
        if m:
            return m[0]
    return None


def attr(ds, keyword, macro=None):
    v = ds.get(keyword)
    if v not in (None, "") and v != []:
        return ds
    item = functional_item(ds, macro) if macro else None
    if item is not None and item.get(keyword) not in (None, ""):
        return item
    return None


def pixel_aspect(ds):
    for keyword, macro in (("PixelSpacing", "PixelMeasuresSequence"), ("ImagerPixelSpacing", None),
                           ("NominalScannedPixelSpacing", None), ("PixelAspectRatio", None)):
        where = attr(ds, keyword, macro)
        if where is None:
            continue
        try:
            v, h = float(where[keyword].value[0]), float(where[keyword].value[1])
        except (TypeError, ValueError, IndexError):
            continue
        if v > 0 and h > 0:
            r = v / h
            return 1.0 if r < 1 / 16 or r > 16 or abs(r - 1) <= 0.01 else r
    return 1.0


def output_size(w, h, aspect, size):
    if size == 0:
        return w, h
    dw, dh = float(w), h * aspect
    k = 1 / aspect if aspect > 1 else 1.0
    k = min(k, size / max(dw, dh))
    W, H = round(dw * k), round(dh * k)
    return min(max(W, 1), w), min(max(H, 1), h)


def area_weights(n, N, np):
    """Weights (N x n) of source pixels in each output pixel: exact overlaps."""
    m = np.zeros((N, n))
    for j in range(N):
        start, end = j * n, (j + 1) * n
        for x in range(start // N, (end - 1) // N + 1):
            m[j, x] = min(end, (x + 1) * N) - max(start, x * N)
    return m / n


def resize(img, W, H, np):
    h, w = img.shape[:2]
    if (W, H) == (w, h):
        return img.astype(np.float64)
    wy, wx = area_weights(h, H, np), area_weights(w, W, np)
    if img.ndim == 2:
        return wy @ img.astype(np.float64) @ wx.T
    return np.stack([wy @ img[..., c].astype(np.float64) @ wx.T for c in range(img.shape[2])],
                    axis=-1)


def percentile_window(values, np):
    v = values[np.isfinite(values)]
    if v.size == 0:
        return 0.0, 0.0
    lo = float(np.percentile(v, 0.5, method="lower"))
    hi = float(np.percentile(v, 99.5, method="higher"))
    if not hi > lo:
        lo, hi = float(v.min()), float(v.max())
    return lo, hi


def grey(ds, arr, window, util, np, pydicom):
    """Display values in [0, 1] of a MONOCHROME frame."""
    is_float = "FloatPixelData" in ds or "DoubleFloatPixelData" in ds
    if is_float:
        stored = arr.astype(np.float64)
        m = stored
    else:
        bits = int(ds.BitsStored) if ds.get("BitsAllocated", 16) != 1 else 1
        mask = (1 << bits) - 1
        stored = arr.astype(np.int64) & mask
        if int(ds.get("PixelRepresentation", 0)) == 1:
            stored = np.where(stored >= (1 << (bits - 1)), stored - (1 << bits), stored)
        m = util.apply_modality_lut(stored, ds).astype(np.float64)

    def linear(x, c, w, exact):
        if not exact:
            c, w = c - 0.5, w - 1
        return np.clip((x - c) / w + 0.5, 0, 1)

    wds = attr(ds, "WindowCenter", "FrameVOILUTSequence")
    if window:
        y = linear(m, window[0], window[1], is_float)
    elif wds is not None and wds.get("WindowWidth") is not None:
        # pydicom's apply_windowing, normalised by its own output range
        tmp = pydicom.Dataset()
        for k in ("WindowCenter", "WindowWidth", "VOILUTFunction"):
            if k in wds:
                tmp.add(wds[k])
        if is_float and tmp.get("VOILUTFunction", "LINEAR") == "LINEAR":
            tmp.VOILUTFunction = "LINEAR_EXACT"   # obia's rule for floats (docs/pixel.md)
        tmp.PhotometricInterpretation = ds.PhotometricInterpretation
        tmp.BitsStored = int(ds.get("BitsStored", 16) or 16)
        tmp.PixelRepresentation = int(ds.get("PixelRepresentation", 0) or 0)
        ends = util.apply_windowing(np.array([-1e300, 1e300]), tmp, 0)
        y = (util.apply_windowing(m, tmp, 0) - ends[0]) / (ends[1] - ends[0])
    elif ds.get("VOILUTSequence"):
        bits = int(ds.VOILUTSequence[0].LUTDescriptor[2])
        y = util.apply_voi(m, ds, 0).astype(np.float64) / ((1 << bits) - 1)
    else:
        keep = np.ones(m.shape, dtype=bool)
        if not is_float and "PixelPaddingValue" in ds:
            pv = int(ds.PixelPaddingValue) & mask
            pl = int(ds.get("PixelPaddingRangeLimit", ds.PixelPaddingValue)) & mask
            if int(ds.get("PixelRepresentation", 0)) == 1:
                pv = pv - (1 << bits) if pv >= (1 << (bits - 1)) else pv
                pl = pl - (1 << bits) if pl >= (1 << (bits - 1)) else pl
            keep = ~((stored >= min(pv, pl)) & (stored <= max(pv, pl)))
        lo, hi = percentile_window(m[keep], np)
        y = np.clip((m - lo) / (hi - lo), 0, 1) if hi > lo else np.zeros(m.shape)
    y = np.where(np.isnan(m), 0, np.clip(y, 0, 1))
    if ds.PhotometricInterpretation == "MONOCHROME1" or ds.get("PresentationLUTShape") == "INVERSE":
        y = np.where(np.isnan(m), 0, 1 - y)
    return y


class NoPixels(Exception):
    """pydicom cannot decode the file's pixel data here (no handler)."""


def reference(ds, window, bits16, util, np, pydicom):
    pi = ds.PhotometricInterpretation
    try:
        arr = ds.pixel_array
    except Exception as e:   # noqa: BLE001 - pydicom raises several kinds
        raise NoPixels(str(e).splitlines()[0] if str(e) else type(e).__name__)
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    if frames > 1:
        arr = arr[0]
    if pi in ("MONOCHROME1", "MONOCHROME2"):
        img = grey(ds, arr, window, util, np, pydicom) * (65535.0 if bits16 else 255.0)
    elif pi == "PALETTE COLOR":
        rgb = util.apply_color_lut(arr, ds).astype(np.int64)[..., :3]
        bits = int(ds.RedPaletteColorLookupTableDescriptor[2])
        if bits > 8:
            rgb >>= bits - 8
        elif rgb.max() > 255:
            rgb >>= 8
        img = rgb.astype(np.float64)
    elif pi == "RGB":
        bits = int(ds.BitsStored)
        img = (arr.astype(np.int64) & ((1 << bits) - 1)) * 255.0 / ((1 << bits) - 1)
    elif pi in ("YBR_FULL", "YBR_FULL_422"):
        img = util.convert_color_space(arr, "YBR_FULL", "RGB").astype(np.float64)
    else:
        raise ValueError("no reference for " + pi)
    h, w = img.shape[:2]
    W, H = output_size(w, h, pixel_aspect(ds), SIZE)
    out = resize(img, W, H, np)
    top = 65535 if bits16 else 255
    return np.clip(np.floor(out + 0.5), 0, top)


# ---- files made here -----------------------------------------------------------------

def made_files(pydicom, np, util, local, tmp):
    """(path, what) of images made with pydicom from the local corpus."""
    made = []
    face = os.path.join(local, "gh-pydicom-data/OT-PAL-8-face.dcm")
    fall = pydicom.data.get_palette_files("fall.dcm")
    if os.path.isfile(face) and fall:
        ds = pydicom.dcmread(face, force=True)
        pal = pydicom.dcmread(fall[0])
        for c in ("Red", "Green", "Blue"):
            delattr(ds, c + "PaletteColorLookupTableData")
            setattr(ds, c + "PaletteColorLookupTableDescriptor",
                    list(getattr(pal, c + "PaletteColorLookupTableDescriptor")))
            tag = "Segmented%sPaletteColorLookupTableData" % c
            setattr(ds, tag, getattr(pal, tag))
            ds[tag].VR = "OW"
        path = os.path.join(tmp, "segmented_fall.dcm")
        save(ds, path, pydicom)
        made.append((path, "made here: OT-PAL-8-face through the segmented FALL palette"))
    rgb = os.path.join(local, "deb-python3-pydicom/test_files/ExplVR_BigEnd.dcm")
    if os.path.isfile(rgb):
        ds = pydicom.dcmread(rgb)
        a = ds.pixel_array
        if ds.get("NumberOfFrames", 1) in (None, "", 1, "1") and a.shape[1] % 2 == 0:
            ybr = util.convert_color_space(a, "RGB", "YBR_FULL").astype(np.int64)
            cb = ((ybr[:, 0::2, 1] + ybr[:, 1::2, 1] + 1) // 2)
            cr = ((ybr[:, 0::2, 2] + ybr[:, 1::2, 2] + 1) // 2)
            packed = np.stack([ybr[:, 0::2, 0], ybr[:, 1::2, 0], cb, cr], axis=-1)
            ds.PixelData = packed.astype(np.uint8).tobytes()
            ds.PhotometricInterpretation = "YBR_FULL_422"
            ds.PlanarConfiguration = 0
            path = os.path.join(tmp, "ybr_full_422.dcm")
            save(ds, path, pydicom)
            made.append((path, "made here: ExplVR_BigEnd as native YBR_FULL_422"))
    return made


def save(ds, path, pydicom):
    meta = pydicom.dataset.FileMetaDataset()
    meta.TransferSyntaxUID = pydicom.uid.ExplicitVRLittleEndian
    meta.MediaStorageSOPClassUID = ds.get("SOPClassUID", "1.2.840.10008.5.1.4.1.1.7")
    meta.MediaStorageSOPInstanceUID = ds.get("SOPInstanceUID", pydicom.uid.generate_uid())
    ds.file_meta = meta
    ds.is_little_endian, ds.is_implicit_VR = True, False
    ds.save_as(path, write_like_original=False)


def read_dataset(path, pydicom):
    ds = pydicom.dcmread(path, force=True)
    meta = getattr(ds, "file_meta", None)
    if meta is None or "TransferSyntaxUID" not in meta:
        if meta is None:
            ds.file_meta = meta = pydicom.dataset.FileMetaDataset()
        meta.TransferSyntaxUID = (pydicom.uid.ImplicitVRLittleEndian if ds.is_implicit_VR else
                                  pydicom.uid.ExplicitVRLittleEndian if ds.is_little_endian else
                                  pydicom.uid.ExplicitVRBigEndian)
    return ds


# ---- the test -------------------------------------------------------------------------------

def main():
    obia = os.environ.get("OBIA")
    if not obia or not os.access(obia, os.X_OK):
        fail("OBIA must name the obia binary")
    try:
        import numpy as np
        import pydicom
        import pydicom.data
        from pydicom.pixel_data_handlers import util
    except ImportError as e:
        skip("needs pydicom and numpy for %s (%s)" % (sys.executable, e))
    warnings.simplefilter("ignore")
    logging.getLogger("pydicom").setLevel(logging.CRITICAL)
    local = os.environ.get("OBIA_TEST_DATA", "")
    shared = os.environ.get("OBIA_SHARED_TESTDATA", "")
    if not os.path.isdir(local):
        skip("OBIA_TEST_DATA is not a folder")
    roots = [r for r in (local, shared) if r and os.path.isdir(r)]

    report = os.environ.get("OBIA_TEST_REPORT") or os.path.join(
        os.path.dirname(os.path.abspath(obia)), "test-report", "render")
    if os.path.isdir(report):
        shutil.rmtree(report)
    os.makedirs(report)
    tmp = tempfile.mkdtemp(prefix="obia-render-")

    # the command must exist and render something
    probe = os.path.join(local, CASES[0][0])
    r = subprocess.run([obia, "render", "--size", "16", "--format", "png", "--out",
                        os.path.join(tmp, "probe.png"), probe], capture_output=True, text=True)
    if r.returncode != 0:
        msg = (r.stderr or r.stdout).strip()
        if r.returncode == 2 or "not built in" in msg or "unknown command" in msg:
            skip("`obia render` is not available yet: " + msg)

    cases = []
    for rel, what, args in CASES:
        path = next((os.path.join(root, rel) for root in roots
                     if os.path.isfile(os.path.join(root, rel))), None)
        cases.append((rel, path, what, args))
    for path, what in made_files(pydicom, np, util, local, tmp):
        cases.append((os.path.basename(path), path, what, []))

    rows, failures, compared, skipped = [], [], 0, []
    for n, (rel, path, what, args) in enumerate(cases):
        if path is None:
            skipped.append("%s: not in the corpus here" % rel)
            continue
        ds = read_dataset(path, pydicom)
        ts = str(ds.file_meta.TransferSyntaxUID)
        native = ts in NATIVE_TS
        out = os.path.join(report, "obia_%02d.png" % n)
        ref_png = os.path.join(report, "ref_%02d.png" % n)
        r = subprocess.run([obia, "render", "--size", str(SIZE), "--format", "png", "--out", out]
                           + args + [path], capture_output=True, text=True)
        row = {"n": n, "rel": rel, "what": what, "args": " ".join(args), "ts": ts,
               "pi": str(ds.get("PhotometricInterpretation", ""))}
        if r.returncode != 0:
            msg = (r.stderr or r.stdout).strip()
            if native:
                failures.append("%s: obia render failed on a native file: %s" % (rel, msg))
                row["status"] = "FAIL: " + msg
            else:
                skipped.append("%s: refused (%s): %s" % (rel, ts, msg))
                row["status"] = "skipped (compressed, refused): " + msg
            rows.append(row)
            continue
        window = None
        if "--window" in args:
            c, w = args[args.index("--window") + 1].split(",")
            window = (float(c), float(w))
        bits16 = "--16bit" in args
        try:
            ref = reference(ds, window, bits16, util, np, pydicom)
        except NoPixels as e:
            skipped.append("%s: pydicom cannot decode it here: %s" % (rel, e))
            row["status"] = "skipped: pydicom cannot decode it here: %s" % e
            rows.append(row)
            continue
        except Exception as e:   # noqa: BLE001 - a reference pydicom cannot make is reported
            failures.append("%s: no reference rendering: %s" % (rel, e))
            row["status"] = "FAIL: no reference: %s" % e
            rows.append(row)
            continue
        got = read_png(out, np)
        if bits16:
            got, ref = got / 257.0, ref / 257.0
        write_png(ref_png, np.clip(np.floor(ref + 0.5), 0, 255), np)
        if bits16:   # shown at 8 bits
            write_png(out.replace(".png", "_8.png"), np.clip(np.floor(got + 0.5), 0, 255), np)
        row["obia"] = os.path.basename(out.replace(".png", "_8.png") if bits16 else out)
        row["ref"] = os.path.basename(ref_png)
        if got.shape != ref.shape:
            failures.append("%s: obia %s, reference %s" % (rel, got.shape, ref.shape))
            row["status"] = "FAIL: size %s, reference %s" % (got.shape, ref.shape)
            rows.append(row)
            continue
        diff = np.abs(got.astype(np.float64) - ref)
        mad, worst = float(diff.mean()), float(diff.max())
        row.update(mad=mad, worst=worst, size="%dx%d" % (got.shape[1], got.shape[0]))
        compared += 1
        if mad > TOLERANCE:
            failures.append("%s (%s): mean difference %.2f > %.1f (largest %.0f)"
                            % (rel, what, mad, TOLERANCE, worst))
            row["status"] = "FAIL"
        else:
            row["status"] = "ok"
        print("%-4s %-62s %-9s mean %.3f max %3.0f  %s" % (
            row["status"] if row["status"] == "ok" else "FAIL", rel[-62:], row["size"], mad, worst,
            what))
        rows.append(row)

    write_report(report, rows, skipped)
    shutil.rmtree(tmp, ignore_errors=True)
    for s in skipped:
        print("skipped: " + s)
    print("report: %s" % os.path.join(report, "index.html"))
    if failures:
        for f in failures:
            print("FAIL: " + f)
        sys.exit(1)
    if compared < MIN_COMPARED:
        fail("only %d images compared (at least %d expected)" % (compared, MIN_COMPARED))
    print("PASS: %d images agree with the pydicom reference within %.1f levels (mean)"
          % (compared, TOLERANCE))
    return 0


def write_report(folder, rows, skipped):
    e = html.escape
    parts = ["<!doctype html><meta charset=utf-8><title>obia render vs pydicom</title>",
             "<style>body{font:14px sans-serif;background:#222;color:#ddd}"
             "td{vertical-align:top;padding:6px;border-bottom:1px solid #444}"
             "img{image-rendering:pixelated;background:#000;max-width:256px}"
             ".fail{color:#f66}.ok{color:#6c6}</style>",
             "<h1>obia render vs a pydicom reference</h1>",
             "<p>Left: <code>obia render --size %d --format png</code>; right: pydicom's "
             "modality and VOI LUTs (or the automatic window), inversion, palettes and "
             "colour conversion, area-averaged in numpy. Tolerance: mean absolute "
             "difference &le; %.1f of 255.</p><table>" % (SIZE, TOLERANCE)]
    for r in rows:
        cls = "ok" if r.get("status") == "ok" else "fail"
        imgs = ""
        if "obia" in r:
            imgs = "<td><img src='%s'></td><td><img src='%s'></td>" % (r["obia"], r["ref"])
        else:
            imgs = "<td colspan=2></td>"
        stats = ("%s, mean %.3f, max %.0f" % (r["size"], r["mad"], r["worst"])) if "mad" in r else ""
        parts.append("<tr><td><b>%s</b><br>%s<br>%s %s<br><code>%s</code><br>%s<br>"
                     "<span class=%s>%s</span></td>%s</tr>" % (
                         e(r["rel"]), e(r["what"]), e(r["pi"]), e(r["ts"]), e(r["args"]),
                         e(stats), cls, e(r.get("status", "")), imgs))
    parts.append("</table>")
    if skipped:
        parts.append("<h2>Skipped</h2><ul>%s</ul>" % "".join("<li>%s</li>" % e(s) for s in skipped))
    with open(os.path.join(folder, "index.html"), "w", encoding="utf-8") as f:
        f.write("\n".join(parts))


if __name__ == "__main__":
    sys.exit(main())
