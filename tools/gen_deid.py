#!/usr/bin/env python3
"""Generate the C tables of lib/deid from the de-identification data files.

Usage: gen_deid.py ANNEX_E.tsv SAFE_PRIVATE.tsv SAFE_ATTRIBUTES.tsv METHOD_CODES.tsv OUT.c

- ANNEX_E.tsv: PS3.15 Table E.1-1, one row per attribute, the Basic Profile
  action and one column per option. Tags with 'x' digits (50xx,xxxx) become
  (tag, mask) patterns; the private-attribute row (gggg,eeee) becomes the
  private rule.
- SAFE_PRIVATE.tsv: PS3.15 Table E.3.10-1 (tag with xx for the block byte,
  Private Creator, VR).
- SAFE_ATTRIBUTES.tsv: public attributes outside Table E.1-1 that are kept.
- METHOD_CODES.tsv: CID 7050 codes.
Every row is checked; a malformed one stops the build naming file and line.
"""
import sys

ACTIONS = {"": "DEID_ACT_NONE", "X": "DEID_ACT_X", "Z": "DEID_ACT_Z", "D": "DEID_ACT_D",
           "K": "DEID_ACT_K", "C": "DEID_ACT_C", "U": "DEID_ACT_U", "Z/D": "DEID_ACT_ZD",
           "X/Z": "DEID_ACT_XZ", "X/D": "DEID_ACT_XD", "X/Z/D": "DEID_ACT_XZD",
           "X/Z/U*": "DEID_ACT_XZU"}
# Option columns of Table E.1-1, in the order of enum deid_column (deid_internal.h).
COLUMNS = ["rtn_safe_private", "rtn_uids", "rtn_device_identity", "rtn_institution_identity",
           "rtn_patient_characteristics", "rtn_long_full_dates", "rtn_long_modified_dates",
           "clean_descriptors", "clean_structured_content", "clean_graphics"]
VRS = {"AE", "AS", "AT", "CS", "DA", "DS", "DT", "FD", "FL", "IS", "LO", "LT", "OB", "OD", "OF",
       "OL", "OV", "OW", "PN", "SH", "SL", "SQ", "SS", "ST", "SV", "TM", "UC", "UI", "UL", "UN",
       "UR", "US", "UT", "UV"}


def fail(path, lineno, msg):
    sys.exit(f"{path}:{lineno}: {msg}")


def read(path, header_first):
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    header = lines[0].split("\t")
    if header[0] != header_first:
        fail(path, 1, f"header must start with {header_first!r}")
    rows = []
    for i, line in enumerate(lines[1:], start=2):
        if not line:
            continue
        cols = line.split("\t")
        if len(cols) != len(header):
            fail(path, i, f"expected {len(header)} columns, found {len(cols)}")
        rows.append((i, dict(zip(header, cols))))
    return rows


def parse_tag(path, lineno, tag):
    """(value, mask) of a tag written gggg,eeee with 'x' for any hex digit."""
    if len(tag) != 9 or tag[4] != ",":
        fail(path, lineno, f"bad tag {tag!r}")
    digits = (tag[:4] + tag[5:]).lower()
    if any(c not in "0123456789abcdefx" for c in digits):
        fail(path, lineno, f"bad tag {tag!r}")
    value = int(digits.replace("x", "0"), 16)
    mask = int("".join("0" if c == "x" else "f" for c in digits), 16)
    return value, mask


def cstr(s):
    out = []
    for ch in s:
        if ch in "\\\"":
            out.append("\\" + ch)
        elif 32 <= ord(ch) < 127:
            out.append(ch)
        else:
            out.extend("\\%03o" % b for b in ch.encode("utf-8"))
    return '"' + "".join(out) + '"'


