#!/usr/bin/python3
"""No original identifying value survives `obia deid` (default profile).

A generator (pydicom) takes about 60 real files of the corpus, chosen round
robin over (modality, transfer syntax) - files the manifest marks as
malformed, DICOMDIRs and non-DICOM companions left out - plus a few
generated ones (CT, MR, an SR with nested content, an image with
BurnedInAnnotation YES that must be flagged), and plants a marker in every
attribute the `obia` profile (docs/deid.md: six options plus numeric
private) does not retain unchanged. What is retained is read from PS3.15
Table E.1-1 (annex_e.tsv): an attribute is retained when an enabled option
column says K (device identity, patient characteristics); C under Retain
Modified Dates means shifted dates (times kept); C under another enabled
option means cleaned. Markers, each unique per attribute and file:

  text (PN, LO, SH, ST, LT, UT, UC, CS, AE, UR)  ZQX + 5 digits
  DA, and the date part of DT               1901-01-01 + n days, YYYYMMDD
  TM (only where the profile removes it)    hhmmss.7nnnnn
  UI                                        1.2.826.0.1.3680043.10.1234.n
  DS / IS                                   -9.87nnnnn / -987nnnnn
  a private LO of digits and dashes         0555-73nnnnn-99 (not a number)

Where they go: every such attribute already in the file, at any depth;
every attribute of Table E.1-1 the profile does not keep, added where
missing (sequences with an item holding a Patient ID and a Referenced SOP
Instance UID); nested sequences two and three levels deep (Request
Attributes > Referenced Study > Referenced SOP Instance UID, Referenced
Series > Referenced Instance > Referenced SOP Instance UID, SR Content
Sequence > CONTAINER > TEXT); the SR Text Value inside Content Sequence
(Content Sequence is D in the basic profile and Clean Structured Content is
off); Overlay Comments; File Meta's Media Storage SOP Instance UID; some
public attributes outside Table E.1-1 (names, comments, dates, instance
UIDs - NOT_IN_ANNEX_E, less those data/safe_attributes.tsv keeps); private
text, date and UID elements under an unknown creator, inside a private
sequence, inside a public sequence item, and next to safe elements of a
creator of safe_private.tsv (GEMS_ACQU_01, Philips Imaging DD 001), as VR
UN too; existing private text/UID elements not in the safe list. Patient's
Name is FAMILY^GIVEN markers, and every descriptor that Clean Descriptors
cleans holds "... of GIVEN FAMILY ...": the name must go, the rest may
stay. Elements of a safe private sequence are left alone (the sequence is
retained as a whole), as are private TM values and, in Implicit VR files,
private dates (an engine without that element's VR sees a number).

Three of four real files that make no Burned In Annotation statement get
"NO", so that most headers reach the output (the images are not what is
checked here); the others keep the engine's burned-in rules busy.

The marked files are written in Explicit VR LE, Implicit VR LE, Explicit VR
Big Endian and Deflated (natives round robin, several of each) and, for
encapsulated pixel data, in their own transfer syntax; files pydicom 2.3
cannot rewrite (transfer syntaxes it does not know, e.g. HTJ2K) are listed
as skipped. The generator is checked first: every marker must read back
(pydicom) from its file.

Then `obia deid --out OUT --keys KEYS IN` runs once, and every file under
OUT (deflated datasets inflated) plus every path name under OUT is searched
byte for byte for: any ZQX marker, any UID under the planted root, any
planted date (YYYYMMDD not preceded by a digit or '.'), time and number.
A planted date found in an output is excused only where it is the shifted
value of another planted date at the same element (the planted dates are
consecutive, so a shift often lands on one): per output the shift is the
most common difference between input and output dates, and a date string
counts as a leak when it occurs in the bytes more often than as such
shifted values. Each leak is a FAIL line naming the marker, the attribute
and input it was planted in, and where it was found.

Also checked: one report entry per input, each output listed exists and
no other file is under OUT (but the report), the exit status agrees with
the report (0, or 1 with errors), the image with
BurnedInAnnotation YES is flagged and not written, and at least
MIN_WRITTEN of the inputs are written. Counts printed at the end.

Environment (set by CTest): OBIA (the obia binary), OBIA_SHARED_TESTDATA
(preferred corpus), OBIA_TEST_DATA (fallback, smaller). Exit status 0 =
pass, 1 = fail (also when `obia deid` does not exist), 77 = skipped (no
pydicom, no corpus or no PS3.15 tables). OBIA_KEEP_TMP=1 keeps the marked
inputs and the outputs for inspection.
"""

import collections
import datetime
import os
import re
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
import corpus  # noqa: E402
import deidgen as dg  # noqa: E402

N_REAL = 62                 # real files wanted from the corpus
MAX_FILE_SIZE = 1500000     # bytes; larger corpus files are left out
MIN_WRITTEN = 0.60          # fraction of the inputs that must be written
SKIP_NOTES = re.compile(r"truncated|stray byte|too short|invalid VR|"
                        r"malformed|non-DICOM|gzip|no preamble|"
                        r"parse errors|DICOMDIR", re.I)
TRUNC = 100

