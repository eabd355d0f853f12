#!/usr/bin/python3
"""Round-trip `obia convert` output through independent DICOM readers.

For every file of the test corpus that pydicom reads (MANIFEST.tsv column
"pydicom" == "ok") and obia reads, except the deliberately malformed files
selected by SKIP_NOTES below, obia converts the file to Explicit VR Little
Endian and, when its pixel data is native (not encapsulated), also to
Implicit VR Little Endian and Deflated Explicit VR Little Endian. Each
output must have the transfer syntax asked for and pass:

  (a) pydicom 2.3 reads it without error and its to_json_dict() equals that
      of the original;
  (b) DCMTK dcmdump reads it with exit status 0 and prints no "E:" line;
  (c) DCMTK dcm2json of the output equals dcm2json of the original (skipped,
      and counted, when dcm2json fails on the original);
  (d) `obia dump --json` of the output equals that of the original.

For encapsulated files `obia convert --implicit` and `--deflated` must
refuse (exit status 1), since compressed pixel data keeps its transfer
syntax; so must DICOMDIRs, which are always Explicit VR Little Endian
(PS3.10). A DICOMDIR's records point at each other by byte offset, and the
rewrite moves them: the offsets are compared not by value but by the record
tree they describe (check (e): walked with pydicom from the root record,
record type and key attributes of every node, no dangling offset).

The comparisons ignore only what a rewrite changes by design or what a
reader cannot know, through the named rules documented below (each cites
PS3.5 / PS3.18): group lengths, File Meta, pydicom's big-endian
InlineBinary, VRs that only a data dictionary can give (Implicit VR, UN),
padding of odd-length values, and two DCMTK limits in check (c) (dcm2json
cannot print encapsulated Pixel Data, and prints FD with 15 digits). The
report counts the files each rule was needed for. Any other difference
fails, as does dcm2json failing on more than MAX_C_SKIPPED of the originals.

The whole set (~600 files, ~1550 outputs) takes about 80 s with 2 workers,
about 95 s with a sanitizer build, so it is not sampled.

Environment (set by CTest): OBIA (the obia binary), OBIA_SHARED_TESTDATA
(preferred corpus), OBIA_TEST_DATA (fallback corpus). Exit status 0 = pass,
1 = fail, 77 = skipped (no pydicom, DCMTK or corpus).
"""

import base64
import concurrent.futures
import json
import math
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
import corpus  # noqa: E402

WORKERS = 2
TRUNC = 160            # characters of a value shown in a failure
MAX_C_SKIPPED = 0.05   # dcm2json may fail on at most 5% of the originals

IMPLICIT_LE = "1.2.840.10008.1.2"
EXPLICIT_LE = "1.2.840.10008.1.2.1"
DEFLATED_LE = "1.2.840.10008.1.2.1.99"
EXPLICIT_BE = "1.2.840.10008.1.2.2"
NATIVE_TS = {IMPLICIT_LE, EXPLICIT_LE, DEFLATED_LE, EXPLICIT_BE}

# Files left out: their manifest notes say they are damaged in a way that
# has no single correct reading, so no rewrite can be compared with them.
#   truncated files (value cut short by the end of the file), a stray byte
#   before a bare dataset (every reader misaligns), J2K fragments cut short
#   without sequence delimiter, and an IS value "1A" pydicom cannot encode.
# Files whose File Meta or VRs are merely non-conformant are kept: an
# archive must rewrite them into valid files.
SKIP_NOTES = re.compile(r"truncated|stray byte|too short|invalid VR")

MODES = [("--explicit", EXPLICIT_LE), ("--implicit", IMPLICIT_LE),
         ("--deflated", DEFLATED_LE)]


