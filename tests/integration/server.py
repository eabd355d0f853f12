#!/usr/bin/python3
"""obia serve on 127.0.0.1, exercised over HTTP with a generated archive.

An archive of two collections (the test data's CT, MR and other images):
OBIA0001 released with its series visible but one, OBIA0002 a draft. Then,
against `obia serve --access all`:
  - every route of server/routes.c answers (the table drives this list);
  - GET /api lists exactly the route table;
  - REST: collections, individuals, studies, series, images with links and
    paging totals; search with facet counts that leave out their own
    filter; stats totals equal the catalog's; thumbnails, renders, contact
    sheets (PNG/JPEG signatures, ETag and 304);
  - QIDO-RS at each level: counts, PatientID, wildcards, date ranges,
    ModalitiesInStudy, includefield, limit/offset, 204, 400, 406;
  - WADO-RS: instances byte-identical to the stored objects (SHA-256 is
    their name), series and study multipart counts, metadata equal to
    `obia dump --bulk-uri` of the stored file, frames, bulk data, rendered,
    thumbnails;
  - STOW-RS: stored instances (found again by QIDO), failures for non-DICOM
    parts (409), bad boundaries, truncated bodies, no collection;
  - hostile requests: path traversal, encoded NUL and slashes, huge headers,
    long URLs, wrong methods, wrong Accept, bodies where none belong -- each
    a 4xx with a JSON error, and the server still answering;
  - gzip, keep-alive (one connection for many requests), the access log;
then `--access public` (only the released collection's visible series;
uploads 403), TLS with a generated certificate, and SIGTERM during an
upload: the upload finishes and is stored, the server exits 0.

One line per check (ok/FAIL), then a summary. Environment: OBIA,
OBIA_TEST_DATA. Exit 0 pass, 1 fail.
"""

import gzip
import hashlib
import http.client
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time

OBIA = os.environ.get("OBIA", "obia")
DATA = os.environ.get("OBIA_TEST_DATA",
                      os.path.join(os.path.dirname(__file__), "..", "data"))
REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
SANITIZE = os.environ.get("OBIA_SANITIZE", "OFF") in ("ON", "1", "TRUE")

passed = failed = 0


def check(name, cond, why=""):
    global passed, failed
    if cond:
        passed += 1
        print("ok: %s" % name)
    else:
        failed += 1
        why = str(why).replace("\n", " | ")
        print("FAIL: %s%s" % (name, ": " + why[:600] if why else ""))
    return bool(cond)


def run(*args, check_rc=True):
    p = subprocess.run([OBIA] + [str(a) for a in args], capture_output=True, text=True,
                       timeout=600)
    if check_rc and p.returncode != 0:
        print("command failed: %s\n%s%s" % (" ".join(map(str, args)), p.stdout, p.stderr))
        sys.exit(1)
    return p


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Server:
    def __init__(self, arc, *extra, tls=False):
        self.port = free_port()
        self.tls = tls
        self.log = open(os.path.join(arc, "serve.err"), "a")
        self.p = subprocess.Popen([OBIA, "serve", "--archive", arc, "--listen",
                                   "127.0.0.1:%d" % self.port] + list(extra),
                                  stdout=self.log, stderr=self.log)
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                c = self.conn()
                c.request("GET", "/api")
                c.getresponse().read()
                c.close()
                return
            except OSError:
                if self.p.poll() is not None:
                    break
                time.sleep(0.1)
        raise SystemExit("FAIL: obia serve did not start (exit %s)" % self.p.poll())

    def conn(self, timeout=60):
        if self.tls:
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            return http.client.HTTPSConnection("127.0.0.1", self.port, timeout=timeout,
                                               context=ctx)
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def get(self, path, headers=None, method="GET", body=None):
        c = self.conn()
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        data = r.read()
        hdrs = {k.lower(): v for k, v in r.getheaders()}
        c.close()
        return r.status, hdrs, data

    def json(self, path, headers=None):
        st, h, d = self.get(path, headers)
        try:
            return st, json.loads(d) if d else None
        except ValueError:
            return st, None

    def stop(self):
        self.p.send_signal(signal.SIGTERM)
        try:
            rc = self.p.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.p.kill()
            rc = -9
        self.log.close()
        return rc


def multipart_parts(ctype, body):
    """The parts of a multipart body: [(headers dict, bytes)]."""
    m = re.search(r'boundary="?([^";]+)"?', ctype)
    if not m:
        return None
    b = b"--" + m.group(1).encode()
    parts = []
    for chunk in body.split(b)[1:]:
        if chunk.startswith(b"--"):
            break
        head, _, data = chunk.partition(b"\r\n\r\n")
        if data.endswith(b"\r\n"):
            data = data[:-2]
        hdrs = {}
        for line in head.decode("latin-1").split("\r\n"):
            if ":" in line:
                k, v = line.split(":", 1)
                hdrs[k.strip().lower()] = v.strip()
        parts.append((hdrs, data))
    return parts


def multipart_body(files, boundary="obia-test-boundary", ctype="application/dicom"):
    out = b""
    for f in files:
        data = open(f, "rb").read() if isinstance(f, str) else f
        out += b"--" + boundary.encode() + b"\r\nContent-Type: " + ctype.encode() + b"\r\n\r\n"
        out += data + b"\r\n"
    return out + b"--" + boundary.encode() + b"--\r\n"


def stow_headers(boundary="obia-test-boundary"):
    return {"Content-Type": 'multipart/related; type="application/dicom"; boundary=%s' % boundary,
            "Accept": "application/dicom+json"}


def value(ds, tag):
    v = ds.get(tag, {}).get("Value")
    return v[0] if v else None


def route_table():
    """(method, pattern) of every route, read from server/routes.c."""
    src = open(os.path.join(REPO, "server", "routes.c")).read()
    defs = dict(re.findall(r'#define (\w+) (.+)', src))

    def expand(expr):
        out = ""
        for tok in re.findall(r'"[^"]*"|\w+', expr):
            out += tok[1:-1] if tok.startswith('"') else expand(defs[tok])
        return out
    routes = []
    for m in re.finditer(r'\{"(GET|POST|PUT|DELETE)",\s*((?:\w+\s*)?"[^"]*"|\w+(?:\s+"[^"]*")?)\s*,', src):
        routes.append((m.group(1), expand(m.group(2))))
    return routes


def main():
    tmp = tempfile.mkdtemp(prefix="obia-server-")
    arc = os.path.join(tmp, "arc")
    try:
        build_archive(arc, tmp)
        test_all(arc, tmp)
        test_public(arc)
        test_tls(arc, tmp)
        test_shutdown_during_upload(arc, tmp)
    finally:
        if not os.environ.get("OBIA_KEEP_TMP"):
            shutil.rmtree(tmp, ignore_errors=True)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


