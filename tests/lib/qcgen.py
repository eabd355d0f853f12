"""Broken and tricky DICOM inputs for the quality-control tests (qc_flows.py).

write_corpus(DIR) writes, with pydicom, small generated images (64 x 64,
16 bits, MONOCHROME2, Explicit VR Little Endian Part 10 unless said
otherwise) into DIR/run1 and DIR/run2 - the two ingest runs, in that order:
the cases that need something already in the archive (another patient's
study, the same SOP Instance UID, the same file again) are in run2 - and
returns the cases, each with what quality control must say about it:

  name       a short label, also the file names' stem
  files      paths under DIR
  run        1 or 2
  outcome    accepted, duplicate, quarantined, or "pair" (two identical
             files: one accepted, one duplicate)
  need       codes the quarantined item must all have
  any_of     codes of which the item must have at least one
  extra_ok   codes the item may have besides (a damaged file can break
             several checks at once); any other code is unexpected
  kept       True if the de-identified bytes must be kept in quarantine,
             False if de-identification cannot have been done (no bytes,
             the input's path recorded instead), None if not checked
  warnings   for a series of accepted images: exactly the series warnings
             expected (empty: none)
  series     the original Series Instance UID of the case's images
  sop        the original SOP Instance UID of its first file

Every image starts from one valid CT-like dataset (ct()): all UIDs,
Patient ID, Name, Sex and Birth Date, Study Date, Modality, Instance
Number, Image Position and Orientation (Patient), Frame of Reference,
Pixel Spacing and Slice Thickness. The cases are listed in CASES below.

write_phi(DIR) writes a small series with planted markers (for a
collection with profile none, whose images are stored as they come) and
returns the planted rows: what the PHI review report must flag.
write_clean(DIR, SALT) writes the clean series again with other UIDs (the
archive maps a UID to the same new UID in every collection, so the same
image cannot go into a second collection), e.g. for a collection with the
default profile, whose report should flag nothing.

All originals that identify someone (names, IDs, birth dates) are listed in
ORIGINALS, and accession numbers match ACCESSION_RE, so that a test can
check they never appear in the archive's output. Run as a script (`qcgen.py DIR`) it writes the corpus and prints
the cases. Only /usr/bin/python3 with pydicom 2.3 is assumed (no numpy).
"""

import os
import struct
import sys

UID_ROOT = "1.2.826.0.1.3680043.10.777."
CT_CLASS = "1.2.840.10008.5.1.4.1.1.2"
SC_CLASS = "1.2.840.10008.5.1.4.1.1.7"
EXPLICIT_LE = "1.2.840.10008.1.2.1"
RLE_LOSSLESS = "1.2.840.10008.1.2.5"
ROWS = COLS = 64
SPACING = 2.5        # mm between slices, and Slice Thickness

# Patients: name, ID, sex, birth date. Every case's images belong to one.
PATIENTS = {
    "main": ("QCMAIN^ANNA", "QCP-MAIN-4711", "F", "19620314"),
    "owner": ("QCOWNER^BERT", "QCP-OWNER-5822", "M", "19550921"),
    "intruder": ("QCINTRUDER^CARL", "QCP-INTRUDER-6933", "M", "19710203"),
    "charac": ("QCCHARAC^DORA", "QCP-CHARAC-7044", "F", "19700101"),
    "repaired": ("QCREPAIR^EMIL", "", "M", "19480517"),
    "phi": ("QCPHI^ZELDA", "QCP-PHI-8155", "F", "19591123"),
}
OTHER_BIRTH_DATE = "19750606"     # the "charac" patient, as a second file says
REPAIR_PATIENT_ID = "QCP-REPAIRED-9266"
STUDY_DATE = "20210611"

REFERRER = "QCREFERRER^OTTO"

# Every original value that identifies someone; none may reach the archive's
# output (but the keys database). Accession numbers (ACCESSION_RE) too.
ORIGINALS = sorted({v for p in PATIENTS.values() for v in (p[0], p[1], p[3])
                    if v} | {p[0].split("^")[0] for p in PATIENTS.values()}
                   | {OTHER_BIRTH_DATE, REPAIR_PATIENT_ID, REFERRER})
ACCESSION_RE = r"QCA\d{7}"


def uid(*parts):
    """A deterministic UID under UID_ROOT for a label."""
    from pydicom.uid import generate_uid
    return str(generate_uid(prefix=UID_ROOT,
                            entropy_srcs=["qcgen"] + [str(p) for p in parts]))


