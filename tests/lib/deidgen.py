"""Shared code of the `obia deid` integration tests (deid_leak.py,
deid_retention.py).

- Tables: PS3.15 Table E.1-1 (annex_e.tsv), the safe private attributes
  (safe_private.tsv), the CID 7050 codes (deid_method_codes.tsv), the data
  dictionary and, when it exists, obia's data/safe_attributes.tsv; with
  obia_kind(), what the default `obia` profile does to a public attribute.
- walk(): every element of a pydicom dataset with its path, written like the
  tags of deid-report.jsonl ("00081115[0].0020000E").
- save(): write a pydicom dataset in a given transfer syntax, byte-swapping
  OW/OF/OL/OD/OV values when the byte order changes.
- run_deid() and read_report(): run `obia deid` and read its report.
- dataset_bytes(): the bytes of a DICOM file with a deflated dataset
  inflated, so that text can be searched in them.

Only /usr/bin/python3 with pydicom 2.3 is assumed.
"""

import array
import csv
import datetime
import json
import os
import re
import struct
import subprocess
import zlib

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                    "..", ".."))

IMPLICIT_LE = "1.2.840.10008.1.2"
EXPLICIT_LE = "1.2.840.10008.1.2.1"
DEFLATED_LE = "1.2.840.10008.1.2.1.99"
EXPLICIT_BE = "1.2.840.10008.1.2.2"
NATIVE_TS = (EXPLICIT_LE, IMPLICIT_LE, EXPLICIT_BE, DEFLATED_LE)
TS_NAMES = {IMPLICIT_LE: "implicit LE", EXPLICIT_LE: "explicit LE",
            DEFLATED_LE: "deflated", EXPLICIT_BE: "explicit BE"}

TEXT_VRS = {"AE", "CS", "LO", "LT", "PN", "SH", "ST", "UC", "UR", "UT"}
SWAP_WIDTH = {"OW": 2, "OF": 4, "OL": 4, "OD": 8, "OV": 8}

# The option columns of Table E.1-1 that the default `obia` profile switches
# on (docs/deid.md); Clean Pixel Data has no column.
OBIA_OPTION_COLUMNS = ("rtn_safe_private", "rtn_device_identity",
                       "rtn_patient_characteristics",
                       "rtn_long_modified_dates", "clean_descriptors")
# CID 7050 codes the default profile must put in
# DeidentificationMethodCodeSequence: the profile and its six options.
OBIA_METHOD_CODES = ("113100", "113101", "113105", "113107", "113108",
                     "113109", "113111")

# Sources of the shared tables, first found wins: the shared material next
# to the shared corpus, then copies inside the repository.
_TABLE_DIRS = []


def _table_dirs():
    if not _TABLE_DIRS:
        shared = os.environ.get("OBIA_SHARED_TESTDATA", "")
        if shared:
            _TABLE_DIRS.append(os.path.join(
                os.path.dirname(os.path.abspath(shared)), "deid"))
        _TABLE_DIRS.extend([os.path.join(REPO, "..", "shared", "deid"),
                            os.path.join(REPO, "data", "deid"),
                            os.path.join(REPO, "data")])
    return _TABLE_DIRS


def find_table(name):
    for d in _table_dirs():
        p = os.path.join(d, name)
        if os.path.isfile(p):
            return os.path.abspath(p)
    return None


def read_tsv(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f, delimiter="\t"))


_TAG_RE = re.compile(r"^\(?([0-9A-Fa-f]{4}),?([0-9A-Fa-f]{4})\)?$")


def parse_tag(text):
    """'0010,0010', '(0010,0010)' or '00100010' -> int; None otherwise."""
    m = _TAG_RE.match(text.strip())
    if not m:
        return None
    return int(m.group(1) + m.group(2), 16)


def tag_str(tag):
    return "%08X" % int(tag)


