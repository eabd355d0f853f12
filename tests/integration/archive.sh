#!/usr/bin/env bash
# The archive as a user meets it: init, configuration, collections, ingest
# (duplicates, conflicts, unreadable files, no PHI on the archive's disk),
# search/show/stats, and verify with repair from a replica.
. "$(dirname "$0")/../lib/check.sh"
py() { /usr/bin/python3 -c "$@"; }

arc=$tmp/arc
ct=$data/deb-python3-pydicom/test_files/CT_small.dcm

# --- init and configuration
"$OBIA" init --archive "$arc" > /dev/null; rc=$?
check "init exit 0" '[ $rc -eq 0 ]'
check "init layout" '[ -f "$arc/obia.conf" ] && [ -f "$arc/catalog.db" ] && [ -d "$arc/store" ] && [ -d "$arc/quarantine" ] && [ -d "$arc/logs" ]'
check "keys database is mode 600" '[ "$(stat -c %a "$arc/keys.db")" = 600 ]'
"$OBIA" init --archive "$arc" 2> "$tmp/e"; rc=$?
check "init twice refused" '[ $rc -eq 1 ] && grep -q "already holds an archive" "$tmp/e"'
"$OBIA" config --archive "$arc" show > "$tmp/conf"
missing=$(grep -E '^[a-z_]+ = ' "$tmp/conf" | cut -d' ' -f1 | while read -r k; do "$OBIA" help config | grep -q "\] $k\$" || echo "$k"; done)
check "every configuration key is in obia help config" '[ -z "$missing" ] && [ $(grep -cE "^[a-z_]+ = " "$tmp/conf") -ge 6 ]'
# a replica, named in the configuration
sed -i 's/^replicas = $/replicas = replica1/' "$arc/obia.conf"
mkdir "$arc/replica1"   # a replica must exist: an unmounted disk is noticed
check "replica set" 'grep -q "^replicas = replica1$" "$arc/obia.conf"'
cp "$arc/obia.conf" "$tmp/good.conf"
printf '[ingest]\nworkers = 2\n' >> "$arc/obia.conf"
"$OBIA" collection list --archive "$arc" 2> "$tmp/e"; rc=$?
check "an unknown key is an error naming file and line" '[ $rc -eq 1 ] && grep -q "obia.conf:[0-9]*: unknown key \[ingest\] workers" "$tmp/e"'
cp "$tmp/good.conf" "$arc/obia.conf"

# --- collections
c1=$("$OBIA" collection create --archive "$arc" --title "Test data" --disease "mixed tumours" --access controlled)
c2=$("$OBIA" collection create --archive "$arc" --title "Second" --profile basic)
check "collection accessions in sequence" '[ "$c1" = OBIA0001 ] && [ "$c2" = OBIA0002 ]'
"$OBIA" collection create --archive "$arc" --title X --access public 2> "$tmp/e"; rc=$?
check "bad access refused with exit 2" '[ $rc -eq 2 ] && grep -q "open or controlled" "$tmp/e"'
"$OBIA" collection create --archive "$arc" 2> "$tmp/e"; rc=$?
check "title required" '[ $rc -eq 2 ]'