def pixels(seed, nbytes=ROWS * COLS * 2):
    """16-bit little-endian pixel bytes, a gradient that differs per seed,
    cut or padded to nbytes."""
    vals = [((x * 13 + y * 7 + seed * 31) % 1500) + 24
            for y in range(ROWS) for x in range(COLS)]
    data = struct.pack("<%dH" % len(vals), *vals)
    return (data + b"\0" * nbytes)[:nbytes]


def ct(patient="main", study="main", series="clean", instance=1, z=0.0,
       frame=None, seed=None, description=None, salt=""):
    """A valid single-frame CT image (pydicom Dataset with File Meta). salt
    changes every UID (the same images again, for another collection: the
    archive's UIDs are the same in every collection)."""
    from pydicom.dataset import Dataset, FileMetaDataset
    name, pid, sex, birth = PATIENTS[patient]
    study += salt
    series += salt
    sop = uid("sop", patient, study, series, instance, z, seed)
    ds = Dataset()
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CT_CLASS
    meta.MediaStorageSOPInstanceUID = sop
    meta.TransferSyntaxUID = EXPLICIT_LE
    ds.file_meta = meta
    ds.is_little_endian, ds.is_implicit_VR = True, False
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
    ds.SOPClassUID = CT_CLASS
    ds.SOPInstanceUID = sop
    ds.StudyDate = ds.SeriesDate = ds.ContentDate = STUDY_DATE
    ds.StudyTime = "093000"
    ds.SeriesTime = "093500"
    ds.ContentTime = "093512"
    ds.AccessionNumber = "QCA%07d" % (sum(map(ord, study)) * 97 % 10000000)
    ds.Modality = "CT"
    ds.Manufacturer = "QC Generator"
    ds.InstitutionName = "QC Test Hospital"
    ds.ReferringPhysicianName = REFERRER
    ds.StudyDescription = "qc study %s" % study[:len(study) - len(salt)]
    ds.SeriesDescription = description or "qc series %s" % series[:len(
        series) - len(salt)]
    ds.PatientName = name
    if pid:
        ds.PatientID = pid
    ds.PatientBirthDate = birth
    ds.PatientSex = sex
    ds.BodyPartExamined = "CHEST"
    ds.SliceThickness = "%g" % SPACING
    ds.KVP = "120"
    ds.PatientPosition = "HFS"
    ds.StudyInstanceUID = uid("study", patient, study)
    ds.SeriesInstanceUID = uid("series", patient, study, series)
    ds.StudyID = "1"
    ds.SeriesNumber = 1 + sum(map(ord, series)) % 900
    ds.InstanceNumber = instance
    ds.ImagePositionPatient = [-160.0, -160.0, float(z)]
    ds.ImageOrientationPatient = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
    ds.FrameOfReferenceUID = frame or uid("frame", patient, study)
    ds.PositionReferenceIndicator = ""
    ds.SliceLocation = "%g" % z
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows, ds.Columns = ROWS, COLS
    ds.PixelSpacing = [5.0, 5.0]
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, 12, 11
    ds.PixelRepresentation = 0
    ds.WindowCenter, ds.WindowWidth = "40", "400"
    ds.RescaleIntercept, ds.RescaleSlope = "-1024", "1"
    ds.add_new(0x7FE00010, "OW",
               pixels(instance if seed is None else seed))
    return ds


def secondary_capture(series, burned_in):
    """A Secondary Capture image (Modality OT); burned_in is the value of
    Burned In Annotation, or None to leave it out."""
    ds = ct(series=series, seed=77)
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = SC_CLASS
    ds.Modality = "OT"
    ds.ConversionType = "WSD"
    ds.ImageType = ["DERIVED", "SECONDARY"] if burned_in is None \
        else ["ORIGINAL", "PRIMARY"]
    for kw in ("ImagePositionPatient", "ImageOrientationPatient",
               "FrameOfReferenceUID", "PositionReferenceIndicator",
               "SliceLocation", "SliceThickness", "KVP", "RescaleIntercept",
               "RescaleSlope"):
        delattr(ds, kw)
    if burned_in is not None:
        ds.BurnedInAnnotation = burned_in
    return ds


def save(ds, path):
    import pydicom
    os.makedirs(os.path.dirname(path), exist_ok=True)
    pydicom.dcmwrite(path, ds, write_like_original=False)


