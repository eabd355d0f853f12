#!/usr/bin/python3
"""obia's DICOMweb, as DICOMweb clients written by others see it.

A fresh archive is made in a temporary directory: synthetic CT and MR
studies (obia synth) and files of tests/data of other modalities and
transfer syntaxes (native, deflated, JPEG Lossless, JPEG-LS, multi-frame,
no pixel data). Every fact the clients should find is read from the
archive itself: `obia ingest --report` names the stored instances, `obia
show` their studies, series and object (the SHA-256 of the stored bytes),
and `obia dump` the stored objects' attributes and native pixel data.

`obia serve --access all` is started on a free loopback port. Then:

1. dicomweb-client (npm; the client of the OHIF viewer), in Node with the
   xhr2 XMLHttpRequest, runs tests/js/dicomweb_client.mjs: QIDO-RS
   searches for studies (all, by PatientID, none, a page by limit and
   offset), series and instances at every level; WADO-RS metadata of every
   study, series and instance; every instance retrieved (as the client asks
   by default, and with transfer-syntax=*), whole series and a study;
   frames decoded (application/octet-stream), as stored (image/jpeg,
   image/jls, octet-stream with transfer-syntax=*) and with two acceptable
   types of which the server can give only the second; rendered images (by
   default and PNG); thumbnails; Pixel Data by the metadata's BulkDataURI
   (or inline in it); STOW-RS of three files from tests/data and a part
   that is no DICOM into the server's upload collection, then the stored
   instances found by search and retrieved by the RetrieveURL of the
   response. Here the figures are judged: every UID set and count equals
   the archive's, every retrieved instance's SHA-256 is its stored
   object's, frame lengths are rows x columns x samples x bits / 8 and
   native frames and bulk data are the stored bytes, rendered images have
   the image's size.
2. Orthanc with its DICOMweb plugin, as a client of obia: its list of
   obia's studies (QIDO-RS through /dicom-web/servers/obia/get) equals the
   archive's; it retrieves two studies by WADO-RS
   (/dicom-web/servers/obia/retrieve) and then holds the same SOP Instance
   UIDs, byte for byte.

Finally the server is stopped with SIGTERM and must exit 0.

One line per check (ok/FAIL), then a summary. Environment: OBIA (the obia
binary), OBIA_TEST_DATA. Exit 0 pass, 1 fail, 77 skipped (no node, or no
Orthanc with its DICOMweb plugin: the other part still runs, and a failure
there still fails). OBIA_KEEP_TMP=1 keeps the archive and what the clients
retrieved.
"""

import base64
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                    "..", ".."))
JS_DIR = os.path.join(REPO, "tests", "js")
JS_SCRIPT = os.path.join(JS_DIR, "dicomweb_client.mjs")
ORTHANC_PLUGIN_PATHS = ("/usr/share/orthanc/plugins/libOrthancDicomWeb.so",
                        "/usr/lib/orthanc/libOrthancDicomWeb.so")

# Files of tests/data put in the archive by ingest: several modalities and
# transfer syntaxes. Those that quality control holds are listed as such,
# and the test needs enough of them stored (see MIN_*).
INGEST_FILES = (
    "deb-python3-pydicom/test_files/CT_small.dcm",
    "deb-python3-pydicom/test_files/dicomdirtests/98892003/MR1/5641",
    "deb-python3-pydicom/test_files/rtdose_1frame.dcm",
    "deb-python3-pydicom/test_files/rtstruct.dcm",
    "gh-dicomParser/encapsulated/multi-frame/"
    "CT0012.fragmented_no_bot_jpeg_lossless.57.dcm",
    "gh-dicomParser/encapsulated/multi-frame/CT0012.fragmented_no_bot_jpeg_ls.81.dcm",
    "gh-dicomParser/deflate/wave_dfl",
    "gh-pydicom-data/bad_sequence.dcm",
    "gh-highdicom/dx_image.dcm",
    "gh-highdicom/sm_image_grayscale.dcm",
    "gh-dcmqi/sr-example/rwvm.dcm",
    "gh-suyashkumar-dicom/2.dcm",
)
# Uploaded by STOW-RS (none of them ingested before).
STOW_FILES = (
    "deb-python3-pydicom/charset_files/chrKoreanMulti.dcm",
    "deb-python3-pydicom/test_files/dicomdirtests/TINY_ALPHA/PT000000/ST000000/SE000000/IM000000",
    "gh-rt-utils/mock_data/rt.dcm",
)
STOW_GARBAGE = "This part is plain text, not a DICOM dataset.\n" * 8
MIN_INSTANCES = 30
MIN_SYNTAXES = 3
PAGE = {"limit": 2, "offset": 1}

NATIVE_SYNTAXES = ("1.2.840.10008.1.2", "1.2.840.10008.1.2.1", "1.2.840.10008.1.2.2",
                   "1.2.840.10008.1.2.1.99")
# media type of a stored encapsulated frame, as dicomweb-client names them
FRAME_TYPES = {
    "1.2.840.10008.1.2.4.50": "image/jpeg", "1.2.840.10008.1.2.4.51": "image/jpeg",
    "1.2.840.10008.1.2.4.57": "image/jpeg", "1.2.840.10008.1.2.4.70": "image/jpeg",
    "1.2.840.10008.1.2.4.80": "image/jls", "1.2.840.10008.1.2.4.81": "image/jls",
    "1.2.840.10008.1.2.4.90": "image/jp2", "1.2.840.10008.1.2.4.91": "image/jp2",
}


def short(s, n=400):
    s = str(s).strip().replace("\n", " | ")
    return s if len(s) <= n else s[:n] + "..."