# --- ingest: real files, a text file, a conflicting copy
mkdir -p "$tmp/in"
cp -r "$data"/deb-python3-pydicom "$data"/gh-highdicom "$tmp/in/"
echo "not an image" > "$tmp/in/notes.txt"
"$OBIA" convert --set SliceThickness=9.5 "$ct" "$tmp/in/ct_changed.dcm"
"$OBIA" ingest --archive "$arc" --collection "$c1" --report "$tmp/r1.jsonl" "$tmp/in" 2> "$tmp/e1"; rc=$?
check "ingest exit 0 (quarantine is not failure)" '[ $rc -eq 0 ]'
summary() { py "import json,sys,collections; c=collections.Counter(json.loads(l)['outcome'] for l in open(sys.argv[1])); print(c['$2'])" "$1"; }
acc1=$(summary "$tmp/r1.jsonl" accepted); dup1=$(summary "$tmp/r1.jsonl" duplicate); q1=$(summary "$tmp/r1.jsonl" quarantined)
nfiles=$(find "$tmp/in" -type f | wc -l)
check "every file has one outcome ($nfiles)" '[ $(wc -l < "$tmp/r1.jsonl") -eq $nfiles ] && [ $((acc1 + dup1 + q1)) -eq $nfiles ]'
check "images accepted ($acc1)" '[ $acc1 -ge 10 ]'
check "the text file quarantined as unreadable" 'grep -Eq "notes.txt\",\"outcome\":\"quarantined\",\"detail\":\"Q[0-9]{6} unreadable: " "$tmp/r1.jsonl"'
check "the changed copy quarantined as a conflict" 'grep -Eq "(ct_changed.dcm|CT_small.dcm)\",\"outcome\":\"quarantined\",\"detail\":\"Q[0-9]{6} uid-conflict: " "$tmp/r1.jsonl"'
check "summary on stderr" 'grep -q "accepted, .* duplicates, .* quarantined, 0 failed" "$tmp/e1"'
check "an outcome log in the archive, without input paths" '[ $(cat "$arc"/logs/ingest-*.jsonl | wc -l) -eq $nfiles ] && ! grep -q "$tmp" "$arc"/logs/ingest-*.jsonl'
"$OBIA" ingest --archive "$arc" --collection "$c1" --report "$tmp/r2.jsonl" "$tmp/in" 2> /dev/null; rc=$?
acc2=$(summary "$tmp/r2.jsonl" accepted); dup2=$(summary "$tmp/r2.jsonl" duplicate)
check "ingest again changes nothing" '[ $rc -eq 0 ] && [ $acc2 -eq 0 ] && [ $dup2 -eq $((acc1 + dup1)) ]'
# duplicates alone write nothing: with batches of 2 they must still all be
# reported (more pending outcomes than a batch holds)
cp "$arc/obia.conf" "$tmp/before-batch.conf"
printf '[ingest]\nbatch = 2\n' >> "$arc/obia.conf"
sed -i 's/^batch = 256$//' "$arc/obia.conf"
mkdir "$tmp/dups"
first_accepted=$(py "import json,sys; print(next(json.loads(l)['input'] for l in open(sys.argv[1]) if json.loads(l)['outcome'] == 'accepted'))" "$tmp/r1.jsonl")
for i in 1 2 3 4 5; do cp "$first_accepted" "$tmp/dups/d$i.dcm"; done
"$OBIA" ingest --archive "$arc" --collection "$c1" --jobs 1 --report "$tmp/r3.jsonl" "$tmp/dups" 2> /dev/null; rc=$?
dup3=$(summary "$tmp/r3.jsonl" duplicate)
check "duplicates beyond a batch are all reported ($dup3 of 5)" '[ $rc -eq 0 ] && [ "$dup3" -eq 5 ] && [ $(wc -l < "$tmp/r3.jsonl") -eq 5 ]'
cp "$tmp/before-batch.conf" "$arc/obia.conf"
"$OBIA" ingest --archive "$arc" --collection OBIA0099 "$ct" 2> "$tmp/e"; rc=$?
check "unknown collection refused" '[ $rc -eq 1 ] && grep -q "no collection OBIA0099" "$tmp/e"'

# --- a full disk: writes fail, nothing half-written is left, nothing acknowledged is lost
c3=$("$OBIA" collection create --archive "$arc" --title "Full disk")
before=$("$OBIA" collection list --archive "$arc" --json | py "import json,sys; print(sum(int(c['images']) for c in json.load(sys.stdin)))")
big=$data/gh-dicomParser/encapsulated/multi-frame/CT0012.fragmented_no_bot_jpeg_lossless.57.dcm
(trap '' XFSZ; ulimit -f 100; exec "$OBIA" ingest --archive "$arc" --collection "$c3" --report "$tmp/full.jsonl" "$big" "$data/gh-highdicom") 2> "$tmp/e"; rc=$?
after=$("$OBIA" collection list --archive "$arc" --json | py "import json,sys; print(sum(int(c['images']) for c in json.load(sys.stdin)))")
accfull=$(summary "$tmp/full.jsonl" accepted)
check "a file too large for the disk fails (exit 1) with the OS error" '[ $rc -eq 1 ] && grep -q "File too large" "$tmp/e"'
check "the catalog counts exactly the images acknowledged" '[ $after -eq $((before + accfull)) ]'
"$OBIA" verify --archive "$arc" > "$tmp/v"; rc=$?
check "verify clean after the failed writes (no partial object)" '[ $rc -eq 0 ] && grep -q " 0 missing, 0 corrupt, 0 stray" "$tmp/v"'

# --- no original value on the archive's disk (the keys database excepted)
check "no patient name, ID or original UID in store, catalog, logs, quarantine" '! grep -rqa -e "CompressedSamples" -e "1CT1" -e "1.3.6.1.4.1.5962.1.1.1.1.1.20040119072730.12322" "$arc/store" "$arc/replica1" "$arc/catalog.db" "$arc/logs" "$arc/quarantine"'

# --- finding things
"$OBIA" collection list --archive "$arc" --json > "$tmp/list.json"
check "collection list counts the accepted images" 'py "import json,sys; c=json.load(open(sys.argv[1])); assert int(c[0][\"images\"]) == $acc1, c" "$tmp/list.json"'
"$OBIA" search --archive "$arc" --modality CT --json > "$tmp/s.json" 2> /dev/null
check "search by modality" 'py "import json,sys; r=json.load(open(sys.argv[1])); assert r and all(x[\"modality\"] == \"CT\" and x[\"collection\"] == \"OBIA0001\" for x in r), r" "$tmp/s.json"'
study=$(py "import json,sys; print(json.load(open(sys.argv[1]))[0]['study'])" "$tmp/s.json")
"$OBIA" show --archive "$arc" "$study" > "$tmp/show"
check "show a study" 'grep -q "^kind  *study$" "$tmp/show" && grep -q "^collection  *OBIA0001$" "$tmp/show"'
"$OBIA" show --archive "$arc" I999999 2> "$tmp/e"; rc=$?
check "show something absent: exit 1" '[ $rc -eq 1 ] && grep -q "no collection, individual" "$tmp/e"'
"$OBIA" stats --archive "$arc" --json > "$tmp/stats.json"
check "stats: modality counts add up to the accepted images" 'py "import json,sys; r=json.load(open(sys.argv[1])); assert sum(int(x[\"images\"]) for x in r if x[\"facet\"] == \"modality\") == $acc1" "$tmp/stats.json"'

