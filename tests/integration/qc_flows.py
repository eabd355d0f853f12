#!/usr/bin/python3
"""Quality control end to end, through the command line.

tests/lib/qcgen.py writes broken and tricky inputs (truncated files, wrong
Pixel Data length, inconsistent encapsulated fragments, empty and
incomplete headers, a missing Patient ID, another patient in a study,
patient characteristics that disagree, the same file twice, a SOP Instance
UID conflict, secondary captures with and without Burned In Annotation,
series with mixed modalities or Frames of Reference, duplicate or missing
Instance Numbers and a gap in slice positions), each with the reason codes
quality control must give it. The generator is checked first (pydicom
reads each defect back).

Then, in a fresh archive:
  - `obia qc codes`: every code the corpus needs, with its severity;
  - two ingest runs (run2 holds what needs run1's images in the archive):
    each file's outcome and, for a quarantined one, its item (Q000001) and
    codes in the report; `qc list`/`qc show` agree; de-identified bytes are
    kept for what could be de-identified, else the input's path; the kept
    bytes hold no original value; series warnings for the warning series
    and none for the others; the duplicate is stored once;
  - repairs (of the original, and of the kept bytes) that make an item
    clean (accepted, in the catalog, in its study) and that do not (exit 3,
    still held); release of hold-level items (accepted) and refusal for
    error-level ones; discard (its kept bytes gone); every action in the
    item's history and the audit log with the --user given ($OBIA_USER
    without it);
  - review: every series starts unreviewed; states set by series, study
    and collection, with history; `collection release` refused while series
    are unreviewed or items held, allowed once neither, and with --force
    --reason;
  - no original value anywhere on the archive's disk but keys.db;
  - the PHI review report: planted names, phone numbers, e-mail and postal
    addresses, long IDs and original dates in a collection with profile
    none are flagged on their rows; a clean series ingested with the
    default profile has no flagged row but those docs/qc-report.md
    expects.

The flows give options before operands (obia qc repair --set K=V ID),
which any parser takes; the order the contract writes (obia qc repair ID
--set K=V, qc show ID --json, review set STATE TARGET --reason R,
collection release ACC --force --reason R) has checks of its own.

One line per check (ok/FAIL), then a summary. Environment: OBIA (the obia
binary), OBIA_TEST_DATA. Exit 0 pass, 1 fail (also when `obia qc` does not
exist), 77 skipped (no pydicom). OBIA_KEEP_TMP=1 keeps the inputs and the
archive.
"""

import csv
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
import corpus  # noqa: E402
import qcgen  # noqa: E402

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                    "..", ".."))
CURATOR = "qc-curator"
REVIEWER = "qc-reviewer"
ENV_USER = "qc-env-user"
INGEST_USERS = {1: "qc-ingest-env", 2: "qc-ingest-opt"}
DETAIL_RE = re.compile(r"^(Q\d{6,}) ([a-z0-9-]+(?:,[a-z0-9-]+)*): ")
SERIES_CODES = ("series-mixed-modality", "series-mixed-frame-of-reference",
                "series-instance-number-duplicate",
                "series-instance-number-missing", "series-irregular-spacing")
REPORT_FLAGS = ("name", "date", "phone", "email", "address", "long-id",
                "known")


def short(s, n=300):
    s = str(s).strip().replace("\n", " | ")
    return s if len(s) <= n else s[:n] + "..."


class Test:
    def __init__(self, obia, arc):
        self.obia = obia
        self.arc = arc
        self.passed = 0
        self.failed = 0

    def check(self, name, cond, why=""):
        if cond:
            self.passed += 1
            print("ok: %s" % name)
        else:
            self.failed += 1
            print("FAIL: %s%s" % (name, ": " + short(why, 600) if why else ""))
        return bool(cond)

    def run(self, words, *rest, user=CURATOR, env=None, archive=True):
        """obia WORDS [--archive A] [--user U] REST...; user None leaves
        --user out."""
        cmd = [self.obia] + list(words)
        if archive:
            cmd += ["--archive", self.arc]
        if user is not None:
            cmd += ["--user", user]
        cmd += [str(r) for r in rest]
        e = dict(os.environ)
        if env:
            e.update(env)
        try:
            p = subprocess.run(cmd, capture_output=True, text=True, env=e,
                               timeout=300)
        except subprocess.TimeoutExpired:
            return subprocess.CompletedProcess(cmd, 124, "", "timed out")
        return p

    def json(self, words, *rest, what=None, user=CURATOR, **kw):
        """Run with --json; the parsed output, or None (with a FAIL line
        when what names the check)."""
        p = self.run(words, "--json", *rest, user=user, **kw)
        try:
            v = json.loads(p.stdout) if p.returncode == 0 else None
        except ValueError:
            v = None
        if v is None and what:
            self.check(what, False, "exit %d; stdout %s; stderr %s"
                       % (p.returncode, short(p.stdout), short(p.stderr)))
        return v


def out_of(p):
    return (p.stdout or "") + (p.stderr or "")


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def files_under(root):
    for d, _, names in os.walk(root):
        for n in names:
            yield os.path.join(d, n)


# --------------------------------------------------------------------------
# The generator, read back
# --------------------------------------------------------------------------