UID_ROOT = "1.2.826.0.1.3680043.10.1234."
DATE_BASE = datetime.date(1901, 1, 1)
TEXT_RE = re.compile(rb"ZQX\d{5}")
UID_RE = re.compile(rb"1\.2\.826\.0\.1\.3680043\.10\.1234\.\d*")
DATE_RE = re.compile(rb"(?<![0-9.])19\d{6}")
TIME_RE = re.compile(rb"(?<![0-9])\d{6}\.7\d{5}")
NUM_RE = re.compile(rb"-9\.87\d{5}|-987\d{5}")
PHONE_RE = re.compile(rb"0555-73\d{5}-99")
PATTERNS = (("text", TEXT_RE), ("uid", UID_RE), ("date", DATE_RE),
            ("time", TIME_RE), ("number", NUM_RE), ("phone", PHONE_RE))

# Public attributes outside Table E.1-1 that hold names, free text, dates
# or instance UIDs. An engine that keeps only Table E.1-1's retained
# attributes plus data/safe_attributes.tsv must remove (or, for dates and
# UIDs, change) them; those the safe list names are left unmarked.
NOT_IN_ANNEX_E = (
    0x00400400,   # LT Comments on the Scheduled Procedure Step
    0x00741238,   # LT Reason for Cancellation
    0x00440106,   # UT Assertion Comments
    0x00140104,   # PN Secondary Reviewer Name
    0x00142006,   # PN Evaluator Name
    0x0074100C,   # LO Contact Display Name
    0x00240044,   # LT Comments on Patient Performance of Visual Field
    0x0018991A,   # UT Instruction Performance Comment
    0x00140102,   # DA Secondary Review Date
    0x00200242,   # UI SOP Instance UID of Concatenation Source
    0x00081167,   # UI Multi-frame Source SOP Instance UID
    0x00209312,   # UI Volume Frame of Reference UID
)
CONTENT_SEQUENCE = 0x0040A730
TEXT_VALUE = 0x0040A160
PATIENT_NAME = 0x00100010
SOP_INSTANCE_UID = 0x00080018
BURNED_IN_LABEL = "generated SC, BurnedInAnnotation YES"

CT_CLASS = "1.2.840.10008.5.1.4.1.1.2"
MR_CLASS = "1.2.840.10008.5.1.4.1.1.4"
SC_CLASS = "1.2.840.10008.5.1.4.1.1.7"
BASIC_TEXT_SR = "1.2.840.10008.5.1.4.1.1.88.11"
STUDY_MGMT_CLASS = "1.2.840.10008.3.1.2.3.1"

# Valid first values of the attributes the generator adds; the planter then
# puts a marker into each of them.
INITIAL = {"DA": "20000101", "DT": "20000101000000", "TM": "000000",
           "UI": "1.2.3.4", "DS": "0", "IS": "0", "UR": "http://x/"}


def short(s):
    s = str(s)
    return s if len(s) <= TRUNC else s[:TRUNC] + "..."


# --------------------------------------------------------------------------
# Markers
# --------------------------------------------------------------------------

class Mark:
    def __init__(self, value, kind, source, attr):
        self.value = value      # the searchable string
        self.kind = kind        # text, date, uid, time, number
        self.source = source    # input label
        self.attr = attr        # attribute name as planted
        self.also = []          # other attributes holding it
        self.where = set()      # paths read back from the marked file


class Plan:
    """Every marker, by its searchable string."""

    def __init__(self):
        self.marks = {}
        self.count = collections.Counter()

    def _new(self, value, kind, source, attr):
        assert value not in self.marks, value
        self.marks[value] = Mark(value, kind, source, attr)
        return value

    def text(self, source, attr):
        self.count["text"] += 1
        return self._new("ZQX%05d" % self.count["text"], "text", source, attr)

    def date(self, source, attr):
        d = DATE_BASE + datetime.timedelta(days=self.count["date"])
        self.count["date"] += 1
        return self._new(d.strftime("%Y%m%d"), "date", source, attr)

    def datetime(self, source, attr):
        return self.date(source, attr) + "101530"

    def uid(self, source, attr):
        self.count["uid"] += 1
        return self._new(UID_ROOT + str(self.count["uid"]), "uid", source,
                         attr)

    def time(self, source, attr):
        self.count["time"] += 1
        n = self.count["time"]
        return self._new("%02d%02d%02d.7%05d" % (n % 24, n % 60, (n * 7) % 60,
                                                 n), "time", source, attr)

    def phone(self, source, attr):
        self.count["phone"] += 1
        return self._new("0555-73%05d-99" % self.count["phone"], "phone",
                         source, attr)

    def number(self, source, attr, vr):
        self.count["number"] += 1
        n = self.count["number"]
        v = ("-9.87%05d" if vr == "DS" else "-987%05d") % n
        return self._new(v, "number", source, attr)


def attr_name(tables, tag):
    kw = tables.keyword(tag) if not ((int(tag) >> 16) & 1) else "private"
    return "%s %s" % (dg.tag_str(tag), kw or "?")


