#!/bin/sh
# scripts/dev.sh - install, build, run and test imgate on Debian 12
#
#   sh scripts/dev.sh run    install dependencies, build, run the main job
#                            (imgate-kms on conf/kms.conf; Ctrl-C stops it)
#   sh scripts/dev.sh test   install dependencies, build with ASan+UBSan,
#                            run every test (make check)
#   sh scripts/dev.sh deps   install dependencies only
#
# Needs root or sudo for apt-get.  Builds out of tree in build/ (run) and
# build-san/ (test), so the two never mix.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
cmd=${1:-}

# Debian 12 packages for the whole project (design.md: Stack)
PKGS="build-essential autoconf automake libtool pkg-config \
libssl-dev libgmime-3.0-dev libosip2-dev libevent-dev libsqlite3-dev \
libglib2.0-dev tshark openssl ca-certificates curl \
sip-tester kamailio baresip-core sipvicious sqlite3 iproute2"

usage() {
	sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'
}

sudo_() {
	if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

deps() {
	missing=""
	for p in $PKGS; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
		    grep -q "install ok installed" || missing="$missing $p"
	done
	if [ -z "$missing" ]; then
		echo "dev.sh: all Debian packages present"
		return 0
	fi
	echo "dev.sh: installing:$missing"
	sudo_ apt-get update -qq
	# tshark asks whether non-root users may capture: answer no, quietly
	echo "wireshark-common wireshark-common/install-setuid boolean false" |
	    sudo_ debconf-set-selections
	sudo_ env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	    --no-install-recommends $missing
}

build() {	# build DIR CONFIGURE-ARGS...
	dir=$1
	shift
	cd "$top"
	[ -x configure ] && [ configure -nt configure.ac ] ||
	    autoreconf -fi >/dev/null
	mkdir -p "$top/$dir"
	cd "$top/$dir"
	if [ ! -f Makefile ] || [ "$top/configure" -nt Makefile ]; then
		"$top/configure" --enable-werror "$@" >configure.out ||
		    { tail -30 configure.out; exit 1; }
	fi
	make -j"$(nproc)" >make.out 2>&1 || { tail -40 make.out; exit 1; }
	echo "dev.sh: built in $dir/"
}

case "$cmd" in
run)
	deps
	build build
	exec sh "$top/scripts/run-main.sh" "$top/build"
	;;
test)
	deps
	build build-san --enable-asan --enable-ubsan
	cd "$top/build-san"
	# ASan's leak checker needs ptrace, which some sandboxes refuse
	ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} \
	UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
	    make -j"$(nproc)" check || {
		find . -name '*.log' -newer Makefile -exec grep -l -E \
		    '^(not ok|FAIL|ERROR)' {} + 2>/dev/null | while read -r f; do
			echo "==== $f"; tail -40 "$f"; done
		exit 1
	}
	;;
deps)
	deps
	;;
-h|--help|help)
	usage
	;;
*)
	usage >&2
	exit 2
	;;
esac