def check_generator(t, cases):
    import pydicom
    from pydicom.encaps import generate_pixel_data_fragment, get_frame_offsets
    from pydicom.filebase import DicomBytesIO
    by = {c.name: c for c in cases}
    need = ("SOPClassUID", "SOPInstanceUID", "StudyInstanceUID",
            "SeriesInstanceUID", "PatientID", "PatientName", "PatientSex",
            "PatientBirthDate", "StudyDate", "Modality", "InstanceNumber",
            "ImagePositionPatient", "ImageOrientationPatient",
            "FrameOfReferenceUID", "PixelSpacing", "SliceThickness")
    full = qcgen.ROWS * qcgen.COLS * 2

    def read(c, i=0, **kw):
        return pydicom.dcmread(c.files[i], **kw)

    probs = []
    for f in by["clean"].files:
        ds = pydicom.dcmread(f)
        missing = [k for k in need if k not in ds]
        if missing or len(ds.PixelData) != full or \
                ds.file_meta.TransferSyntaxUID != qcgen.EXPLICIT_LE:
            probs.append("%s: missing %s" % (f, missing))
    zs = [float(pydicom.dcmread(f).ImagePositionPatient[2])
          for f in by["clean"].files]
    t.check("generator: clean series of 5 valid images, evenly spaced",
            not probs and len(zs) == 5 and
            len({round(b - a, 3) for a, b in zip(zs, zs[1:])}) == 1,
            "; ".join(probs) or zs)

    ds = read(by["truncated-pixels"], defer_size=None, force=True)
    size = os.path.getsize(by["truncated-pixels"].files[0])
    t.check("generator: truncated-pixels ends inside Pixel Data",
            size < os.path.getsize(by["clean"].files[0]) and
            "StudyInstanceUID" in ds, size)
    raw = open(by["truncated-header"].files[0], "rb").read()
    t.check("generator: truncated-header ends inside Patient's Birth Date, "
            "before the Study UID",
            raw.endswith(b"DA\x08\x00" + qcgen.PATIENTS["main"][3][:4].encode())
            and b"\x20\x00\x0d\x00UI" not in raw, raw[-16:])
    ds = read(by["pixel-length"])
    t.check("generator: pixel-length has Pixel Data 100 bytes short",
            len(ds.PixelData) == full - 100 and ds.Rows == 64)
    ds = read(by["pixel-length-row"])
    t.check("generator: pixel-length-row has Pixel Data one row short",
            len(ds.PixelData) == full - 128)
    ds = read(by["fragments"])
    fp = DicomBytesIO(ds.PixelData)
    fp.is_little_endian = True
    _, offsets = get_frame_offsets(fp)
    frags = list(generate_pixel_data_fragment(fp))
    t.check("generator: fragments is RLE with 3 frames, 1 fragment and 3 "
            "offsets past the end",
            ds.file_meta.TransferSyntaxUID == qcgen.RLE_LOSSLESS and
            int(ds.NumberOfFrames) == 3 and len(frags) == 1 and
            len(offsets) == 3 and max(offsets) > len(frags[0]),
            (offsets, [len(f) for f in frags]))
    ds = read(by["header-empty"])
    t.check("generator: header-empty has File Meta and no dataset element",
            len(ds) == 0 and "TransferSyntaxUID" in ds.file_meta)
    ok = all(k not in read(by[n]) or read(by[n]).get(k) is None
             for n, k in (("no-modality", "Modality"),
                          ("no-series-uid", "SeriesInstanceUID"),
                          ("no-patient-id", "PatientID"),
                          ("no-patient-id-2", "PatientID")))
    t.check("generator: the incomplete headers lack what they should", ok)
    owner, intruder = read(by["study-owner"]), read(by["other-patient"])
    t.check("generator: other-patient has the owner's study and another "
            "Patient ID",
            owner.StudyInstanceUID == intruder.StudyInstanceUID and
            owner.PatientID != intruder.PatientID and
            owner.SeriesInstanceUID != intruder.SeriesInstanceUID)
    a, s, b = (read(by[n]) for n in ("charac-first", "charac-sex",
                                      "charac-birth"))
    t.check("generator: the characteristics cases share patient and study, "
            "sex or birth date differ",
            a.PatientID == s.PatientID == b.PatientID and
            a.StudyInstanceUID == s.StudyInstanceUID == b.StudyInstanceUID
            and a.PatientSex != s.PatientSex and
            a.PatientBirthDate != b.PatientBirthDate and
            a.PatientBirthDate == s.PatientBirthDate and
            a.PatientSex == b.PatientSex)
    p = by["pair"].files
    t.check("generator: again is a byte copy of clean-1, pair two identical "
            "files",
            sha256(by["again"].files[0]) == sha256(by["clean"].files[0]) and
            sha256(p[0]) == sha256(p[1]))
    a, b = read(by["conflict-first"]), read(by["uid-conflict"])
    t.check("generator: uid-conflict has conflict-first's SOP Instance UID, "
            "other content",
            a.SOPInstanceUID == b.SOPInstanceUID and
            sha256(by["conflict-first"].files[0]) !=
            sha256(by["uid-conflict"].files[0]))
    scs = [read(by[n]) for n in ("sc-burned-yes", "sc-burned-unknown",
                                 "sc-burned-no")]
    t.check("generator: the secondary captures say YES, nothing and NO",
            all(d.SOPClassUID == qcgen.SC_CLASS for d in scs) and
            [d.get("BurnedInAnnotation") for d in scs] == ["YES", None, "NO"])

    def series_of(n):
        return [pydicom.dcmread(f) for f in by[n].files]
    mm = series_of("mixed-modality")
    mf = series_of("mixed-frame")
    dn = series_of("duplicate-number")
    mn = series_of("missing-number")
    gp = series_of("gap")
    gz = [float(d.ImagePositionPatient[2]) for d in gp]
    t.check("generator: each warning series has its one defect",
            len({d.Modality for d in mm}) == 2 and
            len({d.FrameOfReferenceUID for d in mf}) == 2 and
            len({d.InstanceNumber for d in dn}) == 2 and
            sum("InstanceNumber" not in d for d in mn) == 1 and
            len({round(b - a, 3) for a, b in zip(gz, gz[1:])}) == 2 and
            all(len({d.SeriesInstanceUID for d in s}) == 1
                for s in (mm, mf, dn, mn, gp)))


# --------------------------------------------------------------------------
# Ingest and the quarantine
# --------------------------------------------------------------------------

def read_report(path):
    out = {}
    if not os.path.isfile(path):
        return out
    for line in open(path, encoding="utf-8"):
        try:
            o = json.loads(line)
        except ValueError:
            continue
        out[os.path.realpath(o.get("input", ""))] = o
    return out


def codes_ok(case, codes):
    """'' if codes are what the case expects, else why not."""
    codes = set(codes)
    why = []
    if not case.need <= codes:
        why.append("missing %s" % ",".join(sorted(case.need - codes)))
    if case.any_of and not case.any_of & codes:
        why.append("none of %s" % ",".join(sorted(case.any_of)))
    extra = codes - case.need - case.any_of - case.extra_ok
    if extra:
        why.append("unexpected %s" % ",".join(sorted(extra)))
    return "; ".join(why)


def qc_show(t, qid, what=None):
    v = t.json(("qc", "show"), qid, what=what)
    if isinstance(v, list) and len(v) == 1:
        v = v[0]
    return v if isinstance(v, dict) else None


def quarantine_files(t):
    """{SOP Instance UID: path} of every DICOM file under quarantine/."""
    import pydicom
    out = {}
    for f in files_under(os.path.join(t.arc, "quarantine")):
        try:
            ds = pydicom.dcmread(f, stop_before_pixels=True, force=True)
            out[str(ds.SOPInstanceUID)] = f
        except Exception:
            continue
    return out


def count_objects(arc):
    """The image objects of the store (not the series thumbnails, PNG
    objects of the same store)."""
    n = 0
    for path in files_under(os.path.join(arc, "store", "objects")):
        with open(path, "rb") as f:
            n += f.read(8) != b"\x89PNG\r\n\x1a\n"
    return n


def history_has(item, action, who, reason=None):
    for h in (item or {}).get("history") or []:
        if action in str(h.get("action", "")) and h.get("who") == who and \
                (reason is None or h.get("reason") == reason) and h.get("at"):
            return True
    return False


