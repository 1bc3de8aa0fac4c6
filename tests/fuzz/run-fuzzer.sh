#!/bin/sh
# tests/fuzz/run-fuzzer.sh - run the libFuzzer targets for a while and report
#
#   sh tests/fuzz/run-fuzzer.sh [-t SECONDS] [-b BUILDDIR] [-p] [-s] [-k]
#                               [TARGET ...] [-- LIBFUZZER-ARGS]
#
# TARGET is msg or ticket (default: both).  BUILDDIR is a build configured
# with `CC=clang --enable-fuzzing` (default: the current directory), e.g.
#
#   mkdir /tmp/bfz-clang && cd /tmp/bfz-clang
#   /work/main/configure CC=clang --enable-fuzzing && make
#   sh /work/main/tests/fuzz/run-fuzzer.sh -t 300 -p
#
# Each target runs SECONDS (default 60) over a temporary copy of
# tests/fuzz/corpus/TARGET and tests/fuzz/crashers/TARGET, so the corpus
# it grows never lands in the source tree.  -p runs the targets at the
# same time (one core each), -k keeps the work directory, -s copies
# crashing inputs to tests/fuzz/crashers/TARGET/ (make check replays that
# directory, so commit a crasher with its fix).  LIBFUZZER-ARGS go to
# the fuzzer after the work corpus: flags, or more seed directories to
# read (e.g. the corpus a -k run kept).  The report line per
# target gives executions, edge coverage (cov) and features (ft) at the
# start and end, corpus growth and crashes; on a crash the work directory
# is kept and the script exits 1.
set -eu

top=$(cd "$(dirname "$0")/../.." && pwd)
secs=60
build=.
par=0
save=0
keep=0
targets=""
while [ $# -gt 0 ]; do
	case $1 in
	-t) secs=$2; shift 2 ;;
	-b) build=$2; shift 2 ;;
	-p) par=1; shift ;;
	-s) save=1; shift ;;
	-k) keep=1; shift ;;
	--) shift; break ;;
	-*) sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
	*) targets="$targets $1"; shift ;;
	esac
done
[ -n "$targets" ] || targets="msg ticket"
for t in $targets; do
	if [ ! -x "$build/tests/fuzz/fuzz_$t" ]; then
		echo "run-fuzzer: no $build/tests/fuzz/fuzz_$t:" \
		    "configure CC=clang --enable-fuzzing and make" >&2
		exit 2
	fi
done

work=$(mktemp -d "${TMPDIR:-/tmp}/imgate-fuzz.XXXXXX")
echo "run-fuzzer: ${secs}s per target, work directory $work"

# run_one TARGET - fuzz one target; writes $work/TARGET.log
run_one() {
	t=$1
	shift
	mkdir -p "$work/$t/corpus" "$work/$t/artifacts"
	cp "$top/tests/fuzz/corpus/$t/"* "$work/$t/corpus/"
	if [ -d "$top/tests/fuzz/crashers/$t" ]; then
		find "$top/tests/fuzz/crashers/$t" -type f ! -name 'README*' \
		    -exec cp {} "$work/$t/corpus/" \;
	fi
	"$build/tests/fuzz/fuzz_$t" -max_total_time="$secs" \
	    -max_len=4096 -timeout=10 -print_final_stats=1 \
	    -artifact_prefix="$work/$t/artifacts/" "$work/$t/corpus" "$@" \
	    >"$work/$t.log" 2>&1 || true
}

# report TARGET - one line from the libFuzzer log; 1 if it crashed
report() {
	t=$1
	log=$work/$t.log
	init=$(grep -m1 'INITED' "$log" || true)
	last=$(grep -E '^#[0-9]+' "$log" | tail -1 || true)
	field() {	# field NAME LINE: the value after "NAME:"
		echo "$2" | sed -n "s/.* $1: *\([^ ]*\).*/\1/p"
	}
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
	rss=$(sed -n 's/^stat::peak_rss_mb: *//p' "$log")
	ncrash=$(find "$work/$t/artifacts" -type f | wc -l)
	printf 'fuzz_%s: %ss, %s execs (%s/s), cov %s -> %s, ft %s -> %s,' \
	    "$t" "$secs" "${execs:-?}" "${rate:-?}" "$(field cov "$init")" \
	    "$(field cov "$last")" "$(field ft "$init")" "$(field ft "$last")"
	printf ' corpus %s -> %s, peak RSS %s MB, crashes %s\n' \
	    "$(field corp "$init")" "$(field corp "$last")" "${rss:-?}" \
	    "$ncrash"
	[ "$ncrash" -eq 0 ] && return 0
	for f in "$work/$t/artifacts/"*; do
		echo "  crash: $f"
		if [ "$save" = 1 ]; then
			mkdir -p "$top/tests/fuzz/crashers/$t"
			cp "$f" "$top/tests/fuzz/crashers/$t/"
			echo "  saved: tests/fuzz/crashers/$t/$(basename "$f")"
		fi
	done
	grep -E -m3 'ERROR: |oracle failed|runtime error' "$log" |
	    sed 's/^/  /' || true
	echo "  log: $log"
	echo "  replay: $build/tests/fuzz/fuzz_${t}_replay -v FILE"
	return 1
}

if [ "$par" = 1 ]; then
	for t in $targets; do run_one "$t" "$@" & done
	wait
else
	for t in $targets; do run_one "$t" "$@"; done
fi
status=0
for t in $targets; do report "$t" || status=1; done
if [ "$status" = 0 ] && [ "$keep" = 0 ]; then
	rm -rf "$work"
else
	echo "run-fuzzer: kept $work"
fi
exit $status
