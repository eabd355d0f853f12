"""The DICOM test corpus shared by the integration tests and benchmarks.

The whole set is ../shared/testdata (OBIA_SHARED_TESTDATA); tests/data
(OBIA_TEST_DATA) is a small subset of it with the same MANIFEST.tsv columns,
used when the whole set is absent.
"""

import csv
import logging
import os
import sys
import warnings


def find_root(announce=print):
    """The corpus folder: the shared set if it has a MANIFEST.tsv, else the
    local subset (saying so through announce), else None."""
    shared = os.environ.get("OBIA_SHARED_TESTDATA", "")
    local = os.environ.get("OBIA_TEST_DATA", "")
    if shared and os.path.isfile(os.path.join(shared, "MANIFEST.tsv")):
        return shared
    if local and os.path.isfile(os.path.join(local, "MANIFEST.tsv")):
        announce("NOTE: %s absent; using the smaller corpus %s"
                 % (shared or "OBIA_SHARED_TESTDATA", local))
        return local
    return None


def manifest(root, **want):
    """Rows of root/MANIFEST.tsv (dicts by column) whose columns equal the
    keyword arguments, e.g. manifest(root, pydicom="ok")."""
    with open(os.path.join(root, "MANIFEST.tsv"), newline="",
              encoding="utf-8") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    return [r for r in rows
            if all(r.get(k) == v for k, v in want.items())]


def obia_and_pydicom():
    """The obia binary ($OBIA) and the pydicom module with its warnings and
    log quietened; exits 1 without the binary and 77 (skipped) without
    pydicom (it loads in Debian's /usr/bin/python3)."""
    obia = os.environ.get("OBIA")
    if not obia or not os.access(obia, os.X_OK):
        print("FAIL: OBIA must name the obia binary")
        sys.exit(1)
    try:
        import pydicom
    except ImportError:
        print("SKIP: pydicom is not installed for %s" % sys.executable)
        sys.exit(77)
    warnings.simplefilter("ignore")
    logging.getLogger("pydicom").setLevel(logging.CRITICAL)
    return obia, pydicom


def require_root():
    """The corpus folder (see find_root), or exit 77 (skipped) saying why."""
    root = find_root()
    if root is None:
        print("SKIP: no MANIFEST.tsv in OBIA_SHARED_TESTDATA nor OBIA_TEST_DATA")
        sys.exit(77)
    return root