# --------------------------------------------------------------------------
# Normalisation of DICOM JSON before comparing a rewrite with its original
# --------------------------------------------------------------------------
# Named rules; each hit is counted per check. A difference no rule explains
# is a failure.
#
# group-length: PS3.5 7.2 - Group Length (gggg,0000) elements are optional
#   (retired outside group 0002), and PS3.18 F.2.2 excludes them from DICOM
#   JSON; obia convert drops them by design. Removed from both sides.
# file-meta: group 0002 is the File Meta Information (PS3.10 7.1), which obia
#   convert rewrites (its own Implementation Class UID, new transfer syntax).
#   Removed from both sides.
# big-endian-inline-binary: PS3.18 F.2.7 and 8.7.3.3.1 - InlineBinary is
#   little endian, but pydicom 2.3 base64-encodes the raw big-endian bytes of
#   OW/OF/OL/OD/OV values of an Explicit VR Big Endian original, while the
#   rewrite is little endian. The original's value is byte-swapped.
# vr-from-dictionary: PS3.5 6.2.2 and A.1 - without an explicit VR (Implicit
#   VR Little Endian) a reader takes the VR from its data dictionary and
#   reports an element it does not know (most private elements) as UN; the
#   VR of a few elements depends on other elements (US or SS, OB or OW). So
#   an explicit VR that the dictionary disagrees with, or does not know, is
#   not preserved by an Implicit VR rewrite; conversely, rewriting an
#   Implicit VR original (or an explicit UN, PS3.5 6.2.2 Note) states the VR
#   obia's dictionary gives. A VR-only difference is accepted when the
#   original or the rewrite is Implicit VR, or the original's VR is UN, and
#   the value decodes to the same bytes / the same values under both VRs.
# odd-length-padding: PS3.5 7.1.1 - values have an even length; an original
#   value of odd length gets one padding byte (00H for binary VRs) in the
#   rewrite.

_SWAP_WIDTH = {"OW": 2, "OF": 4, "OL": 4, "OD": 8, "OV": 8}
_BIN_FMT = {"US": "H", "SS": "h", "UL": "I", "SL": "i", "FL": "f",
            "FD": "d", "UV": "Q", "SV": "q"}
_TEXT_VRS = {"AE", "AS", "CS", "DA", "DS", "DT", "IS", "LO", "LT", "PN",
             "SH", "ST", "TM", "UC", "UI", "UR", "UT"}
_SINGLE_VALUED = {"LT", "ST", "UT", "UR"}     # PS3.5 6.2: no backslash split
_STRIP_BOTH = {"AE", "CS", "DS", "IS"}        # PS3.5 6.2: spaces insignificant
_BYTES_VRS = {"OB", "OW", "OF", "OD", "OL", "OV", "UN", "OB or OW",
              "US or SS or OW"}


def _swap(b64, width):
    raw = base64.b64decode(b64)
    if len(raw) % width:
        return b64
    out = b"".join(raw[i:i + width][::-1] for i in range(0, len(raw), width))
    return base64.b64encode(out).decode("ascii")


def normalise(ds, hits, big_endian=False):
    """Copy of a DICOM JSON dataset without group lengths and File Meta, and
    with big-endian binary values swapped (pydicom's JSON of a big-endian
    original)."""
    out = {}
    for tag, elem in ds.items():
        if tag.endswith("0000"):
            hits.add("group-length")
            continue
        if tag.startswith("0002"):
            hits.add("file-meta")
            continue
        elem = dict(elem)
        if elem.get("vr") == "SQ" and isinstance(elem.get("Value"), list):
            elem["Value"] = [normalise(i, hits, big_endian)
                             if isinstance(i, dict) else i
                             for i in elem["Value"]]
        if big_endian and elem.get("vr") in _SWAP_WIDTH \
                and "InlineBinary" in elem:
            elem["InlineBinary"] = _swap(elem["InlineBinary"],
                                         _SWAP_WIDTH[elem["vr"]])
            hits.add("big-endian-inline-binary")
        out[tag] = elem
    return out


def _bytes(elem):
    """Little endian value bytes of a binary JSON element, else None."""
    vr = elem.get("vr")
    if "InlineBinary" in elem:
        return base64.b64decode(elem["InlineBinary"])
    vals = elem.get("Value")
    if vr in _BYTES_VRS or vr in _BIN_FMT or vr == "AT":
        if vals is None:
            return b""
    if vr in _BIN_FMT:
        try:
            return struct.pack("<%d%s" % (len(vals), _BIN_FMT[vr]), *vals)
        except (struct.error, TypeError):
            return None
    if vr == "AT":
        try:
            return b"".join(struct.pack("<HH", int(v[:4], 16), int(v[4:], 16))
                            for v in vals)
        except (ValueError, TypeError):
            return None
    return None