class Planter:
    """Puts markers into one dataset (see the module docstring)."""

    def __init__(self, tables, plan, source, explicit, non_annex):
        self.t = tables
        self.plan = plan
        self.source = source
        self.explicit = explicit        # the file will have explicit VRs
        self.non_annex = non_annex
        self.family = plan.text(source, "PatientName (family name)")
        self.given = plan.text(source, "PatientName (given name)")

    # ----- what a public attribute gets
    def public_action(self, tag, vr):
        """'date', 'time', 'uid', 'text', 'name', 'number' or None."""
        kind = self.t.obia_kind(tag)
        if kind == "keep":
            return None
        if vr in ("DA", "DT"):
            return "date"     # shifted or removed: never the original
        if kind is None:
            if tag not in self.non_annex:
                return None
            return {"UI": "uid"}.get(vr, "text" if vr in dg.TEXT_VRS
                                     else None)
        if kind == "shift":
            return None       # times are kept with modified dates
        if kind == "clean":
            return "name" if vr in dg.TEXT_VRS and vr != "UR" else None
        if vr == "TM":
            return "time"
        if vr == "UI":
            return "uid"
        if vr in dg.TEXT_VRS:
            return "text"
        if vr in ("DS", "IS"):
            return "number"
        return None

    def value_for(self, action, vr, attr):
        p, s = self.plan, self.source
        if action == "date":
            return p.datetime(s, attr) if vr == "DT" else p.date(s, attr)
        if action == "time":
            return p.time(s, attr)
        if action == "uid":
            return p.uid(s, attr)
        if action == "number":
            return p.number(s, attr, vr)
        if action == "phone":
            return p.phone(s, attr)
        if action == "text":
            m = p.text(s, attr)
            return "http://example.invalid/%s" % m if vr == "UR" else m
        if action == "name":
            p.marks[self.family].also.append(attr)
            p.marks[self.given].also.append(attr)
            if vr in ("LO", "LT", "ST", "UT", "UC"):
                return "Exam of %s %s, left knee" % (self.given, self.family)
            if vr == "PN":
                return "%s^%s" % (self.family, self.given)
            return self.family        # SH, CS, AE: 16 characters at most
        raise ValueError(action)

    def is_marker(self, elem):
        vals = dg.values_of(elem) if elem.VR != "SQ" else []
        return any(v.rstrip("\0 ") in self.plan.marks
                   or v[:8] in self.plan.marks for v in vals)

    # ----- walking
    def plant(self, ds, in_content=False, top=True):
        for elem in list(ds):
            tag = int(elem.tag)
            if elem.VR == "SQ":
                self.plant_sequence(ds, elem, in_content)
            elif elem.tag.is_private:
                self.plant_private(ds, elem)
            elif tag >> 16 in (0x0000, 0x0002, 0x0004):
                continue
            elif top and tag == PATIENT_NAME:
                elem.value = "%s^%s" % (self.family, self.given)
            elif in_content and tag == TEXT_VALUE:
                elem.value = self.plan.text(self.source,
                                            attr_name(self.t, tag)
                                            + " in ContentSequence")
            else:
                self.plant_public(elem)
        if top and SOP_INSTANCE_UID in ds:
            uid = str(ds.SOPInstanceUID)
            ds.file_meta.MediaStorageSOPInstanceUID = uid
            if uid in self.plan.marks:
                self.plan.marks[uid].also.append(
                    "00020003 MediaStorageSOPInstanceUID")

    def plant_sequence(self, ds, elem, in_content):
        tag = int(elem.tag)
        if elem.tag.is_private:
            creator = dg.private_creator(ds, tag)
            if creator and self.t.is_safe_private(tag >> 16, creator,
                                                  tag & 0xFF):
                return
        elif self.t.obia_kind(tag) == "keep":
            return
        inner = in_content or tag == CONTENT_SEQUENCE
        for item in elem.value or []:
            self.plant(item, inner, top=False)

    def plant_public(self, elem):
        tag = int(elem.tag)
        vr = elem.VR
        raw = vr == "UN"
        if raw:
            vr = self.t.vr(tag)
        action = self.public_action(tag, vr)
        if action is None or self.is_marker(elem):
            return
        value = self.value_for(action, vr, attr_name(self.t, tag))
        if raw:
            b = value.encode("ascii")
            elem.value = b + (b"\0" if vr == "UI" else b" ") * (len(b) % 2)
        else:
            elem.value = value

    def plant_private(self, ds, elem):
        tag = int(elem.tag)
        if tag & 0xFFFF < 0x1000 or self.is_marker(elem):
            return
        creator = dg.private_creator(ds, tag)
        if creator and self.t.is_safe_private(tag >> 16, creator,
                                              tag & 0xFF):
            return
        attr = "%s private (creator %r)" % (dg.tag_str(tag), creator)
        vr = elem.VR
        if creator == "OBIA LEAK TEST" and tag & 0xFF == 0x0C:
            elem.value = self.value_for("phone", vr, attr)
        elif vr in dg.TEXT_VRS:
            elem.value = self.value_for("text", vr, attr)
        elif vr in ("DA", "DT") and self.explicit:
            elem.value = self.value_for("date", vr, attr)
        elif vr == "UI":
            elem.value = self.value_for("uid", vr, attr)
        elif vr in ("UN", "OB") and isinstance(elem.value, bytes) \
                and 0 < len(elem.value) <= 64:
            text = elem.value.rstrip(b"\0 ")
            printable = all(32 <= c < 127 for c in text)
            numeric = re.fullmatch(rb"[0-9.+\-eE\\ ]*", text) is not None
            if printable and not numeric:
                elem.value = self.value_for("text", "LO", attr).encode()


