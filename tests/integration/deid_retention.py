#!/usr/bin/python3
"""What the default `obia deid` profile keeps is kept, and its outputs are
valid DICOM.

Inputs: a generated patient P1 with a three-instance CT series (A, B, C in
one study and series, C referencing A through Referenced Image Sequence,
all sharing a Frame of Reference) and a second study 37 days later (D,
Implicit VR); a generated patient P2 (E, Explicit VR Big Endian); and real
files of several modalities and transfer syntaxes (REAL_FILES, those
present in the corpus). Real files are given to obia unchanged. The files
obia flags (burned-in text) are listed and not checked further; at least
MIN_REAL_WRITTEN real files must be written.

Checked for every output (FAIL line per problem):
  - retained unchanged when in the input: Patient's Sex, Age, Size and
    Weight (Retain Patient Characteristics), Manufacturer, Manufacturer's
    Model Name, Device Serial Number, Software Versions, Station Name
    (Retain Device Identity where Table E.1-1 says K there; the others are
    not in Table E.1-1 and are kept as safe attributes);
  - safe private elements (safe_private.tsv) of the input kept unchanged,
    wherever their block lands;
  - Pixel Data identical: bytes for native little endian inputs, OW words
    byte-swapped for big endian ones, fragments (without the Basic Offset
    Table) for encapsulated ones;
  - new SOP Instance UID, Media Storage SOP Instance UID equal to it, SOP
    Class UID kept, transfer syntax the input's if encapsulated, else
    Explicit VR Little Endian (`obia help deid`); Patient ID == Patient's
    Name == the report's individual (I + 6 digits), file at
    INDIVIDUAL/STUDY/SERIES/SOP.dcm;
  - Patient Identity Removed YES, De-identification Method present, its
    Code Sequence holding DCM 113100 and the codes of the six options
    (meanings as in deid_method_codes.tsv) and none of the options that are
    off; Longitudinal Temporal Information Modified MODIFIED;
  - pydicom 2.3 reads it without force, DCMTK dcmdump exits 0 without "E:"
    lines; for the real files in native transfer syntaxes (dciodvfy reads
    no deflated data) and the generated A, dciodvfy reports no "Error" line
    it did not report for the input (messages compared with numbers, tags
    and quoted values normalised).
Generated files only:
  - A without Patient's Age gets it from birth date and study date (045Y);
  - private: a safe DS and a safe LO (GEMS_ACQU_01) and a safe FL (Philips
    Imaging DD 001) kept, also from Implicit VR (D); under an unknown
    creator "12.5\\3" (LO), 7.25 (DS) and 42 (IS) kept, "hello" removed; a
    creator whose only element is removed is removed too;
  - A, B, C share one new Study, Series and Frame of Reference UID, none
    equal to the original; C's reference names A's new SOP Instance UID;
    D has another study UID; P1's files share one individual, P2 another;
  - every date of P1's files is shifted by one non-zero offset, so D stays
    37 days after A; Study Time kept.
Repeatability: a second run with the same keys file into another folder
gives the same output paths, UIDs, pseudonyms and dates; a run with another
keys file gives other UIDs. Both keys files are created with mode 0600
(umask 022 while obia runs).

Environment (set by CTest): OBIA (the obia binary), OBIA_SHARED_TESTDATA
(preferred corpus), OBIA_TEST_DATA (fallback). Exit status 0 = pass, 1 =
fail (also when `obia deid` does not exist), 77 = skipped (no pydicom,
DCMTK, dciodvfy, corpus or PS3.15 tables). OBIA_KEEP_TMP=1 keeps the
inputs and outputs for inspection.
"""

import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
import corpus  # noqa: E402
import deidgen as dg  # noqa: E402