def _text_values(vr, vals):
    """JSON values of a text VR with insignificant spaces removed, so that
    two readers' values can be compared."""
    out = []
    for v in vals or []:
        if isinstance(v, str):
            v = v.strip(" ") if vr in _STRIP_BOTH else v.rstrip(" ")
            if vr in ("IS", "DS"):
                try:
                    v = float(v)
                except ValueError:
                    pass
        elif isinstance(v, (int, float)) and not isinstance(v, bool):
            v = float(v)
        out.append(v)
    while out and out[-1] in ("", None):   # an empty value is no value
        out.pop()
    return [None if v == "" else v for v in out]


def _decode_text(vr, raw):
    """Values of raw bytes read with text VR vr (PS3.5 6.2)."""
    try:
        s = raw.decode("utf-8")
    except UnicodeDecodeError:
        s = raw.decode("latin-1")
    s = s.rstrip("\0 ")
    if not s:
        return []
    parts = [s] if vr in _SINGLE_VALUED else s.split("\\")
    if vr == "PN":
        vals = []
        for p in parts:
            groups = dict(zip(("Alphabetic", "Ideographic", "Phonetic"),
                              p.split("=")))
            vals.append({k: g for k, g in groups.items() if g} or None)
        return vals
    return _text_values(vr, parts)


def _numbers_equal(vr, raw, vals, lossy):
    """The bytes raw, read as binary numbers of VR vr, equal the JSON numbers
    vals. FL values are compared as float32. lossy: the numbers were printed
    by DCMTK dcm2json, which writes FD with 15 significant digits."""
    fmt = _BIN_FMT[vr]
    size = struct.calcsize(fmt)
    if len(raw) % size or not isinstance(vals, list) \
            or len(raw) // size != len(vals):
        return False
    got = struct.unpack("<%d%s" % (len(vals), fmt), raw)
    for g, w in zip(got, vals):
        if not isinstance(w, (int, float)):
            return False
        if vr == "FL":
            w = struct.unpack("<f", struct.pack("<f", w))[0]
        if vr == "FD" and lossy:
            if not math.isclose(g, w, rel_tol=1e-14, abs_tol=1e-300):
                return False
        elif g != w and not (g != g and w != w):     # NaN equals NaN
            return False
    return True


def _same_value(a, b, lossy=False):
    """True if elements a and b (different VRs) hold the same value."""
    va, vb = a.get("vr"), b.get("vr")
    # A binary number VR on one side, raw bytes (UN, OB/OW) on the other.
    for x, y in ((a, b), (b, a)):
        if x.get("vr") in _BIN_FMT and "InlineBinary" in y:
            return _numbers_equal(x["vr"], base64.b64decode(y["InlineBinary"]),
                                  x.get("Value", []), lossy)
    ba, bb = _bytes(a), _bytes(b)
    if ba is not None and bb is not None:
        return ba == bb or _pad_equal(ba, bb)
    if ba is None and bb is None:
        if va in _TEXT_VRS and vb in _TEXT_VRS:
            if "PN" in (va, vb):
                return a.get("Value") == b.get("Value")
            return _text_values(va, a.get("Value")) == \
                _text_values(vb, b.get("Value"))
        return False
    # One side binary (or UN), the other text: read the bytes as that text.
    text, raw = (a, bb) if ba is None else (b, ba)
    if text.get("vr") not in _TEXT_VRS:
        return False
    got = _decode_text(text["vr"], raw)
    want = text.get("Value") or []
    if text["vr"] != "PN":
        want = _text_values(text["vr"], want)
    return got == want


def _pad_equal(orig, new):
    """odd-length-padding: new is orig plus one padding byte."""
    return len(orig) % 2 == 1 and len(new) == len(orig) + 1 \
        and new.startswith(orig) and new[-1:] in (b"\0", b" ")


# dicomdir-offsets: PS3.3 F.3.2.1 - the offset elements of a DICOMDIR hold
#   byte positions of directory records in the file; a rewrite moves the
#   records and updates the offsets, so their values are not compared here
#   but by check (e).
DICOMDIR_OFFSETS = {"00041200", "00041202", "00041400", "00041420",
                    "00041504"}