def run_qc(t, cases, tmp, severity):
    by = {c.name: c for c in cases}
    p = t.run(("collection", "create"), "--title", "QC corpus", user=None)
    coll = p.stdout.strip()
    t.check("collection for the corpus created", coll.startswith("OBIA"),
            out_of(p))
    reports = {}
    for run in (1, 2):
        rep = os.path.join(tmp, "run%d.jsonl" % run)
        if run == 2:
            objects1 = count_objects(t.arc)
            images1 = images_in(t, coll)
        # run 1 names its user through $OBIA_USER, run 2 with --user
        p = t.run(("ingest",), "--collection", coll, "--report", rep,
                  os.path.join(tmp, "in", "run%d" % run),
                  user=None if run == 1 else INGEST_USERS[2],
                  env={"OBIA_USER": INGEST_USERS[1]})
        reports.update(read_report(rep))
        n = sum(len(c.files) for c in cases if c.run == run)
        lines = sum(1 for _ in open(rep)) if os.path.isfile(rep) else 0
        t.check("ingest run %d: exit 0, one outcome per file (%d)" % (run, n),
                p.returncode == 0 and lines == n,
                "exit %d, %d lines: %s" % (p.returncode, lines,
                                           short(p.stderr)))
    objects2 = count_objects(t.arc)
    images2 = images_in(t, coll)

    # ----- outcomes and codes in the ingest report
    items = {}          # case name -> (qid, codes)
    accepted_sop = {}   # input path -> the archive's SOP Instance UID
    for c in cases:
        outs = [reports.get(os.path.realpath(f), {}) for f in c.files]
        got = [o.get("outcome") for o in outs]
        for f, o in zip(c.files, outs):
            if o.get("outcome") in ("accepted", "duplicate"):
                parts = str(o.get("detail", "")).split()
                if len(parts) >= 2:
                    accepted_sop[f] = parts[1]
        if c.outcome == "pair":
            t.check("%s: one accepted, one duplicate" % c.name,
                    sorted(map(str, got)) == ["accepted", "duplicate"], got)
            continue
        if c.outcome != "quarantined":
            t.check("%s: %s" % (c.name, c.outcome),
                    all(g == c.outcome for g in got),
                    "; ".join("%s: %s %s" % (os.path.basename(f),
                                             o.get("outcome"),
                                             o.get("detail"))
                              for f, o in zip(c.files, outs)))
            continue
        o = outs[0]
        m = DETAIL_RE.match(str(o.get("detail", "")))
        if not t.check("%s: quarantined, detail \"Qnnnnnn codes: ...\""
                       % c.name,
                       o.get("outcome") == "quarantined" and m,
                       "%s %s" % (o.get("outcome"), o.get("detail"))):
            continue
        qid, codes = m.group(1), m.group(2).split(",")
        items[c.name] = (qid, codes)
        why = codes_ok(c, codes)
        t.check("%s: codes %s (%s)" % (c.name, ",".join(codes),
                                       c.note or "as expected"),
                not why, why)

    # ----- duplicates: stored once
    pair_sop = {accepted_sop.get(f) for f in by["pair"].files}
    t.check("pair and again: cataloged once (run 2 adds one image)",
            len(pair_sop) == 1 and None not in pair_sop and
            images2 == images1 + 1,
            "SOP UIDs %s; images %s -> %s" % (pair_sop, images1, images2))
    t.check("pair: stored once (run 2 adds one object to the store)",
            objects2 == objects1 + 1,
            "objects %d -> %d (run 1 added %d for %d images)"
            % (objects1, objects2, objects1, images1))
    t.check("the store holds one object per cataloged image (no bytes of "
            "quarantined files)", objects2 == images2,
            "%d objects, %d images" % (objects2, images2))
    p = t.run(("verify",), user=None)
    t.check("verify clean after the runs", p.returncode == 0 and
            " 0 missing, 0 corrupt, 0 stray" in p.stdout, out_of(p))

    # ----- qc list agrees with the report
    held = t.json(("qc", "list"), what="qc list --json")
    if held is None:
        held = []
    by_id = {x.get("id"): x for x in held if isinstance(x, dict)}
    want_ids = {qid for qid, _ in items.values()}
    t.check("qc list: the held items are exactly the quarantined files (%d)"
            % len(want_ids), set(by_id) == want_ids,
            "extra %s, missing %s" % (sorted(set(by_id) - want_ids),
                                      sorted(want_ids - set(by_id))))
    bad = []
    for name, (qid, codes) in items.items():
        x = by_id.get(qid)
        if not x:
            continue
        worst = max((severity.get(k, "?") for k in codes),
                    key=lambda s: ("warning", "hold", "error", "?").index(s))
        probs = []
        if x.get("collection") != coll:
            probs.append("collection %s" % x.get("collection"))
        if x.get("state") != "held":
            probs.append("state %s" % x.get("state"))
        if sorted(x.get("codes") or []) != sorted(codes):
            probs.append("codes %s" % x.get("codes"))
        if x.get("severity") != worst:
            probs.append("severity %s, want %s" % (x.get("severity"), worst))
        if not isinstance(x.get("has_bytes"), bool) or not x.get("created"):
            probs.append("has_bytes %r created %r" % (x.get("has_bytes"),
                                                      x.get("created")))
        if probs:
            bad.append("%s %s: %s" % (name, qid, ", ".join(probs)))
    t.check("qc list: each item's collection, state held, codes, severity "
            "(the worst of its codes), has_bytes and created", not bad,
            "; ".join(bad))
    v = t.json(("qc", "list"), "--reason", "burned-in")
    ids = {x.get("id") for x in v or []}
    t.check("qc list --reason burned-in: the two secondary captures only",
            ids == {items[n][0] for n in ("sc-burned-yes", "sc-burned-unknown")
                    if n in items}, ids)
    v = t.json(("qc", "list"), "--reason", "patient-characteristics")
    ids = {x.get("id") for x in v or []}
    t.check("qc list --reason patient-characteristics: both characteristics "
            "cases",
            ids == {items[n][0] for n in ("charac-sex", "charac-birth")
                    if n in items}, ids)
    v = t.json(("qc", "list"), "--collection", coll)
    t.check("qc list --collection: the same items",
            v is not None and {x.get("id") for x in v} == want_ids)

    # ----- qc show: findings, bytes kept or the source path
    kept = quarantine_files(t)
    shown = {}
    wrong_who = []
    for c in cases:
        if c.name not in items:
            continue
        qid, codes = items[c.name]
        x = qc_show(t, qid)
        shown[c.name] = x
        if not t.check("%s: qc show %s --json is an object with id, state, "
                       "codes, findings, history" % (c.name, qid),
                       x is not None and x.get("id") == qid and
                       x.get("state") == "held" and
                       isinstance(x.get("findings"), list) and
                       isinstance(x.get("history"), list), x):
            continue
        who = INGEST_USERS[c.run]
        if not x["history"] or x["history"][0].get("who") != who:
            wrong_who.append("%s: %s" % (qid, x["history"][:1]))
        f_codes = sorted(f.get("code") for f in x["findings"])
        f_sev = all(f.get("severity") == severity.get(f.get("code"))
                    for f in x["findings"])
        t.check("%s: findings are the codes, each with its severity and a "
                "detail" % c.name,
                f_codes == sorted(codes) and f_sev and
                all(f.get("detail") for f in x["findings"]), x["findings"])
        if c.kept is False:
            src = x.get("source") or ""
            t.check("%s: no bytes kept, the input's path recorded" % c.name,
                    x.get("has_bytes") is False and src and
                    os.path.realpath(src) == os.path.realpath(c.files[0]),
                    "has_bytes %r source %r" % (x.get("has_bytes"), src))
        elif c.kept is True:
            sop = x.get("sop_instance_uid") or ""
            t.check("%s: de-identified bytes kept in quarantine/ (its SOP "
                    "Instance UID is new)" % c.name,
                    x.get("has_bytes") is True and sop and sop != c.sop and
                    sop in kept and not x.get("source"),
                    "has_bytes %r sop %r (original %s), file %s, source %r"
                    % (x.get("has_bytes"), sop, c.sop, kept.get(sop),
                       x.get("source")))
    t.check("each item's history starts with the ingest's user ($OBIA_USER "
            "in run 1, --user in run 2)", not wrong_who and shown,
            "; ".join(wrong_who))
    return coll, items, shown, accepted_sop


