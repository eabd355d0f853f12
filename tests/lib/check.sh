# The frame of the shell integration tests: sourced, it checks the
# environment, makes $tmp (removed at exit) and defines check NAME EXPR,
# which counts EXPR's outcome and prints "FAIL: NAME" when it is false;
# finish prints the counts and sets the exit status.
set -uo pipefail
: "${OBIA:?OBIA must name the obia binary}"
data=${OBIA_TEST_DATA:?}
src=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
ok()   { pass=$((pass + 1)); }
bad()  { fail=$((fail + 1)); echo "FAIL: $*"; }
check() { if eval "$2"; then ok; else bad "$1"; fi; }
finish() { echo "$1: $pass passed, $fail failed"; [ $fail -eq 0 ]; }