# Real files, in order of preference: a later file with the SOP Instance
# UID of an earlier one (the same image in another transfer syntax) is left
# out, since both would be written to the same path.
REAL_FILES = (
    "deb-python3-pydicom/test_files/CT_small.dcm",       # GE safe private
    "deb-dicom3tools/0051.dcm",                          # Siemens MR
    "deb-python3-nibabel/0.dcm",                         # MR, Implicit VR
    "deb-python3-pydicom/test_files/MR_small.dcm",       # DERIVED
    "deb-python3-pydicom/test_files/rtdose_expb_1frame.dcm",  # big endian
    "deb-python3-pydicom/test_files/rtdose_1frame.dcm",  # Implicit VR
    "gh-rt-utils/mock_data/rt.dcm",                      # RTSTRUCT, implicit
    "gh-suyashkumar-dicom/2.dcm",                        # PT
    "gh-dcmqi/sr-example/rwvm.dcm",                      # no pixel data
    "gh-highdicom/sm_image_grayscale.dcm",               # SM
    "gh-dicomParser/deflate/wave_dfl",                   # deflated ECG
    "gh-dicomParser/encapsulated/multi-frame/"
    "CT0012.fragmented_no_bot_jpeg_lossless.57.dcm",     # encapsulated
    "gh-dicomParser/encapsulated/single-frame/"
    "CT1_UNC.fragmented_bot_jpeg_ls.80.dcm",             # JPEG-LS with BOT
    "gh-pydicom-data/693_J2KR.dcm",                      # JPEG 2000
)
MIN_REAL_WRITTEN = 4

RETAINED = ("PatientSex", "PatientAge", "PatientSize", "PatientWeight",
            "Manufacturer", "ManufacturerModelName", "DeviceSerialNumber",
            "SoftwareVersions", "StationName")
OFF_OPTION_CODES = ("113102", "113103", "113104", "113106", "113110",
                    "113112")

CT_CLASS = "1.2.840.10008.5.1.4.1.1.2"
ROOT = "1.2.826.0.1.3680043.10.1235."
UIDS = {k: ROOT + str(n) for n, k in enumerate(
    ("study1", "series1", "for1", "A", "B", "C", "study2", "series2", "D",
     "study3", "series3", "E"), 1)}

P1 = dict(PatientName="Roe^Jane", PatientID="RET-P1", IssuerOfPatientID="H1",
          PatientBirthDate="19730910", PatientSex="F", PatientSize="1.68",
          PatientWeight="61.5")
P2 = dict(PatientName="Poe^Edgar", PatientID="RET-P2",
          IssuerOfPatientID="H1", PatientBirthDate="19500119",
          PatientSex="M", PatientAge="070Y", PatientSize="1.80",
          PatientWeight="80")
DEVICE = dict(Manufacturer="ACME Medical", ManufacturerModelName="Scan 3000",
              DeviceSerialNumber="SN-4711", SoftwareVersions=["1.2", "3.4b"],
              StationName="CT-ROOM-2")

SAFE_PRIVATE = (  # group, creator, element, VR, value: kept (safe list)
    (0x0019, "GEMS_ACQU_01", 0x23, "DS", "12.5"),
    (0x0019, "GEMS_ACQU_01", 0x9E, "LO", "FIESTA"),
    (0x2001, "Philips Imaging DD 001", 0x03, "FL", 1000.0),
)
NUM_CREATOR = "OBIA RETENTION NUMERIC"
TXT_CREATOR = "OBIA RETENTION TEXT"
NUMERIC_PRIVATE = (  # under an unknown creator: (element, VR, value, kept)
    (0x01, "LO", "12.5\\3", True),
    (0x02, "DS", "7.25", True),
    (0x03, "IS", "42", True),
    (0x04, "LO", "hello", False),
)

DCIODVFY_NORMALISE = (
    (re.compile(r"\(0x[0-9a-fA-F]{4},\s*0x[0-9a-fA-F]{4}\)"), "(tag)"),
    (re.compile(r"0x[0-9a-fA-F]+"), "#"),
    (re.compile(r"\d+"), "#"),
    (re.compile(r"<[^<>]*=[^<>]*>"), "<...>"),
    (re.compile(r"\"[^\"]*\"|'[^']*'"), "''"),
    (re.compile(r"\s+"), " "),
)

FAILURES = []


def fail(msg):
    FAILURES.append(msg)
    print("FAIL: " + msg)


def val(ds, kw):
    """The value of keyword kw (or tag) in ds as compared, None if absent."""
    if ds is None or kw not in ds:
        return None
    el = ds.data_element(kw) if isinstance(kw, str) else ds[kw]
    return text(el.value)


def text(v):
    """A value as compared: multi-values joined by backslash, trailing
    padding removed."""
    if v is None:
        return None
    if isinstance(v, (list, tuple)) or type(v).__name__ == "MultiValue":
        return "\\".join(str(x).strip() for x in v)
    if isinstance(v, bytes):
        return v.rstrip(b"\0 ").decode("latin-1")
    return str(v).strip()