def images_in(t, coll):
    v = t.json(("collection", "list"), user=None) or []
    for c in v:
        if c.get("accession") == coll:
            return int(c.get("images") or 0)
    return None


def check_warnings(t, coll, cases, accepted_sop, severity):
    """Series warnings: the expected codes on each warning series, none on
    the others. Returns {case name: the archive's series UID}."""
    series = {}
    for c in cases:
        if c.outcome != "accepted":
            continue
        uids = set()
        for f in c.files:
            sop = accepted_sop.get(f)
            v = t.json(("show",), sop, user=None) if sop else None
            if isinstance(v, list) and v:
                uids.add(v[0].get("series_uid"))
        if len(uids) == 1:
            series[c.name] = uids.pop()
    t.check("every accepted case's images are in one series of the catalog",
            len(series) == sum(1 for c in cases if c.outcome == "accepted"),
            sorted(c.name for c in cases if c.outcome == "accepted"
                   and c.name not in series))
    w = t.json(("qc", "warnings"), "--collection", coll,
               what="qc warnings --json")
    w = w or []
    got = {}
    for x in w:
        got.setdefault(x.get("series_uid"), set()).add(x.get("code"))
    t.check("qc warnings: every entry has collection, series_uid, code and "
            "detail; codes are warnings",
            all(x.get("collection") == coll and x.get("series_uid") and
                x.get("detail") and
                severity.get(x.get("code")) == "warning" for x in w), w)
    for c in cases:
        if c.warnings is None or c.name not in series:
            continue
        have = got.get(series[c.name], set())
        if c.warnings:
            t.check("%s: series warning %s (and no other)"
                    % (c.name, ",".join(sorted(c.warnings))),
                    have == c.warnings, "got %s" % sorted(have))
        else:
            t.check("%s: no series warning" % c.name, not have,
                    "got %s" % sorted(have))
    v = t.json(("qc", "warnings"), "--collection", coll, "--code",
               "series-irregular-spacing")
    t.check("qc warnings --code: that code only, the gap series",
            v is not None and {x.get("code") for x in v} ==
            {"series-irregular-spacing"} and
            series.get("gap") in {x.get("series_uid") for x in v}, v)
    return series


# --------------------------------------------------------------------------
# Repair, release, discard, audit
# --------------------------------------------------------------------------

def uid_in(text):
    """The last UID-looking token of a command's output, or None."""
    found = re.findall(r"(?<![\w.])[0-2](?:\.\d+){2,}(?![\w.])", text or "")
    return found[-1] if found else None


def show_one(t, key):
    v = t.json(("show",), key, user=None) if key else None
    return v[0] if isinstance(v, list) and v and isinstance(v[0], dict) \
        else {}


def contract_order(t, items):
    """The contract writes options after the operands (obia qc repair ID
    --set ...); the main flows put them first, which any parser takes.
    These checks take the contract at its word."""
    p = t.run(("qc", "show"), next(iter(items.values()))[0] if items
              else "Q000001", "--json")
    try:
        ok = p.returncode == 0 and isinstance(json.loads(p.stdout), dict)
    except ValueError:
        ok = False
    t.check("contract order: qc show ID --json", ok,
            "exit %d: %s" % (p.returncode, short(out_of(p))))
    for words, rest in ((("qc", "repair"), ("Q999999", "--set", "Rows=1",
                                            "--reason", "x")),
                        (("qc", "release"), ("Q999999", "--reason", "x")),
                        (("qc", "discard"), ("Q999999", "--reason", "x"))):
        p = t.run(words, *rest)
        t.check("contract order: %s ID --... on an unknown item: exit 1 (not "
                "a usage error)" % " ".join(words), p.returncode == 1,
                "exit %d: %s" % (p.returncode, short(out_of(p))))