# --------------------------------------------------------------------------
# Building the marked datasets
# --------------------------------------------------------------------------

def item(**kw):
    from pydicom.dataset import Dataset
    d = Dataset()
    for k, v in kw.items():
        setattr(d, k, v)
    return d


def add_nested(ds):
    """Sequences two and three levels deep, each only if absent."""
    first_uid = INITIAL["UI"]
    if "RequestAttributesSequence" not in ds:
        ds.RequestAttributesSequence = [item(
            RequestedProcedureID="x", ScheduledProcedureStepID="x",
            RequestedProcedureDescription="x",
            ScheduledProcedureStepDescription="x",
            AccessionNumber="x", StudyInstanceUID=first_uid,
            ReferencedStudySequence=[item(
                ReferencedSOPClassUID=STUDY_MGMT_CLASS,
                ReferencedSOPInstanceUID=first_uid)])]
    if "ReferencedStudySequence" not in ds:
        ds.ReferencedStudySequence = [item(
            ReferencedSOPClassUID=STUDY_MGMT_CLASS,
            ReferencedSOPInstanceUID=first_uid)]
    if "ReferencedImageSequence" not in ds:
        ds.ReferencedImageSequence = [item(
            ReferencedSOPClassUID=CT_CLASS, ReferencedSOPInstanceUID=first_uid)]
    if "SourceImageSequence" not in ds:
        ds.SourceImageSequence = [item(
            ReferencedSOPClassUID=CT_CLASS, ReferencedSOPInstanceUID=first_uid,
            PurposeOfReferenceCodeSequence=[item(
                CodeValue="121320", CodingSchemeDesignator="DCM",
                CodeMeaning="Uncompressed predecessor")])]
    if "ReferencedSeriesSequence" not in ds:
        it = item(SeriesInstanceUID=first_uid, ReferencedInstanceSequence=[
            item(ReferencedSOPClassUID=CT_CLASS,
                 ReferencedSOPInstanceUID=first_uid)])
        blk = it.private_block(0x0043, "OBIA LEAK ITEM", create=True)
        blk.add_new(0x01, "LO", "x")
        ds.ReferencedSeriesSequence = [it]
    if "OtherPatientIDsSequence" not in ds:
        ds.OtherPatientIDsSequence = [item(
            PatientID="x", IssuerOfPatientID="x", TypeOfPatientID="TEXT")]
    if "RadiopharmaceuticalInformationSequence" not in ds:
        ds.RadiopharmaceuticalInformationSequence = [item(
            Radiopharmaceutical="Fluorodeoxyglucose",
            RadiopharmaceuticalStartDateTime=INITIAL["DT"],
            RadiopharmaceuticalStopDateTime=INITIAL["DT"])]
    if "VerifyingObserverSequence" not in ds:
        ds.VerifyingObserverSequence = [item(
            VerifyingObserverName="x", VerifyingOrganization="x",
            VerificationDateTime=INITIAL["DT"])]
    if "ContentSequence" not in ds:
        def concept(value, meaning):
            return [item(CodeValue=value, CodingSchemeDesignator="DCM",
                         CodeMeaning=meaning)]
        ds.ContentSequence = [
            item(RelationshipType="CONTAINS", ValueType="TEXT",
                 ConceptNameCodeSequence=concept("121071", "Finding"),
                 TextValue="x"),
            item(RelationshipType="HAS OBS CONTEXT", ValueType="PNAME",
                 ConceptNameCodeSequence=concept("121008",
                                                 "Person Observer Name"),
                 PersonName="x"),
            item(RelationshipType="CONTAINS", ValueType="DATETIME",
                 ConceptNameCodeSequence=concept("111526", "DateTime"),
                 DateTime=INITIAL["DT"]),
            item(RelationshipType="CONTAINS", ValueType="UIDREF",
                 ConceptNameCodeSequence=concept("121232",
                                                 "Source series for "
                                                 "segmentation"),
                 UID=INITIAL["UI"]),
            item(RelationshipType="CONTAINS", ValueType="CONTAINER",
                 ContinuityOfContent="SEPARATE",
                 ConceptNameCodeSequence=concept("111028",
                                                 "Image Library"),
                 ContentSequence=[item(
                     RelationshipType="CONTAINS", ValueType="TEXT",
                     ConceptNameCodeSequence=concept("121071", "Finding"),
                     TextValue="x")]),
        ]


