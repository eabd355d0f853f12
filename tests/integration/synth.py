#!/usr/bin/python3
"""`obia synth` writes valid, realistic, reproducible DICOM and clinical data.

A small set (6 individuals, 2 studies each, 2 series, 3 images of 48x64, all
seven modalities) is generated three times: twice with seed 11 (once with
--jobs 1, once with the default number of jobs) and once with seed 12.

  - same seed: the same file names and the same bytes (SHA-256), whatever
    --jobs; other seed: other names and other bytes;
  - the counts match the options (individuals, studies per individual,
    series per study, images per series) and every modality appears;
  - every file is read by pydicom (dcmread without force) and is where the
    documented layout says: DIR/PatientID/StudyUID/SeriesUID/SOPUID.dcm;
    SOP Class matches the modality; UIDs are unique; Rows/Columns as asked;
  - each individual has one name, sex and birth date in all files; Patient's
    Age at each study is the age from birth date to Study Date; the private
    block (SYNTH PRIVATE 1) holds the Patient ID; only US images say Burned
    In Annotation YES; non-ASCII text comes with ISO_IR 192;
  - CT, MR and PET slices advance by Slice Thickness along the normal of
    Image Orientation (Patient);
  - dcmdump prints no "E:" line for any file; dciodvfy prints no "Error"
    line for one file of each modality (skipped if the tool is missing);
  - clinical.csv: the documented header, one row per Patient ID found in the
    files, sex as in the files, age the Patient's Age of the first study,
    BMI from Patient's Size and Weight;
  - a run with default sizes and counts (2 individuals) follows the
    documented defaults per modality;
  - usage errors exit 2, an output path that cannot be created exits 1 and
    names it.

Environment: OBIA (the obia binary). Exit status 0 = pass, 1 = fail,
77 = skipped (no pydicom).
"""

import csv
import datetime
import hashlib
import logging
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
import corpus  # noqa: E402

MODALITIES = ["CT", "MR", "CR", "DX", "US", "MG", "PT"]
SOP_CLASS = {
    "CT": "1.2.840.10008.5.1.4.1.1.2",
    "MR": "1.2.840.10008.5.1.4.1.1.4",
    "CR": "1.2.840.10008.5.1.4.1.1.1",
    "DX": "1.2.840.10008.5.1.4.1.1.1.1",
    "US": "1.2.840.10008.5.1.4.1.1.6.1",
    "MG": "1.2.840.10008.5.1.4.1.1.1.2",
    "PT": "1.2.840.10008.5.1.4.1.1.128",
}
CSV_HEADER = ("patient_id,sex,age,disease,diagnosis,pathological_type,"
              "medical_history,family_history,treatment,smoking,bmi")
DISEASES = {"endometrial cancer", "ovarian cancer", "cervical cancer",
            "lung adenocarcinoma", "glioma", "breast carcinoma",
            "hepatocellular carcinoma", "healthy control"}
SMALL = ["--individuals", "6", "--studies", "2", "--series", "2",
         "--images", "3", "--rows", "48", "--columns", "64"]
# documented defaults: images per series, (rows, columns)
DEFAULT_IMAGES = {"CT": {20}, "MR": {15}, "PT": {10}, "CR": {1, 2},
                  "DX": {1, 2}, "US": {1, 2}, "MG": {1, 2}}
DEFAULT_SIZE = {"CT": (256, 256), "MR": (256, 256), "PT": (256, 256),
                "CR": (512, 512), "DX": (512, 512), "MG": (512, 512),
                "US": (240, 320)}

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
    return cond


def run(obia, args):
    p = subprocess.run([obia, "synth"] + args, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE)
    return p.returncode, p.stdout.decode(), p.stderr.decode("utf-8", "replace")


def generate(obia, out, args):
    rc, _, err = run(obia, ["--out", out] + args)
    if not check(rc == 0, "obia synth %s: exit %d: %s" % (" ".join(args), rc, err)):
        return None
    check(err.startswith("obia synth: ") and " images, " in err and err.count("\n") == 1,
          "summary line: %r" % err)
    return err