def value_offset(data, tag, vr):
    """Where the value of element tag (explicit VR LE, short or long form)
    starts in data; the first occurrence."""
    group, elem = tag >> 16, tag & 0xFFFF
    head = struct.pack("<HH", group, elem) + vr.encode()
    i = data.find(head)
    assert i >= 0, "element %08X not found" % tag
    long_form = vr in ("OB", "OW", "OF", "OD", "OL", "OV", "SQ", "UC", "UN",
                       "UR", "UT")
    return i + (12 if long_form else 8)


def save_cut(ds, path, tag, vr, into):
    """Save ds, then cut the file `into` bytes into the value of tag."""
    save(ds, path)
    with open(path, "rb") as f:
        data = f.read()
    at = value_offset(data, tag, vr) + into
    assert at < len(data)
    with open(path, "wb") as f:
        f.write(data[:at])


def rle_frame(data):
    """One RLE Lossless frame of 16-bit little-endian pixels: two segments
    (high bytes, then low bytes), literal runs only."""
    segments = []
    for byte in (1, 0):
        plane = data[byte::2]
        out = bytearray()
        for i in range(0, len(plane), 128):
            run = plane[i:i + 128]
            out.append(len(run) - 1)
            out += run
        if len(out) % 2:
            out.append(0)
        segments.append(bytes(out))
    header = [len(segments)] + [0] * 15
    at = 64
    for i, s in enumerate(segments):
        header[1 + i] = at
        at += len(s)
    return struct.pack("<16I", *header) + b"".join(segments)


def item(value):
    return struct.pack("<HHI", 0xFFFE, 0xE000, len(value)) + value


def encapsulated_bad_fragments():
    """An RLE Lossless image that says it has 3 frames, with 1 fragment and
    a Basic Offset Table of 3 entries whose last two point past the end."""
    ds = ct(series="fragments", seed=5)
    frame = rle_frame(pixels(5))
    bot = struct.pack("<3I", 0, 100000, 200000)
    value = item(bot) + item(frame) + struct.pack("<HHI", 0xFFFE, 0xE0DD, 0)
    ds.NumberOfFrames = 3
    ds.file_meta.TransferSyntaxUID = RLE_LOSSLESS
    del ds.PixelData
    ds.add_new(0x7FE00010, "OB", value)
    ds["PixelData"].is_undefined_length = True
    return ds


def empty_dataset():
    """File Meta and nothing else."""
    from pydicom.dataset import Dataset, FileMetaDataset
    ds = Dataset()
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CT_CLASS
    meta.MediaStorageSOPInstanceUID = uid("sop", "empty")
    meta.TransferSyntaxUID = EXPLICIT_LE
    ds.file_meta = meta
    ds.is_little_endian, ds.is_implicit_VR = True, False
    return ds


class Case:
    def __init__(self, name, run, outcome, need=(), any_of=(), extra_ok=(),
                 kept=None, warnings=None, note=""):
        self.name = name
        self.run = run
        self.outcome = outcome
        self.need = set(need)
        self.any_of = set(any_of)
        self.extra_ok = set(extra_ok)
        self.kept = kept
        self.warnings = None if warnings is None else set(warnings)
        self.note = note
        self.files = []
        self.series = None
        self.sop = None

    def __repr__(self):
        return "Case(%s)" % self.name


def _series(ds_list, root, case):
    case.series = str(ds_list[0].SeriesInstanceUID) \
        if "SeriesInstanceUID" in ds_list[0] else None
    case.sop = str(ds_list[0].SOPInstanceUID) \
        if "SOPInstanceUID" in ds_list[0] else None
    for i, ds in enumerate(ds_list):
        name = case.name if len(ds_list) == 1 else "%s-%d" % (case.name, i + 1)
        path = os.path.join(root, "run%d" % case.run, name + ".dcm")
        save(ds, path)
        case.files.append(path)


def clean_series(n=5, salt=""):
    return [ct(series="clean", instance=i + 1, z=i * SPACING, salt=salt)
            for i in range(n)]


def warning_series(kind):
    """Three to five images of one series with one defect each kind."""
    if kind == "gap":
        zs = [0, 1, 2, 4, 5]
        return [ct(series=kind, instance=i + 1, z=zz * SPACING)
                for i, zz in enumerate(zs)]
    images = [ct(series=kind, instance=i + 1, z=i * SPACING)
              for i in range(3)]
    last = images[-1]
    if kind == "mixed-modality":
        last.Modality = "MR"
    elif kind == "mixed-frame":
        last.FrameOfReferenceUID = uid("frame", "another")
    elif kind == "duplicate-number":
        last.InstanceNumber = 2
    elif kind == "missing-number":
        del last.InstanceNumber
    return images