def curate(t, coll, cases, items, shown, series):
    by = {c.name: c for c in cases}
    done = []     # (qid, verb, who) performed, for the audit

    def qid(name):
        return items.get(name, (None,))[0]

    clean_study = show_one(t, series.get("clean")).get("study")
    # repair of an original (no bytes kept): the missing Patient ID
    q = qid("no-patient-id")
    if q:
        src = by["no-patient-id"].files[0]
        before = sha256(src)
        reason = "PatientID from the submitter's list"
        p = t.run(("qc", "repair"), "--set",
                  "PatientID=" + qcgen.REPAIR_PATIENT_ID, "--reason", reason,
                  q)
        t.check("repair %s --set PatientID=...: exit 0, accepted" % q,
                p.returncode == 0 and "accepted" in p.stdout, out_of(p))
        done.append((q, "repair", CURATOR))
        x = qc_show(t, q) or {}
        t.check("repaired item: state repaired, history has the repair by %s "
                "with the reason" % CURATOR,
                x.get("state") == "repaired" and
                history_has(x, "repair", CURATOR, reason), x)
        found = [s for s in t.json(("search",), "--collection", coll,
                                   user=None) or []
                 if s.get("series_description") == "qc series repaired pid"]
        ok = len(found) == 1 and str(found[0].get("images")) == "1" and \
            t.run(("show",), found[0].get("series_uid"),
                  user=None).returncode == 0
        t.check("repaired image is in the catalog (obia search, obia show)",
                ok, found)
        t.check("repaired image has an individual and a study of its own",
                ok and re.match(r"^I\d{6,}$", found[0].get("individual", ""))
                and clean_study and found[0].get("study") != clean_study,
                found)
        if sha256(src) != before:
            print("NOTE: repair changed the input file %s in place" % src)

    # repair of a Pixel Data one row short: Rows=63 (the kept bytes if any,
    # else the original)
    q = qid("pixel-length-row")
    if q:
        kept_sop = (shown.get("pixel-length-row") or {}).get(
            "sop_instance_uid")
        p = t.run(("qc", "repair"), "--set", "Rows=63", "--reason",
                  "one row was lost", q)
        t.check("repair %s --set Rows=63: exit 0, accepted" % q,
                p.returncode == 0 and "accepted" in p.stdout, out_of(p))
        done.append((q, "repair", CURATOR))
        sop = kept_sop or uid_in(p.stdout)
        img = show_one(t, sop)
        t.check("repaired image is cataloged (under %s), 63 rows, in the "
                "main study" % ("the kept bytes' SOP Instance UID: not "
                                "de-identified twice" if kept_sop else
                                "the UID the repair printed"),
                img.get("rows") == "63" and img.get("study") and
                img.get("study") == clean_study,
                "show %s: %s; clean study %s" % (sop, img, clean_study))
        x = qc_show(t, q) or {}
        t.check("repaired item: state repaired", x.get("state") == "repaired",
                x.get("state"))

    # repairs that leave the item broken: exit 3, still held
    for name, kv, code in (("no-series-uid", "Modality=CT", "header-missing"),
                           ("pixel-length", "Rows=63", "pixel-length")):
        q = qid(name)
        if not q:
            continue
        p = t.run(("qc", "repair"), "--set", kv, "--reason", "try", q)
        x = qc_show(t, q) or {}
        t.check("repair %s (%s) --set %s that does not mend it: exit 3 "
                "naming %s, still held" % (q, name, kv, code),
                p.returncode == 3 and code in out_of(p) and
                x.get("state") == "held" and code in (x.get("codes") or []),
                "exit %d: %s; state %s codes %s"
                % (p.returncode, short(out_of(p)), x.get("state"),
                   x.get("codes")))
    p = t.run(("qc", "repair"), "--set", "Rows=1", "Q999999")
    t.check("repair of an unknown item: exit 1", p.returncode == 1,
            "exit %d" % p.returncode)
    q = qid("no-patient-id")
    if q:
        p = t.run(("qc", "repair"), "--set", "PatientID=X", q)
        t.check("repair of an item no longer held: exit 1", p.returncode == 1,
                "exit %d %s" % (p.returncode, short(out_of(p))))
    p = t.run(("qc", "show"), "Q999999")
    t.check("qc show of an unknown item: exit 1", p.returncode == 1,
            "exit %d" % p.returncode)

    # release: hold-level items go in with a reason; error-level ones not
    for name, reason in (("sc-burned-yes", "checked: no text in the pixels"),
                         ("charac-birth", "birth date corrected upstream")):
        q = qid(name)
        if not q:
            continue
        sop = (shown.get(name) or {}).get("sop_instance_uid")
        p = t.run(("qc", "release"), "--reason", reason, q)
        x = qc_show(t, q) or {}
        t.check("release %s (%s, hold) with a reason: exit 0, released, in "
                "the catalog" % (q, name),
                p.returncode == 0 and x.get("state") == "released" and sop and
                t.run(("show",), sop, user=None).returncode == 0,
                "exit %d: %s; state %s, kept SOP %s"
                % (p.returncode, short(out_of(p)), x.get("state"), sop))
        t.check("released item's history has the release by %s with the "
                "reason" % CURATOR, history_has(x, "release", CURATOR, reason),
                x.get("history"))
        done.append((q, "release", CURATOR))
    q = qid("sc-burned-unknown")
    if q:
        p = t.run(("qc", "release"), q)
        x = qc_show(t, q) or {}
        t.check("release without --reason refused, still held",
                p.returncode != 0 and x.get("state") == "held",
                "exit %d, state %s" % (p.returncode, x.get("state")))
    for name, code in (("fragments", "fragments"),
                       ("uid-conflict", "uid-conflict")):
        q = qid(name)
        if not q:
            continue
        p = t.run(("qc", "release"), "--reason", "I insist", q)
        x = qc_show(t, q) or {}
        t.check("release of %s (%s, error) refused: exit 1 naming the code, "
                "still held" % (q, name),
                p.returncode == 1 and code in out_of(p) and
                x.get("state") == "held",
                "exit %d: %s; state %s" % (p.returncode, short(out_of(p)),
                                           x.get("state")))
    q = qid("sc-burned-yes")
    if q:
        p = t.run(("qc", "release"), "--reason", "again", q)
        t.check("release of an item already released: exit 1",
                p.returncode == 1, "exit %d" % p.returncode)

    # discard: the kept bytes go
    q = qid("uid-conflict")
    if q:
        x = qc_show(t, q) or {}
        sop = x.get("sop_instance_uid")
        path = quarantine_files(t).get(sop)
        digest = sha256(path) if path else None
        t.check("the kept bytes of %s are a file under quarantine/" % q,
                path is not None, "SOP %s" % sop)
        reason = "the first image is the right one"
        p = t.run(("qc", "discard"), "--reason", reason, q)
        x = qc_show(t, q) or {}
        t.check("discard %s: exit 0, state discarded, history has it" % q,
                p.returncode == 0 and x.get("state") == "discarded" and
                history_has(x, "discard", CURATOR, reason),
                "exit %d: %s; %s" % (p.returncode, short(out_of(p)), x))
        t.check("discarded item's kept bytes are gone from quarantine/",
                path is not None and not os.path.exists(path) and
                sop not in quarantine_files(t) and not x.get("has_bytes"),
                "%s exists: %s; has_bytes %r"
                % (path, path and os.path.exists(path), x.get("has_bytes")))
        left = [f for f in files_under(t.arc)
                if digest and os.path.basename(f) == digest]
        t.check("discarded item's bytes are nowhere in the archive (no "
                "object in the store either)", digest and not left,
                [os.path.relpath(f, t.arc) for f in left])
        done.append((q, "discard", CURATOR))
    # discard without --user: $OBIA_USER
    q = qid("no-patient-id-2")
    if q:
        p = t.run(("qc", "discard"), q, user=None, env={"OBIA_USER": ENV_USER})
        x = qc_show(t, q) or {}
        t.check("discard %s without --user: exit 0, recorded as $OBIA_USER"
                % q, p.returncode == 0 and x.get("state") == "discarded" and
                history_has(x, "discard", ENV_USER),
                "exit %d: %s; history %s" % (p.returncode, short(out_of(p)),
                                             x.get("history")))
        done.append((q, "discard", ENV_USER))

    # lists by state
    all_items = t.json(("qc", "list"), "--state", "all") or []
    states = {x.get("id"): x.get("state") for x in all_items}
    t.check("qc list --state all: every item with its state",
            set(states) == {v[0] for v in items.values()} and
            states.get(qid("uid-conflict")) == "discarded" and
            states.get(qid("sc-burned-yes")) == "released" and
            states.get(qid("no-patient-id")) == "repaired", states)
    for st in ("held", "repaired", "released", "discarded"):
        v = t.json(("qc", "list"), "--state", st)
        t.check("qc list --state %s: exactly those" % st,
                v is not None and {x.get("id") for x in v} ==
                {i for i, s in states.items() if s == st} and
                all(x.get("state") == st for x in v),
                v)
    return done


