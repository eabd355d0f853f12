#!/usr/bin/python3
"""Crash safety of ingest: kill -9 at random moments, many times.

Each round starts `obia ingest --report R` on synthetic studies (obia synth,
small images) and a copy of real test files, and
kills it (SIGKILL) after a random delay. A line in R is an outcome the
archive has acknowledged (written only after the catalog commit). After each
kill:
  - every image acknowledged as accepted or duplicate is in the catalog
    (`obia show UID` finds it) and `obia verify` is clean: no missing or
    corrupt copy, in the store or the replica;
  - nothing half-written is visible: verify finds no stray object.
At the end, ingest runs to completion and the archive holds exactly as many
images as a run that was never interrupted.

Environment: OBIA, OBIA_TEST_DATA. Exit 0 pass, 1 fail.
"""
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time

ROUNDS = int(os.environ.get("CRASH_ROUNDS", "25"))


def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, **kw)


def make_archive(obia, path):
    assert run([obia, "init", "--archive", path]).returncode == 0
    conf = os.path.join(path, "obia.conf")
    text = open(conf).read().replace("replicas = \n", "replicas = replica1\n")
    open(conf, "w").write(text)
    os.mkdir(os.path.join(path, "replica1"))
    p = run([obia, "collection", "create", "--archive", path, "--title", "crash test"])
    assert p.returncode == 0, p.stderr
    return p.stdout.strip()


def images(obia, arc):
    p = run([obia, "collection", "list", "--archive", arc, "--json"])
    return int(json.loads(p.stdout)[0]["images"])


def main():
    obia = os.environ["OBIA"]
    data = os.environ["OBIA_TEST_DATA"]
    rng = random.Random(int(os.environ.get("CRASH_SEED", "12345")))
    failures = 0
    with tempfile.TemporaryDirectory(prefix="obia-crash-") as tmp:
        # synthetic studies (many small images), and real files
        src = os.path.join(tmp, "in")
        p = run([obia, "synth", "--out", os.path.join(tmp, "synth"), "--individuals", "8",
                 "--modalities", "CT,MR,CR", "--images", "12", "--rows", "64", "--columns",
                 "64", "--seed", "7"])
        assert p.returncode == 0, p.stderr
        os.mkdir(src)
        for name in os.listdir(os.path.join(tmp, "synth")):
            if name != "clinical.csv":
                shutil.move(os.path.join(tmp, "synth", name), os.path.join(src, name))
        shutil.copytree(os.path.join(data, "deb-python3-pydicom"), os.path.join(src, "real"))

        # the reference: one uninterrupted run
        ref = os.path.join(tmp, "ref")
        coll = make_archive(obia, ref)
        t0 = time.time()
        p = run([obia, "ingest", "--archive", ref, "--collection", coll, src])
        full = time.time() - t0
        assert p.returncode == 0, p.stderr
        want = images(obia, ref)
        print("reference: %d images, ingested in %.2f s" % (want, full))

        arc = os.path.join(tmp, "arc")
        coll = make_archive(obia, arc)
        acknowledged, killed_midway = 0, 0
        for rnd in range(ROUNDS):
            rep = os.path.join(tmp, "r%d.jsonl" % rnd)
            proc = subprocess.Popen([obia, "ingest", "--archive", arc, "--collection", coll,
                                     "--report", rep, src],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(rng.uniform(0.0, max(0.05, full / 2)))
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                killed_midway += 1
            proc.wait()
            done = []
            if os.path.exists(rep):
                for line in open(rep):
                    try:
                        o = json.loads(line)
                    except ValueError:
                        continue   # the last line may be cut by the kill
                    if o["outcome"] in ("accepted", "duplicate"):
                        done.append(o["detail"].split()[1])
            acknowledged += len(done)
            for uid in done:
                q = run([obia, "show", "--archive", arc, uid])
                if q.returncode != 0:
                    print("FAIL: round %d: acknowledged image %s is not in the catalog" % (rnd, uid))
                    failures += 1
            v = run([obia, "verify", "--archive", arc])
            if v.returncode != 0:
                print("FAIL: round %d: verify after the kill: %s" % (rnd, v.stdout.strip()[-300:]))
                failures += 1
        p = run([obia, "ingest", "--archive", arc, "--collection", coll, src])
        got = images(obia, arc)
        if p.returncode != 0 or got != want:
            print("FAIL: after completing: %d images, want %d (%s)" % (got, want, p.stderr[-300:]))
            failures += 1
        v = run([obia, "verify", "--archive", arc])
        if v.returncode != 0:
            print("FAIL: final verify: %s" % v.stdout.strip())
            failures += 1
        print("rounds: %d, killed while running: %d, acknowledged outcomes checked: %d, "
              "final images: %d of %d" % (ROUNDS, killed_midway, acknowledged, got, want))
    print("PASS" if not failures else "FAIL")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