def dicomdir_tree(pydicom, path):
    """The record tree of a DICOMDIR as pydicom reads it, by following the
    offsets: list of (depth, record type, key) in walk order; a dangling
    offset appears as (depth, "DANGLING", offset)."""
    ds = pydicom.dcmread(path)
    recs = {r.seq_item_tell: r for r in ds.DirectoryRecordSequence}
    out, todo = [], [(ds.get(
        "OffsetOfTheFirstDirectoryRecordOfTheRootDirectoryEntity", 0), 0)]
    seen = set()
    while todo:
        off, depth = todo.pop()
        while off and off not in seen:
            seen.add(off)
            r = recs.get(off)
            if r is None:
                out.append((depth, "DANGLING", off))
                break
            key = next((str(r.get(k)) for k in (
                "ReferencedFileID", "PatientID", "StudyInstanceUID",
                "SeriesInstanceUID") if k in r), "")
            out.append((depth, str(r.get("DirectoryRecordType", "")), key))
            lower = r.get("OffsetOfReferencedLowerLevelDirectoryEntity", 0)
            nxt = r.get("OffsetOfTheNextDirectoryRecord", 0)
            if lower:
                todo.append((nxt, depth))
                off, depth = lower, depth + 1
            else:
                off = nxt
    return out


def diff(orig, new, hits, implicit, lossy=False, prefix=""):
    """List of (tag path, original element, rewritten element) that differ
    after the vr-from-dictionary and odd-length-padding rules. implicit: the
    original or the rewrite is Implicit VR."""
    out = []
    for tag in sorted(set(orig) | set(new)):
        a, b = orig.get(tag), new.get(tag)
        path = prefix + tag
        if a == b:
            continue
        if tag in DICOMDIR_OFFSETS and a is not None and b is not None:
            hits.add("dicomdir-offsets")
            continue
        if a is None or b is None:
            out.append((path, a, b))
            continue
        if a.get("vr") == b.get("vr") == "SQ" \
                and isinstance(a.get("Value"), list) \
                and isinstance(b.get("Value"), list) \
                and len(a["Value"]) == len(b["Value"]):
            for i, (ia, ib) in enumerate(zip(a["Value"], b["Value"])):
                out += diff(ia, ib, hits, implicit, lossy,
                            "%s[%d]." % (path, i))
            continue
        if a.get("vr") != b.get("vr"):
            # Between explicit encodings only UN -> known VR is accepted:
            # a rewrite must not turn a stated VR into UN.
            if (implicit or a.get("vr") == "UN") \
                    and _same_value(a, b, lossy):
                hits.add("vr-from-dictionary")
                continue
        elif "InlineBinary" in a and "InlineBinary" in b and _pad_equal(
                base64.b64decode(a["InlineBinary"]),
                base64.b64decode(b["InlineBinary"])):
            hits.add("odd-length-padding")
            continue
        out.append((path, a, b))
    return out


RULE_NAMES = ("group-length", "file-meta", "big-endian-inline-binary",
              "vr-from-dictionary", "odd-length-padding",
              "dcm2json-no-encapsulated-pixels", "un-sequence-resolved",
              "dicomdir-offsets")


# --------------------------------------------------------------------------
# Tools
# --------------------------------------------------------------------------

def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, **kw)