# --------------------------------------------------------------------------
# Generated inputs
# --------------------------------------------------------------------------

def image(patient, study, series, sop, study_date, study_time, pixel_seed):
    from pydicom.dataset import Dataset, FileMetaDataset
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = CT_CLASS
    ds.file_meta.MediaStorageSOPInstanceUID = sop
    ds.file_meta.TransferSyntaxUID = dg.EXPLICIT_LE
    ds.is_little_endian, ds.is_implicit_VR = True, False
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
    ds.SOPClassUID = CT_CLASS
    ds.SOPInstanceUID = sop
    ds.StudyDate = ds.SeriesDate = ds.ContentDate = study_date
    ds.AcquisitionDate = study_date
    ds.StudyTime = study_time
    ds.SeriesTime = ds.ContentTime = study_time
    ds.AccessionNumber = "ACC" + study_date
    ds.Modality = "CT"
    ds.ReferringPhysicianName = "Who^Doctor"
    ds.InstitutionName = "General Hospital"
    for k, v in DEVICE.items():
        setattr(ds, k, v)
    ds.StudyDescription = "CT head"
    ds.SeriesDescription = "axial"
    for k, v in patient.items():
        setattr(ds, k, v)
    ds.BodyPartExamined = "HEAD"
    ds.SliceThickness = "5"
    ds.KVP = "120"
    ds.StudyInstanceUID = study
    ds.SeriesInstanceUID = series
    ds.StudyID = "S1"
    ds.SeriesNumber = "1"
    ds.InstanceNumber = str(pixel_seed)
    ds.PatientOrientation = ""
    ds.ImagePositionPatient = ["0", "0", str(pixel_seed * 5)]
    ds.ImageOrientationPatient = ["1", "0", "0", "0", "1", "0"]
    ds.FrameOfReferenceUID = UIDS["for1"] if study == UIDS["study1"] \
        else study + ".9"
    ds.PositionReferenceIndicator = ""
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows = ds.Columns = 16
    ds.PixelSpacing = ["0.5", "0.5"]
    ds.BitsAllocated = 16
    ds.BitsStored = 12
    ds.HighBit = 11
    ds.PixelRepresentation = 0
    ds.RescaleIntercept = "-1024"
    ds.RescaleSlope = "1"
    ds.BurnedInAnnotation = "NO"
    ds.add_new(0x7FE00010, "OW", b"".join(
        ((i * 37 + pixel_seed * 101) % 4096).to_bytes(2, "little")
        for i in range(256)))
    return ds


def add_private(ds, numeric=True):
    for group, creator, off, vr, value in SAFE_PRIVATE:
        ds.private_block(group, creator, create=True).add_new(off, vr, value)
    if numeric:
        blk = ds.private_block(0x0031, NUM_CREATOR, create=True)
        for off, vr, value, _kept in NUMERIC_PRIVATE:
            blk.add_new(off, vr, value)
        ds.private_block(0x0033, TXT_CREATOR, create=True).add_new(
            0x01, "LO", "hello")


def generated_inputs(indir):
    """Write the generated files; return {name: (path, ts)}."""
    from pydicom.dataset import Dataset
    out = {}
    a = image(P1, UIDS["study1"], UIDS["series1"], UIDS["A"], "20190301",
              "101530", 1)
    add_private(a)
    b = image(dict(P1, PatientAge="045Y"), UIDS["study1"], UIDS["series1"],
              UIDS["B"], "20190301", "101530", 2)
    c = image(dict(P1, PatientAge="045Y"), UIDS["study1"], UIDS["series1"],
              UIDS["C"], "20190301", "101530", 3)
    ref = Dataset()
    ref.ReferencedSOPClassUID = CT_CLASS
    ref.ReferencedSOPInstanceUID = UIDS["A"]
    c.ReferencedImageSequence = [ref]
    d = image(dict(P1, PatientAge="045Y"), UIDS["study2"], UIDS["series2"],
              UIDS["D"], "20190407", "083000", 4)
    add_private(d, numeric=False)
    e = image(P2, UIDS["study3"], UIDS["series3"], UIDS["E"], "20200115",
              "140000", 5)
    for name, ds, ts in (("A", a, dg.EXPLICIT_LE), ("B", b, dg.EXPLICIT_LE),
                         ("C", c, dg.EXPLICIT_LE), ("D", d, dg.IMPLICIT_LE),
                         ("E", e, dg.EXPLICIT_BE)):
        path = os.path.join(indir, "gen", "%s.dcm" % name)
        dg.save(ds, path, ts)
        out[name] = (path, ts)
    return out