def add_annex(ds, planter, tables):
    """Every attribute of Table E.1-1 the profile does not keep and the
    planter marks, where absent; sequences get one item."""
    for tag in sorted(tables.annex):
        if tag >> 16 in (0x0000, 0x0002, 0x0004, 0xFFFA, 0xFFFC) \
                or tag in ds:
            continue
        vr = tables.vr(tag)
        kind = tables.obia_kind(tag)
        if vr == "SQ":
            if kind != "keep":
                ds.add_new(tag, "SQ", [item(
                    PatientID="x", ReferencedSOPClassUID=CT_CLASS,
                    ReferencedSOPInstanceUID=INITIAL["UI"])])
            continue
        if planter.public_action(tag, vr) is None:
            continue
        ds.add_new(tag, vr, INITIAL.get(vr, "x"))
    if 0x60004000 not in ds:
        ds.add_new(0x60004000, "LT", "x")          # Overlay Comments
    for tag in planter.non_annex:
        if tag not in ds:
            vr = tables.vr(tag)
            ds.add_new(tag, vr, INITIAL.get(vr, "x"))


def add_private(ds, explicit, tables):
    from pydicom.dataset import Dataset
    blk = ds.private_block(0x0041, "OBIA LEAK TEST", create=True)
    for off, vr in ((0x01, "LO"), (0x02, "SH"), (0x03, "ST"), (0x04, "LT"),
                    (0x05, "PN"), (0x06, "UT"), (0x07, "UI")):
        blk.add_new(off, vr, INITIAL.get(vr, "x"))
    if explicit:
        blk.add_new(0x08, "DA", INITIAL["DA"])
    blk.add_new(0x09, "DS", "3.25")                 # numeric: kept
    inner = Dataset()
    inner.PatientName = "x"
    iblk = inner.private_block(0x0045, "OBIA LEAK NESTED", create=True)
    iblk.add_new(0x01, "LO", "x")
    blk.add_new(0x0A, "SQ", [inner])
    blk.add_new(0x0B, "UN", b"xy")
    blk.add_new(0x0C, "LO", "0555-7300000-99")   # digits, not a number

    # Unsafe elements next to safe ones of creators in safe_private.tsv.
    for group, creator, safe_off, safe_vr, safe_val in (
            (0x0019, "GEMS_ACQU_01", 0x23, "DS", "0.5625"),
            (0x2001, "Philips Imaging DD 001", 0x03, "FL", 1000.0)):
        b = ds.private_block(group, creator, create=True)
        if b.get_tag(safe_off) not in ds:
            b.add_new(safe_off, safe_vr, safe_val)
        free = [o for o in range(0x00, 0x100)
                if not tables.is_safe_private(group, creator, o)
                and b.get_tag(o) not in ds]
        b.add_new(free[0], "LO", "x")
        b.add_new(free[1], "ST", "x")


def image_dataset(modality, sop_class, bits=16, burned_in=None):
    from pydicom.dataset import Dataset, FileMetaDataset
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = sop_class
    ds.file_meta.MediaStorageSOPInstanceUID = INITIAL["UI"]
    ds.file_meta.TransferSyntaxUID = dg.EXPLICIT_LE
    ds.is_little_endian, ds.is_implicit_VR = True, False
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = INITIAL["UI"]
    ds.StudyInstanceUID = INITIAL["UI"]
    ds.SeriesInstanceUID = INITIAL["UI"]
    ds.Modality = modality
    ds.PatientName = "x"
    ds.PatientID = "x"
    ds.PatientSex = "O"
    if burned_in:
        ds.BurnedInAnnotation = burned_in
    if sop_class == BASIC_TEXT_SR:
        ds.ValueType = "CONTAINER"
        ds.ContinuityOfContent = "SEPARATE"
        ds.CompletionFlag = "COMPLETE"
        ds.VerificationFlag = "VERIFIED"
        ds.ConceptNameCodeSequence = [item(
            CodeValue="18748-4", CodingSchemeDesignator="LN",
            CodeMeaning="Diagnostic imaging report")]
        return ds
    ds.Rows = ds.Columns = 16
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = bits
    ds.BitsStored = 12 if bits == 16 else 8
    ds.HighBit = ds.BitsStored - 1
    ds.PixelRepresentation = 0
    n = 16 * 16
    if bits == 16:
        data = b"".join(((i * 13) % 4096).to_bytes(2, "little")
                        for i in range(n))
        ds.add_new(0x7FE00010, "OW", data)
    else:
        ds.add_new(0x7FE00010, "OB", bytes((i * 7) % 256 for i in range(n)))
    return ds


GENERATED = (
    ("generated CT", lambda: image_dataset("CT", CT_CLASS), dg.EXPLICIT_LE),
    ("generated MR, 8 bit", lambda: image_dataset("MR", MR_CLASS, bits=8),
     dg.IMPLICIT_LE),
    ("generated CT, big endian", lambda: image_dataset("CT", CT_CLASS),
     dg.EXPLICIT_BE),
    ("generated basic text SR", lambda: image_dataset("SR", BASIC_TEXT_SR),
     dg.DEFLATED_LE),
    (BURNED_IN_LABEL, lambda: image_dataset("OT", SC_CLASS, bits=8,
                                            burned_in="YES"),
     dg.EXPLICIT_LE),
)