def check_audit(t, done, extra=()):
    v = t.json(("audit",), "--limit", "1000", what="audit --json", user=None)
    if v is None:
        return
    t.check("audit entries have at, who, action, object, detail",
            v and all(all(k in x for k in ("at", "who", "action", "object",
                                            "detail")) for x in v),
            v[:2])
    missing = []
    for obj, verb, who in list(done) + list(extra):
        if not any(x.get("who") == who and verb in str(x.get("action")) and
                   (obj in str(x.get("object")) or obj in str(x.get("detail")))
                   for x in v):
            missing.append("%s %s by %s" % (verb, obj, who))
    t.check("audit has every action (%d) with its user" % (len(done) +
                                                          len(extra)),
            not missing, "missing: %s" % "; ".join(missing))
    one = t.json(("audit",), "--limit", "1", user=None)
    t.check("audit --limit 1: one entry", one is not None and len(one) == 1,
            one)


# --------------------------------------------------------------------------
# Review and release of collections
# --------------------------------------------------------------------------

def release_refused(t, coll, unreviewed, held, label):
    p = t.run(("collection", "release"), coll, user=REVIEWER)
    msg = out_of(p)

    def names(n, words):
        return re.search(r"\b%d\b[^0-9]{0,40}(%s)" % (n, words), msg) or \
            re.search(r"(%s)[^0-9]{0,40}\b%d\b" % (words, n), msg)
    ok = p.returncode == 1
    if unreviewed:
        ok = ok and names(unreviewed, "unreviewed")
    if held:
        ok = ok and names(held, "held|quarantin")
    status = collection_status(t, coll)
    t.check("collection release %s %s: exit 1 naming %d unreviewed series "
            "and %d held items, still %s" % (coll, label, unreviewed, held,
                                             status),
            ok and status != "released",
            "exit %d: %s" % (p.returncode, short(msg)))


def collection_status(t, coll):
    v = t.json(("collection", "show"), coll, user=None)
    if isinstance(v, list) and v:
        v = v[0]
    return (v or {}).get("status")


def review(t, coll, series, items):
    done = []
    rl = t.json(("review", "list"), "--collection", coll,
                what="review list --json") or []
    found = t.json(("search",), "--collection", coll, user=None) or []
    t.check("review list: every series of the collection (%d), all "
            "unreviewed" % len(found),
            rl and {x.get("series_uid") for x in rl} ==
            {s.get("series_uid") for s in found} and
            all(x.get("state") == "unreviewed" and x.get("collection") == coll
                and x.get("study") and "modality" in x and "images" in x and
                "updated" in x for x in rl), rl[:3])
    held = len(t.json(("qc", "list"), "--collection", coll) or [])
    release_refused(t, coll, len(rl), held, "(unreviewed and held)")

    # as the contract writes it: review set STATE TARGET --reason TEXT
    gap = series.get("gap")
    if gap:
        p = t.run(("review", "set"), "visible", gap, "--reason",
                  "contract order", user=REVIEWER)
        h = t.json(("review", "history"), gap, user=REVIEWER) or [{}]
        t.check("contract order: review set STATE SERIES --reason TEXT",
                p.returncode == 0 and h[-1].get("reason") == "contract order"
                and h[-1].get("state") == "visible",
                "exit %d: %s; history %s" % (p.returncode, short(out_of(p)),
                                             h))
        if p.returncode == 0:
            done.append((gap, "review", REVIEWER))

    clean = series.get("clean")
    if clean:
        for st, why in (("visible", "looks right"),
                        ("not-visible", "wrong body part")):
            p = t.run(("review", "set"), "--reason", why, st, clean,
                      user=REVIEWER)
            t.check("review set %s SERIES: exit 0" % st, p.returncode == 0,
                    out_of(p))
        done.append((clean, "review", REVIEWER))
        h = t.json(("review", "history"), clean, user=REVIEWER,
                   what="review history --json") or []
        t.check("review history: visible then not-visible, by %s with the "
                "reasons" % REVIEWER,
                [x.get("state") for x in h][-2:] == ["visible", "not-visible"]
                and all(x.get("who") == REVIEWER and x.get("at") for x in h[-2:])
                and [x.get("reason") for x in h][-2:] ==
                ["looks right", "wrong body part"], h)
        rl = t.json(("review", "list"), "--collection", coll, "--state",
                    "not-visible") or []
        t.check("review list --state not-visible: that series",
                [x.get("series_uid") for x in rl] == [clean], rl)
    # a study: all its series
    owner = series.get("study-owner")
    v = t.json(("show",), owner, user=None) if owner else None
    study = v[0].get("study") if isinstance(v, list) and v else None
    if study:
        p = t.run(("review", "set"), "--reason", "duplicate submission",
                  "to-be-deleted", study, user=REVIEWER)
        rl = t.json(("review", "list"), "--collection", coll) or []
        in_study = [x for x in rl if x.get("study") == study]
        t.check("review set to-be-deleted STUDY: every series of %s" % study,
                p.returncode == 0 and in_study and
                all(x.get("state") == "to-be-deleted" for x in in_study),
                "exit %d %s; %s" % (p.returncode, short(out_of(p)), in_study))
        done.append((study, "review", REVIEWER))
    p = t.run(("review", "set"), "approved", clean or "x", user=REVIEWER)
    t.check("review set with an unknown state refused",
            p.returncode not in (0,), "exit %d" % p.returncode)
    p = t.run(("review", "set"), "visible", "2.25.1234", user=REVIEWER)
    t.check("review set of an unknown series: exit 1", p.returncode == 1,
            "exit %d" % p.returncode)
    rl = t.json(("review", "list"), "--collection", coll, "--state",
                "unreviewed") or []
    if rl:
        release_refused(t, coll, len(rl), held, "(some still unreviewed)")
    # the collection: all its series
    p = t.run(("review", "set"), "--reason", "all checked", "visible", coll,
              user=REVIEWER)
    rl = t.json(("review", "list"), "--collection", coll) or []
    t.check("review set visible COLLECTION: no series left unreviewed",
            p.returncode == 0 and rl and
            all(x.get("state") != "unreviewed" for x in rl),
            "exit %d %s" % (p.returncode, short(out_of(p))))
    done.append((coll, "review", REVIEWER))
    held = t.json(("qc", "list"), "--collection", coll) or []
    release_refused(t, coll, 0, len(held), "(all reviewed, items held)")
    # end every held item, then release
    bad = []
    for x in held:
        p = t.run(("qc", "discard"), "--reason", "cleanup", x.get("id"))
        if p.returncode != 0:
            bad.append("%s: exit %d %s" % (x.get("id"), p.returncode,
                                           short(out_of(p))))
    t.check("discard every item still held (%d)" % len(held), not bad,
            "; ".join(bad))
    p = t.run(("collection", "release"), coll, user=REVIEWER)
    status = collection_status(t, coll)
    t.check("collection release %s with every series reviewed and nothing "
            "held: exit 0, status released" % coll,
            p.returncode == 0 and status == "released",
            "exit %d: %s; status %s" % (p.returncode, short(out_of(p)),
                                        status))
    done.append((coll, "release", REVIEWER))
    return done