# --------------------------------------------------------------------------
# Checks
# --------------------------------------------------------------------------

def run_tool(cmd):
    p = subprocess.run(cmd, capture_output=True)
    return p.returncode, (p.stdout + p.stderr).decode("utf-8", "replace")


def dciodvfy_errors(path):
    _rc, out = run_tool(["dciodvfy", path])
    errs = {}
    for line in out.splitlines():
        if "Error" not in line:
            continue
        key = line
        for rx, rep in DCIODVFY_NORMALISE:
            key = rx.sub(rep, key)
        errs.setdefault(key.strip(), line.strip())
    return errs


def fragments(ds):
    from pydicom.encaps import decode_data_sequence
    return decode_data_sequence(ds.PixelData)[1:]


def method_codes(ds, tables, label):
    seq = ds.get("DeidentificationMethodCodeSequence")
    got = {}
    for it in (seq or []):
        got[(val(it, "CodingSchemeDesignator"), val(it, "CodeValue"))] = \
            val(it, "CodeMeaning")
    for code in dg.OBIA_METHOD_CODES:
        want = tables.codes[code]["code_meaning"]
        if ("DCM", code) not in got:
            fail("%s: DeidentificationMethodCodeSequence lacks DCM %s (%s); "
                 "has %s" % (label, code, want, sorted(got)))
        elif got[("DCM", code)] != want:
            fail("%s: DCM %s has meaning %r, CID 7050 says %r"
                 % (label, code, got[("DCM", code)], want))
    for code in OFF_OPTION_CODES:
        if ("DCM", code) in got:
            fail("%s: DeidentificationMethodCodeSequence has DCM %s (%s), "
                 "an option the obia profile leaves off"
                 % (label, code, tables.codes[code]["code_meaning"]))