# ---- the archive -------------------------------------------------------------------

# (file, patient, copies): copies of one image make a series of several
# instances (new SOP Instance UIDs and Instance Numbers, same study)
INPUTS = [
    ("deb-python3-pydicom/test_files/CT_small.dcm", "PAT-CT", 4),
    ("gh-highdicom/dx_image.dcm", "PAT-DX", 1),
    ("gh-pylibjpeg-data/JPEG2000/OsirixFake16BitsStoredFakeSpacing.dcm", "PAT-J2K", 1),
    ("gh-cornerstone3D/CTImage.dcm_JPEGProcess6_8TransferSyntax_1.2.840.10008.1.2.4.53.dcm",
     "PAT-JPEG", 1),
    ("deb-python3-pydicom/test_files/MR_small.dcm", "PAT-MR", 3),
    ("deb-python3-pydicom/test_files/SC_rgb_rle.dcm", "PAT-RLE", 1),
    ("gh-pydicom-data/JLSL_RGB_ILV0.dcm", "PAT-JLS", 1),
]
# what a file lacks to be an image of an archive
EXTRA = {
    "gh-pydicom-data/JLSL_RGB_ILV0.dcm": [
        "SOPInstanceUID=1.2.826.0.1.3680043.98.1.1", "StudyInstanceUID=1.2.826.0.1.3680043.98.1.2",
        "SeriesInstanceUID=1.2.826.0.1.3680043.98.1.3", "Modality=XC",
        "SOPClassUID=1.2.840.10008.5.1.4.1.1.77.1.4"],
}


def prepare_inputs(tmp):
    """Inputs that pass the checks: a Patient ID each, burned-in text
    declared absent, several instances per series for some."""
    out = {"OBIA0001": [], "OBIA0002": []}
    for i, (rel, patient, copies) in enumerate(INPUTS):
        src = os.path.join(DATA, rel)
        if not os.path.exists(src):
            raise SystemExit("FAIL: test data missing: %s" % src)
        for k in range(copies):
            dst = os.path.join(tmp, "in%d_%d.dcm" % (i, k))
            sets = ["--set", "PatientID=" + patient, "--set", "BurnedInAnnotation=NO",
                    "--set", "PatientName=%s^Test" % patient]
            for e in EXTRA.get(rel, []):
                sets += ["--set", e]
            if copies > 1:
                sets += ["--set", "SOPInstanceUID=1.2.826.0.1.3680043.98.%d.%d.%d"
                         % (os.getpid(), i, k), "--set", "InstanceNumber=%d" % (k + 1)]
            run("convert", *sets, src, dst)
            out["OBIA0001" if i < 4 else "OBIA0002"].append(dst)
    return out


def build_archive(arc, tmp):
    run("init", "--archive", arc)
    run("collection", "create", "--archive", arc, "--title", "Released data",
        "--disease", "lung cancer")
    run("collection", "create", "--archive", arc, "--title", "Draft data")
    inputs = prepare_inputs(tmp)
    for coll, files in inputs.items():
        p = run("ingest", "--archive", arc, "--collection", coll, *files)
        if "0 quarantined" not in p.stderr:
            raise SystemExit("FAIL: test inputs were quarantined: %s\n%s"
                             % (p.stderr, run("qc", "list", "--archive", arc).stdout))
    # OBIA0001: every series visible but the first, then released
    rows = json.loads(run("review", "list", "--archive", arc, "--collection", "OBIA0001",
                          "--json").stdout)
    uids = [r["series_uid"] for r in rows]
    run("review", "set", "--archive", arc, "--reason", "checked", "visible", *uids[1:])
    run("review", "set", "--archive", arc, "--reason", "face", "not-visible", uids[0])
    run("collection", "release", "--archive", arc, "OBIA0001")


def catalog_series(arc):
    return json.loads(run("search", "--archive", arc, "--json").stdout)


def stored_object(arc, sop):
    rows = json.loads(run("show", "--archive", arc, "--json", sop).stdout)
    row = rows[0] if isinstance(rows, list) else rows
    h = row["object_hash"]
    for root, _, names in os.walk(os.path.join(arc, "store")):
        if h in names:
            return h, os.path.join(root, h)
    return h, None


# ---- with access all -----------------------------------------------------------------

def test_all(arc, tmp):
    srv = Server(arc, "--access", "all")
    try:
        series = catalog_series(arc)
        check("the archive has series in both collections",
              {s["collection"] for s in series} == {"OBIA0001", "OBIA0002"}, series)
        test_routes(srv, arc, series)
        test_rest(srv, arc, series)
        test_qido(srv, arc, series)
        test_wado(srv, arc, series, tmp)
        test_stow(srv, arc, tmp)
        test_hostile(srv)
        test_http(srv, arc)
    finally:
        rc = srv.stop()
    check("the server exits 0 on SIGTERM", rc == 0, rc)
    log = open(os.path.join(arc, "logs", "access.log")).read().splitlines()
    line_re = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ 127\.0\.0\.1 (?:[A-Z]+|-) \S+ \d{3} \d+ \d+\.\dms$")
    check("the access log has a line per request (%d)" % len(log),
          len(log) > 100 and all(line_re.match(l) for l in log),
          [l for l in log if not line_re.match(l)][:3])


def example_ids(arc, series):
    s = next(x for x in series if x["collection"] == "OBIA0001" and x["modality"] in ("CT", "MR"))
    show = json.loads(run("show", "--archive", arc, "--json", s["study"]).stdout)
    show = show[0] if isinstance(show, list) else show
    imgs = json.loads(run("show", "--archive", arc, "--json", s["series_uid"]).stdout)
    st, _, _ = 0, 0, 0
    return s, show


def test_routes(srv, arc, series):
    routes = route_table()
    st, idx = srv.json("/api")
    listed = [(e["method"], e["path"]) for e in idx["endpoints"]] if idx else []
    check("GET /api lists the route table (%d routes)" % len(routes),
          st == 200 and listed == routes and len(routes) >= 35, (listed, routes))
    check("GET /api says what each endpoint is", idx and all(e["doc"] for e in idx["endpoints"]))
    # every GET route, with real values
    s = next(x for x in series if x["collection"] == "OBIA0001" and x["modality"] == "CT")
    study_uid = qido_one(srv, "/dicomweb/studies?StudyInstanceUID=&00200010=&limit=1000",
                         s["study"])
    inst = first_instance(srv, study_uid, s["series_uid"])
    values = {"accession": "OBIA0001", "key": s["study"], "uid": s["series_uid"],
              "study": study_uid, "series": s["series_uid"], "instance": inst, "frames": "1",
              "*": "index.html"}
    for method, pattern in routes:
        if method != "GET":
            continue
        path = pattern
        if pattern.startswith("/api/individuals"):
            path = path.replace("{accession}", s["individual"])
        if pattern.startswith("/api/images"):
            path = path.replace("{uid}", inst)
        if pattern.endswith("/bulkdata/{*}"):
            path = path.replace("{*}", "7FE00010")
        for k, v in values.items():
            path = path.replace("{%s}" % k, v)
        st, h, d = srv.get(path, {"Accept": "*/*"})
        check("GET %s answers (%s)" % (pattern, st), st == 200, d[:200])