def select_corpus(root):
    """Up to N_REAL manifest rows, round robin over (modality, transfer
    syntax), at most one file per multi-file series."""
    groups = collections.OrderedDict()
    for r in corpus.manifest(root, pydicom="ok"):
        if SKIP_NOTES.search(r["notes"]) or not r["sop_class"] \
                or "Directory" in r["sop_class"]:
            continue
        try:
            if int(r["size"] or 0) > MAX_FILE_SIZE:
                continue
        except ValueError:
            continue
        key = (r["modality"] or r["sop_class"], r["ts_name"])
        groups.setdefault(key, []).append(r)
    chosen, series_seen = [], set()
    depth = 0
    while len(chosen) < N_REAL:
        added = False
        for rows in groups.values():
            if depth < len(rows) and len(chosen) < N_REAL:
                r = rows[depth]
                note = r["notes"].split(";")[0]
                if note.startswith("SERIES") or "many transfer" in note:
                    if note in series_seen:
                        continue
                    series_seen.add(note)
                chosen.append(r)
                added = True
        if not added and all(depth >= len(rows) for rows in groups.values()):
            break
        depth += 1
    return chosen


def pick_ts(src_ts, counts):
    """Encapsulated data keeps its transfer syntax; native data goes to the
    least used native one (big endian only from explicit VR sources)."""
    if src_ts not in dg.NATIVE_TS:
        return src_ts
    allowed = [t for t in dg.NATIVE_TS
               if not (t == dg.EXPLICIT_BE and src_ts == dg.IMPLICIT_LE)]
    best = min(allowed, key=lambda t: counts[t])
    counts[best] += 1
    return best


# --------------------------------------------------------------------------
# Reading back and searching
# --------------------------------------------------------------------------

def strings_with_paths(ds):
    """(path, string) for every value of ds (and its File Meta)."""
    out = []
    meta = getattr(ds, "file_meta", None)
    for source, prefix in ((meta, ""), (ds, "")):
        if source is None:
            continue
        for path, _d, elem in dg.walk(source, prefix):
            if elem.VR == "SQ" or int(elem.tag) == 0x7FE00010:
                continue
            try:
                for v in dg.values_of(elem):
                    out.append((path, v))
            except Exception:
                continue
    return out


def markers_in(text, plan):
    found = []
    b = text.encode("latin-1", "replace")
    for _kind, rx in PATTERNS:
        for m in rx.finditer(b):
            s = m.group(0).decode()
            if s in plan.marks:
                found.append(s)
    return found


def date_map(ds):
    """{path: [date strings (YYYYMMDD)]} of the DA/DT values of ds."""
    out = {}
    for path, _d, elem in dg.walk(ds):
        vr = elem.VR
        if vr == "UN":      # Implicit VR, or a tag pydicom 2.3 lacks
            vr = TABLES.vr(elem.tag)
        if vr not in ("DA", "DT"):
            continue
        vals = [v[:8] for v in dg.values_of(elem) if dg.parse_da(v)]
        if vals:
            out[path] = vals
    return out


def shifted_occurrences(in_ds, out_ds):
    """Counter of date strings in out_ds that are the shifted value of the
    input's date at the same path, and the shift (days) used."""
    din, dout = date_map(in_ds), date_map(out_ds)
    diffs = collections.Counter()
    for path, vals in dout.items():
        for a, b in zip(din.get(path, []), vals):
            diffs[(dg.parse_da(b) - dg.parse_da(a)).days] += 1
    if not diffs:
        return collections.Counter(), None
    shift = diffs.most_common(1)[0][0]
    legit = collections.Counter()
    for path, vals in dout.items():
        for a, b in zip(din.get(path, []), vals):
            if a != b and (dg.parse_da(b) - dg.parse_da(a)).days == shift:
                legit[b] += 1
    return legit, shift


def locate(ds, needle):
    """Where needle is in ds: 'path (keyword)' of the first element whose
    value holds it, or None."""
    if ds is None:
        return None
    for path, v in strings_with_paths(ds):
        if needle in v:
            last = path.split(".")[-1]
            try:
                kw = TABLES.keyword(int(last[:8], 16))
            except ValueError:
                kw = ""
            return "%s (%s)" % (path, kw or "private/unknown")
    return None


TABLES = None