class Tables:
    """The standard's tables as used by the tests. Raises OSError naming
    the missing file when a required table cannot be found."""

    def __init__(self):
        need = {}
        for name in ("annex_e.tsv", "safe_private.tsv",
                     "deid_method_codes.tsv"):
            need[name] = find_table(name)
            if need[name] is None:
                raise OSError("%s not found in %s"
                              % (name, ", ".join(_table_dirs())))
        self.paths = dict(need)

        self.annex = {}          # tag -> row
        self.annex_masks = []    # (mask, value, row) for 60xx,4000 etc.
        for row in read_tsv(need["annex_e.tsv"]):
            t = row["tag"]
            if t == "gggg,eeee":
                continue
            tag = parse_tag(t)
            if tag is not None:
                self.annex[tag] = row
                continue
            hexdigits = t.replace(",", "")
            mask = int("".join("0" if c in "xX" else "F"
                               for c in hexdigits), 16)
            value = int("".join("0" if c in "xX" else c
                                for c in hexdigits), 16)
            self.annex_masks.append((mask, value, row))

        self.safe_private = {}   # (group, creator, low byte) -> row
        for row in read_tsv(need["safe_private.tsv"]):
            g, e = row["tag"].split(",")
            key = (int(g, 16), row["private_creator"].strip(),
                   int(e[2:], 16))
            self.safe_private[key] = row

        self.codes = {r["code_value"]: r
                      for r in read_tsv(need["deid_method_codes.tsv"])}

        self.dictionary = {}     # tag -> (vr, keyword)
        dpath = os.path.join(REPO, "data", "dictionary.tsv")
        if not os.path.isfile(dpath):
            dpath = os.path.join(os.path.dirname(need["annex_e.tsv"]), "..",
                                 "dicom", "dictionary.tsv")
        for row in read_tsv(dpath):
            tag = parse_tag(row["tag"])
            if tag is not None:
                self.dictionary[tag] = (row["vr"], row["keyword"])

        # obia's list of public attributes kept although not in Annex E.
        self.safe_attributes_path = os.path.join(REPO, "data",
                                                 "safe_attributes.tsv")
        self.safe_attributes = set()
        if os.path.isfile(self.safe_attributes_path):
            with open(self.safe_attributes_path, encoding="utf-8") as f:
                for line in f:
                    if line.startswith("#") or not line.strip():
                        continue
                    tag = parse_tag(line.split("\t")[0])
                    if tag is not None:
                        self.safe_attributes.add(tag)
        else:
            self.safe_attributes_path = None

    def annex_row(self, tag):
        tag = int(tag)
        row = self.annex.get(tag)
        if row is not None:
            return row
        for mask, value, r in self.annex_masks:
            if tag & mask == value:
                return r
        return None

    def obia_kind(self, tag):
        """What the default obia profile does to a public attribute, from
        Table E.1-1: None (not in the table), "keep" (an enabled option
        says K), "shift" (Retain Modified Dates says C: dates shifted,
        times kept), "clean" (another enabled option says C: cleaned) or
        "remove" (the basic profile's X/Z/D/U: the original value must
        not survive)."""
        row = self.annex_row(tag)
        if row is None:
            return None
        opts = [row[c] for c in OBIA_OPTION_COLUMNS]
        if "K" in opts:
            return "keep"
        if row["rtn_long_modified_dates"] == "C":
            return "shift"
        if "C" in opts:
            return "clean"
        return "remove"

    def keyword(self, tag):
        return self.dictionary.get(int(tag), ("", ""))[1]

    def vr(self, tag):
        return self.dictionary.get(int(tag), ("", ""))[0]

    def is_safe_private(self, group, creator, elem_low):
        return (group, (creator or "").strip(), elem_low) in self.safe_private


# --------------------------------------------------------------------------
# Datasets
# --------------------------------------------------------------------------

def private_creator(ds, tag):
    """The Private Creator string of private element `tag` in dataset `ds`
    (the item it is in), or None."""
    tag = int(tag)
    group, elem = tag >> 16, tag & 0xFFFF
    if elem < 0x1000:
        return None
    ctag = (group << 16) | (elem >> 8)
    if ctag not in ds:
        return None
    v = ds[ctag].value
    if isinstance(v, bytes):
        v = v.decode("latin-1")
    return str(v).strip() if v is not None else None


def creator_block(ds, group, creator):
    """The block byte (0x10-0xFF) creator reserved in group of ds, or None."""
    for blk in range(0x10, 0x100):
        ctag = (group << 16) | blk
        if ctag in ds:
            v = ds[ctag].value
            if isinstance(v, bytes):
                v = v.decode("latin-1")
            if str(v).strip() == creator:
                return blk
    return None


def find_private(ds, group, creator, elem_low):
    """The private element (group, creator, elem_low) of ds, wherever its
    block was reserved, or None."""
    blk = creator_block(ds, group, creator)
    if blk is None:
        return None
    tag = (group << 16) | (blk << 8) | elem_low
    return ds[tag] if tag in ds else None


def creator_present(ds, group, creator):
    return creator_block(ds, group, creator) is not None


def walk(ds, prefix=""):
    """Yield (path, dataset holding the element, element) for every element
    of ds, depth first, sequences before their items' contents. Paths are
    written like the report's tags: "00081115[0].0020000E"."""
    for elem in list(ds):
        path = prefix + tag_str(elem.tag)
        yield path, ds, elem
        if elem.VR == "SQ" and elem.value is not None:
            for i, item in enumerate(elem.value):
                yield from walk(item, "%s[%d]." % (path, i))