def qido_one(srv, path, study_accession):
    # the Study Instance UID of a study accession, through the REST API
    st, j = srv.json("/api/studies/%s" % study_accession)
    return j["study_uid"]


def first_instance(srv, study, series):
    st, j = srv.json("/dicomweb/studies/%s/series/%s/instances" % (study, series))
    return value(j[0], "00080018")


def test_rest(srv, arc, series):
    st, j = srv.json("/api/collections")
    check("collections: both, with counts", st == 200 and j["total"] == 2 and
          [c["accession"] for c in j["items"]] == ["OBIA0001", "OBIA0002"] and
          all(isinstance(c["images"], int) and c["images"] > 0 for c in j["items"]), j)
    st, j2 = srv.json("/api/collections?limit=1&offset=1")
    check("collections paged", st == 200 and j2["total"] == 2 and len(j2["items"]) == 1 and
          j2["items"][0]["accession"] == "OBIA0002", j2)
    st, c = srv.json("/api/collections/OBIA0001")
    check("a collection with its individuals and links",
          st == 200 and c["kind"] == "collection" and c["links"]["self"] == "/api/collections/OBIA0001"
          and c["children"]["kind"] == "individual" and c["children"]["total"] >= 1 and
          c["children"]["items"][0]["links"]["self"].startswith("/api/individuals/I"), c)
    ind = c["children"]["items"][0]["accession"]
    st, i = srv.json("/api/individuals/" + ind)
    check("an individual with its studies and a link up",
          st == 200 and i["kind"] == "individual" and i["links"]["collection"] == "/api/collections/OBIA0001"
          and i["children"]["total"] >= 1, i)
    stu = i["children"]["items"][0]
    st, s = srv.json("/api/studies/" + stu["accession"])
    check("a study with its series", st == 200 and s["kind"] == "study" and
          s["links"]["individual"] == "/api/individuals/" + ind and s["children"]["total"] >= 1, s)
    st, s2 = srv.json("/api/studies/" + s["study_uid"])
    check("a study by its UID", st == 200 and s2["accession"] == s["accession"], s2)
    ser = s["children"]["items"][0]
    st, se = srv.json("/api/series/" + ser["series_uid"])
    check("a series with its images", st == 200 and se["kind"] == "series" and
          se["children"]["total"] == se["images"] and "thumbnail" in se["links"], se)
    img = se["children"]["items"][0]
    st, im = srv.json("/api/images/" + img["sop_instance_uid"])
    check("an image", st == 200 and im["kind"] == "image" and
          im["links"]["self"] == "/api/images/" + img["sop_instance_uid"], im)
    st, j = srv.json("/api/series/OBIA0001")
    check("a kind mismatch is 404", st == 404 and j["error"] == "not-found", j)
    st, j = srv.json("/api/collections/OBIA9999")
    check("an unknown collection is 404 with a JSON error", st == 404 and "OBIA9999" in j["message"], j)
    # search and facets
    st, j = srv.json("/api/search?limit=1000")
    check("search: every series", st == 200 and j["total"] == len(series) and
          len(j["items"]) == len(series), (j and j.get("total"), len(series)))
    mods = {}
    for x in series:
        mods[x["modality"]] = mods.get(x["modality"], 0) + 1
    got = {f["value"]: f["count"] for f in j["facets"]["modality"]}
    check("modality facet counts every series", got == mods, (got, mods))
    st, j = srv.json("/api/search?modality=CT")
    ct = sum(1 for x in series if x["modality"] == "CT")
    got = {f["value"]: f["count"] for f in j["facets"]["modality"]}
    check("a filtered search; its own facet still offers the others",
          st == 200 and j["total"] == ct and got == mods, (j["total"], ct, got))
    colls = {f["value"]: f["count"] for f in j["facets"]["collection"]}
    check("other facets follow the filter", sum(colls.values()) == ct, colls)
    st, j = srv.json("/api/search?modality=CT&limit=1&offset=1")
    check("search paged", st == 200 and j["total"] == ct and len(j["items"]) == (1 if ct > 1 else 0), j)
    st, j = srv.json("/api/search?q=" + stu["accession"])
    check("q matches an accession exactly", st == 200 and j["total"] >= 1 and
          all(x["study"] == stu["accession"] for x in j["items"]), j)
    st, j = srv.json("/api/search?age_min=abc")
    check("a bad age is 400", st == 400 and "age_min" in j["message"], j)
    st, j = srv.json("/api/search?colour=red")
    check("an unknown parameter is 400", st == 400 and "colour" in j["message"], j)
    st, j = srv.json("/api/collections?limit=0")
    check("limit 0 is 400", st == 400, j)
    # stats
    st, j = srv.json("/api/stats")
    images = sum(int(x["images"]) for x in series)
    check("stats totals equal the catalog", st == 200 and j["totals"]["series"] == len(series) and
          j["totals"]["images"] == images and "modality" in j["facets"], (j, images))
    # pictures
    st, h, d = srv.get("/api/series/%s/thumbnail" % ser["series_uid"])
    check("series thumbnail is a PNG with an ETag", st == 200 and d[:8] == b"\x89PNG\r\n\x1a\n" and
          h.get("content-type") == "image/png" and h.get("etag"), (st, h))
    st2, _, d2 = srv.get("/api/series/%s/thumbnail" % ser["series_uid"],
                         {"If-None-Match": h.get("etag", "x")})
    check("304 when the thumbnail is unchanged", st2 == 304 and not d2, st2)
    nobj = sum(len(f) for _, _, f in os.walk(os.path.join(arc, "store")))
    for size in (64, 65, 66):
        st, h, d = srv.get("/api/images/%s/thumbnail?size=%d" % (img["sop_instance_uid"], size))
    check("image thumbnail of another size", st == 200 and d[:4] == b"\x89PNG", st)
    check("thumbnails of other sizes are not kept",
          sum(len(f) for _, _, f in os.walk(os.path.join(arc, "store"))) == nobj)
    st, h, d = srv.get("/api/images/%s/render?size=128&format=jpeg" % img["sop_instance_uid"])
    check("render as JPEG", st == 200 and d[:3] == b"\xff\xd8\xff" and h["content-type"] == "image/jpeg", st)
    st, h, d = srv.get("/api/images/%s/render?window=40,400" % img["sop_instance_uid"])
    check("render with a window as PNG", st == 200 and d[:4] == b"\x89PNG", st)
    st, h, d = srv.get("/api/images/%s/render?frame=99999" % img["sop_instance_uid"])
    check("a frame beyond the image is 400", st == 400, d[:200])
    st, h, d = srv.get("/api/images/%s/render?window=40" % img["sop_instance_uid"])
    check("a bad window is 400", st == 400, d[:200])
    st, h, d = srv.get("/api/series/%s/contact-sheet?cell=32&columns=4" % ser["series_uid"])
    check("contact sheet", st == 200 and d[:4] == b"\x89PNG", st)


