#!/usr/bin/env bash
# The obia command as a user meets it: help, version, exit statuses, error
# lines, several files at once, and hostile inputs (also under valgrind).
. "$(dirname "$0")/../lib/check.sh"

ct=$data/deb-python3-pydicom/test_files/CT_small.dcm
mr=$data/deb-python3-pydicom/test_files/MR_small.dcm
[ -f "$ct" ] && [ -f "$mr" ] || { echo "tests/data is missing CT_small/MR_small"; exit 1; }

# --- help and version
"$OBIA" --version > "$tmp/v"; check "--version exit 0" '[ $? -eq 0 ]'
check "--version text" 'grep -qx "obia [0-9.]*" "$tmp/v"'
"$OBIA" help dump > "$tmp/h"
check "help dump is docs/man/obia-dump.txt" 'cmp -s "$tmp/h" "$src/docs/man/obia-dump.txt"'
"$OBIA" dump --help > "$tmp/h2"
check "dump --help equals help dump" 'cmp -s "$tmp/h" "$tmp/h2"'
"$OBIA" --help > "$tmp/h3"
check "--help lists dump" 'grep -q "^    dump" "$tmp/h3"'
"$OBIA" nosuchcommand 2> "$tmp/e"; rc=$?
check "unknown command exits 2" '[ $rc -eq 2 ] && grep -q "unknown command" "$tmp/e"'
"$OBIA" dump 2> "$tmp/e"; rc=$?
check "dump without FILE exits 2" '[ $rc -eq 2 ] && grep -q "no FILE" "$tmp/e"'
"$OBIA" dump --bogus "$ct" 2> "$tmp/e"; rc=$?
check "unknown option exits 2" '[ $rc -eq 2 ] && grep -q "unknown option" "$tmp/e"'
nohelp=""
for c in $("$OBIA" --help | awk '/^COMMANDS/ {f = 1; next} /^EXIT/ {f = 0} f && NF && $1 != "help" {print $1}'); do
  "$OBIA" help "$c" > /dev/null 2>&1 || nohelp="$nohelp $c"
done
check "every command listed by --help has its help page" '[ -z "$nohelp" ]'
if [ -d "$src/build/man" ] || [ -n "${OBIA_MAN_DIR:-}" ]; then :; fi
man_page=$(dirname "$OBIA")/man/obia-dump.1
check "man page generated" '[ -s "$man_page" ] && grep -q "^.TH OBIA-DUMP 1" "$man_page"'

# --- listing
"$OBIA" dump "$ct" > "$tmp/out"; rc=$?
check "dump CT exit 0" '[ $rc -eq 0 ]'
check "dump shows PatientName" 'grep -q "^(0010,0010) PN \[CompressedSamples^CT1\]" "$tmp/out"'
check "dump shows meta" 'grep -q "^(0002,0010) UI \[1.2.840.10008.1.2.1\]" "$tmp/out"'
check "dump shows private names" 'grep -q "\[GEMS_IDEN_01\] Suite id" "$tmp/out"'
"$OBIA" dump --no-pixels "$ct" > "$tmp/out"
check "--no-pixels stops before Pixel Data" '! grep -q "^(7FE0,0010)" "$tmp/out" && grep -q "stopped before Pixel Data" "$tmp/out"'

# --- JSON: one object, or an array for several files; valid JSON
"$OBIA" dump --json "$ct" > "$tmp/one.json"
check "json object" '/usr/bin/python3 -c "import json,sys; d=json.load(open(sys.argv[1])); assert isinstance(d, dict) and d[\"00100010\"][\"Value\"][0][\"Alphabetic\"]==\"CompressedSamples^CT1\"" "$tmp/one.json"'
"$OBIA" dump --json "$ct" "$mr" > "$tmp/two.json"
check "json array of two" '/usr/bin/python3 -c "import json,sys; d=json.load(open(sys.argv[1])); assert isinstance(d, list) and len(d)==2" "$tmp/two.json"'

# --- a bad file among good ones: one line naming the file, the others listed, exit 1
# a sequence of 8 bytes holding an item that claims 255, then another element
printf 'DICM\x08\x00\x10\x00SQ\x00\x00\x08\x00\x00\x00\xfe\xff\x00\xe0\xff\x00\x00\x00\x10\x00\x10\x00PN\x04\x00AB^C' > "$tmp/bad.dcm"
"$OBIA" dump "$ct" "$tmp/bad.dcm" "$mr" > "$tmp/out" 2> "$tmp/err"; rc=$?
check "bad file exits 1" '[ $rc -eq 1 ]'
check "error line names file, element and offset" 'grep -q "obia dump: $tmp/bad.dcm: element (0008,0010) at offset [0-9]*: " "$tmp/err"'
check "error is one line" '[ $(wc -l < "$tmp/err") -eq 1 ]'
check "other files still listed" '[ $(grep -c "^# Transfer Syntax" "$tmp/out") -eq 2 ]'
"$OBIA" dump /nonexistent.dcm 2> "$tmp/err"; rc=$?
check "missing file" '[ $rc -eq 1 ] && grep -q "/nonexistent.dcm: cannot open" "$tmp/err"'
"$OBIA" dump "$tmp" 2> "$tmp/err"; rc=$?
check "directory" '[ $rc -eq 1 ] && grep -q "is a directory" "$tmp/err"'
: > "$tmp/empty.dcm"
"$OBIA" dump "$tmp/empty.dcm" > /dev/null 2>&1; rc=$?
check "empty file does not crash" '[ $rc -le 1 ]'