CASES = (
    # name, run, outcome, ... (see Case)
    ("clean", 1, "accepted", dict(warnings=())),
    ("truncated-pixels", 1, "quarantined",
     dict(any_of={"pixel-length", "truncated"},
          extra_ok={"pixel-length", "truncated"}, kept=True,
          note="cut in the middle of Pixel Data")),
    ("truncated-header", 1, "quarantined",
     dict(any_of={"unreadable", "truncated"},
          extra_ok={"unreadable", "truncated", "header-missing",
                    "patient-id-missing", "pixel-length"}, kept=False,
          note="cut in the middle of Patient's Birth Date, before the "
               "Study and Series UIDs")),
    ("pixel-length", 1, "quarantined",
     dict(need={"pixel-length"}, kept=True,
          note="Pixel Data 100 bytes short")),
    ("pixel-length-row", 1, "quarantined",
     dict(need={"pixel-length"}, kept=True,
          note="Pixel Data one row (128 bytes) short: Rows=63 repairs it")),
    ("fragments", 1, "quarantined",
     dict(need={"fragments"}, kept=True,
          note="RLE, 3 frames, 1 fragment, offset table of 3 entries "
               "past the end")),
    ("header-empty", 1, "quarantined",
     dict(need={"header-empty"}, extra_ok={"header-missing",
                                           "patient-id-missing"},
          kept=False, note="File Meta and an empty dataset")),
    ("no-modality", 1, "quarantined",
     dict(need={"header-missing"}, kept=False, note="no Modality")),
    ("no-series-uid", 1, "quarantined",
     dict(need={"header-missing"}, kept=False,
          note="no Series Instance UID")),
    ("no-patient-id", 1, "quarantined",
     dict(need={"patient-id-missing"}, kept=False,
          note="no Patient ID; PatientID=... repairs it")),
    ("no-patient-id-2", 1, "quarantined",
     dict(need={"patient-id-missing"}, kept=False, note="no Patient ID")),
    ("study-owner", 1, "accepted", dict(warnings=(),
                                        note="a study of one patient")),
    ("other-patient", 2, "quarantined",
     dict(need={"other-patient"}, kept=True,
          note="the owner's study UID, another Patient ID")),
    ("charac-first", 1, "accepted", dict(warnings=())),
    ("charac-sex", 2, "quarantined",
     dict(need={"patient-characteristics"}, kept=True,
          note="same patient and study, other sex")),
    ("charac-birth", 2, "quarantined",
     dict(need={"patient-characteristics"}, kept=True,
          note="same patient and study, other birth date")),
    ("again", 2, "duplicate",
     dict(note="a byte copy of the first clean image")),
    ("pair", 2, "pair", dict(note="the same new file twice in one run")),
    ("conflict-first", 1, "accepted", dict(warnings=())),
    ("uid-conflict", 2, "quarantined",
     dict(need={"uid-conflict"}, kept=True,
          note="conflict-first's SOP Instance UID, other content")),
    ("sc-burned-yes", 1, "quarantined",
     dict(need={"burned-in"}, kept=True,
          note="Secondary Capture, Burned In Annotation YES")),
    ("sc-burned-unknown", 1, "quarantined",
     dict(need={"burned-in"}, kept=True,
          note="Secondary Capture without Burned In Annotation "
               "(docs/deid.md: flagged)")),
    ("sc-burned-no", 1, "accepted",
     dict(warnings=(), note="Secondary Capture, Burned In Annotation NO "
                            "(docs/deid.md: not flagged)")),
    ("mixed-modality", 1, "accepted",
     dict(warnings={"series-mixed-modality"})),
    ("mixed-frame", 1, "accepted",
     dict(warnings={"series-mixed-frame-of-reference"})),
    ("duplicate-number", 1, "accepted",
     dict(warnings={"series-instance-number-duplicate"})),
    ("missing-number", 1, "accepted",
     dict(warnings={"series-instance-number-missing"})),
    ("gap", 1, "accepted", dict(warnings={"series-irregular-spacing"})),
)