def main():
    global TABLES
    obia, pydicom = corpus.obia_and_pydicom()
    try:
        TABLES = tables = dg.Tables()
    except OSError as e:
        print("SKIP: PS3.15 tables missing: %s" % e)
        return 77
    root = corpus.require_root()
    t0 = time.time()
    non_annex = tuple(t for t in NOT_IN_ANNEX_E
                      if t not in tables.safe_attributes)
    kept_by_list = [t for t in NOT_IN_ANNEX_E if t in tables.safe_attributes]
    print("corpus: %s; tables: %s; safe attributes: %s"
          % (root, os.path.dirname(tables.paths["annex_e.tsv"]),
             tables.safe_attributes_path or "none (data/safe_attributes.tsv "
             "absent)"))
    if kept_by_list:
        print("NOTE: not marked, listed in %s: %s"
              % (tables.safe_attributes_path,
                 ", ".join(attr_name(tables, t) for t in kept_by_list)))

    tmp = tempfile.mkdtemp(prefix="obia-deid-leak-")
    try:
        return run(obia, tables, root, non_annex, tmp, t0)
    finally:
        if os.environ.get("OBIA_KEEP_TMP"):
            print("kept: %s" % tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def run(obia, tables, root, non_annex, tmp, t0):
    import pydicom
    from pydicom.dataset import FileMetaDataset
    indir = os.path.join(tmp, "in")
    os.mkdir(indir)
    plan = Plan()
    inputs = []          # dicts: path, label, ts
    skipped = []
    ts_counts = collections.Counter()
    failures = 0

    sources = [(r["path"], None, None) for r in select_corpus(root)]
    sources += [(label, make, ts) for label, make, ts in GENERATED]
    for n, (label, make, fixed_ts) in enumerate(sources, 1):
        try:
            if make is None:
                # force: some files have File Meta but no preamble
                ds = pydicom.dcmread(os.path.join(root, label), force=True)
                if "SOPClassUID" not in ds or "SOPInstanceUID" not in ds:
                    skipped.append((label, "no SOP Class/Instance UID"))
                    continue
                if getattr(ds, "file_meta", None) is None:
                    ds.file_meta = FileMetaDataset()
                # Headers are what this test checks: most images state
                # they have no burned-in text, so that they are written.
                if "BurnedInAnnotation" not in ds and n % 4:
                    ds.BurnedInAnnotation = "NO"
                src_ts = str(ds.file_meta.get("TransferSyntaxUID",
                                              dg.EXPLICIT_LE))
                ts = pick_ts(src_ts, ts_counts)
            else:
                ds = make()
                ts = fixed_ts
                ts_counts[ts] += 1
            explicit = ts != dg.IMPLICIT_LE
            planter = Planter(tables, plan, label, explicit, non_annex)
            add_nested(ds)
            add_annex(ds, planter, tables)
            add_private(ds, explicit, tables)
            planter.plant(ds)
            ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
            path = os.path.join(indir, "f%03d.dcm" % n)
            dg.save(ds, path, ts)
        except Exception as e:  # pydicom cannot read or write it
            skipped.append((label, "%s: %s" % (type(e).__name__, e)))
            for v in [v for v, m in plan.marks.items() if m.source == label]:
                del plan.marks[v]
            continue
        inputs.append({"path": path, "label": label, "ts": ts})

    # The generator: every marker must read back from its file.
    by_source = collections.defaultdict(list)
    for m in plan.marks.values():
        by_source[m.source].append(m)
    locations = 0
    for inp in inputs:
        ds = pydicom.dcmread(inp["path"])
        for path, v in strings_with_paths(ds):
            for s in markers_in(v, plan):
                plan.marks[s].where.add(path)
                locations += 1
        for m in by_source[inp["label"]]:
            if not m.where:
                print("FAIL: generator: %s marker %s for %s not found in %s"
                      % (m.kind, m.value, m.attr, inp["path"]))
                failures += 1
    per_ts = collections.Counter(dg.TS_NAMES.get(i["ts"], "encapsulated "
                                                 + i["ts"]) for i in inputs)
    for label, why in skipped:
        print("skipped: %s: %s" % (label, short(why)))
    print("files generated: %d (%d real, %d synthetic) in %.1f s; by "
          "transfer syntax: %s"
          % (len(inputs), sum(1 for i in inputs
                              if not i["label"].startswith("generated")),
             sum(1 for i in inputs if i["label"].startswith("generated")),
             time.time() - t0, dg.counter_str(per_ts)))
    kinds = collections.Counter(m.kind for m in plan.marks.values())
    print("markers planted: %d (%s) at %d locations"
          % (len(plan.marks), dg.counter_str(kinds), locations))
    for ts in dg.NATIVE_TS:
        if per_ts[dg.TS_NAMES[ts]] < 2:
            print("FAIL: fewer than 2 inputs in %s" % dg.TS_NAMES[ts])
            failures += 1
    if not dg.deid_available(obia):
        print("FAIL: obia deid not available (`%s help deid` fails)" % obia)
        return 1

    # ----- run obia deid
    out = os.path.join(tmp, "out")
    keys = os.path.join(tmp, "keys.db")
    t1 = time.time()
    p = dg.run_deid(obia, out, keys, [indir])
    print("obia deid: exit %d in %.1f s" % (p.returncode, time.time() - t1))
    stderr = p.stderr.decode("utf-8", "replace").strip()
    report_path = os.path.join(out, "deid-report.jsonl")
    if p.returncode not in (0, 1) or not os.path.isfile(report_path):
        print("FAIL: obia deid exit status %d, report %s; stderr: %s"
              % (p.returncode, "present" if os.path.isfile(report_path)
                 else "missing", short(stderr)))
        return 1
    try:
        report = dg.read_report(report_path)
    except ValueError as e:
        print("FAIL: %s" % e)
        return 1
    entries = dg.report_by_input(report)
    outputs, flagged, errors = {}, [], []
    for inp in inputs:
        e = entries.get(os.path.realpath(inp["path"]))
        if e is None:
            print("FAIL: no report entry for %s (%s)"
                  % (inp["path"], inp["label"]))
            failures += 1
            continue
        kinds_present = [k for k in ("output", "flagged", "error") if k in e]
        if len(kinds_present) != 1:
            print("FAIL: report entry for %s (%s) has %s, want exactly one "
                  "of output/flagged/error" % (inp["path"], inp["label"],
                                               kinds_present))
            failures += 1
        if "output" in e:
            full = os.path.join(out, e["output"])
            if not os.path.isfile(full):
                print("FAIL: %s: report names output %s, which does not "
                      "exist" % (inp["label"], e["output"]))
                failures += 1
            else:
                outputs[os.path.realpath(full)] = inp
        elif "flagged" in e:
            flagged.append((inp, e["flagged"]))
        elif "error" in e:
            errors.append((inp, e["error"]))
    if len(report) != len(inputs):
        print("FAIL: report has %d entries for %d inputs"
              % (len(report), len(inputs)))
        failures += 1
    if (p.returncode == 1) != bool(errors):
        print("FAIL: exit status %d with %d errors in the report"
              % (p.returncode, len(errors)))
        failures += 1
    for inp, why in flagged:
        print("flagged: %s (%s): %s" % (inp["label"], dg.TS_NAMES.get(
            inp["ts"], inp["ts"]), short(why)))
    for inp, why in errors:
        print("error: %s (%s): %s" % (inp["label"], dg.TS_NAMES.get(
            inp["ts"], inp["ts"]), short(why)))
    burned = [i for i in inputs if i["label"] == BURNED_IN_LABEL]
    for inp in burned:
        e = entries.get(os.path.realpath(inp["path"]), {})
        if "flagged" not in e:
            print("FAIL: %s not flagged (report: %s)"
                  % (BURNED_IN_LABEL, short(sorted(e))))
            failures += 1

    # ----- search every byte under OUT
    leaks = []
    all_files = dg.files_under(out)
    listed = set(outputs) | {os.path.realpath(report_path)}
    for f in all_files:
        if os.path.realpath(f) not in listed:
            print("FAIL: file under OUT not named by the report: %s"
                  % os.path.relpath(f, out))
            failures += 1
    for f in all_files:
        rel = os.path.relpath(f, out)
        for kind, rx in PATTERNS:
            for m in rx.finditer(rel.encode()):
                s = m.group(0).decode()
                if kind in ("text", "uid") or s in plan.marks:
                    leaks.append((s, rel, "in the file's path name"))
        data = dg.dataset_bytes(f)
        inp = outputs.get(os.path.realpath(f))
        hits = collections.Counter()
        for kind, rx in PATTERNS:
            for m in rx.finditer(data):
                s = m.group(0).decode()
                # Every ZQX marker and UID under the planted root is
                # planted; dates, times and numbers only if in the plan.
                if kind not in ("text", "uid") and s not in plan.marks:
                    continue
                hits[s] += 1
        if not hits:
            continue
        out_ds = None
        try:
            out_ds = pydicom.dcmread(f, force=True)
        except Exception:
            pass
        legit, shift = collections.Counter(), None
        if inp is not None and out_ds is not None and any(
                plan.marks.get(s) and plan.marks[s].kind == "date"
                for s in hits):
            in_ds = pydicom.dcmread(inp["path"])
            legit, shift = shifted_occurrences(in_ds, out_ds)
        for s, n in sorted(hits.items()):
            mk = plan.marks.get(s)
            if mk is not None and mk.kind == "date":
                n -= legit.get(s, 0)
                if n <= 0:
                    continue
            where = locate(out_ds, s) if rel.endswith(".dcm") else None
            if where is None and f == report_path:
                with open(f, encoding="utf-8", errors="replace") as fh:
                    for ln, line in enumerate(fh, 1):
                        if s in line:
                            where = "report line %d" % ln
                            break
            if where is None:
                where = "byte offset %d" % data.find(s.encode())
            if mk is not None and mk.kind == "date" and shift is not None:
                where += " (output's date shift %d days)" % shift
            leaks.append((s, rel, where + ("" if n == 1 else
                                            " and %d more" % (n - 1))))

    for s, rel, where in leaks:
        mk = plan.marks.get(s)
        if mk is None:
            what = "unplanted value %s under the marker root" % s
        else:
            what = "%s marker %s planted in %s, attribute %s" % (
                mk.kind, s, mk.source, mk.attr)
            if mk.where:
                what += " at %s" % ", ".join(sorted(mk.where)[:3])
            if mk.also:
                what += " (also in %s)" % short(", ".join(mk.also))
        print("FAIL: leak: %s; found in %s at %s" % (what, rel, where))
    failures += len(leaks)

    written = len(outputs)
    need = MIN_WRITTEN * len(inputs)
    print("files generated: %d" % len(inputs))
    print("markers planted: %d at %d locations" % (len(plan.marks),
                                                   locations))
    print("outputs: %d, flagged: %d, errors: %d" % (written, len(flagged),
                                                    len(errors)))
    print("files searched under OUT: %d" % len(all_files))
    print("markers found: %d" % len(leaks))
    if written < need:
        print("FAIL: only %d of %d inputs written (need %d%%)"
              % (written, len(inputs), int(MIN_WRITTEN * 100)))
        failures += 1
    print("time: %.1f s" % (time.time() - t0))
    print("PASS" if not failures else "FAIL")
    return 0 if not failures else 1


if __name__ == "__main__":
    sys.exit(main())