def main():
    if len(sys.argv) != 6:
        sys.exit(__doc__)
    annex, safe_priv, safe_attr, codes, out = sys.argv[1:]

    rules, patterns, private_rule = [], [], None
    seen = set()
    for lineno, r in read(annex, "tag"):
        for col in ["basic"] + COLUMNS:
            if r[col] not in ACTIONS:
                fail(annex, lineno, f"unknown action {r[col]!r} in column {col}")
        if not r["basic"]:
            fail(annex, lineno, "no Basic Profile action")
        acts = "{" + ", ".join(ACTIONS[r[c]] for c in COLUMNS) + "}"
        if r["tag"] == "gggg,eeee":
            private_rule = (ACTIONS[r["basic"]], acts)
            continue
        value, mask = parse_tag(annex, lineno, r["tag"])
        if (value, mask) in seen:
            fail(annex, lineno, f"duplicate tag {r['tag']}")
        seen.add((value, mask))
        row = (value, mask, ACTIONS[r["basic"]], acts, r["keyword"])
        (rules if mask == 0xFFFFFFFF else patterns).append(row)
    if private_rule is None:
        sys.exit(f"{annex}: no private attributes row (gggg,eeee)")
    rules.sort()

    privs = []
    for lineno, r in read(safe_priv, "tag"):
        t = r["tag"].lower()
        if len(t) != 9 or t[4] != "," or t[5:7] != "xx":
            fail(safe_priv, lineno, f"tag {r['tag']!r} must be gggg,xxee")
        try:
            group, elem = int(t[:4], 16), int(t[7:], 16)
        except ValueError:
            fail(safe_priv, lineno, f"bad tag {r['tag']!r}")
        if group % 2 == 0:
            fail(safe_priv, lineno, f"group of {r['tag']!r} is not private (odd)")
        if not r["private_creator"]:
            fail(safe_priv, lineno, "no Private Creator")
        privs.append((group, elem, r["private_creator"], r["vr"]))
    privs.sort()

    safe = []
    for lineno, r in read(safe_attr, "tag"):
        value, mask = parse_tag(safe_attr, lineno, r["tag"])
        if r["vr"] not in VRS and r["vr"] not in ("", "OB or OW", "US or SS", "US or OW",
                                                  "US or SS or OW"):
            fail(safe_attr, lineno, f"unknown VR {r['vr']!r}")
        if (value, mask) in seen:
            fail(safe_attr, lineno, f"{r['tag']} is in Table E.1-1: the table decides its action")
        if value >> 16 == 0x0002 or value & 0xFFFF == 0:
            fail(safe_attr, lineno, f"{r['tag']}: File Meta and group lengths are not listed")
        safe.append((value, mask, r["keyword"], r["reason"] == "clean"))
    safe.sort()

    method = []
    for lineno, r in read(codes, "coding_scheme"):
        if not r["code_value"] or not r["code_meaning"]:
            fail(codes, lineno, "empty code")
        method.append((r["coding_scheme"], r["code_value"], r["code_meaning"]))

    with open(out, "w", encoding="utf-8") as f:
        w = f.write
        w("/* Generated by tools/gen_deid.py from data/annex_e.tsv, data/safe_private.tsv,\n"
          " * data/safe_attributes.tsv and data/deid_method_codes.tsv. Do not edit. */\n")
        w('#include "deid_internal.h"\n\n')
        w("const deid_rule deid_rules[] = {\n")
        for value, mask, basic, acts, kw in rules:
            w(f"    {{0x{value:08X}u, 0x{mask:08X}u, {basic}, {acts}}}, /* {kw} */\n")
        w("};\nconst size_t deid_rule_count = sizeof deid_rules / sizeof deid_rules[0];\n\n")
        w("const deid_rule deid_patterns[] = {\n")
        for value, mask, basic, acts, kw in patterns:
            w(f"    {{0x{value:08X}u, 0x{mask:08X}u, {basic}, {acts}}}, /* {kw or 'repeating group'} */\n")
        w("};\nconst size_t deid_pattern_count = sizeof deid_patterns / sizeof deid_patterns[0];\n\n")
        w(f"const deid_rule deid_private_rule = {{0, 0, {private_rule[0]}, {private_rule[1]}}};\n\n")
        w("const deid_safe_private deid_safe_privates[] = {\n")
        for group, elem, creator, vr in privs:
            w(f"    {{0x{group:04X}u, 0x{elem:02X}u, {cstr(creator)}, {len(creator.encode())}}},\n")
        w("};\nconst size_t deid_safe_private_count = sizeof deid_safe_privates / sizeof deid_safe_privates[0];\n\n")
        for name, part in (("deid_safe_attrs", [x for x in safe if x[1] == 0xFFFFFFFF]),
                           ("deid_safe_attr_patterns", [x for x in safe if x[1] != 0xFFFFFFFF])):
            w(f"const deid_safe_attr {name}[] = {{\n")
            for value, mask, kw, clean in part:
                w(f"    {{0x{value:08X}u, 0x{mask:08X}u, {'true' if clean else 'false'}}}, /* {kw} */\n")
            if not part:
                w("    {0, 0, false}, /* none */\n")
            w(f"}};\nconst size_t {name.replace('attrs', 'attr').replace('patterns', 'pattern')}_count = {len(part)};\n\n")
        w("const deid_code deid_codes[] = {\n")
        for scheme, value, meaning in method:
            w(f"    {{{cstr(scheme)}, {cstr(value)}, {cstr(meaning)}}},\n")
        w("};\nconst size_t deid_code_count = sizeof deid_codes / sizeof deid_codes[0];\n")


if __name__ == "__main__":
    main()