def check_common(label, in_path, out_path, rel, entry, tables, dciodvfy):
    """Checks every output gets; returns (input ds, output ds) or None."""
    import pydicom
    ind = pydicom.dcmread(in_path, force=True)
    try:
        out = pydicom.dcmread(out_path)
        for _ in out.iterall():
            pass
    except Exception as e:
        fail("%s: pydicom cannot read the output %s: %s" % (label, rel, e))
        return None
    rc, text_out = run_tool(["dcmdump", out_path])
    elines = [ln for ln in text_out.splitlines() if ln.startswith("E:")]
    if rc != 0 or elines:
        fail("%s: dcmdump exit %d on %s: %s"
             % (label, rc, rel, " | ".join(elines[:5])))

    # identity and UIDs
    ind_name = entry.get("individual", "")
    if not re.fullmatch(r"I\d{6}", ind_name):
        fail("%s: report individual %r is not I + 6 digits"
             % (label, ind_name))
    pid, pname = val(out, "PatientID"), val(out, "PatientName")
    if not (pid == pname == ind_name):
        fail("%s: PatientID %r, PatientName %r, individual %r differ"
             % (label, pid, pname, ind_name))
    meta = out.file_meta
    sop, msop = val(out, "SOPInstanceUID"), \
        val(meta, "MediaStorageSOPInstanceUID")
    if sop is None or sop == val(ind, "SOPInstanceUID"):
        fail("%s: SOPInstanceUID %s (input %s)"
             % (label, sop, val(ind, "SOPInstanceUID")))
    if sop != msop:
        fail("%s: MediaStorageSOPInstanceUID %s != SOPInstanceUID %s"
             % (label, msop, sop))
    cls = val(ind, "SOPClassUID")
    if val(out, "SOPClassUID") != cls or \
            val(meta, "MediaStorageSOPClassUID") != cls:
        fail("%s: SOP Class UID %s / Media Storage SOP Class UID %s, input "
             "%s" % (label, val(out, "SOPClassUID"),
                     val(meta, "MediaStorageSOPClassUID"), cls))
    in_ts = val(ind.file_meta, "TransferSyntaxUID")
    want_ts = in_ts if in_ts not in dg.NATIVE_TS else dg.EXPLICIT_LE
    if val(meta, "TransferSyntaxUID") != want_ts:
        fail("%s: transfer syntax %s, expected %s (input %s)"
             % (label, val(meta, "TransferSyntaxUID"), want_ts, in_ts))
    for kw in ("StudyInstanceUID", "SeriesInstanceUID"):
        if val(out, kw) is None or val(out, kw) == val(ind, kw):
            fail("%s: %s %s (input %s)" % (label, kw, val(out, kw),
                                           val(ind, kw)))
    want_rel = "%s/%s/%s/%s.dcm" % (ind_name, val(out, "StudyInstanceUID"),
                                    val(out, "SeriesInstanceUID"), sop)
    if rel != want_rel:
        fail("%s: output at %s, expected %s" % (label, rel, want_rel))

    # marking
    if val(out, "PatientIdentityRemoved") != "YES":
        fail("%s: PatientIdentityRemoved is %r, not YES"
             % (label, val(out, "PatientIdentityRemoved")))
    if not val(out, "DeidentificationMethod"):
        fail("%s: DeidentificationMethod missing or empty" % label)
    method_codes(out, tables, label)
    if val(out, 0x00280303) != "MODIFIED":
        fail("%s: LongitudinalTemporalInformationModified is %r, not "
             "MODIFIED" % (label, val(out, 0x00280303)))

    # retained attributes
    for kw in RETAINED:
        a, b = val(ind, kw), val(out, kw)
        if not a:
            continue
        if a != b:
            fail("%s: %s %r in the input, %r in the output (must be kept)"
                 % (label, kw, a, b))

    # safe private elements of the input
    for path, d, el in dg.walk(ind):
        if "[" in path or not el.tag.is_private or el.tag.element < 0x1000:
            continue
        creator = dg.private_creator(d, el.tag)
        low = el.tag.element & 0xFF
        if not creator or not tables.is_safe_private(el.tag.group, creator,
                                                     low):
            continue
        got = dg.find_private(out, el.tag.group, creator, low)
        if got is None:
            fail("%s: safe private (%04X,xx%02X) %r of %r removed"
                 % (label, el.tag.group, low, text(el.value), creator))
        elif el.VR != "SQ" and not same_value(el, got):
            fail("%s: safe private (%04X,xx%02X) of %r changed: %r -> %r"
                 % (label, el.tag.group, low, creator, text(el.value),
                    text(got.value)))

    # pixel data
    if "PixelData" in ind:
        if "PixelData" not in out:
            fail("%s: Pixel Data removed" % label)
        elif in_ts not in dg.NATIVE_TS:
            if fragments(ind) != fragments(out):
                fail("%s: encapsulated Pixel Data fragments differ" % label)
        elif in_ts == dg.EXPLICIT_BE:
            # OW is a stream of 16-bit words whatever Bits Allocated is
            # (PS3.5 6.2), as DCMTK's dcmconv also converts it.
            want = ind.PixelData
            if ind["PixelData"].VR == "OW":
                want = dg.swap_bytes(want, 2)
            if want != out.PixelData:
                fail("%s: Pixel Data differs from the input's byte-swapped "
                     "OW words (big endian input)" % label)
        elif ind.PixelData != out.PixelData:
            fail("%s: Pixel Data bytes differ (%d vs %d bytes)"
                 % (label, len(ind.PixelData), len(out.PixelData)))

    # dciodvfy
    if dciodvfy:
        before = dciodvfy_errors(in_path)
        after = dciodvfy_errors(out_path)
        new = [after[k] for k in sorted(after) if k not in before]
        if new:
            fail("%s: dciodvfy reports %d new error(s) on %s:\n    "
                 "output: %s\n    input:  %s"
                 % (label, len(new), rel, "\n            ".join(new),
                    "\n            ".join(before.values()) or "(none)"))
    return ind, out


def same_value(a, b):
    va, vb = a.value, b.value
    if isinstance(va, float) or isinstance(vb, float):
        try:
            return abs(float(va) - float(vb)) < 1e-6
        except (TypeError, ValueError):
            return False
    if isinstance(vb, bytes) and not isinstance(va, bytes):
        return text(va) == text(vb)
    return text(va) == text(vb)


def all_dates(ds):
    out = {}
    for path, _d, el in dg.walk(ds):
        if el.VR in ("DA", "DT"):
            out[path] = text(el.value)
    return out