# --- convert and edit
"$OBIA" convert --implicit --set PatientName=Edited^Name --set 'ReferencedImageSequence[0].ReferencedSOPInstanceUID=1.2.3' \
  --remove '(0009,"GEMS_IDEN_01",04)' "$ct" "$tmp/conv.dcm"; rc=$?
check "convert exit 0" '[ $rc -eq 0 ]'
"$OBIA" dump "$tmp/conv.dcm" > "$tmp/out"
check "converted is implicit" 'grep -q "^(0002,0010) UI \[1.2.840.10008.1.2\]" "$tmp/out"'
check "edit applied" 'grep -q "^(0010,0010) PN \[Edited^Name\]" "$tmp/out"'
check "item created" 'grep -q "(0008,1155) UI \[1.2.3\]" "$tmp/out"'
check "private element removed" '! grep -q "^(0009,1004)" "$tmp/out"'
"$OBIA" convert --set NoSuchKeyword=1 "$ct" "$tmp/x.dcm" 2> "$tmp/err"; rc=$?
check "bad edit exits 1, writes nothing" '[ $rc -eq 1 ] && [ ! -e "$tmp/x.dcm" ] && grep -q "unknown keyword" "$tmp/err"'

# --- scan: one line per file, directories walked, non-DICOM files named on stderr
"$OBIA" scan "$ct" "$mr" > "$tmp/scan" 2> "$tmp/err"; rc=$?
check "scan two files exit 0" '[ $rc -eq 0 ] && [ ! -s "$tmp/err" ] && [ $(wc -l < "$tmp/scan") -eq 3 ]'
check "scan header line" 'head -1 "$tmp/scan" | grep -q "^path	transfer_syntax	sop_class	modality	patient_id	study_uid	series_uid	instance_uid	rows	columns	frames	size	warnings$"'
ct_uid=$("$OBIA" dump "$ct" | sed -n "s/^(0008,0018) UI \[\(.*\)\].*/\1/p")
check "scan CT line" 'awk -F"\t" -v u="$ct_uid" "\$4==\"CT\" && \$8==u && \$9==128 && \$10==128 && \$12==$(stat -c %s "$ct")" "$tmp/scan" | grep -q .'
"$OBIA" scan --no-header "$data" > "$tmp/scan" 2> "$tmp/err"; rc=$?
check "scan of a directory exits 1 (it holds non-DICOM files)" '[ $rc -eq 1 ]'
check "scan names README.md as not DICOM" 'grep -q "README.md: at offset 0: not DICOM" "$tmp/err"'
col=$(head -1 "$data/MANIFEST.tsv" | tr '\t' '\n' | grep -n -x dcmdump | cut -d: -f1)
missing=0 listed=0
while IFS=$'\t' read -r path; do
  listed=$((listed + 1)); grep -qF "$data/$path	" "$tmp/scan" || { missing=$((missing + 1)); echo "not scanned: $path"; }
done < <(awk -F'\t' -v c="$col" 'NR > 1 && $c == "ok" {print $1}' "$data/MANIFEST.tsv")
check "scan lists all $listed files of tests/data that dcmdump reads" '[ $listed -gt 50 ] && [ $missing -eq 0 ]'
check "scan lists files in name order" 'cut -f1 "$tmp/scan" | LC_ALL=C sort -c'
"$OBIA" convert --set "PatientID=tab	and
newline" "$ct" "$tmp/hostile.dcm"
"$OBIA" scan --no-header "$tmp/hostile.dcm" > "$tmp/scan"
check "scan keeps a value with tab and newline on one line" '[ $(wc -l < "$tmp/scan") -eq 1 ] && [ $(awk -F"\t" "{print NF}" "$tmp/scan") -eq 13 ] && grep -q "tab and newline" "$tmp/scan"'
"$OBIA" scan 2> "$tmp/e"; rc=$?
check "scan without PATH exits 2" '[ $rc -eq 2 ]'