def qido(srv, path, accept="application/dicom+json"):
    st, h, d = srv.get(path, {"Accept": accept})
    try:
        j = json.loads(d) if d else None
    except ValueError:
        j = None
    return st, h, j


def test_qido(srv, arc, series):
    studies = {x["study"] for x in series}
    st, h, j = qido(srv, "/dicomweb/studies")
    check("QIDO studies: every study", st == 200 and len(j) == len(studies) and
          h["content-type"] == "application/dicom+json", (st, j and len(j), len(studies)))
    s0 = j[0]
    check("study results carry the default attributes",
          all(t in s0 for t in ("00080020", "00080030", "00080050", "00080061", "00080090",
                                "00100010", "00100020", "0020000D", "00200010", "00201206",
                                "00201208", "00081190", "00080056")), sorted(s0))
    check("PatientName is a PN object, counts are numbers",
          isinstance(value(s0, "00100010"), dict) and isinstance(value(s0, "00201208"), int), s0)
    check("RetrieveURL points at the study",
          value(s0, "00081190").endswith("/dicomweb/studies/" + value(s0, "0020000D")), s0)
    pid = value(s0, "00100020")
    st, h, j2 = qido(srv, "/dicomweb/studies?PatientID=" + pid)
    check("QIDO PatientID", st == 200 and j2 and all(value(x, "00100020") == pid for x in j2), j2)
    st, h, j3 = qido(srv, "/dicomweb/studies?PatientName=%s*" % pid[:3])
    check("QIDO PatientName wildcard", st == 200 and len(j3) >= len(j2), j3)
    st, h, j4 = qido(srv, "/dicomweb/studies?PatientID=NOSUCH")
    check("no match is 204 without a body", st == 204 and j4 is None, st)
    dates = sorted(value(x, "00080020") for x in j if value(x, "00080020"))
    if dates:
        st, h, j5 = qido(srv, "/dicomweb/studies?StudyDate=%s-%s" % (dates[0], dates[0]))
        check("QIDO StudyDate range", st == 200 and
              all(value(x, "00080020") == dates[0] for x in j5), j5)
    st, h, j6 = qido(srv, "/dicomweb/studies?StudyDate=2020-13")
    check("a malformed date range is 400", st == 400, j6)
    mod = series[0]["modality"]
    st, h, j7 = qido(srv, "/dicomweb/studies?ModalitiesInStudy=" + mod)
    check("QIDO ModalitiesInStudy", st == 200 and
          all(mod in x["00080061"]["Value"] for x in j7), j7)
    st, h, j8 = qido(srv, "/dicomweb/studies?limit=1&offset=1")
    check("QIDO limit/offset", st == 200 and len(j8) == 1 and
          value(j8[0], "0020000D") == value(j[1], "0020000D") and "warning" in h, (j8, h))
    st, h, j9 = qido(srv, "/dicomweb/studies?includefield=all&limit=1")
    check("includefield=all adds attributes", st == 200 and "00081030" in j9[0] and
          "00101010" in j9[0], j9)
    st, h, _ = qido(srv, "/dicomweb/studies?limit=abc")
    check("a bad limit is 400", st == 400, st)
    st, h, _ = qido(srv, "/dicomweb/studies?NoSuchKeyword=1")
    check("an unknown keyword is 400", st == 400, st)
    st, h, j10 = qido(srv, "/dicomweb/studies?00100020=" + pid)
    check("a key given as a tag", st == 200 and len(j10) == len(j2), j10)
    st, h, _ = qido(srv, "/dicomweb/studies", accept="application/dicom+xml")
    check("XML asked for is 406", st == 406, st)
    st, h, _ = qido(srv, "/dicomweb/studies?accept=application/dicom%2Bjson",
                    accept="application/dicom+xml")
    check("the accept query parameter stands for the header", st == 200, st)
    # series and instances
    uid = value(s0, "0020000D")
    st, h, se = qido(srv, "/dicomweb/studies/%s/series" % uid)
    check("QIDO series of a study", st == 200 and len(se) == value(s0, "00201206") and
          all("0020000E" in x and "00080060" in x for x in se), se)
    st, h, allse = qido(srv, "/dicomweb/series?limit=1000")
    check("QIDO all series, with study attributes", st == 200 and len(allse) == len(series) and
          "00100020" in allse[0], (st, allse and len(allse)))
    st, h, ins = qido(srv, "/dicomweb/studies/%s/instances" % uid)
    check("QIDO instances of a study", st == 200 and len(ins) == value(s0, "00201208") and
          all(x["00080018"]["Value"][0] for x in ins), ins)
    seu = value(se[0], "0020000E")
    st, h, ins2 = qido(srv, "/dicomweb/studies/%s/series/%s/instances" % (uid, seu))
    check("QIDO instances of a series", st == 200 and len(ins2) == value(se[0], "00201209"), ins2)
    sop = value(ins2[0], "00080018")
    st, h, ins3 = qido(srv, "/dicomweb/instances?SOPInstanceUID=" + sop)
    check("QIDO one instance by UID", st == 200 and len(ins3) == 1 and
          value(ins3[0], "00081190").endswith("/instances/" + sop), ins3)
    st, h, ins4 = qido(srv, "/dicomweb/instances?SOPInstanceUID=1.2*")
    check("a wildcard in a UID is 400", st == 400, ins4)