def summary(out_dir, entries_by_name):
    """{name: (individual, study, series, sop, frame of reference, dates,
    relpath)} of a run."""
    import pydicom
    res = {}
    for name, e in entries_by_name.items():
        if "output" not in e:
            continue
        ds = pydicom.dcmread(os.path.join(out_dir, e["output"]))
        res[name] = (e.get("individual"), val(ds, "StudyInstanceUID"),
                     val(ds, "SeriesInstanceUID"), val(ds, "SOPInstanceUID"),
                     val(ds, "FrameOfReferenceUID"), all_dates(ds),
                     e["output"])
    return res


def run_once(obia, out, keys, indir):
    old = os.umask(0o022)
    try:
        p = dg.run_deid(obia, out, keys, [indir])
    finally:
        os.umask(old)
    report_path = os.path.join(out, "deid-report.jsonl")
    if p.returncode not in (0, 1) or not os.path.isfile(report_path):
        fail("obia deid exit %d, report %s: %s"
             % (p.returncode, "present" if os.path.isfile(report_path)
                else "missing",
                p.stderr.decode("utf-8", "replace").strip()[:300]))
        return None
    report = dg.read_report(report_path)
    if p.returncode != (1 if any("error" in e for e in report) else 0):
        fail("obia deid exit %d does not agree with the report's errors"
             % p.returncode)
    mode = stat.S_IMODE(os.stat(keys).st_mode) if os.path.exists(keys) \
        else None
    if mode != 0o600:
        fail("keys file %s has mode %s, not 0600"
             % (keys, "missing" if mode is None else oct(mode)))
    return dg.report_by_input(report)