# --- deid: layout, keys file, duplicates, report without original values, errors
mkdir -p "$tmp/din" && cp "$ct" "$tmp/din/a.dcm" && cp "$ct" "$tmp/din/b.dcm" && cp "$mr" "$tmp/din/c.dcm"
printf 'not dicom' > "$tmp/din/d.txt"
"$OBIA" deid --out "$tmp/dout" --keys "$tmp/k.db" --jobs 2 "$tmp/din" > /dev/null 2> "$tmp/err"; rc=$?
check "deid exits 1 when a file is not DICOM" '[ $rc -eq 1 ] && grep -q "d.txt: at offset 0: not DICOM" "$tmp/err"'
check "deid keys file is mode 600" '[ "$(stat -c %a "$tmp/k.db")" = 600 ]'
rep="$tmp/dout/deid-report.jsonl"
check "deid report: one line per input, in input order" '[ "$(/usr/bin/python3 -c "import json,sys; print(\" \".join(next(k for k in (\"output\",\"duplicate\",\"flagged\",\"error\") if k in json.loads(l)) for l in open(sys.argv[1])))" "$rep")" = "output duplicate flagged error" ]'
check "deid flags MR_small (ImageType SECONDARY, no statement)" 'grep -q "\"flagged\":\"ImageType says SECONDARY" "$rep"'
# (with two jobs the flagged MR may take I000001 first: either pseudonym)
check "deid files under DIR/individual/study/series/instance.dcm" '[ $(find "$tmp/dout" -name "*.dcm" | wc -l) -eq 1 ] && find "$tmp/dout" -name "*.dcm" | grep -Eq "/I00000[12]/2\.25\.[0-9]+/2\.25\.[0-9]+/2\.25\.[0-9]+\.dcm$"'
check "deid: no original name or UID in outputs or report" '! grep -rqa -e "CompressedSamples" -e "1.3.6.1.4.1.5962.1.1.1.1.1.20040119072730.12322" "$tmp/dout"'
"$OBIA" deid --out "$tmp/dout2" --keys "$tmp/k.db" "$tmp/din/a.dcm" 2> /dev/null; rc=$?
check "deid again with the same keys: same output path" '[ $rc -eq 0 ] && [ "$(cd "$tmp/dout" && find . -name "*.dcm")" = "$(cd "$tmp/dout2" && find . -name "*.dcm")" ]'
"$OBIA" deid --keys "$tmp/k.db" "$ct" 2> "$tmp/e"; rc=$?
check "deid without --out exits 2" '[ $rc -eq 2 ] && grep -q -- "--out DIR is required" "$tmp/e"'
"$OBIA" deid --out "$tmp/x" --option no-such-option "$ct" 2> "$tmp/e"; rc=$?
check "deid with an unknown option name exits 2" '[ $rc -eq 2 ] && grep -q "unknown option name" "$tmp/e"'
chmod 644 "$tmp/k.db"
"$OBIA" deid --out "$tmp/dout3" --keys "$tmp/k.db" "$ct" 2> "$tmp/e"; rc=$?
check "deid refuses a keys file others can read" '[ $rc -eq 1 ] && grep -q "readable by others" "$tmp/e"'

# --- hostile inputs: every malformed/truncated file, and random bytes, never crash;
# under valgrind when available (skipped in the sanitizer build, which checks the same)
malformed=()
for f in MR_truncated.dcm rtplan_truncated.dcm no_meta.dcm badVR.dcm SC_rgb_jpeg.dcm meta_missing_tsyntax.dcm; do
  p=$(find "$data" -name "$f" | head -1); [ -n "$p" ] && malformed+=("$p")
done
head -c 4096 /dev/urandom > "$tmp/random.dcm"
for n in 1 7 131 200 1000; do head -c $n "$ct" > "$tmp/cut$n.dcm"; malformed+=("$tmp/cut$n.dcm"); done
malformed+=("$tmp/random.dcm" "$tmp/bad.dcm")
for f in "${malformed[@]}"; do
  "$OBIA" dump --json "$f" > /dev/null 2> "$tmp/err"; rc=$?
  check "no crash on $(basename "$f") (rc=$rc)" '[ $rc -le 1 ]'
  if [ $rc -eq 1 ]; then check "error names the file for $(basename "$f")" 'grep -q "$f" "$tmp/err"'; fi
done
if command -v valgrind > /dev/null && [ "${OBIA_SANITIZE:-OFF}" != "ON" ]; then
  valgrind -q --error-exitcode=99 --leak-check=full "$OBIA" dump --json "${malformed[@]}" > /dev/null 2> "$tmp/vg"; rc=$?
  check "valgrind clean on ${#malformed[@]} malformed files (rc=$rc)" '[ $rc -ne 99 ]'
  [ $rc -ne 99 ] || cat "$tmp/vg"
  valgrind -q --error-exitcode=99 --leak-check=full "$OBIA" convert --deflated "$ct" "$tmp/vg.dcm" 2> "$tmp/vg"; rc=$?
  check "valgrind clean on convert (rc=$rc)" '[ $rc -eq 0 ]'
fi

finish cli
