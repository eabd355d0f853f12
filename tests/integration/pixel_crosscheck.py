#!/usr/bin/python3
"""Every image of the test corpus whose pixels a reference decodes is
decoded by obia to the same values.

References: pydicom 2.3 (its numpy and RLE handlers: native transfer syntaxes
and RLE) and, for the compressed syntaxes pydicom cannot decode here, the
file made native by GDCM (`gdcmconv --raw`) then read by pydicom. obia's
values come from `obia render --format raw` (stored values, little endian,
samples interleaved). The first and last frames of each image are compared,
masked to Bits Stored (decoders differ in sign extension above it): lossless
syntaxes exactly, lossy ones within a tolerance (mean absolute difference at
most 1% of the stored range and maximum at most 10%).

Then the images stored in several transfer syntaxes (the CT in 13, the MR in
9: MANIFEST notes "same ... in many/9 transfer syntaxes") are compared with
each other through obia alone: every lossless copy equal to the native one.

The only refusal accepted is 12-bit lossy JPEG (no Debian library decodes
it), with that message; any other failure on a file the reference decodes,
and any crash, fails the test.
"""

import os
import subprocess
import sys
import tempfile
from collections import Counter, defaultdict

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import corpus  # noqa: E402

NATIVE = {"1.2.840.10008.1.2", "1.2.840.10008.1.2.1", "1.2.840.10008.1.2.2",
          "1.2.840.10008.1.2.1.99"}
RLE = "1.2.840.10008.1.2.5"
JPEG_LOSSY = {"1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.51", "1.2.840.10008.1.2.4.53",
              "1.2.840.10008.1.2.4.55"}
LOSSY = {"1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.51", "1.2.840.10008.1.2.4.53",
         "1.2.840.10008.1.2.4.55", "1.2.840.10008.1.2.4.81", "1.2.840.10008.1.2.4.91",
         "1.2.840.10008.1.2.4.203"}