class Checks:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def check(self, name, cond, why=""):
        if cond:
            self.passed += 1
            print("ok: %s" % name)
        else:
            self.failed += 1
            print("FAIL: %s%s" % (name, ": " + short(why, 900) if why else ""))
        sys.stdout.flush()
        return bool(cond)

    def equal(self, name, got, want):
        return self.check(name, got == want, "got %s, want %s" % (short(got), short(want)))

    def same_set(self, name, got, want):
        got_s, want_s = set(got or ()), set(want)
        why = ""
        if got is None:
            why = "no answer"
        elif got_s != want_s or len(got) != len(want_s):
            why = "%d got, %d wanted; missing %s; unexpected %s; duplicates %s" % (
                len(got), len(want_s), short(sorted(want_s - got_s), 200),
                short(sorted(got_s - want_s), 200),
                short(sorted(u for u in got_s if list(got).count(u) > 1), 200))
        return self.check(name, got is not None and not why, why)


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def sha256_bytes(b):
    return hashlib.sha256(b).hexdigest()


def image_size(data):
    """(kind, width, height) of a PNG or JPEG, or (None, 0, 0)."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR":
        return "png", int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    if data[:2] == b"\xff\xd8":
        i = 2
        while i + 9 < len(data):
            if data[i] != 0xFF:
                i += 1
                continue
            marker = data[i + 1]
            if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7 or marker == 0xFF:
                i += 1 if marker == 0xFF else 2
                continue
            seglen = int.from_bytes(data[i + 2:i + 4], "big")
            if marker in (0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD,
                          0xCE, 0xCF):
                h = int.from_bytes(data[i + 5:i + 7], "big")
                w = int.from_bytes(data[i + 7:i + 9], "big")
                return "jpeg", w, h
            i += 2 + seglen
        return "jpeg", 0, 0
    return None, 0, 0


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def http(method, url, body=None, headers=None, timeout=30):
    """(status, headers, bytes); status 0 when there was no answer."""
    data = None
    hdrs = dict(headers or {})
    if body is not None:
        data = json.dumps(body).encode() if not isinstance(body, bytes) else body
        hdrs.setdefault("Content-Type", "application/json")
    rq = urllib.request.Request(url, data=data, method=method, headers=hdrs)
    try:
        with urllib.request.urlopen(rq, timeout=timeout) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()
    except (urllib.error.URLError, OSError) as e:
        return 0, {}, str(e).encode()


class Obia:
    def __init__(self, exe, archive):
        self.exe = exe
        self.archive = archive

    def run(self, *args, archive=True, check=True):
        cmd = [self.exe, args[0]]
        rest = list(args[1:])
        if args[0] in ("collection",):
            cmd.append(rest.pop(0))
        if archive:
            cmd += ["--archive", self.archive]
        cmd += rest
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        if check and p.returncode != 0:
            raise RuntimeError("%s exited %d: %s" % (" ".join(cmd[:4]), p.returncode,
                                                     short(p.stderr or p.stdout)))
        return p

    def show(self, key):
        out = json.loads(self.run("show", "--json", key).stdout)
        return out[0] if isinstance(out, list) else out


# ---------------------------------------------------------------------------
# the archive and what it holds

def tag_value(ds, tag):
    el = ds.get(tag)
    if not el or not el.get("Value"):
        return None
    v = el["Value"][0]
    if isinstance(v, dict) and "Alphabetic" in v:
        return v["Alphabetic"]
    return v


def read_report(path):
    rows = []
    with open(path) as f:
        for line in f:
            if line.strip():
                rows.append(json.loads(line))
    return rows


def accepted_sops(rows):
    return [r["detail"].split()[1] for r in rows if r.get("outcome") == "accepted"]


def object_paths(archive):
    found = {}
    for root, _, files in os.walk(os.path.join(archive, "store")):
        for name in files:
            if re.fullmatch(r"[0-9a-f]{64}", name):
                found[name] = os.path.join(root, name)
    return found


def describe_instances(obia, sops):
    """sop -> every fact a client should find about it, from the archive."""
    paths = object_paths(obia.archive)
    studies = {}
    series_modality = {}
    facts = {}
    for sop in sops:
        img = obia.show(sop)
        if img["study"] not in studies:
            studies[img["study"]] = obia.show(img["study"])
        if img["series_uid"] not in series_modality:
            series_modality[img["series_uid"]] = obia.show(img["series_uid"]).get("modality")
        h = img["object_hash"]
        facts[sop] = {
            "sop": sop,
            "series": img["series_uid"],
            "study": studies[img["study"]]["study_uid"],
            "study_accession": img["study"],
            "individual": img["individual"],
            "collection": img["collection"],
            "modality": series_modality[img["series_uid"]],
            "hash": h,
            "size": int(img["size"]),
            "ts": img["transfer_syntax"],
            "path": paths.get(h),
        }
    files = [facts[s]["path"] for s in sops]
    if None in files:
        raise RuntimeError("stored objects missing under store/: %s" %
                           [s for s in sops if not facts[s]["path"]])
    out = json.loads(obia.run("dump", "--json", "--meta", *files, archive=False).stdout)
    if isinstance(out, dict):
        out = [out]
    if len(out) != len(files):
        raise RuntimeError("obia dump gave %d datasets for %d files" % (len(out), len(files)))
    for sop, ds in zip(sops, out):
        f = facts[sop]
        f["patient_id"] = tag_value(ds, "00100020")
        f["rows"] = tag_value(ds, "00280010") or 0
        f["columns"] = tag_value(ds, "00280011") or 0
        f["samples"] = tag_value(ds, "00280002") or 1
        f["bits"] = tag_value(ds, "00280100") or 0
        nf = tag_value(ds, "00280008")
        f["frames"] = int(nf) if nf not in (None, "") else 1
        px = ds.get("7FE00010")
        f["has_pixels"] = px is not None and f["rows"] > 0 and f["columns"] > 0
        f["native"] = f["ts"] in NATIVE_SYNTAXES
        f["pixels"] = (base64.b64decode(px["InlineBinary"])
                       if f["has_pixels"] and f["native"] and "InlineBinary" in px else None)
        f["frame_bytes"] = f["rows"] * f["columns"] * f["samples"] * f["bits"] // 8
        if tag_value(ds, "00080018") != sop:
            raise RuntimeError("stored object of %s holds SOP Instance UID %s" %
                               (sop, tag_value(ds, "00080018")))
    return facts


def set_upload_collection(archive, accession):
    path = os.path.join(archive, "obia.conf")
    with open(path) as f:
        text = f.read()
    line = "upload_collection = %s" % accession
    if re.search(r"(?m)^\s*upload_collection\s*=.*$", text):
        text = re.sub(r"(?m)^\s*upload_collection\s*=.*$", line, text)
    elif re.search(r"(?m)^\[server\]\s*$", text):
        text = re.sub(r"(?m)^\[server\]\s*$", "[server]\n" + line, text, count=1)
    else:
        text += "\n[server]\n%s\n" % line
    with open(path, "w") as f:
        f.write(text)


# ---------------------------------------------------------------------------
# the server

class Server:
    def __init__(self, exe, archive, log):
        self.exe = exe
        self.archive = archive
        self.log = log
        self.proc = None
        self.port = None

    def start(self):
        last = ""
        for _ in range(8):
            port = free_port()
            logf = open(self.log, "ab")
            proc = subprocess.Popen([self.exe, "serve", "--archive", self.archive, "--listen",
                                     "127.0.0.1:%d" % port, "--access", "all"],
                                    stdout=logf, stderr=logf, stdin=subprocess.DEVNULL)
            logf.close()
            deadline = time.time() + 20
            while time.time() < deadline:
                if proc.poll() is not None:
                    break
                status, _, _ = http("GET", "http://127.0.0.1:%d/api" % port, timeout=2)
                if status == 200:
                    self.proc, self.port = proc, port
                    return True, ""
                time.sleep(0.1)
            if proc.poll() is None:
                proc.kill()
                proc.wait()
                return False, "obia serve did not answer GET /api within 20 s"
            with open(self.log, errors="replace") as f:
                last = f.read()[-600:]
            if "in use" not in last.lower():
                return False, "obia serve exited %d: %s" % (proc.returncode, last)
        return False, "no free port found: %s" % last

    def base(self):
        return "http://127.0.0.1:%d" % self.port

    def stop(self, timeout=20):
        if not self.proc or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return "killed after %d s" % timeout


# ---------------------------------------------------------------------------
# 1. dicomweb-client

def node_ready(t):
    """'' when node and tests/js's npm packages are there, None when node (or
    npm, with the packages not installed) is absent, else why not."""
    if not shutil.which("node"):
        return None
    have = all(os.path.isdir(os.path.join(JS_DIR, "node_modules", m))
               for m in ("dicomweb-client", "xhr2"))
    if shutil.which("npm"):
        # idempotent, and without network once installed
        p = subprocess.run(["bash", os.path.join(REPO, "scripts", "install-node-deps")],
                           capture_output=True, text=True, timeout=300)
        if not t.check("scripts/install-node-deps: tests/js's npm packages are installed",
                       p.returncode == 0, p.stderr or p.stdout):
            return "npm packages missing"
    elif not have:
        return None
    return ""


def make_plan(facts, tmp, base, patient_id, stow_files):
    by_study, by_series = {}, {}
    for f in facts.values():
        by_study.setdefault(f["study"], set()).add(f["series"])
        by_series.setdefault(f["series"], []).append(f)
    instances = []
    thumbs = 0
    for f in sorted(facts.values(), key=lambda f: (f["study"], f["series"], f["sop"])):
        inst = {"study": f["study"], "series": f["series"], "sop": f["sop"],
                "anySyntax": True, "frames": [], "stored": None, "render": False,
                "thumbnail": False, "bulkdata": False}
        if f["has_pixels"] and f["bits"] >= 8:
            n = f["frames"]
            inst["frames"] = sorted({1, (n + 1) // 2, n})
            inst["render"] = True
            if f["native"]:
                inst["stored"] = {"mediaType": "application/octet-stream",
                                  "transferSyntaxUID": "*"}
                inst["bulkdata"] = True
            elif f["ts"] in FRAME_TYPES:
                inst["stored"] = {"mediaType": FRAME_TYPES[f["ts"]], "transferSyntaxUID": f["ts"]}
            if thumbs < 3:
                inst["thumbnail"] = True
                thumbs += 1
        instances.append(inst)
    # whole series: the largest two; a whole study: the one with most series
    series_sorted = sorted(by_series, key=lambda s: (-len(by_series[s]), s))
    study_sorted = sorted(by_study, key=lambda s: (-len(by_study[s]), s))
    return {
        "url": base + "/dicomweb",
        "out": os.path.join(tmp, "js"),
        "patientId": patient_id,
        "page": PAGE,
        "studies": sorted(by_study),
        "series": sorted([by_series[s][0]["study"], s] for s in by_series),
        "instances": instances,
        "retrieveSeries": [[by_series[s][0]["study"], s] for s in series_sorted[:2]],
        "retrieveStudy": study_sorted[:1],
        "stow": {"files": stow_files, "garbage": STOW_GARBAGE},
    }


def uids(rows, key):
    return None if rows is None else [r.get(key) for r in rows]


def frames_as_stored(got, plan, facts):
    """What is wrong with frames that should come as stored; and their count."""
    bad, n = [], 0
    for inst in plan["instances"]:
        if not inst["stored"]:
            continue
        f = facts[inst["sop"]]
        parts = got.get(inst["sop"])
        if parts is None or len(parts) != len(inst["frames"]):
            bad.append((inst["sop"], f["ts"],
                        "parts: %s" % (None if parts is None else len(parts))))
            continue
        for p in parts:
            n += 1
            with open(p["file"], "rb") as fh:
                data = fh.read()
            if f["native"]:
                lo = (p["frame"] - 1) * f["frame_bytes"]
                if f["pixels"] is not None and data != f["pixels"][lo:lo + f["frame_bytes"]]:
                    bad.append((inst["sop"], p["frame"], "not the stored pixels"))
            else:
                magic = data[:2] == b"\xff\xd8" or data[:4] == b"\xff\x4f\xff\x51" or \
                    data[4:8] == b"jP  "
                if not magic or p["transferSyntaxUID"] != f["ts"]:
                    bad.append((inst["sop"], p["frame"], f["ts"], p["transferSyntaxUID"],
                                data[:4].hex()))
    return bad, n


def judge_js(t, s, facts, plan, base, obia, stow_sent, upload_collection):
    dw = base + "/dicomweb"
    t.check("dicomweb-client: no call failed (%d calls)" % s.get("calls", 0),
            not s["errors"], json.dumps(s["errors"][:6]))
    studies, series = {}, {}
    for f in facts.values():
        st = studies.setdefault(f["study"], {"sops": set(), "series": set(), "modalities": set(),
                                             "patient": f["patient_id"]})
        st["sops"].add(f["sop"])
        st["series"].add(f["series"])
        if f["modality"]:
            st["modalities"].add(f["modality"])
        se = series.setdefault(f["series"], {"sops": set(), "study": f["study"],
                                             "modality": f["modality"]})
        se["sops"].add(f["sop"])
    q = s["qido"]

    # ---- QIDO-RS
    t.same_set("searchForStudies: the archive's %d studies" % len(studies),
               uids(q["studies"], "study"), studies)
    t.equal("searchForStudies limit=1000: the same studies in the same order",
            uids(q["studiesLimit1000"], "study"), uids(q["studies"], "study"))
    bad = []
    for row in q["studies"] or []:
        st = studies.get(row["study"])
        if not st:
            continue
        want = (st["patient"], len(st["series"]), len(st["sops"]), sorted(st["modalities"]),
                "%s/studies/%s" % (dw, row["study"]))
        got = (row["patientId"], row["nseries"], row["ninstances"], sorted(row["modalities"]),
               row["retrieveUrl"])
        if got != want:
            bad.append((row["study"], got, want))
    t.check("searchForStudies: PatientID, numbers of series and instances, modalities and "
            "RetrieveURL of every study", q["studies"] and not bad, bad[:3])
    mine = [u for u, st in studies.items() if st["patient"] == plan["patientId"]]
    t.same_set("searchForStudies PatientID=%s: that individual's %d studies"
               % (plan["patientId"], len(mine)), uids(q["studiesOfPatient"], "study"), mine)
    t.equal("searchForStudies PatientID=NO-SUCH-PATIENT: none", q["studiesOfNobody"], [])
    allst = uids(q["studies"], "study") or []
    lo, n = PAGE["offset"], PAGE["limit"]
    t.equal("searchForStudies limit=%d offset=%d: studies %d to %d of the full list"
            % (n, lo, lo + 1, lo + n), uids(q["studiesPage"], "study"), allst[lo:lo + n])
    t.same_set("searchForSeries: the archive's %d series" % len(series),
               uids(q["series"], "series"), series)
    bad = [(r["series"], r["study"], r["modality"], r["ninstances"]) for r in q["series"] or []
           if r["series"] in series and
           (r["study"], r["modality"], r["ninstances"], r["retrieveUrl"]) !=
           (series[r["series"]]["study"], series[r["series"]]["modality"],
            len(series[r["series"]]["sops"]),
            "%s/studies/%s/series/%s" % (dw, r["study"], r["series"]))]
    t.check("searchForSeries: study, modality, number of instances and RetrieveURL of every "
            "series", q["series"] and not bad, bad[:3])
    t.same_set("searchForInstances: the archive's %d instances" % len(facts),
               uids(q["instances"], "sop"), facts)
    bad = [r["sop"] for r in q["instances"] or [] if r["sop"] in facts and
           ((r["study"], r["series"], r["rows"] or 0, r["columns"] or 0, r["retrieveUrl"]) !=
            (facts[r["sop"]]["study"], facts[r["sop"]]["series"], facts[r["sop"]]["rows"],
             facts[r["sop"]]["columns"],
             "%s/studies/%s/series/%s/instances/%s" % (dw, r["study"], r["series"], r["sop"])))]
    t.check("searchForInstances: study, series, rows, columns and RetrieveURL of every instance",
            q["instances"] and not bad, bad[:3])
    bad = [u for u, st in studies.items()
           if sorted(uids(q["seriesOfStudy"].get(u), "series") or []) != sorted(st["series"]) or
           sorted(uids(q["instancesOfStudy"].get(u), "sop") or []) != sorted(st["sops"])]
    t.check("searchForSeries and searchForInstances of each of the %d studies: its series and "
            "instances" % len(studies), not bad, bad[:3])
    bad = [u for u, se in series.items()
           if sorted(uids(q["instancesOfSeries"].get(u), "sop") or []) != sorted(se["sops"])]
    t.check("searchForInstances of each of the %d series: its instances" % len(series),
            not bad, bad[:3])

    # ---- WADO-RS metadata
    m = s["metadata"]
    bad = []
    for u, st in studies.items():
        rows = m["study"].get(u)
        if rows is None or sorted(uids(rows, "sop")) != sorted(st["sops"]) or \
                any(r["study"] != u or r["patientId"] != st["patient"] for r in rows):
            bad.append(u)
    t.check("retrieveStudyMetadata of each study: one dataset per instance, with its study "
            "and PatientID", not bad, bad[:3])
    bad = [u for u, se in series.items()
           if m["series"].get(u) is None or
           sorted(uids(m["series"][u], "sop")) != sorted(se["sops"]) or
           any(r["series"] != u for r in m["series"][u])]
    t.check("retrieveSeriesMetadata of each series: one dataset per instance", not bad, bad[:3])
    bad = []
    for sop, f in facts.items():
        rows = m["instance"].get(sop)
        if not rows or len(rows) != 1:
            bad.append((sop, "datasets: %s" % (None if rows is None else len(rows))))
            continue
        r = rows[0]
        got = (r["sop"], r["series"], r["study"], r["patientId"], r["rows"] or 0,
               r["columns"] or 0, int(r["frames"] or 1) if f["has_pixels"] else 1)
        want = (sop, f["series"], f["study"], f["patient_id"], f["rows"], f["columns"],
                f["frames"] if f["has_pixels"] else 1)
        if got != want:
            bad.append((sop, got, want))
        elif f["has_pixels"] and not (r["pixelBulkDataURI"] or r["pixelInline"]):
            bad.append((sop, "Pixel Data has neither BulkDataURI nor InlineBinary"))
    t.check("retrieveInstanceMetadata of each instance: its UIDs, PatientID, rows, columns, "
            "frames and Pixel Data", not bad, bad[:3])

    # ---- WADO-RS instances
    for key, label in (("instances", "as the client asks by default"),
                       ("instancesAnySyntax", "with transfer-syntax=*")):
        got = s[key]
        bad = [sop for sop, f in facts.items()
               if sop not in got or sha256_file(got[sop]["file"]) != f["hash"]]
        t.check("retrieveInstance %s: all %d instances, each the stored object byte for byte "
                "(%d bytes)" % (label, len(facts), sum(g["bytes"] for g in got.values())),
                not bad, "%d differ or missing, e.g. %s" % (len(bad), bad[:3]))
    for key, wanted, label in (("seriesRetrieved", [se for _, se in plan["retrieveSeries"]],
                                "retrieveSeries"),
                               ("studyRetrieved", plan["retrieveStudy"], "retrieveStudy")):
        for u in wanted:
            parts = s[key].get(u)
            want = sorted(f["hash"] for f in facts.values()
                          if (f["series"] if key == "seriesRetrieved" else f["study"]) == u)
            got = sorted(sha256_file(p["file"]) for p in parts) if parts else None
            t.equal("%s %s: its %d instances, byte for byte" % (label, u, len(want)), got, want)

    # ---- frames
    bad, nframes, nbytes = [], 0, 0
    for inst in plan["instances"]:
        if not inst["frames"]:
            continue
        f = facts[inst["sop"]]
        parts = s["frames"].get(inst["sop"])
        if parts is None or len(parts) != len(inst["frames"]):
            bad.append((inst["sop"], "parts: %s" % (None if parts is None else len(parts))))
            continue
        for p in parts:
            nframes += 1
            nbytes += p["bytes"]
            if p["bytes"] != f["frame_bytes"]:
                bad.append((inst["sop"], f["ts"], p["frame"], p["bytes"], f["frame_bytes"]))
            elif f["pixels"] is not None:
                lo = (p["frame"] - 1) * f["frame_bytes"]
                with open(p["file"], "rb") as fh:
                    if fh.read() != f["pixels"][lo:lo + f["frame_bytes"]]:
                        bad.append((inst["sop"], p["frame"], "not the stored pixels"))
    t.check("retrieveInstanceFrames (application/octet-stream): %d frames of %d instances, "
            "each rows x columns x samples x bits/8 bytes (%d bytes), native ones the stored "
            "pixels" % (nframes, sum(1 for i in plan["instances"] if i["frames"]), nbytes),
            nframes and not bad, bad[:4])
    syntaxes = sorted({facts[i["sop"]]["ts"] for i in plan["instances"] if i["stored"]})
    for key, label in (("storedFrames", "as stored (%s)" % ", ".join(syntaxes)),
                       ("negotiatedFrames", "accepting image/jls (JPEG-LS lossless) or else "
                        "application/octet-stream as stored")):
        bad, n = frames_as_stored(s[key], plan, facts)
        t.check("retrieveInstanceFrames %s: %d frames, codestreams with their transfer syntax, "
                "native ones the stored pixels" % (label, n), n and not bad, bad[:4])
    bulk = [i["sop"] for i in plan["instances"] if i["bulkdata"]]
    bad = []
    inline = sum(1 for b in s["bulkdata"].values() if b.get("inline"))
    for sop in bulk:
        b = s["bulkdata"].get(sop)
        if not b:
            bad.append((sop, "no answer"))
            continue
        with open(b["file"], "rb") as fh:
            data = fh.read()
        if data != facts[sop]["pixels"]:
            bad.append((sop, len(data), len(facts[sop]["pixels"] or b"")))
    t.check("Pixel Data of %d instances by retrieveBulkData of the metadata's BulkDataURI (%d "
            "inline in the metadata instead): the stored pixels" % (len(bulk), inline),
            bulk and inline < len(bulk) and not bad, bad[:3])

    # ---- rendered and thumbnails
    for key, kinds, label in (("rendered", ("png", "jpeg"), "without a media type"),
                              ("renderedPng", ("png",), "image/png")):
        bad = []
        wanted = [i["sop"] for i in plan["instances"] if i["render"]]
        for sop in wanted:
            r = s[key].get(sop)
            if not r:
                bad.append((sop, "no answer"))
                continue
            with open(r["file"], "rb") as fh:
                kind, w, h = image_size(fh.read())
            f = facts[sop]
            if kind not in kinds or (w, h) != (f["columns"], f["rows"]):
                bad.append((sop, kind, w, h, f["columns"], f["rows"]))
        t.check("retrieveInstanceRendered %s (%d instances): %s of the image's size"
                % (label, len(wanted), " or ".join(kinds)), wanted and not bad, bad[:3])
    wanted = [i["sop"] for i in plan["instances"] if i["thumbnail"]]
    bad = []
    for sop in wanted:
        r = s["thumbnails"].get(sop)
        kind = None
        if r:
            with open(r["file"], "rb") as fh:
                kind = image_size(fh.read())[0]
        if kind != "png":
            bad.append((sop, kind))
    t.check("retrieveInstanceThumbnail image/png (%d instances): PNG" % len(wanted),
            wanted and not bad, bad[:3])

    # ---- STOW-RS
    st = s.get("stow") or {}
    refs = st.get("referenced") or []
    failed = st.get("failed") or []
    t.check("storeInstances of %d files and a part that is no DICOM: %d in "
            "ReferencedSOPSequence, the last in FailedSOPSequence" % (len(stow_sent), len(refs)),
            len(refs) == len(stow_sent) and len(failed) == 1,
            "failed %s; referenced %s" % (failed, refs))
    t.check("storeInstances: the part that is no DICOM failed with reason 0110 (processing "
            "failure) or C000 (cannot understand), without a SOP Instance UID",
            len(failed) == 1 and failed[0]["failureReason"] in (0x0110, 0xC000) and
            not failed[0]["sop"], failed)
    t.equal("storeInstances: ReferencedSOPInstanceUIDs are the SOP Instance UIDs sent",
            [r["sop"] for r in refs], [x["sop"] for x in stow_sent])
    t.equal("storeInstances: ReferencedSOPClassUIDs are the SOP Class UIDs sent",
            [r["sopClass"] for r in refs], [x["sop_class"] for x in stow_sent])
    new = [(r.get("stored") or {}).get("sop") for r in refs]
    t.check("storeInstances: each RetrieveURL names a new (de-identified) SOP Instance UID "
            "under %s, with Warning Reason B000 (coerced)" % dw,
            refs and all(n and r["retrieveUrl"].startswith(dw + "/studies/") and
                         n != r["sop"] and r["warningReason"] == 0xB000
                         for n, r in zip(new, refs)), refs)
    bad = []
    stored = {}
    for r in refs:
        loc = r.get("stored")
        if not loc:
            continue
        try:
            img = obia.show(loc["sop"])
        except RuntimeError as e:
            bad.append((loc["sop"], str(e)))
            continue
        stored[loc["sop"]] = img
        found = st["found"].get(loc["sop"])
        got = st["retrieved"].get(loc["sop"])
        if found is None or [x["sop"] for x in found] != [loc["sop"]] or \
                (found[0]["study"], found[0]["series"]) != (loc["study"], loc["series"]):
            bad.append((loc["sop"], "search found", found))
        elif not got or sha256_file(got["file"]) != img["object_hash"]:
            bad.append((loc["sop"], "retrieved bytes are not the stored object"))
        elif img["collection"] != upload_collection or img["series_uid"] != loc["series"]:
            bad.append((loc["sop"], img["collection"], img["series_uid"]))
    t.check("STOW-RS'd instances: in %s (the server's upload_collection), found by "
            "searchForInstances, retrieved by RetrieveURL byte for byte" % upload_collection,
            len(stored) == len(stow_sent) and not bad, bad[:3])
    new_studies = {obia.show(img["study"])["study_uid"] for img in stored.values()}
    t.same_set("searchForStudies after STOW-RS: the studies before and the new ones",
               uids(st.get("studiesAfter"), "study"), set(studies) | new_studies)
    t.same_set("searchForInstances after STOW-RS: %d + %d instances" % (len(facts), len(stored)),
               uids(st.get("instancesAfter"), "sop"), set(facts) | set(stored))
    return set(studies) | new_studies, stored


# ---------------------------------------------------------------------------
# 2. Orthanc

def orthanc_binary():
    exe = shutil.which("Orthanc") or ("/usr/sbin/Orthanc" if os.path.exists("/usr/sbin/Orthanc")
                                      else None)
    plugin = None
    p = subprocess.run(["dpkg", "-L", "orthanc-dicomweb"], capture_output=True, text=True) \
        if shutil.which("dpkg") else None
    if p and p.returncode == 0:
        for line in p.stdout.splitlines():
            if line.endswith("/libOrthancDicomWeb.so") and os.path.exists(line):
                plugin = line
                break
    if not plugin:
        plugin = next((x for x in ORTHANC_PLUGIN_PATHS if os.path.exists(x)), None)
    return exe, plugin


class Orthanc:
    def __init__(self, exe, plugin, tmp, obia_base):
        self.exe, self.plugin, self.tmp, self.obia_base = exe, plugin, tmp, obia_base
        self.proc = None
        self.port = None

    def start(self):
        last = ""
        for _ in range(5):
            port, dport = free_port(), free_port()
            conf = {
                "Name": "obia-interop",
                "HttpPort": port,
                "DicomPort": dport,
                "DicomServerEnabled": False,
                "StorageDirectory": os.path.join(self.tmp, "storage"),
                "IndexDirectory": os.path.join(self.tmp, "index"),
                "RemoteAccessAllowed": False,
                "AuthenticationEnabled": False,
                "SaveJobs": False,
                "Plugins": [self.plugin],
                "DicomWeb": {
                    "Enable": True,
                    "Root": "/dicom-web/",
                    "Servers": {"obia": [self.obia_base + "/dicomweb/"]},
                },
            }
            path = os.path.join(self.tmp, "orthanc.json")
            os.makedirs(self.tmp, exist_ok=True)
            with open(path, "w") as f:
                json.dump(conf, f, indent=1)
            self.log = os.path.join(self.tmp, "orthanc.log")
            logf = open(self.log, "ab")
            proc = subprocess.Popen([self.exe, path], stdout=logf, stderr=logf,
                                    stdin=subprocess.DEVNULL, cwd=self.tmp)
            logf.close()
            deadline = time.time() + 30
            while time.time() < deadline and proc.poll() is None:
                status, _, _ = http("GET", "http://127.0.0.1:%d/system" % port, timeout=2)
                if status == 200:
                    self.proc, self.port = proc, port
                    return True, ""
                time.sleep(0.2)
            if proc.poll() is None:
                proc.kill()
                proc.wait()
                return False, "Orthanc did not answer within 30 s"
            with open(self.log, errors="replace") as f:
                last = f.read()[-800:]
            if "address already in use" not in last.lower() and "bind" not in last.lower():
                return False, "Orthanc exited %d: %s" % (proc.returncode, last)
        return False, "no free port for Orthanc: %s" % last

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def get(self, path, timeout=60):
        return http("GET", self.url(path), timeout=timeout)

    def post(self, path, body, timeout=60):
        return http("POST", self.url(path), body=body, timeout=timeout)

    def stop(self):
        if not self.proc or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def orthanc_part(t, orthanc, facts, all_studies, stored_extra):
    ok, why = orthanc.start()
    if not t.check("Orthanc %s with its DICOMweb plugin starts (port %s)"
                   % (orthanc.exe, orthanc.port), ok, why):
        return
    status, _, body = orthanc.post("/dicom-web/servers/obia/get", {"Uri": "/studies"})
    listed = None
    if status == 200:
        try:
            listed = [tag_value(x, "0020000D") for x in json.loads(body)]
        except ValueError:
            pass
    if t.check("Orthanc QIDO-RS to obia (/dicom-web/servers/obia/get /studies) answers",
               listed is not None, "HTTP %d: %s" % (status, short(body))):
        t.same_set("Orthanc's list of obia's studies: the archive's %d" % len(all_studies),
                   listed, all_studies)
    # the study with most instances, and one with compressed instances
    counts = {}
    for f in facts.values():
        counts.setdefault(f["study"], []).append(f)
    pick = [max(sorted(counts), key=lambda u: len(counts[u]))]
    comp = sorted((u for u, fs in counts.items() if any(not f["native"] for f in fs)),
                  key=lambda u: (-len(counts[u]), u))
    if comp and comp[0] not in pick:
        pick.append(comp[0])
    for study in pick:
        status, _, body = orthanc.post("/dicom-web/servers/obia/get",
                                       {"Uri": "/studies/%s/series" % study})
        got = None
        if status == 200:
            try:
                got = [tag_value(x, "0020000E") for x in json.loads(body)]
            except ValueError:
                pass
        t.same_set("Orthanc QIDO-RS /studies/%s/series: its %d series"
                   % (study, len({f["series"] for f in counts[study]})), got,
                   {f["series"] for f in counts[study]})
        t0 = time.time()
        status, _, body = orthanc.post("/dicom-web/servers/obia/retrieve",
                                       {"Resources": [{"Study": study}]}, timeout=120)
        t.check("Orthanc WADO-RS retrieve of study %s from obia (%.1f s)"
                % (study, time.time() - t0), status == 200, "HTTP %d: %s" % (status, short(body)))
        status, _, body = orthanc.post("/tools/find", {"Level": "Instance", "Expand": True,
                                                       "Query": {"StudyInstanceUID": study}})
        held = json.loads(body) if status == 200 else []
        want = {f["sop"]: f for f in counts[study]}
        t.same_set("Orthanc holds study %s with obia's %d SOP Instance UIDs"
                   % (study, len(want)),
                   [x.get("MainDicomTags", {}).get("SOPInstanceUID") for x in held], want)
        bad, nbytes = [], 0
        for x in held:
            sop = x.get("MainDicomTags", {}).get("SOPInstanceUID")
            if sop not in want:
                continue
            s2, _, data = orthanc.get("/instances/%s/file" % x["ID"])
            nbytes += len(data)
            if s2 != 200 or sha256_bytes(data) != want[sop]["hash"]:
                bad.append((sop, s2, len(data)))
        t.check("Orthanc's copies of study %s are obia's stored objects byte for byte "
                "(%d bytes)" % (study, nbytes), held and not bad, bad[:3])
    status, _, body = orthanc.get("/statistics")
    if status == 200:
        st = json.loads(body)
        print("NOTE: Orthanc holds %s studies, %s instances" % (st.get("CountStudies"),
                                                                st.get("CountInstances")))


# ---------------------------------------------------------------------------

def main():
    t0 = time.time()
    exe = os.environ.get("OBIA")
    data = os.environ.get("OBIA_TEST_DATA", os.path.join(REPO, "tests", "data"))
    if not exe or not os.access(exe, os.X_OK):
        print("FAIL: OBIA must name the obia binary (got %r)" % exe)
        return 1
    t = Checks()
    skipped = []
    node = node_ready(t)
    if node is None:
        skipped.append("node or npm is not installed: dicomweb-client not run")
    elif node:
        print("dicomweb_clients: %d passed, %d failed" % (t.passed, t.failed))
        return 1
    orth_exe, orth_plugin = orthanc_binary()
    if not orth_exe or not orth_plugin:
        skipped.append("Orthanc or its DICOMweb plugin is not installed (orthanc, "
                       "orthanc-dicomweb): Orthanc not run")
    if len(skipped) == 2:
        print("SKIP: " + "; ".join(skipped))
        return 77

    tmp = tempfile.mkdtemp(prefix="obia-dicomweb-")
    keep = os.environ.get("OBIA_KEEP_TMP") == "1"
    archive = os.path.join(tmp, "archive")
    obia = Obia(exe, archive)
    server = Server(exe, archive, os.path.join(tmp, "serve.log"))
    orthanc = None
    try:
        # ---- the archive
        obia.run("init")
        coll = obia.run("collection", "create", "--title", "DICOMweb clients").stdout.strip()
        upload = obia.run("collection", "create", "--title", "STOW-RS uploads").stdout.strip()
        synth = os.path.join(tmp, "synth")
        obia.run("synth", "--out", synth, "--individuals", "3", "--studies", "2", "--series", "2",
                 "--images", "3", "--modalities", "CT,MR", "--rows", "32", "--columns", "32",
                 "--seed", "20240611", archive=False)
        report = os.path.join(tmp, "ingest.jsonl")
        files = [os.path.join(data, f) for f in INGEST_FILES]
        synth_dirs = sorted(os.path.join(synth, d) for d in os.listdir(synth)
                            if os.path.isdir(os.path.join(synth, d)))
        p = obia.run("ingest", "--collection", coll, "--report", report, *synth_dirs, *files,
                     check=False)
        rows = read_report(report)
        held = [(os.path.relpath(r["input"], data), r["detail"]) for r in rows
                if r["outcome"] != "accepted" and r["input"].startswith(data)]
        for name, detail in held:
            print("NOTE: not stored by ingest: %s: %s" % (name, short(detail, 160)))
        sops = accepted_sops(rows)
        facts = describe_instances(obia, sops)
        syntaxes = sorted({f["ts"] for f in facts.values()})
        multi = [f for f in facts.values() if f["has_pixels"] and f["frames"] > 1]
        if not t.check("archive: %d instances stored (%d studies, %d series), of transfer "
                       "syntaxes %s, %d multi-frame"
                       % (len(facts), len({f["study"] for f in facts.values()}),
                          len({f["series"] for f in facts.values()}), ", ".join(syntaxes),
                          len(multi)),
                       len(facts) >= MIN_INSTANCES and len(syntaxes) >= MIN_SYNTAXES and multi,
                       "ingest exited %d: %s" % (p.returncode, short(p.stderr))):
            return 1
        stow_paths = [os.path.join(data, f) for f in STOW_FILES]
        stow_sent = []
        for path in stow_paths:
            ds = json.loads(obia.run("dump", "--json", "--no-pixels", path, archive=False).stdout)
            stow_sent.append({"sop": tag_value(ds, "00080018"),
                              "sop_class": tag_value(ds, "00080016")})
        set_upload_collection(archive, upload)

        # ---- the server
        ok, why = server.start()
        if not t.check("obia serve --access all answers GET /api on 127.0.0.1:%s"
                       % server.port, ok, why):
            return 1
        base = server.base()

        all_studies = {f["study"] for f in facts.values()}
        stored_extra = {}
        if node is not None:
            per_patient = {}
            for f in facts.values():
                per_patient.setdefault(f["patient_id"], set()).add(f["study"])
            patient = max(sorted(per_patient), key=lambda k: len(per_patient[k]))
            plan = make_plan(facts, tmp, base, patient, stow_paths)
            plan_path = os.path.join(tmp, "plan.json")
            with open(plan_path, "w") as f:
                json.dump(plan, f)
            t1 = time.time()
            p = subprocess.run(["node", JS_SCRIPT, plan_path], capture_output=True, text=True,
                               timeout=120, cwd=JS_DIR)
            summary = None
            if p.returncode == 0:
                try:
                    summary = json.loads(p.stdout.strip().splitlines()[-1])
                except (ValueError, IndexError):
                    pass
            if t.check("tests/js/dicomweb_client.mjs ran (%.1f s)" % (time.time() - t1),
                       summary is not None,
                       "exit %d: %s %s" % (p.returncode, short(p.stderr, 900), short(p.stdout))):
                print("NOTE: %s, %s: %d calls, %d bytes retrieved, %.1f s"
                      % (summary["client"], summary["transport"], summary["calls"],
                         summary["bytesRetrieved"], summary["seconds"]))
                all_studies, stored_extra = judge_js(t, summary, facts, plan, base, obia,
                                                     stow_sent, upload)

        if orth_exe and orth_plugin:
            orthanc = Orthanc(orth_exe, orth_plugin, os.path.join(tmp, "orthanc"), base)
            orthanc_part(t, orthanc, facts, all_studies, stored_extra)
            orthanc.stop()
    except (RuntimeError, subprocess.TimeoutExpired, OSError, ValueError, KeyError) as e:
        t.check("the test ran to its end", False, "%s: %s" % (type(e).__name__, e))
    finally:
        if orthanc:
            orthanc.stop()
        rc = server.stop()
        if server.port:
            t.check("obia serve exits 0 on SIGTERM", rc == 0, "exit status %s; log: %s" % (
                rc, short(open(server.log, errors="replace").read()[-600:])))
        if keep:
            print("NOTE: kept %s" % tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)

    elapsed = time.time() - t0
    print("dicomweb_clients: %d passed, %d failed (%.1f s)" % (t.passed, t.failed, elapsed))
    if t.failed:
        return 1
    if skipped:
        print("SKIP: " + "; ".join(skipped))
        return 77
    return 0


if __name__ == "__main__":
    sys.exit(main())