def hashes(root):
    out = {}
    for d, _, files in os.walk(root):
        for f in files:
            p = os.path.join(d, f)
            with open(p, "rb") as fh:
                out[os.path.relpath(p, root)] = hashlib.sha256(fh.read()).hexdigest()
    return out


def dicom_files(root):
    return sorted(p for p in hashes(root) if p.endswith(".dcm"))


def da(s):
    return datetime.date(int(s[:4]), int(s[4:6]), int(s[6:8]))


def age_years(birth, day):
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def check_set(pydicom, root, rows, columns, n_ind, n_studies, n_series, n_images):
    files = dicom_files(root)
    check(len(files) == n_ind * n_studies * n_series * n_images,
          "%d files, expected %d" % (len(files), n_ind * n_studies * n_series * n_images))
    tree = {}
    for rel in files:
        pid, study, series, _ = rel.split(os.sep)
        tree.setdefault(pid, {}).setdefault(study, {}).setdefault(series, []).append(rel)
    check(len(tree) == n_ind, "%d individuals, expected %d" % (len(tree), n_ind))
    for pid, studies in tree.items():
        check(len(studies) == n_studies, "%s: %d studies" % (pid, len(studies)))
        for st, series in studies.items():
            check(len(series) == n_series, "%s/%s: %d series" % (pid, st, len(series)))
            for se, imgs in series.items():
                check(len(imgs) == n_images, "%s: %d images" % (se, len(imgs)))

    people, uids, by_series, modalities = {}, set(), {}, {}
    for rel in files:
        path = os.path.join(root, rel)
        try:
            ds = pydicom.dcmread(path)
            ds.PixelData
        except Exception as e:
            check(False, "%s: pydicom: %s" % (rel, e))
            continue
        pid, study, series, name = rel.split(os.sep)
        mod = ds.Modality
        modalities.setdefault(mod, path)
        check(mod in SOP_CLASS, "%s: Modality %s" % (rel, mod))
        check(ds.SOPClassUID == SOP_CLASS.get(mod), "%s: SOP Class %s for %s"
              % (rel, ds.SOPClassUID, mod))
        check(ds.file_meta.TransferSyntaxUID == "1.2.840.10008.1.2.1",
              "%s: transfer syntax %s" % (rel, ds.file_meta.TransferSyntaxUID))
        check((ds.PatientID, ds.StudyInstanceUID, ds.SeriesInstanceUID,
               ds.SOPInstanceUID + ".dcm") == (pid, study, series, name),
              "%s: path does not match the UIDs" % rel)
        check(ds.SOPInstanceUID.startswith("2.25.") and ds.SOPInstanceUID not in uids,
              "%s: SOP Instance UID not new or not 2.25" % rel)
        uids.add(ds.SOPInstanceUID)
        if rows:
            check((ds.Rows, ds.Columns) == (rows, columns),
                  "%s: %dx%d" % (rel, ds.Rows, ds.Columns))
        birth = da(ds.PatientBirthDate)
        who = (str(ds.PatientName), ds.PatientSex, ds.PatientBirthDate)
        check(people.setdefault(pid, {"who": who, "ages": {}})["who"] == who,
              "%s: name, sex or birth date differ between files" % pid)
        age = int(ds.PatientAge[:3])
        check(ds.PatientAge.endswith("Y") and age == age_years(birth, da(ds.StudyDate)),
              "%s: PatientAge %s, birth %s, study %s"
              % (rel, ds.PatientAge, ds.PatientBirthDate, ds.StudyDate))
        people[pid]["ages"][ds.StudyDate] = age
        people[pid].setdefault("size", (float(ds.PatientSize), float(ds.PatientWeight)))
        check(ds.get((0x0009, 0x0010)) is not None and ds[0x0009, 0x0010].value == "SYNTH PRIVATE 1"
              and ds[0x0009, 0x1002].value == pid, "%s: private block" % rel)
        check(ds.BurnedInAnnotation == ("YES" if mod == "US" else "NO"),
              "%s: BurnedInAnnotation %s" % (rel, ds.BurnedInAnnotation))
        text = "".join(str(el.value) for el in ds.iterall()
                       if el.VR in ("PN", "LO", "SH", "ST", "LT"))
        if any(ord(c) > 127 for c in text):
            check(ds.get("SpecificCharacterSet") == "ISO_IR 192",
                  "%s: non-ASCII text without ISO_IR 192" % rel)
        if mod in ("CT", "MR", "PT"):
            by_series.setdefault(ds.SeriesInstanceUID, []).append(
                (int(ds.InstanceNumber), [float(x) for x in ds.ImagePositionPatient],
                 [float(x) for x in ds.ImageOrientationPatient], float(ds.SliceThickness)))

    for uid, imgs in by_series.items():
        imgs.sort()
        for (n0, p0, o, t), (n1, p1, _, _) in zip(imgs, imgs[1:]):
            normal = [o[1] * o[5] - o[2] * o[4], o[2] * o[3] - o[0] * o[5],
                      o[0] * o[4] - o[1] * o[3]]
            step = [p1[k] - p0[k] for k in range(3)]
            check(all(abs(step[k] - t * normal[k]) < 1e-3 for k in range(3)),
                  "series %s: image %d to %d moves %s, not %s x %s"
                  % (uid, n0, n1, step, t, normal))
    return people, modalities