def main():
    obia, pydicom = corpus.obia_and_pydicom()
    import numpy as np
    root = corpus.require_root()
    rows = [r for r in corpus.manifest(root, pydicom="ok") if r.get("dims")]
    tmp = tempfile.mkdtemp(prefix="obia-pixel-")
    stats = defaultdict(Counter)
    failures = []
    decoded = {}   # path -> first frame values (masked) for the same-image groups

    def obia_raw(path, frame):
        out = os.path.join(tmp, "f.raw")
        p = subprocess.run([obia, "render", "--frame", str(frame), "--format", "raw", "--out",
                            out, path], capture_output=True, text=True)
        if p.returncode != 0:
            return None, p.returncode, p.stderr.strip()
        with open(out, "rb") as f:
            return f.read(), 0, ""

    def reference(path, ts):
        """pydicom's array of every frame, or None with why."""
        src = path
        if ts not in NATIVE and ts != RLE:
            src = os.path.join(tmp, "ref.dcm")
            p = subprocess.run(["gdcmconv", "--raw", path, src], capture_output=True, text=True)
            if p.returncode != 0:
                return None, None, "gdcmconv --raw failed"
        try:
            ds = pydicom.dcmread(src)
            arr = ds.pixel_array
        except Exception as e:  # the reference cannot decode it
            return None, None, "reference: %s" % str(e)[:80]
        return ds, arr, ""

    for r in rows:
        path = os.path.join(root, r["path"])
        ts = r["ts_uid"]
        try:
            head = pydicom.dcmread(path, stop_before_pixels=True)
        except Exception:
            continue
        try:
            frames = int(getattr(head, "NumberOfFrames", 1) or 1)
            bits_alloc = int(getattr(head, "BitsAllocated", 8) or 8)
            bits_stored = int(getattr(head, "BitsStored", bits_alloc) or bits_alloc)
        except (TypeError, ValueError):
            frames = None   # an unreadable header value: obia must refuse it cleanly
        st = stats[ts]
        st["files"] += 1
        raw1, rc, err = obia_raw(path, 1)
        ds, arr, why = reference(path, ts) if frames else (None, None, "bad header")
        if raw1 is None:
            if rc != 1:
                failures.append("%s: obia render crashed or misbehaved (exit %d): %s"
                                % (r["path"], rc, err))
                st["crash"] += 1
            elif "12-bit lossy JPEG is not supported" in err:
                st["refused"] += 1   # the one refusal expected: no Debian library decodes it
            elif arr is None:
                st["both refuse"] += 1   # a broken file: neither decodes it
            else:
                st["error"] += 1
                st["error: " + err.split(": ", 1)[-1][:70]] += 1
            continue
        itemsize = 1 if bits_alloc <= 8 else bits_alloc // 8
        if itemsize in (1, 2, 4, 8) and bits_stored <= 32:
            decoded[r["path"]] = (np.frombuffer(raw1, dtype="<u%d" % itemsize).astype(np.int64)
                                  & ((1 << bits_stored) - 1))
        if arr is None:
            st["no reference"] += 1
            continue
        # obia gives JPEG's colours as RGB (libjpeg converts YCbCr); GDCM
        # leaves them YBR: convert the reference the same way
        pi = str(getattr(ds, "PhotometricInterpretation", ""))
        if ts in JPEG_LOSSY and pi in ("YBR_FULL", "YBR_FULL_422") and arr.ndim >= 3:
            from pydicom.pixel_data_handlers.util import convert_color_space
            arr = convert_color_space(arr, "YBR_FULL", "RGB")
        # the reference's frames, each rows x columns x samples
        ref_frames = arr if frames > 1 else arr[np.newaxis, ...]
        if ref_frames.shape[0] != frames:
            st["no reference"] += 1
            continue
        mask = (1 << bits_stored) - 1 if bits_alloc <= 32 and not r.get("photometric", "").startswith("FLOAT") else None
        itemsize = 1 if bits_alloc <= 8 else bits_alloc // 8
        ok_all = True
        worst = (0.0, 0)
        for k in sorted({1, frames}):
            raw = raw1 if k == 1 else obia_raw(path, k)[0]
            want = np.ascontiguousarray(ref_frames[k - 1])
            if raw is None or len(raw) != want.size * itemsize:
                ok_all = False
                failures.append("%s frame %d: obia gave %s bytes, the reference %d values of %d "
                                "bytes" % (r["path"], k, None if raw is None else len(raw),
                                           want.size, itemsize))
                break
            if want.dtype.kind == "f":
                got = np.frombuffer(raw, dtype="<f%d" % itemsize).reshape(want.shape)
                diff = np.abs(got.astype(np.float64) - want.astype(np.float64))
            else:
                got = np.frombuffer(raw, dtype="<u%d" % itemsize).astype(np.int64)
                ref = want.reshape(-1).astype(np.int64)
                got &= mask
                ref &= mask
                diff = np.abs(got - ref)
            mx = float(diff.max()) if diff.size else 0.0
            mean = float(diff.mean()) if diff.size else 0.0
            worst = max(worst, (mx, mean))
            if ts in LOSSY:
                rng = float(mask) if mask else 1.0
                if mean > 0.01 * rng or mx > 0.10 * rng:
                    ok_all = False
                    failures.append("%s frame %d (%s): mean difference %.2f, max %.0f"
                                    % (r["path"], k, ts, mean, mx))
            elif mx != 0:
                ok_all = False
                failures.append("%s frame %d (%s, lossless): %d values differ, max %.0f"
                                % (r["path"], k, ts, int((diff != 0).sum()), mx))
        if ok_all:
            st["equal" if worst[0] == 0 else "within tolerance"] += 1
            if worst[0]:
                st["worst max"] = max(st["worst max"], int(worst[0]))

    # the same image in several transfer syntaxes, through obia alone
    groups = defaultdict(list)
    for r in rows:
        note = r.get("notes", "")
        if r["path"] not in decoded:
            continue
        if "same" in note and "transfer syntaxes" in note:
            groups[(os.path.dirname(r["path"]), note)].append(r)
        elif os.path.basename(r["path"]) in ("liver.dcm", "liver_expb.dcm", "liver_rle.dcm",
                                             "liver_deflate.dcm", "liver_j2k.dcm"):
            # pydicom-data's liver segmentation: native, big endian, RLE,
            # deflated frames, JPEG 2000
            groups[(os.path.dirname(r["path"]), "liver")].append(r)
    group_lines = []
    for (folder, note), members in sorted(groups.items()):
        natives = [m for m in members if m["ts_uid"] in NATIVE]
        if not natives:
            continue
        base = decoded[natives[0]["path"]]
        equal = lossy_close = 0
        for m in members:
            got = decoded[m["path"]]
            if got.shape != base.shape:
                failures.append("%s: not the size of %s" % (m["path"], natives[0]["path"]))
                continue
            if np.array_equal(got, base):
                equal += 1
            elif m["ts_uid"] in LOSSY:
                lossy_close += 1
            else:
                failures.append("%s (%s) differs from %s" % (m["path"], m["ts_uid"],
                                                              natives[0]["path"]))
        group_lines.append("  %s (%s): %d files decoded, %d equal to the native one, %d lossy"
                           % (folder, note[:40], len(members), equal, lossy_close))

    print("transfer syntax                 files  equal  within  refused  no-ref  broken  errors")
    totals = Counter()
    for ts in sorted(stats):
        st = stats[ts]
        errors = st["error"] + st["crash"]
        print("%-30s %6d %6d %7d %8d %7d %7d %7d%s" % (
            ts, st["files"], st["equal"], st["within tolerance"], st["refused"],
            st["no reference"], st["both refuse"], errors,
            "  (worst max difference %d)" % st["worst max"] if st["worst max"] else ""))
        for key in st:
            if key.startswith("error: "):
                print("    %d: %s" % (st[key], key[7:]))
        for key in ("files", "equal", "within tolerance", "refused", "no reference",
                    "both refuse"):
            totals[key] += st[key]
        totals["errors"] += errors
    print("total: %d files, %d equal, %d within tolerance, %d refused as unsupported, %d "
          "without reference, %d broken (neither decodes), %d errors"
          % (totals["files"], totals["equal"], totals["within tolerance"], totals["refused"],
             totals["no reference"], totals["both refuse"], totals["errors"]))
    print("same image in several transfer syntaxes:")
    for line in group_lines:
        print(line)
    for f in failures:
        print("FAIL: " + f)
    # a decoding error on a file the reference decodes is a failure too
    refused_decodable = totals["errors"]
    if refused_decodable:
        print("FAIL: %d files obia could not decode (errors above)" % refused_decodable)
    ok = not failures and not refused_decodable and totals["equal"] > 0
    print("pixel_crosscheck: %s" % ("passed" if ok else "failed"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