# --- thumbnails and rendering from the archive
series=$(py "import json,sys; print(json.load(open(sys.argv[1]))[0]['series_uid'])" "$tmp/s.json")
check "ingest made series thumbnails" 'grep -Eq "obia ingest: [1-9][0-9]* series thumbnails made" "$tmp/e1"'
"$OBIA" thumbnails get --archive "$arc" --out "$tmp/t.png" "$series"; rc=$?
check "thumbnails get: a PNG of the series" '[ $rc -eq 0 ] && [ "$(head -c 8 "$tmp/t.png" | od -An -tx1 | tr -d " ")" = "89504e470d0a1a0a" ]'
"$OBIA" thumbnails get --archive "$arc" --size 32 --out "$tmp/t32.png" "$series"; rc=$?
check "thumbnails get --size 32: another, smaller PNG" '[ $rc -eq 0 ] && [ $(stat -c %s "$tmp/t32.png") -lt $(stat -c %s "$tmp/t.png") ]'
"$OBIA" thumbnails get --archive "$arc" --out "$tmp/x.png" 2.25.404 2> "$tmp/e"; rc=$?
check "thumbnails get of an unknown UID: exit 1, named" '[ $rc -eq 1 ] && grep -q "no image or series 2.25.404" "$tmp/e"'
"$OBIA" thumbnails rebuild --archive "$arc" > "$tmp/tr"; rc=$?
check "thumbnails rebuild: none fails" '[ $rc -eq 0 ] && grep -Eq "^[1-9][0-9]* series thumbnails made, [0-9]+ series without pixel data, 0 could not be made$" "$tmp/tr"'
"$OBIA" thumbnails sheet --archive "$arc" --cell 32 --columns 4 --out "$tmp/sheet.png" "$series"; rc=$?
n=$(py "import json,sys; print(next(int(x['images']) for x in json.load(open(sys.argv[1])) if x['series_uid'] == '$series'))" "$tmp/s.json")
check "thumbnails sheet: a PNG 4 cells of 32 across, a row per 4 images ($n)" '[ $rc -eq 0 ] && py "import struct,sys; d=open(sys.argv[1],\"rb\").read(); w,h=struct.unpack(\">II\", d[16:24]); assert (w, h) == (128, 32 * ((int(sys.argv[2]) + 3) // 4)), (w, h)" "$tmp/sheet.png" "$n"'
sop=$(py "import json,sys; print(next(json.loads(l)['detail'].split()[1] for l in open(sys.argv[1]) if json.loads(l)['outcome'] == 'accepted'))" "$tmp/r1.jsonl")
"$OBIA" render --archive "$arc" --format raw --out "$tmp/r.raw" "$sop"; rc=$?
check "render an archived image by its SOP Instance UID" '[ $rc -eq 0 ] && [ -s "$tmp/r.raw" ]'
"$OBIA" render --archive "$arc" --frame 9999 --out "$tmp/r.png" "$sop" 2> "$tmp/e"; rc=$?
check "render a frame the image lacks: exit 1, named" '[ $rc -eq 1 ] && grep -q "no frame 9999" "$tmp/e"'

# --- verify and repair from the replica
"$OBIA" verify --archive "$arc" > "$tmp/v"; rc=$?
check "verify clean after ingest" '[ $rc -eq 0 ] && grep -q " 0 missing, 0 corrupt" "$tmp/v"'
obj=$(find "$arc/store/objects" -type f | head -1)
check "objects named by their SHA-256" '[ "$(sha256sum "$obj" | cut -d" " -f1)" = "$(basename "$obj")" ]'
rep=${obj/$arc\/store/$arc\/replica1}
check "the replica holds the same object" 'cmp -s "$obj" "$rep"'
printf '\x00' | dd of="$obj" bs=1 seek=200 conv=notrunc 2> /dev/null
rm -f "$(find "$arc/replica1/objects" -type f | tail -1)"
"$OBIA" verify --archive "$arc" > "$tmp/v"; rc=$?
check "verify finds the corrupt and the missing copy" '[ $rc -eq 1 ] && grep -q " 1 missing, 1 corrupt" "$tmp/v"'
"$OBIA" verify --archive "$arc" --repair > "$tmp/v"; rc=$?
check "verify --repair restores both" '[ $rc -eq 0 ] && grep -q " 2 repaired" "$tmp/v"'
"$OBIA" verify --archive "$arc" > "$tmp/v"; rc=$?
check "verify clean after repair" '[ $rc -eq 0 ] && grep -q " 0 missing, 0 corrupt" "$tmp/v" && [ "$(sha256sum "$obj" | cut -d" " -f1)" = "$(basename "$obj")" ]'

finish archive