def values_of(elem):
    """The element's values as a list of strings (for text-like VRs)."""
    v = elem.value
    if v is None:
        return []
    if isinstance(v, (list, tuple)) or type(v).__name__ == "MultiValue":
        return [str(x) for x in v]
    if isinstance(v, bytes):
        return [v.decode("latin-1")]
    return [str(v)]


def swap_bytes(data, width):
    if len(data) % width:
        return data
    if width == 2:
        a = array.array("H")
    elif width == 4:
        a = array.array("I" if array.array("I").itemsize == 4 else "L")
    else:
        a = array.array("Q")
    a.frombytes(data)
    a.byteswap()
    return a.tobytes()


def save(ds, path, ts):
    """Write ds to path with transfer syntax ts (a native one, or the
    encapsulated transfer syntax it already has). OW/OF/OL/OD/OV values are
    byte-swapped when the byte order changes; the caller must not convert a
    dataset read with Implicit VR to big endian (its OB-or-OW values have no
    known width)."""
    import pydicom
    from pydicom.uid import UID
    src_little = ds.is_little_endian if ds.is_little_endian is not None \
        else True
    ts = UID(ts)
    # Convert every raw element with its own byte order first.
    for _ in ds.iterall():
        pass
    if ts in NATIVE_TS:
        target_little = ts != EXPLICIT_BE
        target_implicit = ts == IMPLICIT_LE
    else:
        target_little, target_implicit = True, False
    if src_little != target_little:
        for _p, _d, elem in walk(ds):
            w = SWAP_WIDTH.get(elem.VR)
            if w and isinstance(elem.value, bytes):
                elem.value = swap_bytes(elem.value, w)
    ds.file_meta.TransferSyntaxUID = ts
    ds.is_little_endian = target_little
    ds.is_implicit_VR = target_implicit
    pydicom.dcmwrite(path, ds, write_like_original=False)


# --------------------------------------------------------------------------
# Files
# --------------------------------------------------------------------------

def dataset_bytes(path):
    """The bytes of a DICOM file with a deflated dataset inflated (File Meta
    followed by the inflated dataset); other files as they are."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 144 or data[128:132] != b"DICM":
        return data
    # File Meta: explicit VR little endian, group 0002 elements.
    pos, ts = 132, None
    while pos + 8 <= len(data):
        group, elem = struct.unpack_from("<HH", data, pos)
        if group != 2:
            break
        vr = data[pos + 4:pos + 6]
        if vr in (b"OB", b"OW", b"UN", b"SQ", b"UT", b"UC", b"UR", b"OF"):
            (length,) = struct.unpack_from("<I", data, pos + 8)
            head = 12
        else:
            (length,) = struct.unpack_from("<H", data, pos + 6)
            head = 8
        if elem == 0x0010:
            ts = data[pos + head:pos + head + length].rstrip(b"\0 ")
        pos += head + length
    if ts == DEFLATED_LE.encode():
        try:
            return data[:pos] + zlib.decompressobj(-15).decompress(data[pos:])
        except zlib.error:
            return data
    return data


def deid_available(obia):
    """True when the obia binary has the deid command."""
    if not obia or not os.access(obia, os.X_OK):
        return False
    p = subprocess.run([obia, "help", "deid"], capture_output=True)
    return p.returncode == 0


def run_deid(obia, out, keys, paths, extra=(), timeout=300):
    """Run `obia deid --out OUT --keys KEYS [extra] PATHS...`; return the
    CompletedProcess."""
    cmd = [obia, "deid", "--out", out, "--keys", keys] + list(extra) \
        + list(paths)
    return subprocess.run(cmd, capture_output=True, timeout=timeout)


def read_report(path):
    """The report's objects, in order; raises ValueError naming the line
    that is not a JSON object."""
    out = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except ValueError as e:
                raise ValueError("%s line %d is not JSON: %s" % (path, n, e))
            if not isinstance(obj, dict):
                raise ValueError("%s line %d is not a JSON object"
                                 % (path, n))
            out.append(obj)
    return out


def report_by_input(report):
    """{realpath of input: entry} for the report's entries."""
    return {os.path.realpath(e.get("input", "")): e for e in report}


def parse_da(text):
    """'YYYYMMDD' -> date, None if not a date."""
    text = (text or "").strip()
    if len(text) < 8 or not text[:8].isdigit():
        return None
    try:
        return datetime.date(int(text[:4]), int(text[4:6]), int(text[6:8]))
    except ValueError:
        return None


def files_under(root):
    """Every regular file under root, sorted, as paths."""
    found = []
    for d, _dirs, files in os.walk(root):
        for f in files:
            found.append(os.path.join(d, f))
    return sorted(found)


def counter_str(c):
    return ", ".join("%s %d" % (k, v) for k, v in sorted(c.items()))