def write_corpus(root):
    """Write every case under root (run1/, run2/); return the Cases."""
    made = {}
    for name, run, outcome, kw in CASES:
        made[name] = Case(name, run, outcome, **kw)

    def put(name, images):
        _series(images, root, made[name])

    PD = 0x7FE00010
    put("clean", clean_series())
    c = made["truncated-pixels"]
    ds = ct(series="truncated-pixels")
    c.series, c.sop = str(ds.SeriesInstanceUID), str(ds.SOPInstanceUID)
    p = os.path.join(root, "run1", "truncated-pixels.dcm")
    save_cut(ds, p, PD, "OW", ROWS * COLS)
    c.files.append(p)
    c = made["truncated-header"]
    ds = ct(series="truncated-header")
    c.series, c.sop = str(ds.SeriesInstanceUID), str(ds.SOPInstanceUID)
    p = os.path.join(root, "run1", "truncated-header.dcm")
    save_cut(ds, p, 0x00100030, "DA", 4)
    c.files.append(p)

    ds = ct(series="pixel-length")
    ds.PixelData = pixels(1, ROWS * COLS * 2 - 100)
    put("pixel-length", [ds])
    ds = ct(series="pixel-length-row")
    ds.PixelData = pixels(1, (ROWS - 1) * COLS * 2)
    put("pixel-length-row", [ds])
    put("fragments", [encapsulated_bad_fragments()])
    put("header-empty", [empty_dataset()])
    ds = ct(series="no-modality")
    del ds.Modality
    put("no-modality", [ds])
    ds = ct(series="no-series-uid")
    series = str(ds.SeriesInstanceUID)
    del ds.SeriesInstanceUID
    put("no-series-uid", [ds])
    made["no-series-uid"].series = series
    put("no-patient-id", [ct(patient="repaired", series="no-patient-id",
                             description="qc series repaired pid")])
    put("no-patient-id-2", [ct(patient="repaired", series="no-patient-id-2",
                               seed=2)])

    put("study-owner", [ct(patient="owner", study="shared", series="owner")])
    intruder = ct(patient="intruder", study="shared", series="intruder")
    intruder.StudyInstanceUID = uid("study", "owner", "shared")
    put("other-patient", [intruder])

    put("charac-first", [ct(patient="charac", study="charac",
                            series="charac-first")])
    ds = ct(patient="charac", study="charac", series="charac-sex")
    ds.PatientSex = "M"
    put("charac-sex", [ds])
    ds = ct(patient="charac", study="charac", series="charac-birth")
    ds.PatientBirthDate = OTHER_BIRTH_DATE
    put("charac-birth", [ds])

    # a byte copy of the first clean image, in the later run
    c = made["again"]
    c.series, c.sop = made["clean"].series, made["clean"].sop
    p = os.path.join(root, "run2", "again.dcm")
    os.makedirs(os.path.dirname(p), exist_ok=True)
    with open(made["clean"].files[0], "rb") as f, open(p, "wb") as g:
        g.write(f.read())
    c.files.append(p)
    # one new image twice
    c = made["pair"]
    ds = ct(series="pair", seed=9)
    c.series, c.sop = str(ds.SeriesInstanceUID), str(ds.SOPInstanceUID)
    for suffix in ("a", "b"):
        p = os.path.join(root, "run2", "pair-%s.dcm" % suffix)
        save(ds, p)
        c.files.append(p)

    first = ct(series="conflict", seed=11)
    put("conflict-first", [first])
    changed = ct(series="conflict", seed=12)
    changed.SliceThickness = "9.5"
    assert changed.SOPInstanceUID != first.SOPInstanceUID
    changed.SOPInstanceUID = changed.file_meta.MediaStorageSOPInstanceUID = \
        first.SOPInstanceUID
    put("uid-conflict", [changed])

    put("sc-burned-yes", [secondary_capture("sc-yes", "YES")])
    put("sc-burned-unknown", [secondary_capture("sc-unknown", None)])
    put("sc-burned-no", [secondary_capture("sc-no", "NO")])

    for kind in ("mixed-modality", "mixed-frame", "duplicate-number",
                 "missing-number", "gap"):
        put(kind, warning_series(kind))
    return [made[name] for name, *_ in CASES]


def write_clean(root, salt):
    """The clean series again with other UIDs (salt, not empty: the archive
    takes an image once, in one collection), under root; its files."""
    assert salt
    files = []
    for i, ds in enumerate(clean_series(salt=salt)):
        p = os.path.join(root, "clean-%d.dcm" % (i + 1))
        save(ds, p)
        files.append(p)
    return files


# --------------------------------------------------------------------------
# Planted PHI for the review report
# --------------------------------------------------------------------------