def check_csv(root, people):
    with open(os.path.join(root, "clinical.csv"), encoding="utf-8", newline="") as f:
        first = f.readline().rstrip("\r\n")
        check(first == CSV_HEADER, "CSV header %r" % first)
        f.seek(0)
        rows = list(csv.DictReader(f))
    ids = [r["patient_id"] for r in rows]
    check(len(ids) == len(set(ids)), "CSV: a patient_id appears twice")
    check(set(ids) == set(people), "CSV ids %s, files %s" % (sorted(ids), sorted(people)))
    for r in rows:
        p = people.get(r["patient_id"])
        if not p:
            continue
        check(r["sex"] == p["who"][1], "%s: CSV sex %s, files %s"
              % (r["patient_id"], r["sex"], p["who"][1]))
        first_age = p["ages"][min(p["ages"])]
        check(r["age"].isdigit() and int(r["age"]) == first_age and 18 <= first_age <= 100,
              "%s: CSV age %s, first study age %d" % (r["patient_id"], r["age"], first_age))
        check(r["disease"] in DISEASES, "%s: disease %r" % (r["patient_id"], r["disease"]))
        check(r["smoking"] in ("never", "former", "current"), "smoking %r" % r["smoking"])
        h, w = p["size"]
        check(abs(float(r["bmi"]) - w / (h * h)) < 0.11, "%s: bmi %s, size %s weight %s"
              % (r["patient_id"], r["bmi"], h, w))


def check_tools(root, modalities):
    files = dicom_files(root)
    if shutil.which("dcmdump"):
        bad = 0
        for i in range(0, len(files), 50):
            batch = [os.path.join(root, f) for f in files[i:i + 50]]
            p = subprocess.run(["dcmdump", "-q"] + batch, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE)
            errs = [l for l in p.stderr.decode("utf-8", "replace").splitlines()
                    if l.startswith("E:")]
            bad += len(errs)
            check(p.returncode == 0 and not errs, "dcmdump: exit %d %s"
                  % (p.returncode, errs[:3]))
        print("dcmdump: %d files, %d E: lines" % (len(files), bad))
    else:
        print("dcmdump not installed: not run")
    if shutil.which("dciodvfy"):
        for mod in MODALITIES:
            path = modalities.get(mod)
            if not path:
                continue
            p = subprocess.run(["dciodvfy", path], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT)
            errs = [l for l in p.stdout.decode("utf-8", "replace").splitlines()
                    if "Error" in l]
            check(not errs, "dciodvfy %s: %s" % (mod, errs[:5]))
            print("dciodvfy %s: %d Error lines" % (mod, len(errs)))
    else:
        print("dciodvfy not installed: not run")