def main():
    obia, pydicom = corpus.obia_and_pydicom()
    for tool in ("dcmdump", "dciodvfy"):
        if shutil.which(tool) is None:
            print("SKIP: %s not installed" % tool)
            return 77
    try:
        tables = dg.Tables()
    except OSError as e:
        print("SKIP: PS3.15 tables missing: %s" % e)
        return 77
    root = corpus.require_root()
    tmp = tempfile.mkdtemp(prefix="obia-deid-retention-")
    try:
        return run(obia, tables, root, tmp)
    finally:
        if os.environ.get("OBIA_KEEP_TMP"):
            print("kept: %s" % tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def run(obia, tables, root, tmp):
    import pydicom
    t0 = time.time()
    print("corpus: %s" % root)
    for kw in RETAINED:
        tag = int(pydicom.datadict.tag_for_keyword(kw))
        row = tables.annex_row(tag)
        if row is None:
            why = "not in Table E.1-1; %s data/safe_attributes.tsv" % (
                "in" if tag in tables.safe_attributes else "NOT in")
        else:
            why = "Table E.1-1 basic %s, %s" % (row["basic"], ", ".join(
                "%s %s" % (c, row[c]) for c in dg.OBIA_OPTION_COLUMNS
                if row[c]) or "no option column")
        print("retained: %-22s %s" % (kw, why))

    indir = os.path.join(tmp, "in")
    os.makedirs(os.path.join(indir, "gen"))
    os.makedirs(os.path.join(indir, "real"))
    gen = generated_inputs(indir)
    real, sop_seen = {}, {}
    for n, rel in enumerate(REAL_FILES, 1):
        src = os.path.join(root, rel)
        if not os.path.isfile(src):
            continue
        sop = val(pydicom.dcmread(src, stop_before_pixels=True),
                  "SOPInstanceUID")
        if sop in sop_seen:
            print("NOTE: %s left out: same SOP Instance UID as %s"
                  % (rel, sop_seen[sop]))
            continue
        sop_seen[sop] = rel
        dst = os.path.join(indir, "real", "r%02d.dcm" % n)
        shutil.copyfile(src, dst)
        real[rel] = dst
    missing = [r for r in REAL_FILES
               if not os.path.isfile(os.path.join(root, r))]
    if missing:
        print("NOTE: not in this corpus: %s" % ", ".join(missing))

    # The generator itself: the reference and the missing age as meant.
    c = pydicom.dcmread(gen["C"][0])
    assert c.ReferencedImageSequence[0].ReferencedSOPInstanceUID == UIDS["A"]
    assert "PatientAge" not in pydicom.dcmread(gen["A"][0])

    if not dg.deid_available(obia):
        print("FAIL: obia deid not available (`%s help deid` fails)" % obia)
        return 1

    out1, out2, out3 = (os.path.join(tmp, "out%d" % i) for i in (1, 2, 3))
    keys1, keys2 = os.path.join(tmp, "keys1.db"), os.path.join(tmp,
                                                               "keys2.db")
    entries = run_once(obia, out1, keys1, indir)
    if entries is None:
        print("FAIL")
        return 1
    print("obia deid: %d report entries (%.1f s)" % (len(entries),
                                                     time.time() - t0))

    names = {**{k: v[0] for k, v in gen.items()}, **real}
    by_name, written, flagged, errors = {}, [], [], []
    for name, path in names.items():
        e = entries.get(os.path.realpath(path))
        if e is None:
            fail("%s: no report entry" % name)
            continue
        by_name[name] = e
        if "output" in e:
            written.append(name)
        elif "flagged" in e:
            flagged.append(name)
            print("flagged: %s: %s" % (name, e["flagged"]))
        else:
            errors.append(name)
            fail("%s: error: %s" % (name, e.get("error")))
    for name in gen:
        if name not in written:
            fail("generated %s not written" % name)

    dcio_real = 0
    outs = {}
    for name in written:
        e = by_name[name]
        out_path = os.path.join(out1, e["output"])
        in_path = names[name]
        in_ts = text(pydicom.dcmread(in_path, stop_before_pixels=True)
                     .file_meta.TransferSyntaxUID)
        use_dcio = name == "A" or (name in real and in_ts != dg.DEFLATED_LE)
        dcio_real += use_dcio and name in real
        r = check_common(name, in_path, out_path, e["output"], e, tables,
                         use_dcio)
        if r:
            outs[name] = r

    # ----- generated files
    if all(k in outs for k in gen):
        check_generated(outs, by_name)

    # ----- repeatability
    entries2 = run_once(obia, out2, keys1, indir)
    entries3 = run_once(obia, out3, keys2, indir)
    if entries2 is not None and entries3 is not None:
        def named(ents):
            return {n: ents.get(os.path.realpath(p), {})
                    for n, p in names.items()}
        s1 = summary(out1, by_name)
        s2 = summary(out2, named(entries2))
        s3 = summary(out3, named(entries3))
        fields = ("individual", "StudyInstanceUID", "SeriesInstanceUID",
                  "SOPInstanceUID", "FrameOfReferenceUID", "dates",
                  "output path")
        for name in s1:
            if name not in s2:
                fail("%s: written in run 1, not with the same keys in run 2"
                     % name)
                continue
            for f, a, b in zip(fields, s1[name], s2[name]):
                if a != b:
                    fail("%s: same keys file, %s differs: %s vs %s"
                         % (name, f, str(a)[:120], str(b)[:120]))
            if name in s3:
                for i in (1, 2, 3):
                    if s1[name][i] == s3[name][i]:
                        fail("%s: another keys file gives the same %s %s"
                             % (name, fields[i], s1[name][i]))

    real_written = [n for n in written if n in real]
    print("inputs: %d (%d generated, %d real); written %d, flagged %d, "
          "errors %d" % (len(names), len(gen), len(real), len(written),
                         len(flagged), len(errors)))
    print("real files written: %d (dciodvfy compared on %d)"
          % (len(real_written), dcio_real))
    if len(real_written) < min(MIN_REAL_WRITTEN, len(real)):
        fail("only %d real files written (need %d)"
             % (len(real_written), min(MIN_REAL_WRITTEN, len(real))))
    print("time: %.1f s" % (time.time() - t0))
    print("failures: %d" % len(FAILURES))
    print("PASS" if not FAILURES else "FAIL")
    return 0 if not FAILURES else 1


def check_generated(outs, by_name):
    o = {k: v[1] for k, v in outs.items()}
    i = {k: v[0] for k, v in outs.items()}

    # Patient's Age from birth date and study date.
    age = val(o["A"], "PatientAge")
    if age != "045Y":
        fail("A: PatientAge %r, expected 045Y (born 19730910, studied "
             "20190301)" % age)

    # private elements
    for name in ("A", "D"):
        for group, creator, off, vr, value in SAFE_PRIVATE:
            got = dg.find_private(o[name], group, creator, off)
            want = dg.find_private(i[name], group, creator, off)
            if got is None:
                fail("%s: safe private (%04X,xx%02X) %s of %r removed"
                     % (name, group, off, vr, creator))
            elif not same_value(want, got):
                fail("%s: safe private (%04X,xx%02X) of %r changed: %r -> "
                     "%r" % (name, group, off, creator, text(want.value),
                             text(got.value)))
    for off, vr, value, kept in NUMERIC_PRIVATE:
        got = dg.find_private(o["A"], 0x0031, NUM_CREATOR, off)
        if kept and (got is None or text(got.value) != value):
            fail("A: numeric private %s %r under %r: %s"
                 % (vr, value, NUM_CREATOR, "removed" if got is None
                    else "changed to %r" % text(got.value)))
        if not kept and got is not None:
            fail("A: private %s %r under %r kept (not numeric)"
                 % (vr, value, NUM_CREATOR))
    if not dg.creator_present(o["A"], 0x0031, NUM_CREATOR):
        fail("A: Private Creator %r removed although its numeric elements "
             "are kept" % NUM_CREATOR)
    if dg.creator_present(o["A"], 0x0033, TXT_CREATOR):
        fail("A: Private Creator %r kept with no element left"
             % TXT_CREATOR)

    # UIDs
    for kw, orig in (("StudyInstanceUID", UIDS["study1"]),
                     ("SeriesInstanceUID", UIDS["series1"]),
                     ("FrameOfReferenceUID", UIDS["for1"])):
        vals = {n: val(o[n], kw) for n in "ABC"}
        if len(set(vals.values())) != 1:
            fail("A, B, C: %s differ after de-identification: %s"
                 % (kw, vals))
        if orig in vals.values():
            fail("A, B, C: original %s %s kept" % (kw, orig))
        if None in vals.values():
            fail("A, B, C: %s missing: %s" % (kw, vals))
    if val(o["D"], "StudyInstanceUID") == val(o["A"], "StudyInstanceUID"):
        fail("D: second study got the first study's UID")
    sops = {n: val(o[n], "SOPInstanceUID") for n in o}
    if len(set(sops.values())) != len(sops):
        fail("SOP Instance UIDs collide: %s" % sops)
    refseq = o["C"].get("ReferencedImageSequence")
    first = refseq[0] if refseq else None
    ref = val(first, "ReferencedSOPInstanceUID")
    if ref != sops["A"]:
        fail("C: ReferencedImageSequence > ReferencedSOPInstanceUID is %s, "
             "A's new SOPInstanceUID is %s" % (ref, sops["A"]))
    if val(first, "ReferencedSOPClassUID") != CT_CLASS:
        fail("C: ReferencedSOPClassUID %r, input %s"
             % (val(first, "ReferencedSOPClassUID"), CT_CLASS))

    # pseudonyms
    inds = {n: by_name[n].get("individual") for n in o}
    if len({inds[n] for n in "ABCD"}) != 1:
        fail("P1's files got different individuals: %s" % inds)
    if inds["E"] == inds["A"]:
        fail("P1 and P2 got the same individual %s" % inds["A"])

    # dates
    def day(ds, kw):
        return dg.parse_da(val(ds, kw))
    shifts = set()
    for n in "ABCD":
        for path, v in all_dates(i[n]).items():
            ov = all_dates(o[n]).get(path)
            if ov is None or not ov:
                continue        # removed or emptied: allowed
            a, b = dg.parse_da(v), dg.parse_da(ov)
            if a is None or b is None:
                fail("%s: %s date %r -> %r" % (n, path, v, ov))
                continue
            shifts.add((b - a).days)
    if len(shifts) != 1:
        fail("P1's dates are shifted by different amounts: %s"
             % sorted(shifts))
    elif 0 in shifts:
        fail("P1's dates are not shifted (offset 0)")
    a_day, d_day = day(o["A"], "StudyDate"), day(o["D"], "StudyDate")
    if a_day is None or d_day is None or (d_day - a_day).days != 37:
        fail("StudyDate of A %s and D %s: not 37 days apart" % (a_day, d_day))
    for n, want in (("A", "101530"), ("D", "083000")):
        got = val(o[n], "StudyTime")
        if got != want:
            fail("%s: StudyTime %r, input %r (times are kept)"
                 % (n, got, want))
    print("generated: shift %s days; A StudyDate %s, D StudyDate %s; "
          "individuals %s" % (sorted(shifts), a_day, d_day,
                              ", ".join("%s %s" % kv
                                        for kv in sorted(inds.items())
                                        if kv[0] in "ABCDE")))


if __name__ == "__main__":
    sys.exit(main())