PRIVATE_CREATOR = "QCGEN MARKERS"
PRIVATE_GROUP = 0x0009


class Planted:
    """One planted value: the report row it must show up in (by tag, and
    private creator for a private element) and the flag it must get."""

    def __init__(self, tag, vr, value, flag, keyword="", creator=None):
        self.tag = tag          # for a private element: the element byte
        self.vr = vr
        self.value = value
        self.flag = flag
        self.keyword = keyword
        self.creator = creator

    def label(self):
        if self.creator:
            return "private (%04X,xx%02X) of %s %s" % (
                PRIVATE_GROUP, self.tag, self.creator, self.vr)
        return "(%04X,%04X) %s" % (self.tag >> 16, self.tag & 0xFFFF,
                                   self.keyword)

    def matches(self, path, creator):
        """Whether a report row (its path, e.g. "(0009,1010)", and private
        creator column) is this element's, at the top level."""
        p = path.strip().upper()
        if "." in p or "[" in p:
            return False
        if self.creator:
            return ((creator or "").strip() == self.creator
                    and p.startswith("(%04X," % PRIVATE_GROUP)
                    and p.endswith("%02X)" % self.tag))
        return p == "(%04X,%04X)" % (self.tag >> 16, self.tag & 0xFFFF)


def phi_plants():
    # The study's original dates are STUDY_DATE and the birth date of
    # PATIENTS["phi"]: a collection with profile none keeps them as they are.
    birth = PATIENTS["phi"][3]
    return [
        Planted(0x00324000, "LT", "DOE^JOHN", "name", "StudyComments"),
        Planted(0x10, "LO", "DOE^JOHN", "name", creator=PRIVATE_CREATOR),
        Planted(0x00204000, "LT", "617-555-0199", "phone", "ImageComments"),
        Planted(0x11, "LO", "(617) 555-0199", "phone",
                creator=PRIVATE_CREATOR),
        Planted(0x001021B0, "LT", "john.doe@example.org", "email",
                "AdditionalPatientHistory"),
        Planted(0x12, "LO", "jane.roe@hospital.example.com", "email",
                creator=PRIVATE_CREATOR),
        Planted(0x00101040, "LO", "742 Evergreen Terrace, Springfield",
                "address", "PatientAddress"),
        Planted(0x13, "LT", "221B Baker Street, London NW1 6XE", "address",
                creator=PRIVATE_CREATOR),
        Planted(0x00101000, "LO", "MRN004829137", "long-id",
                "OtherPatientIDs"),
        Planted(0x14, "LO", "MRN-00482913-7", "long-id",
                creator=PRIVATE_CREATOR),
        Planted(0x00400244, "DA", STUDY_DATE, "date",
                "PerformedProcedureStepStartDate"),
        Planted(0x15, "DA", birth, "date", creator=PRIVATE_CREATOR),
    ]


def write_phi(root, n=2):
    """n images of one series (patient "phi") with every planted value;
    returns (files, plants)."""
    plants = phi_plants()
    files = []
    for i in range(n):
        ds = ct(patient="phi", study="phi", series="phi", instance=i + 1,
                z=i * SPACING)
        block = None
        for pl in plants:
            if pl.creator:
                if block is None:
                    block = ds.private_block(PRIVATE_GROUP, pl.creator,
                                             create=True)
                block.add_new(pl.tag, pl.vr, pl.value)
            else:
                ds.add_new(pl.tag, pl.vr, pl.value)
        p = os.path.join(root, "phi-%d.dcm" % (i + 1))
        save(ds, p)
        files.append(p)
    return files, plants


def main(argv):
    if len(argv) != 2:
        print("usage: qcgen.py DIR", file=sys.stderr)
        return 2
    cases = write_corpus(argv[1])
    write_clean(os.path.join(argv[1], "clean"), "-again")
    files, plants = write_phi(os.path.join(argv[1], "phi"))
    for c in cases:
        codes = sorted(c.need) + (["one of " + "|".join(sorted(c.any_of))]
                                  if c.any_of else [])
        print("%-18s run%d %-11s %-40s kept=%s warnings=%s %s"
              % (c.name, c.run, c.outcome, ",".join(codes), c.kept,
                 ",".join(sorted(c.warnings)) if c.warnings is not None
                 else "-", c.note))
        for f in c.files:
            print("    %s" % f)
    for pl in plants:
        print("planted %-50s %-8s %s" % (pl.label(), pl.flag, pl.value))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