def forced_release(t, coll):
    done = []
    rl = t.json(("review", "list"), "--collection", coll) or []
    t.check("forced-release collection: its series unreviewed",
            rl and all(x.get("state") == "unreviewed" for x in rl), rl)
    release_refused(t, coll, len(rl), 0, "(unreviewed, nothing held)")
    p = t.run(("collection", "release"), "--force", coll, user=REVIEWER)
    t.check("collection release --force without --reason refused",
            p.returncode != 0 and collection_status(t, coll) != "released",
            "exit %d" % p.returncode)
    # as the contract writes it (options after the accession) ...
    p = t.run(("collection", "release"), coll, "--force", "--reason",
              "embargo lifted by the PI", user=REVIEWER)
    status = collection_status(t, coll)
    t.check("contract order: collection release ACC --force --reason TEXT: "
            "exit 0, status released",
            p.returncode == 0 and status == "released",
            "exit %d: %s; status %s" % (p.returncode, short(out_of(p)),
                                        status))
    if status != "released":
        # ... and with the options first, so that the rest can go on
        p = t.run(("collection", "release"), "--force", "--reason",
                  "embargo lifted by the PI", coll, user=REVIEWER)
        status = collection_status(t, coll)
        t.check("collection release --force --reason TEXT ACC: exit 0, "
                "status released", p.returncode == 0 and status == "released",
                "exit %d: %s; status %s" % (p.returncode, short(out_of(p)),
                                            status))
    done.append((coll, "release", REVIEWER))
    return done


# --------------------------------------------------------------------------
# No original value on the archive's disk
# --------------------------------------------------------------------------

def check_no_originals(t, extra_outputs):
    needles = [v.encode() for v in qcgen.ORIGINALS]
    accession = re.compile(qcgen.ACCESSION_RE.encode())
    hits = []
    for f in files_under(t.arc):
        if os.path.basename(f).startswith("keys.db"):
            continue
        data = open(f, "rb").read()
        for n in needles + [m.group(0) for m in accession.finditer(data)]:
            if n in data:
                hits.append("%s in %s" % (n.decode(), os.path.relpath(f, t.arc)))
    t.check("no original name, ID, accession number or birth date on the "
            "archive's disk (keys.db aside)", not hits, "; ".join(hits[:12]))
    hits = [(what, v) for what, text in extra_outputs
            for v in qcgen.ORIGINALS + re.findall(qcgen.ACCESSION_RE, text)
            if v in text]
    t.check("no original value in the output of qc list/show/warnings, "
            "review and audit", not hits, hits[:12])


# --------------------------------------------------------------------------
# The PHI review report
# --------------------------------------------------------------------------

def read_tsv_report(path):
    with open(path, encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f, delimiter="\t"))
    if not rows:
        return None, []
    head = [h.strip().lower() for h in rows[0]]
    return head, [dict(zip(head, r)) for r in rows[1:]]


def flags_of(row):
    return {x.strip() for x in (row.get("flags") or "").split(",")
            if x.strip()}


def report_tsv(t, coll, out, label):
    p = t.run(("report",), "--collection", coll, "--format", "tsv", "--out",
              out, user=None)
    ok = p.returncode == 0 and os.path.isfile(out)
    head, rows = read_tsv_report(out) if ok else (None, [])
    t.check("report --format tsv (%s): exit 0, header with path, keyword, "
            "vr, creator, images, distinct, flags" % label,
            ok and head and all(k in head for k in (
                "path", "keyword", "vr", "creator", "images", "distinct",
                "flags")),
            "exit %d %s; header %s" % (p.returncode, short(out_of(p)), head))
    return rows


def check_report(t, tmp, phi_files, plants, clean_files):
    # profile none: the planted values stay in the images
    coll = t.run(("collection", "create"), "--title", "PHI report",
                 "--profile", "none", user=None).stdout.strip()
    p = t.run(("ingest",), "--collection", coll,
              *phi_files, user=None)
    t.check("PHI collection (profile none): %d images accepted"
            % len(phi_files),
            p.returncode == 0 and images_in(t, coll) == len(phi_files),
            out_of(p))
    rows = report_tsv(t, coll, os.path.join(tmp, "phi.tsv"), "profile none")
    for pl in plants:
        mine = [r for r in rows if pl.matches(r.get("path", ""),
                                              r.get("creator"))]
        t.check("report flags %s (%s) as %s" % (pl.label(), pl.value,
                                                 pl.flag),
                len(mine) == 1 and pl.flag in flags_of(mine[0]) and
                mine[0].get("images") == str(len(phi_files)),
                "rows %s" % [{k: r.get(k) for k in ("path", "creator",
                                                     "images", "flags")}
                             for r in mine])
    unknown = {f for r in rows for f in flags_of(r)} - set(REPORT_FLAGS)
    t.check("report flags are among %s" % ",".join(REPORT_FLAGS),
            not unknown, unknown)
    html = os.path.join(tmp, "phi.html")
    p = t.run(("report",), "--collection", coll, "--format", "html", "--out",
              html, user=None)
    text = open(html, encoding="utf-8", errors="replace").read() \
        if os.path.isfile(html) else ""
    t.check("report --format html: exit 0, an HTML page naming the planted "
            "elements", p.returncode == 0 and "<html" in text.lower() and
            "StudyComments" in text and qcgen.PRIVATE_CREATOR in text,
            "exit %d %s; %d bytes" % (p.returncode, short(out_of(p)),
                                      len(text)))

    # default profile: a clean series should leave nothing flagged
    coll2 = t.run(("collection", "create"), "--title", "Clean report",
                  user=None).stdout.strip()
    p = t.run(("ingest",), "--collection", coll2, *clean_files, user=None)
    t.check("clean collection (default profile): %d images accepted"
            % len(clean_files),
            p.returncode == 0 and images_in(t, coll2) == len(clean_files),
            out_of(p))
    rows = report_tsv(t, coll2, os.path.join(tmp, "clean.tsv"),
                      "default profile, clean series")
    flagged = [r for r in rows if flags_of(r)]
    expected = expected_clean_flags()
    if expected is None:
        print("NOTE: docs/qc-report.md has no section on the flags expected "
              "on a clean collection: every flagged row counts")
        expected = set()
    unexpected = [r for r in flagged if not clean_flag_expected(r, expected)]
    t.check("report of the clean default-profile collection: no flagged row "
            "but those docs/qc-report.md expects (long-id on device identity "
            "%s, on numeric private values)" % ",".join(sorted(expected)),
            not unexpected,
            "; ".join("%s %s [%s] top %s" % (r.get("path"), r.get("keyword"),
                                             r.get("flags"),
                                             short(r.get("top_values"), 120))
                      for r in unexpected))
    return coll2