def test_wado(srv, arc, series, tmp):
    st, h, studies = qido(srv, "/dicomweb/studies")
    checked = same = 0
    for s in studies[:4]:
        uid = value(s, "0020000D")
        st, h, d = srv.get("/dicomweb/studies/" + uid,
                           {"Accept": 'multipart/related; type="application/dicom"; transfer-syntax=*'})
        parts = multipart_parts(h.get("content-type", ""), d) if st == 200 else None
        check("WADO study %s: every instance" % uid[:20], parts is not None and
              len(parts) == value(s, "00201208"), (st, h, parts and len(parts)))
        for hdrs, data in parts or []:
            sop = hdrs.get("content-location", "").rsplit("/", 1)[-1]
            sha, path = stored_object(arc, sop)
            checked += 1
            same += hashlib.sha256(data).hexdigest() == sha and open(path, "rb").read() == data
    check("WADO instances are byte-identical to the stored objects (%d)" % checked,
          checked > 0 and same == checked, (same, checked))
    uid = value(studies[0], "0020000D")
    st, h, se = qido(srv, "/dicomweb/studies/%s/series" % uid)
    seu = value(se[0], "0020000E")
    st, h, ins = qido(srv, "/dicomweb/studies/%s/series/%s/instances?includefield=00020010" % (uid, seu))
    sop = value(ins[0], "00080018")
    base = "/dicomweb/studies/%s/series/%s" % (uid, seu)
    st, h, d = srv.get(base, {"Accept": 'multipart/related; type="application/dicom"'})
    parts = multipart_parts(h.get("content-type", ""), d)
    check("WADO series", st == 200 and len(parts) == len(ins), (st, parts and len(parts)))
    st, h, d = srv.get(base + "/instances/" + sop, {"Accept": "multipart/related; type=\"application/dicom\"; transfer-syntax=*"})
    parts = multipart_parts(h.get("content-type", ""), d)
    sha, path = stored_object(arc, sop)
    check("WADO instance", st == 200 and len(parts) == 1 and
          hashlib.sha256(parts[0][1]).hexdigest() == sha, st)
    check("part headers name the transfer syntax",
          "transfer-syntax=" in parts[0][0].get("content-type", ""), parts[0][0])
    # metadata equals obia dump --bulk-uri of the stored file
    st, h, d = srv.get(base + "/instances/%s/metadata" % sop, {"Accept": "application/dicom+json"})
    meta = json.loads(d) if st == 200 else None
    prefix = "http://127.0.0.1:%d%s/instances/%s/bulkdata" % (srv.port, base, sop)
    dump = json.loads(run("dump", "--bulk-uri", prefix, path).stdout)
    check("instance metadata equals obia dump --bulk-uri of the stored file",
          meta is not None and meta == [dump], (st, d[:300]))
    st, h, d = srv.get(base + "/metadata", {"Accept": "application/dicom+json"})
    check("series metadata: one object per instance", st == 200 and len(json.loads(d)) == len(ins), st)
    st, h, d = srv.get("/dicomweb/studies/%s/metadata" % uid, {"Accept": "application/json"})
    check("study metadata", st == 200 and len(json.loads(d)) == value(studies[0], "00201208"), st)
    # bulk data and frames
    px = meta[0].get("7FE00010", {}) if meta else {}
    if "BulkDataURI" in px:
        path_part = px["BulkDataURI"].split("127.0.0.1:%d" % srv.port, 1)[1]
        st, h, d = srv.get(path_part, {"Accept": "multipart/related; type=\"application/octet-stream\""})
        parts = multipart_parts(h.get("content-type", ""), d)
        check("the BulkDataURI of Pixel Data answers", st == 200 and parts and len(parts[0][1]) > 0, st)
    # native frame bytes: rows*cols*spp*bits/8, for a native image
    for s in studies:
        u = value(s, "0020000D")
        st, h, ins = qido(srv, "/dicomweb/studies/%s/instances?includefield=all" % u)
        for x in ins or []:
            ts = value(x, "00020010")
            if ts != "1.2.840.10008.1.2.1" or not value(x, "00280010"):
                continue
            rows, cols, bits = value(x, "00280010"), value(x, "00280011"), value(x, "00280100")
            url = value(x, "00081190")
            path_part = url.split("127.0.0.1:%d" % srv.port, 1)[1]
            st, h, d = srv.get(path_part + "/frames/1",
                               {"Accept": 'multipart/related; type="application/octet-stream"'})
            parts = multipart_parts(h.get("content-type", ""), d)
            ok = st == 200 and parts and len(parts[0][1]) in (rows * cols * bits // 8,
                                                              rows * cols * 3 * bits // 8)
            check("a native frame has rows*columns*samples*bits/8 bytes", ok,
                  (st, parts and len(parts[0][1]), rows, cols, bits))
            st, h, d = srv.get(path_part + "/frames/1,999999",
                               {"Accept": 'multipart/related; type="application/octet-stream"'})
            check("a frame beyond the instance is 404", st == 404, st)
            st, h, d = srv.get(path_part + "/frames/x",
                               {"Accept": 'multipart/related; type="application/octet-stream"'})
            check("a malformed frame list is 400", st == 400, st)
            break
        else:
            continue
        break
    # an encapsulated frame as stored
    for s in studies:
        u = value(s, "0020000D")
        st, h, ins = qido(srv, "/dicomweb/studies/%s/instances?includefield=00020010" % u)
        enc = [x for x in ins or [] if value(x, "00020010") not in (None, "1.2.840.10008.1.2.1")]
        if enc:
            path_part = value(enc[0], "00081190").split("127.0.0.1:%d" % srv.port, 1)[1]
            st, h, d = srv.get(path_part + "/frames/1",
                               {"Accept": 'multipart/related; type="application/octet-stream"; transfer-syntax=*'})
            parts = multipart_parts(h.get("content-type", ""), d)
            check("an encapsulated frame as stored names its syntax", st == 200 and parts and
                  value(enc[0], "00020010") in parts[0][0].get("content-type", ""), (st, parts and parts[0][0]))
            st, h, d = srv.get(path_part + "/frames/1",
                               {"Accept": 'multipart/related; type="application/octet-stream"'})
            parts = multipart_parts(h.get("content-type", ""), d)
            check("an encapsulated frame decoded when no syntax is asked", st == 200 and parts and
                  "1.2.840.10008.1.2.1" in parts[0][0].get("content-type", ""), st)
            st, h, d = srv.get(path_part, {"Accept": 'multipart/related; type="application/dicom"; transfer-syntax=1.2.840.10008.1.2.1'})
            check("an instance asked in another syntax than stored is 406", st == 406, st)
            break
    # rendered and thumbnails
    st, h, d = srv.get(base + "/instances/%s/rendered" % sop, {"Accept": "image/jpeg"})
    check("instance rendered as JPEG", st == 200 and d[:3] == b"\xff\xd8\xff", st)
    st, h, d = srv.get(base + "/instances/%s/rendered?viewport=64,64" % sop, {"Accept": "image/png"})
    check("instance rendered as PNG with a viewport", st == 200 and d[:4] == b"\x89PNG", st)
    st, h, d = srv.get(base + "/rendered", {"Accept": "image/gif"})
    check("rendered as GIF is 406", st == 406, st)
    for p in ("/dicomweb/studies/%s/thumbnail" % uid, base + "/thumbnail",
              base + "/instances/%s/thumbnail" % sop):
        st, h, d = srv.get(p, {"Accept": "image/png"})
        check("thumbnail %s" % p.split("/")[-2], st == 200 and d[:4] == b"\x89PNG", st)
    st, h, d = srv.get(base + "/instances/1.2.3.4", {"Accept": "*/*"})
    check("an unknown instance is 404", st == 404 and json.loads(d)["error"] == "not-found", st)
    st, h, d = srv.get("/dicomweb/studies/%s/series/%s/instances/%s" % (uid, "1.2.3", sop),
                       {"Accept": "*/*"})
    check("an instance under the wrong series is 404", st == 404, st)
    st, h, d = srv.get(base, {"Accept": "application/pdf"})
    check("a series as PDF is 406", st == 406, st)


def test_stow(srv, arc, tmp):
    files = [os.path.join(DATA, "deb-python3-pydicom/test_files/CT_small.dcm"),
             os.path.join(DATA, "deb-python3-pydicom/test_files/MR_small.dcm")]
    # new instances: change the SOP Instance UIDs so they are not duplicates
    fresh = []
    for i, f in enumerate(files):
        out = os.path.join(tmp, "stow%d.dcm" % i)
        run("convert", "--set", "SOPInstanceUID=1.2.826.0.1.3680043.99.%d.%d" % (os.getpid(), i),
            "--set", "StudyInstanceUID=1.2.826.0.1.3680043.99.%d.10%d" % (os.getpid(), i),
            "--set", "SeriesInstanceUID=1.2.826.0.1.3680043.99.%d.20%d" % (os.getpid(), i),
            "--set", "PatientID=STOW-PATIENT", "--set", "BurnedInAnnotation=NO", f, out)
        fresh.append(out)
    # statistics and search totals are kept between requests: twice, so
    # the second answer is the kept one
    before = [srv.json("/api/stats")[1]["totals"]["images"] for _ in range(2)]
    sbefore = [srv.json("/api/search?collection=OBIA0002")[1]["total"] for _ in range(2)]
    st, h, d = srv.get("/dicomweb/studies?collection=OBIA0002", stow_headers(), "POST",
                       multipart_body(fresh))
    j = json.loads(d) if d else {}
    refs = j.get("00081199", {}).get("Value", [])
    after = srv.json("/api/stats")[1]["totals"]["images"]
    safter = srv.json("/api/search?collection=OBIA0002")[1]["total"]
    check("kept statistics and search totals follow a change of the catalog (%d -> %d images)"
          % (before[1], after), before[0] == before[1] and after == before[1] + 2 and
          sbefore[0] == sbefore[1] and safter == sbefore[1] + 2, (before, after, sbefore, safter))
    check("STOW stores both instances (%d)" % st, st in (200, 202) and len(refs) == 2 and
          "00081198" not in j, (st, d[:400]))
    check("each stored instance has a RetrieveURL and its sent UID",
          all(value(r, "00081190") and value(r, "00081155").startswith("1.2.826.0.1.3680043.99.")
              for r in refs), refs)
    if refs:
        url = value(refs[0], "00081190").split("127.0.0.1:%d" % srv.port, 1)[1]
        st2, h2, d2 = srv.get(url, {"Accept": 'multipart/related; type="application/dicom"'})
        check("a stored instance is retrieved from its RetrieveURL", st2 == 200 and
              len(multipart_parts(h2["content-type"], d2)) == 1, st2)
        sop = url.rsplit("/", 1)[1]
        st3, h3, j3 = qido(srv, "/dicomweb/instances?SOPInstanceUID=" + sop)
        check("and found by QIDO", st3 == 200 and len(j3) == 1, st3)
    # the same again: duplicates are stored already, not failures
    st, h, d = srv.get("/dicomweb/studies?collection=OBIA0002", stow_headers(), "POST",
                       multipart_body(fresh))
    j = json.loads(d) if d else {}
    check("STOW of the same instances again succeeds", st in (200, 202) and
          len(j.get("00081199", {}).get("Value", [])) == 2, (st, d[:300]))
    # not DICOM: a failure with a reason, 409 when nothing was stored
    st, h, d = srv.get("/dicomweb/studies?collection=OBIA0002", stow_headers(), "POST",
                       multipart_body([b"not a dicom file at all"]))
    j = json.loads(d) if d else {}
    fails = j.get("00081198", {}).get("Value", [])
    check("STOW of garbage: 409 with a FailedSOPSequence", st == 409 and len(fails) == 1 and
          value(fails[0], "00081197"), (st, d[:300]))
    st, h, d = srv.get("/dicomweb/studies?collection=OBIA0002", stow_headers(), "POST",
                       multipart_body([fresh[0]], ctype="application/json"))
    j = json.loads(d) if d else {}
    check("a part that is not application/dicom fails", st == 409 and
          value(j["00081198"]["Value"][0], "00081197") == 0xC000, (st, d[:300]))
    # a study in the path: the instance of another study fails
    st, h, d = srv.get("/dicomweb/studies/1.2.3.4.5?collection=OBIA0002", stow_headers(), "POST",
                       multipart_body([fresh[0]]))
    j = json.loads(d) if d else {}
    check("an instance of another study than the path's fails (0xA900)", st == 409 and
          value(j["00081198"]["Value"][0], "00081197") == 0xA900, (st, d[:300]))
    # malformed requests
    body = multipart_body(fresh)
    st, h, d = srv.get("/dicomweb/studies?collection=OBIA0002",
                       {"Content-Type": "multipart/related; type=\"application/dicom\""}, "POST", body)
    check("no boundary is 415", st == 415 and b"boundary" in d, (st, d))
    st, h, d = srv.get("/dicomweb/studies?collection=OBIA0002",
                       {"Content-Type": "application/dicom"}, "POST", body)
    check("not multipart is 415", st == 415, (st, d))
    st, h, d = srv.get("/dicomweb/studies?collection=OBIA0002", stow_headers("other-boundary"),
                       "POST", body)
    check("a wrong boundary is 400", st == 400 and json.loads(d)["error"] == "bad-multipart", (st, d))
    st, h, d = srv.get("/dicomweb/studies?collection=OBIA0002", stow_headers(), "POST",
                       body[:len(body) // 2])
    check("a truncated body is 400", st == 400 and json.loads(d)["error"] == "bad-multipart", (st, d))
    st, h, d = srv.get("/dicomweb/studies", stow_headers(), "POST", body)
    check("no collection is 400", st == 400 and json.loads(d)["error"] == "no-collection", (st, d))
    st, h, d = srv.get("/dicomweb/studies?collection=OBIA0077", stow_headers(), "POST", body)
    check("an unknown collection is 404", st == 404, (st, d))
    st, h, d = srv.get("/dicomweb/studies?collection=OBIA0002", stow_headers(), "POST", b"")
    check("an empty body is 400", st == 400, (st, d))
    # a body announced larger than the limit
    c = srv.conn()
    c.putrequest("POST", "/dicomweb/studies?collection=OBIA0002")
    for k, v in stow_headers().items():
        c.putheader(k, v)
    c.putheader("Content-Length", str(1 << 50))
    c.endheaders()
    r = c.getresponse()
    check("a body over max_body is 413", r.status == 413, r.status)
    c.close()
    # a body sent in pieces, chunked
    c = srv.conn()
    c.putrequest("POST", "/dicomweb/studies?collection=OBIA0002")
    for k, v in stow_headers().items():
        c.putheader(k, v)
    c.putheader("Transfer-Encoding", "chunked")
    c.endheaders()
    for i in range(0, len(body), 777):
        piece = body[i:i + 777]
        c.send(b"%x\r\n%s\r\n" % (len(piece), piece))
    c.send(b"0\r\n\r\n")
    r = c.getresponse()
    d = r.read()
    check("a chunked upload in small pieces", r.status in (200, 202) and
          len(json.loads(d)["00081199"]["Value"]) == 2, (r.status, d[:300]))
    c.close()


def raw(srv, data, read=65536):
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=30)
    s.sendall(data)
    out = b""
    try:
        while len(out) < read:
            b = s.recv(65536)
            if not b:
                break
            out += b
            if b"\r\n\r\n" in out:
                head, _, body = out.partition(b"\r\n\r\n")
                m = re.search(rb"content-length: *(\d+)", head, re.I)
                if m and len(body) >= int(m.group(1)):
                    break
    except socket.timeout:
        pass
    s.close()
    return out


def status_of(resp):
    m = re.match(rb"HTTP/1\.[01] (\d{3})", resp)
    return int(m.group(1)) if m else None


def test_hostile(srv):
    cases = [
        ("path traversal", "/../../etc/passwd", (400, 404)),
        ("encoded traversal", "/%2e%2e/%2e%2e/etc/passwd", (400, 404)),
        ("encoded slash in a segment", "/dicomweb/studies/1.2%2F..%2F3", (400, 404)),
        ("encoded NUL", "/api/studies/S%00", (400,)),
        ("bad percent escape", "/api/search?q=%zz", (400,)),
        ("invalid UTF-8", "/api/search?q=%ff%fe", (400,)),
        ("hidden file", "/.git/config", (404,)),
        ("unknown endpoint", "/api/nothing", (404,)),
        ("unknown DICOMweb path", "/dicomweb/nothing", (404,)),
        ("too many parameters", "/api/search?" + "&".join("a%d=1" % i for i in range(200)), (400, 414)),
        ("a long URL", "/api/search?q=" + "x" * 20000, (414, 431)),
    ]
    for name, path, want in cases:
        resp = raw(srv, ("GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % path).encode())
        st = status_of(resp)
        body = resp.partition(b"\r\n\r\n")[2]
        isjson = True
        if st and st not in (414, 431) and st < 500:
            try:
                isjson = "error" in json.loads(body)
            except ValueError:
                isjson = False
        check("%s is %s with a JSON error" % (name, st), st in want and isjson, resp[:300])
    resp = raw(srv, b"GET /api HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 100000 + b"\r\n\r\n")
    check("a huge header is refused (%s)" % status_of(resp), status_of(resp) in (400, 413, 431) or resp == b"", resp[:200])
    resp = raw(srv, b"GARBAGE\r\n\r\n")
    check("a garbage request line is 400 or dropped", status_of(resp) in (400, None), resp[:200])
    st, h, d = srv.get("/api/collections", method="POST", body=b"{}")
    check("POST to a GET endpoint is 405 with Allow", st == 405 and "allow" in h, (st, h))
    st, h, d = srv.get("/api/collections", method="DELETE")
    check("DELETE is 405 with the path's methods", st == 405 and h.get("allow") == "GET, HEAD", (st, h))
    st, h, d = srv.get("/dicomweb/studies", method="PUT")
    check("PUT on a GET and POST path is 405 naming both", st == 405 and
          h.get("allow") == "GET, HEAD, POST", (st, h))
    # a refused upload is refused before its body: no 100 Continue
    resp = raw(srv, b"POST /dicomweb/studies?collection=OBIA0002 HTTP/1.1\r\nHost: x\r\n"
                    b"Content-Type: application/json\r\nContent-Length: 100000000\r\n"
                    b"Expect: 100-continue\r\n\r\n")
    check("a refused upload gets 415 at once, without 100 Continue", status_of(resp) == 415 and
          b"100 Continue" not in resp, resp[:200])
    st, h, d = srv.get("/api/collections", {"Content-Type": "application/json"}, "GET", b'{"bad json')
    check("a body on a GET is 400", st == 400 and json.loads(d)["error"] == "unexpected-body", (st, d))
    st, h, d = srv.get("/", {})
    check("the web site's page", st == 200 and h["content-type"].startswith("text/html") and
          b"<html" in d and h.get("etag"), st)
    st, h, d = srv.get("/obia.css")
    check("CSS with its type", st == 200 and h["content-type"].startswith("text/css"), h)
    st, h, d = srv.get("/nothing.html")
    check("a missing file is 404", st == 404, st)
    # still alive
    st, _, _ = srv.get("/api")
    check("the server still answers after hostile requests", st == 200 and srv.p.poll() is None, st)


def test_concurrency(srv):
    """Image thumbnails made on demand (writes) while other threads read."""
    st, h, ins = qido(srv, "/dicomweb/instances?limit=1000")
    sops = [value(x, "00080018") for x in ins or []]
    paths = []
    for sop in sops:
        paths += ["/api/images/%s/thumbnail" % sop, "/api/images/%s/render?size=64" % sop,
                  "/api/images/%s" % sop, "/dicomweb/studies?limit=5", "/api/search?modality=CT"]
    results = []
    lock = threading.Lock()

    def worker(k):
        for i in range(len(paths)):
            p = paths[(i * 7 + k) % len(paths)]
            try:
                st, _, _ = srv.get(p, {"Accept": "*/*"})
            except OSError as e:
                st = str(e)
            with lock:
                results.append((p, st))
    threads = [threading.Thread(target=worker, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    bad = [(p, st) for p, st in results if st not in (200, 422)]
    check("%d requests from 8 threads while thumbnails are made: all answered" % len(results),
          len(results) == 8 * len(paths) and not bad and srv.p.poll() is None, bad[:5])


def test_http(srv, arc):
    test_concurrency(srv)
    st, h, d = srv.get("/api/search?limit=1000", {"Accept-Encoding": "gzip"})
    plain = srv.get("/api/search?limit=1000")[2]
    check("JSON is gzipped when accepted", st == 200 and h.get("content-encoding") == "gzip" and
          json.loads(gzip.decompress(d)) == json.loads(plain), h)
    st, h, d = srv.get("/api/search?limit=1000")
    check("and not otherwise", "content-encoding" not in h, h)
    # keep-alive: many requests on one connection
    c = srv.conn()
    sock = None
    same = 0
    for i in range(25):
        c.request("GET", "/api/collections" if i % 2 else "/dicomweb/studies?limit=2",
                  headers={"Accept": "application/dicom+json, application/json"})
        r = c.getresponse()
        r.read()
        if sock is None:
            sock = c.sock
        same += c.sock is sock and r.status == 200
    c.close()
    check("keep-alive: 25 requests on one connection", same == 25, same)
    st, h, d = srv.get("/api/collections", method="HEAD")
    check("HEAD has headers and no body", st == 200 and d == b"" and h.get("content-type") == "application/json", (st, h))


# ---- access public -------------------------------------------------------------------

def test_public(arc):
    srv = Server(arc, "--access", "public")
    try:
        st, j = srv.json("/api/collections")
        check("public: only the released collection", st == 200 and j["total"] == 1 and
              j["items"][0]["accession"] == "OBIA0001", j)
        st, j = srv.json("/api/collections/OBIA0002")
        check("public: the draft is 404", st == 404, j)
        visible = json.loads(run("search", "--archive", arc, "--public", "--json").stdout)
        st, j = srv.json("/api/search?limit=1000")
        check("public: search has the visible series only (%d)" % len(visible),
              st == 200 and j["total"] == len(visible) and
              {x["series_uid"] for x in j["items"]} == {x["series_uid"] for x in visible}, j and j["total"])
        hidden = json.loads(run("review", "list", "--archive", arc, "--state", "not-visible",
                                "--json").stdout)
        for hs in hidden[:1]:
            st, j = srv.json("/api/series/" + hs["series_uid"])
            check("public: a not-visible series is 404", st == 404, j)
            st, h, d = srv.get("/api/series/%s/thumbnail" % hs["series_uid"])
            check("public: its thumbnail is 404", st == 404, st)
            st, h, d = srv.get("/dicomweb/series?SeriesInstanceUID=" + hs["series_uid"],
                               {"Accept": "application/dicom+json"})
            check("public: QIDO does not find it", st == 204, st)
        st, h, d = srv.get("/dicomweb/series?limit=1000", {"Accept": "application/dicom+json"})
        j = json.loads(d) if st == 200 else []
        check("public: QIDO series are the visible ones", len(j) == len(visible), (len(j), len(visible)))
        st, h, d = srv.get("/dicomweb/studies?collection=OBIA0001", stow_headers(), "POST",
                           multipart_body([os.path.join(DATA, "deb-python3-pydicom/test_files/CT_small.dcm")]))
        check("public: STOW is 403", st == 403 and json.loads(d)["error"] == "forbidden", (st, d))
        # SIGHUP reopens the access log (rotation) and the server goes on
        logp = os.path.join(arc, "logs", "access.log")
        os.rename(logp, logp + ".1")
        srv.p.send_signal(signal.SIGHUP)
        time.sleep(0.5)
        st, _, _ = srv.get("/api/stats")
        time.sleep(0.2)
        check("SIGHUP reopens the access log", st == 200 and srv.p.poll() is None and
              os.path.exists(logp) and "/api/stats" in open(logp).read(), st)
        st, idx = srv.json("/api")
        check("public: /api says uploads are not allowed", st == 200 and
              any(e["method"] == "POST" and not e["allowed"] for e in idx["endpoints"]), idx)
    finally:
        rc = srv.stop()
    check("public server exits 0", rc == 0, rc)


# ---- TLS -------------------------------------------------------------------------------

def test_tls(arc, tmp):
    if not shutil.which("openssl"):
        print("skip: TLS (no openssl command to make a certificate)")
        return
    cert, key = os.path.join(tmp, "cert.pem"), os.path.join(tmp, "key.pem")
    p = subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                        "-out", cert, "-days", "1", "-subj", "/CN=127.0.0.1"], capture_output=True)
    if p.returncode != 0:
        check("a test certificate", False, p.stderr)
        return
    srv = Server(arc, "--tls-cert", cert, "--tls-key", key, tls=True)
    try:
        st, j = srv.json("/api/collections")
        check("HTTPS with the given certificate", st == 200 and j["total"] == 1, j)
        resp = raw(srv, b"GET /api HTTP/1.1\r\nHost: x\r\n\r\n")
        check("plain HTTP on the TLS port gets no HTTP answer", status_of(resp) is None, resp[:100])
    finally:
        rc = srv.stop()
    check("TLS server exits 0", rc == 0, rc)
    p = run("serve", "--archive", arc, "--tls-cert", cert, check_rc=False)
    check("a certificate without a key is a usage error", p.returncode == 2, p.stderr)


# ---- shutdown during an upload ---------------------------------------------------------

def test_shutdown_during_upload(arc, tmp):
    srv = Server(arc, "--access", "all")
    src = os.path.join(DATA, "deb-python3-pydicom/test_files/MR_small.dcm")
    out = os.path.join(tmp, "late.dcm")
    sop = "1.2.826.0.1.3680043.99.%d.77" % os.getpid()
    run("convert", "--set", "SOPInstanceUID=" + sop, "--set", "PatientID=LATE",
        "--set", "BurnedInAnnotation=NO",
        "--set", "StudyInstanceUID=" + sop + ".1", "--set", "SeriesInstanceUID=" + sop + ".2",
        src, out)
    body = multipart_body([out])
    c = srv.conn()
    c.putrequest("POST", "/dicomweb/studies?collection=OBIA0002")
    for k, v in stow_headers().items():
        c.putheader(k, v)
    c.putheader("Content-Length", str(len(body)))
    c.endheaders()
    c.send(body[:len(body) // 2])
    time.sleep(0.5)
    srv.p.send_signal(signal.SIGTERM)
    time.sleep(0.5)
    check("the server waits for the upload in flight", srv.p.poll() is None)
    # new connections are no longer taken
    try:
        s = socket.create_connection(("127.0.0.1", srv.port), timeout=2)
        s.close()
        refused = False
    except OSError:
        refused = True
    check("no new connections once stopping", refused)
    c.send(body[len(body) // 2:])
    r = c.getresponse()
    d = r.read()
    c.close()
    check("the upload in flight completes (%d)" % r.status, r.status in (200, 202), d[:300])
    try:
        rc = srv.p.wait(timeout=60)
    except subprocess.TimeoutExpired:
        srv.p.kill()
        rc = -9
    srv.log.close()
    check("then the server exits 0", rc == 0, rc)
    log = open(os.path.join(arc, "serve.err")).read()
    check("it said it was finishing the requests in flight", "finishing the requests in flight" in log, log[-500:])
    refs = json.loads(d).get("00081199", {}).get("Value", []) if d else []
    new_sop = value(refs[0], "00081190").rsplit("/", 1)[1] if refs else "none"
    p = run("show", "--archive", arc, "--json", new_sop, check_rc=False)
    check("the instance uploaded during shutdown is in the archive", p.returncode == 0, p.stderr)


if __name__ == "__main__":
    sys.exit(main())