def obia_json(obia, files):
    """obia dump --json of the files: list of dicts (None where it failed)."""
    p = run([obia, "dump", "--json"] + files)
    try:
        docs = json.loads(p.stdout.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        docs = None
    if len(files) == 1 and isinstance(docs, dict):
        docs = [docs]
    if p.returncode == 0 and isinstance(docs, list) \
            and len(docs) == len(files):
        return docs
    return [obia_json(obia, [f])[0] if len(files) > 1 else None
            for f in files]


def dcm2json(path, tmp, convert_un=False):
    """(JSON, "", notes) of DCMTK dcm2json, or (None, error, notes).

    DCMTK 3.6.7 dcm2json refuses encapsulated Pixel Data ("JSON InlineBinary
    encoding not supported for compressed pixel data"); then PixelData is
    removed with dcmodify from a copy and the rest compared (note
    "dcm2json-no-encapsulated-pixels"; pixel data is still compared by (a)
    and (d)). With convert_un the file is first re-read by dcmconv +uc,
    which gives UN elements their dictionary VR (note
    "un-sequence-resolved")."""
    notes = set()
    work = os.path.join(tmp, "dcmtk-%d-%s" % (threading.get_ident(),
                                              os.path.basename(path)))
    src = path
    try:
        if convert_un:
            q = run(["dcmconv", "+uc", path, work])
            if q.returncode != 0:
                return None, "dcmconv +uc: " + q.stderr.decode(
                    "utf-8", "replace").strip(), notes
            src = work
            notes.add("un-sequence-resolved")
        p = run(["dcm2json", "-fc", "-ee", src])
        if p.returncode != 0 and b"compressed pixel data" in p.stderr:
            if src != work:
                shutil.copyfile(path, work)
                src = work
            q = run(["dcmodify", "-nb", "-ea", "(7fe0,0010)", work])
            if q.returncode == 0:
                p = run(["dcm2json", "-fc", "-ee", work])
                notes.add("dcm2json-no-encapsulated-pixels")
    finally:
        if os.path.exists(work):
            os.unlink(work)
    if p.returncode != 0:
        return None, p.stderr.decode("utf-8", "replace").strip(), notes
    try:
        return json.loads(p.stdout.decode("utf-8")), "", notes
    except (UnicodeDecodeError, ValueError) as e:
        return None, "dcm2json output: %s" % e, notes


def dcmdump_errors(path):
    p = run(["dcmdump", "-M", path])
    err = p.stdout.decode("utf-8", "replace") + \
        p.stderr.decode("utf-8", "replace")
    lines = [l for l in err.splitlines() if l.startswith("E:")]
    if p.returncode != 0:
        lines.insert(0, "exit status %d" % p.returncode)
    return lines


_py_lock = threading.Lock()


def pydicom_json(pydicom, path):
    """(JSON dict, transfer syntax UID, implicit VR?) of a file read by
    pydicom; raises if pydicom cannot read it."""
    ds = pydicom.dcmread(path, force=True)
    ts = str(getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", ""))
    return ds.to_json_dict(), ts, bool(ds.is_implicit_VR)


def short(v):
    s = "<absent>" if v is None else json.dumps(v, ensure_ascii=False)
    return s if len(s) <= TRUNC else s[:TRUNC] + "..."


# --------------------------------------------------------------------------
# One file
# --------------------------------------------------------------------------

class Result:
    def __init__(self, path):
        self.path = path
        self.outputs = 0
        self.passed = {"a": 0, "b": 0, "c": 0, "d": 0, "e": 0}
        self.dicomdirs = 0
        self.c_skipped = ""      # why check (c) was skipped
        self.refused_ok = 0
        self.unreadable = False  # obia cannot read the original
        self.failures = []       # (check, output, message or diff tuple)
        self.hits = {"a": set(), "c": set(), "d": set()}


def compare(res, check, opt, orig, new, hits, implicit):
    # dcm2json (check c) prints FD values with 15 significant digits.
    d = diff(orig, new, hits, implicit, lossy=(check == "c"))
    if d:
        res.failures += [(check, opt, x) for x in d]
    else:
        res.passed[check] += 1


def check_file(ctx, row):
    obia, pydicom, root, tmp = ctx["obia"], ctx["pydicom"], ctx["root"], \
        ctx["tmp"]
    path = row["path"]
    src = os.path.join(root, path)
    res = Result(path)
    stem = re.sub(r"[^A-Za-z0-9_.-]", "_", path)

    # Only files obia reads are rewritten (obia failing to read a file that
    # pydicom reads is crosscheck_pydicom's business); they are listed.
    orig_obia = obia_json(obia, [src])[0]
    if orig_obia is None:
        res.unreadable = True
        return res

    # The original as pydicom reads it (for check (a)), and whether its pixel
    # data is encapsulated: Pixel Data in a compressed transfer syntax.
    hits_a = set()
    with _py_lock:
        try:
            pj, ots, orig_implicit = pydicom_json(pydicom, src)
            orig_py = normalise(pj, hits_a, big_endian=(ots == EXPLICIT_BE))
        except Exception as e:
            orig_py, orig_implicit = None, False
            ots = row.get("ts_uid", "")
            pj = {"7FE00010": {}}
            res.failures.append(("a", "original", "pydicom: %r" % e))
    native = ots in NATIVE_TS or not ots.startswith("1.2.840.10008.1.2") \
        or "7FE00010" not in pj
    dicomdir = "00041220" in pj

    outputs = []
    for opt, want_ts in MODES:
        out = os.path.join(tmp, "%s%s.dcm" % (stem, opt))
        p = run([obia, "convert", opt, src, out])
        if (not native or dicomdir) and opt != "--explicit":
            # Encapsulated pixel data keeps its transfer syntax, and a
            # DICOMDIR is Explicit VR Little Endian: refused.
            if p.returncode == 1 and not os.path.exists(out):
                res.refused_ok += 1
            else:
                res.failures.append(("convert", opt, "expected refusal, got "
                                     "exit %d" % p.returncode))
            continue
        if p.returncode != 0:
            res.failures.append(("convert", opt, p.stderr.decode(
                "utf-8", "replace").strip()))
            continue
        outputs.append((opt, out, want_ts == IMPLICIT_LE))
    res.outputs = len(outputs)
    if not outputs:
        return res

    # (a) pydicom reads each output; its JSON equals the original's.
    hits = hits_a
    # The output's transfer syntax must be the one asked for (encapsulated
    # pixel data keeps the original's).
    news = []
    with _py_lock:
        for opt, out, _ in outputs:
            try:
                nj, nts, _ = pydicom_json(pydicom, out)
            except Exception as e:
                news.append((None, "pydicom cannot read: %r" % e))
                continue
            want = dict(MODES)[opt] if native else ots
            if nts != want:
                news.append((None, "transfer syntax %s, expected %s"
                             % (nts, want)))
                continue
            news.append((nj, ""))
    for (opt, out, implicit), (new, err) in zip(outputs, news):
        if orig_py is None:
            continue
        if new is None:
            res.failures.append(("a", opt, err))
            continue
        compare(res, "a", opt, orig_py, normalise(new, hits), hits,
                implicit or orig_implicit)
    res.hits["a"] |= hits

    # (b) dcmdump reads each output without errors.
    for opt, out, _ in outputs:
        errs = dcmdump_errors(out)
        if errs:
            res.failures.append(("b", opt, "; ".join(errs[:3])))
        else:
            res.passed["b"] += 1

    # (c) dcm2json of each output equals that of the original.
    hits = set()
    orig_dj, err, notes = dcm2json(src, tmp)
    orig_un = None
    if orig_dj is None:
        res.c_skipped = err.splitlines()[-1] if err else "failed"
    else:
        hits |= notes
        orig_dj = normalise(orig_dj, hits)
        for opt, out, implicit in outputs:
            new, err, notes = dcm2json(out, tmp)
            if new is None:
                res.failures.append(("c", opt, "dcm2json failed: " + err))
                continue
            hits |= notes
            new = normalise(new, hits)
            orig = orig_dj
            if any(a and b and a.get("vr") == "UN" and b.get("vr") == "SQ"
                   for _, a, b in diff(orig_dj, new, set(), True)):
                # un-sequence-resolved: PS3.5 6.2.2 - a UN element whose
                # dictionary VR is SQ holds an Implicit VR Little Endian
                # sequence, which obia rewrites as SQ; DCMTK keeps UN unless
                # told (+uc), so compare with the original read that way.
                if orig_un is None:
                    orig_un, err, notes = dcm2json(src, tmp, convert_un=True)
                    if orig_un is not None:
                        hits |= notes
                        orig_un = normalise(orig_un, hits)
                orig = orig_un or orig_dj
            compare(res, "c", opt, orig, new, hits, implicit or orig_implicit)
    res.hits["c"] |= hits

    # (e) a DICOMDIR's offsets describe the same record tree.
    if dicomdir:
        with _py_lock:
            try:
                want = dicomdir_tree(pydicom, src)
            except Exception as e:
                want = None
                res.failures.append(("e", "original", "pydicom: %r" % e))
            for opt, out, _ in outputs:
                if want is None:
                    break
                try:
                    got = dicomdir_tree(pydicom, out)
                except Exception as e:
                    res.failures.append(("e", opt, "pydicom: %r" % e))
                    continue
                bad = [n for n in got if n[1] == "DANGLING"]
                if got != want or bad:
                    res.failures.append(("e", opt, "record tree differs: %d "
                                         "records vs %d, %d dangling"
                                         % (len(got), len(want), len(bad))))
                else:
                    res.passed["e"] += 1
                    res.dicomdirs += 1

    # (d) obia reads its own output like the original.
    hits = set()
    docs = obia_json(obia, [o for _, o, _ in outputs])
    orig_obia = normalise(orig_obia, hits)
    for (opt, out, implicit), doc in zip(outputs, docs):
        if doc is None:
            res.failures.append(("d", opt, "obia dump --json failed"))
            continue
        compare(res, "d", opt, orig_obia, normalise(doc, hits), hits,
                implicit or orig_implicit)
    res.hits["d"] |= hits

    for _, out, _ in outputs:
        os.unlink(out)
    return res


# --------------------------------------------------------------------------

def main():
    obia, pydicom = corpus.obia_and_pydicom()
    for tool in ("dcmdump", "dcm2json", "dcmodify", "dcmconv"):
        if not shutil.which(tool):
            print("SKIP: DCMTK %s not found" % tool)
            return 77

    root = corpus.require_root()

    rows = corpus.manifest(root, pydicom="ok")
    skipped = [r for r in rows if SKIP_NOTES.search(r.get("notes", ""))]
    rows = [r for r in rows if not SKIP_NOTES.search(r.get("notes", ""))]
    print("corpus: %s, %d files (%d malformed files left out)"
          % (root, len(rows), len(skipped)))
    for r in skipped:
        print("    left out: %s (%s)" % (r["path"], r["notes"]))

    t0 = time.time()
    with tempfile.TemporaryDirectory(prefix="obia-roundtrip-") as tmp:
        ctx = {"obia": obia, "pydicom": pydicom, "root": root, "tmp": tmp}
        with concurrent.futures.ThreadPoolExecutor(WORKERS) as pool:
            results = list(pool.map(lambda r: check_file(ctx, r), rows))

    for r in results:
        if r.unreadable:
            print("not rewritten, obia cannot read it: %s" % r.path)
    results = [r for r in results if not r.unreadable]
    outputs = sum(r.outputs for r in results)
    print("files: %d, outputs: %d, refused as expected (encapsulated "
          "--implicit/--deflated): %d, %.0f s"
          % (len(results), outputs, sum(r.refused_ok for r in results),
             time.time() - t0))
    names = {"a": "pydicom reads, JSON equal",
             "b": "dcmdump reads, no E: lines",
             "c": "dcm2json equal",
             "d": "obia dump --json equal"}
    for k in "abcd":
        print("  (%s) %-28s %4d of %d outputs" %
              (k, names[k], sum(r.passed[k] for r in results), outputs))
    print("  (e) %-28s %4d DICOMDIRs" % ("record tree kept",
                                          sum(r.passed["e"] for r in results)))
    c_skipped = [r for r in results if r.c_skipped]
    print("  (c) skipped, dcm2json fails on the original: %d files"
          % len(c_skipped))
    for r in c_skipped:
        print("        %s: %s" % (r.path, r.c_skipped[:120]))
    for k in "acd":
        for rule in RULE_NAMES:
            n = sum(1 for r in results if rule in r.hits[k])
            if n:
                print("  (%s) rule %-32s used for %4d files" % (k, rule, n))

    # Failures, grouped by check and kind, most files first, with examples.
    groups = {}
    for r in results:
        for check, opt, what in r.failures:
            if isinstance(what, tuple):
                path, a, b = what
                kind = "%s -> %s" % (a.get("vr") if a else "absent",
                                     b.get("vr") if b else "absent")
                ex = "%s %s %s\n        original:  %s\n        rewritten: %s" \
                    % (r.path, opt, path, short(a), short(b))
            else:
                kind = re.sub(r"\d+", "N", what)[:70]
                ex = "%s %s: %s" % (r.path, opt, what[:300])
            g = groups.setdefault((check, kind), [set(), 0, []])
            g[0].add(r.path)
            g[1] += 1
            if len(g[2]) < 3 and not any(e.startswith(r.path + " ")
                                         for e in g[2]):
                g[2].append(ex)
    for (check, kind), (files, n, exs) in sorted(
            groups.items(), key=lambda kv: (-len(kv[1][0]), kv[0])):
        print("FAIL (%s) %s: %d files, %d failures" % (check, kind,
                                                         len(files), n))
        for e in exs:
            print("    " + e)
    bad = [r.path for r in results if r.failures]
    print("files with failures: %d" % len(bad))
    ok = not bad
    if len(c_skipped) > MAX_C_SKIPPED * len(results):
        print("FAIL: dcm2json failed on %d of %d originals"
              % (len(c_skipped), len(results)))
        ok = False
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