def expected_clean_flags():
    """The tags docs/qc-report.md lists in its section on the flags expected
    on a clean collection ("long-id on device identity": Device Serial
    Number (0018,1000), ...), or None without that section."""
    path = os.path.join(REPO, "docs", "qc-report.md")
    if not os.path.isfile(path):
        return None
    text = open(path, encoding="utf-8").read()
    m = re.search(r"(?ms)^#+ [^\n]*[Ee]xpected[^\n]*\n(.*?)(?=^#+ |\Z)", text)
    if not m:
        return None
    return {t.upper() for t in re.findall(r"\([0-9A-Fa-f]{4},[0-9A-Fa-f]{4}\)",
                                          m.group(1))}


def clean_flag_expected(row, tags):
    """Whether a flagged row of a clean collection is one the document
    expects: long-id alone, on one of its device identity tags, or on a
    private element whose values are numbers (retain-numeric-private)."""
    if flags_of(row) != {"long-id"}:
        return False
    last = (row.get("path") or "").upper().split(".")[-1]
    if last in tags:
        return True
    values = [v.rsplit(" (", 1)[0] for v in
              (row.get("top_values") or "").split(" | ")]
    return bool(row.get("creator")) and all(
        re.match(r"^[-+0-9.eE\\ ]+$", v) for v in values if v)


# --------------------------------------------------------------------------

def main():
    obia, pydicom = corpus.obia_and_pydicom()
    tmp = tempfile.mkdtemp(prefix="obia-qc-")
    try:
        return run(obia, tmp)
    finally:
        if os.environ.get("OBIA_KEEP_TMP"):
            print("kept: %s" % tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def run(obia, tmp):
    arc = os.path.join(tmp, "arc")
    t = Test(obia, arc)
    cases = qcgen.write_corpus(os.path.join(tmp, "in"))
    # the clean series again (other UIDs) for two more collections
    forced_files = qcgen.write_clean(os.path.join(tmp, "in", "forced"),
                                     "-forced")
    clean_files = qcgen.write_clean(os.path.join(tmp, "in", "clean"),
                                    "-report")
    phi_files, plants = qcgen.write_phi(os.path.join(tmp, "in", "phi"))
    check_generator(t, cases)
    p = t.run(("qc", "codes"), archive=False, user=None)
    if p.returncode != 0:
        print("FAIL: obia qc not available (`%s qc codes`: exit %d)"
              % (obia, p.returncode))
        return 1

    # ----- the checks and their severities
    codes = t.json(("qc", "codes"), archive=False, user=None,
                   what="qc codes --json") or []
    severity = {c.get("code"): c.get("severity") for c in codes}
    needed = {k for c in cases for k in c.need | c.any_of} | \
        {k for c in cases for k in (c.warnings or ())}
    t.check("qc codes: every code the corpus needs (%d), each with "
            "severity, scope and title" % len(needed),
            needed <= set(severity) and all(
                c.get("severity") in ("error", "hold", "warning") and
                c.get("scope") and c.get("title") for c in codes),
            "missing %s" % sorted(needed - set(severity)))
    want = dict({k: "warning" for k in SERIES_CODES},
                **{"burned-in": "hold", "patient-characteristics": "hold",
                   "pixel-length": "error", "fragments": "error",
                   "uid-conflict": "error"})
    t.check("qc codes: burned-in and patient-characteristics hold, series "
            "checks warnings, pixel-length, fragments and uid-conflict errors",
            all(severity.get(k) == v for k, v in want.items()),
            {k: severity.get(k) for k in want})
    p = t.run(("qc", "codes"), archive=False, user=None)
    t.check("qc codes (text): one line per code",
            p.returncode == 0 and all(c in p.stdout for c in severity),
            short(p.stdout))

    p = t.run(("init",), user=None)
    if not t.check("init", p.returncode == 0, out_of(p)):
        return 1

    coll, items, shown, accepted_sop = run_qc(t, cases, tmp, severity)
    series = check_warnings(t, coll, cases, accepted_sop, severity)
    outputs = []
    for what in (("qc", "list"), ("qc", "warnings")):
        outputs.append((" ".join(what), t.run(what, "--json", "--state",
                                              "all").stdout
                        if what[1] == "list"
                        else t.run(what, "--json").stdout))
    for qid, _ in items.values():
        outputs.append(("qc show " + qid, t.run(("qc", "show"), qid,
                                                "--json").stdout))
    contract_order(t, items)
    # --user belongs to the commands that act (they record who); a
    # command that only reads refuses it as a usage error
    p = t.run(("stats",), user="someone")
    t.check("a read-only command refuses --user (exit 2)", p.returncode == 2,
            out_of(p))
    done = curate(t, coll, cases, items, shown, series)
    coll3 = t.run(("collection", "create"), "--title", "Forced release",
                  user=None).stdout.strip()
    p = t.run(("ingest",), "--collection", coll3, *forced_files, user=None)
    t.check("third collection: the clean series (other UIDs) accepted",
            p.returncode == 0 and images_in(t, coll3) == len(forced_files),
            out_of(p))
    done += review(t, coll, series, items)
    done += forced_release(t, coll3)
    check_audit(t, done)
    for what in (("review", "list"), ("audit",)):
        outputs.append((" ".join(what), t.run(what, "--json").stdout))
    outputs.append(("qc show (after)", "".join(
        t.run(("qc", "show"), qid, "--json").stdout
        for qid, _ in items.values())))
    check_no_originals(t, outputs)

    check_report(t, tmp, phi_files, plants, clean_files)

    print("qc_flows: %d passed, %d failed" % (t.passed, t.failed))
    return 0 if t.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