def check_defaults(pydicom, obia, tmp):
    out = os.path.join(tmp, "defaults")
    if generate(obia, out, ["--individuals", "2", "--seed", "5"]) is None:
        return
    series = {}
    for rel in dicom_files(out):
        ds = pydicom.dcmread(os.path.join(out, rel), stop_before_pixels=True)
        series.setdefault(ds.SeriesInstanceUID, []).append(ds)
    studies = {}
    for imgs in series.values():
        ds = imgs[0]
        studies.setdefault(ds.StudyInstanceUID, set()).add(ds.SeriesInstanceUID)
        check(len(imgs) in DEFAULT_IMAGES[ds.Modality], "default: %s series of %d images"
              % (ds.Modality, len(imgs)))
        check((ds.Rows, ds.Columns) == DEFAULT_SIZE[ds.Modality], "default: %s %dx%d"
              % (ds.Modality, ds.Rows, ds.Columns))
    check(all(1 <= len(s) <= 3 for s in studies.values()), "default: series per study")
    check(2 <= len(studies) <= 4, "default: %d studies for 2 individuals" % len(studies))


def check_errors(obia, tmp):
    bad_args = [
        [], ["--out", tmp], ["--individuals", "2"],
        ["--out", tmp, "--individuals", "0"],
        ["--out", tmp, "--individuals", "2", "--studies", "101"],
        ["--out", tmp, "--individuals", "2", "--images", "x"],
        ["--out", tmp, "--individuals", "2", "--rows", "4"],
        ["--out", tmp, "--individuals", "2", "--seed", "-3"],
        ["--out", tmp, "--individuals", "2", "--modalities", "CT,XA"],
        ["--out", tmp, "--individuals", "2", "--frobnicate"],
        ["--out", tmp, "--individuals", "2", "stray"],
        ["--out", tmp, "--individuals"],
        ["--out", tmp, "--individuals", "100000", "--studies", "100", "--series", "100"],
    ]
    for args in bad_args:
        rc, _, err = run(obia, args)
        check(rc == 2 and err.startswith("obia synth: "),
              "usage error %s: exit %d, %r" % (args, rc, err))
    blocker = os.path.join(tmp, "a-file")
    with open(blocker, "w") as f:
        f.write("not a directory\n")
    rc, _, err = run(obia, ["--out", os.path.join(blocker, "sub"), "--individuals", "1"])
    check(rc == 1 and blocker in err, "output under a file: exit %d, %r" % (rc, err))


def main():
    obia, pydicom = corpus.obia_and_pydicom()
    logging.getLogger("pydicom").setLevel(logging.ERROR)

    tmp = tempfile.mkdtemp(prefix="obia-synth-")
    try:
        a, b, c = (os.path.join(tmp, n) for n in ("a", "b", "c"))
        print(generate(obia, a, SMALL + ["--seed", "11", "--jobs", "1"]), end="")
        generate(obia, b, SMALL + ["--seed", "11"])
        generate(obia, c, SMALL + ["--seed", "12"])
        ha, hb, hc = hashes(a), hashes(b), hashes(c)
        check(ha == hb, "seed 11 twice: %d of %d files differ or are missing"
              % (len(set(ha.items()) ^ set(hb.items())), len(ha)))
        check(set(ha) & set(hc) == {"clinical.csv"}, "seeds 11 and 12 share file names")
        check(not set(ha.values()) & set(hc.values()), "seeds 11 and 12 share file contents")

        people, modalities = check_set(pydicom, a, 48, 64, 6, 2, 2, 3)
        check(sorted(modalities) == sorted(MODALITIES),
              "modalities %s" % sorted(modalities))
        check_csv(a, people)
        check_tools(a, modalities)
        check_defaults(pydicom, obia, tmp)
        check_errors(obia, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    for f in failures[:40]:
        print("FAIL: " + f)
    if len(failures) > 40:
        print("... and %d more" % (len(failures) - 40))
    print("%s: %d failures" % ("FAIL" if failures else "PASS", len(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
