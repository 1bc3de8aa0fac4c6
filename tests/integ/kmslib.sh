# tests/integ/kmslib.sh - shell helpers for tests that run imgate-kms
#
# Copyright (c) 2026 the imgate developers. MIT licence, see COPYING.
#
# Sourced (". kmslib.sh") by tests/integ/t_kms.sh and
# tests/bench/run-bench-kms.sh.  POSIX sh.  In the spirit of krb5's
# k5test.py: a throwaway directory, loopback only, processes started and
# stopped by PID, everything bounded in count and time.
#
#   kms_init NAME            make $KT (mktemp -d), removed by an EXIT trap
#                            that also stops every KMS started here
#   kms_free_port            set $kms_port to a loopback TCP port nobody
#                            listens on (and not given out before)
#   kms_write_conf FILE PORT [LINE...]
#                            a kms.conf for 127.0.0.1:PORT with the files
#                            kms-master.keys and kms-users.conf next to it;
#                            each LINE is appended verbatim (sections too);
#                            log_level is $KMS_LOG_LEVEL (default info)
#   kms_start NAME CONF [ARGS...]
#                            start imgate-kms --config CONF --pidfile
#                            $KT/NAME.pid in the background, log in
#                            $KT/NAME.log; wait (<= KMS_WAIT s) for
#                            GET /health; sets kms_pid_NAME; 1 on failure
#   kms_stop NAME            SIGTERM by PID, wait (<= KMS_WAIT s, then
#                            SIGKILL); $kms_status = its exit status
#   kms_dump_log NAME        the log as TAP comments
#   kms_http METHOD URL [BODYFILE [CONTENT-TYPE]]
#                            one request; status in $http_status, outcome
#                            header in $http_outcome, content type in
#                            $http_ctype, body in $KT/http.body
#   kms_metric TEXTFILE NAME LABELS
#                            the value of metric NAME{LABELS} (LABELS as
#                            written, e.g. 'exchange="request",outcome="ok"';
#                            the order of labels does not matter), 0 if absent
#
# Needs: curl (Debian package curl, in scripts/dev.sh PKGS), ss or
# /proc/net/tcp, awk, od.  Environment: top_builddir, KMS_WAIT (default 10),
# KMS_BIN (default $top_builddir/kms/imgate-kms), KMS_WRAP (a command
# prefix such as "taskset -c 0" that execs the daemon, so $! stays its PID).

KMS_BIN=${KMS_BIN:-$top_builddir/kms/imgate-kms}
KMS_WAIT=${KMS_WAIT:-10}
kms_started=""
kms_used_ports=""

# kms_cleanup - stop what we started, remove the throwaway directory
kms_cleanup() {
	for _n in $kms_started; do
		eval "_p=\${kms_pid_$_n:-}"
		if [ -n "$_p" ] && kill -0 "$_p" 2>/dev/null; then
			kill -TERM "$_p" 2>/dev/null
			_i=0
			while kill -0 "$_p" 2>/dev/null && [ $_i -lt 50 ]; do
				sleep 0.1
				_i=$((_i + 1))
			done
			kill -0 "$_p" 2>/dev/null && kill -KILL "$_p" 2>/dev/null
		fi
	done
	if [ -n "${KT:-}" ] && [ -z "${KMS_KEEP:-}" ]; then
		rm -rf "$KT"
	elif [ -n "${KT:-}" ]; then
		echo "# kept $KT" >&2
	fi
}

kms_init() {
	KT=$(mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXX") || exit 99
	trap 'kms_cleanup' 0
	trap 'exit 130' 1 2 15
}

# kms_port_busy PORT - 0 if something listens on PORT (TCP, any address)
kms_port_busy() {
	if command -v ss >/dev/null 2>&1; then
		ss -Htln "sport = :$1" 2>/dev/null | grep -q .
		return $?
	fi
	_hex=$(printf '%04X' "$1")
	# state 0A = LISTEN; local address is field 2 (ADDR:PORT, hex)
	cat /proc/net/tcp /proc/net/tcp6 2>/dev/null |
	    awk -v p=":$_hex" '$4 == "0A" && substr($2, length($2) - 4) == p \
		{ f = 1 } END { exit !f }'
}

# kms_random_port - set $_port to a random port below the kernel's
#	ephemeral range (ip_local_port_range): a port in that range can be
#	taken at any moment as the source port of some outgoing connection,
#	between our check and the daemon's bind
kms_random_port() {
	_elo=$(awk '{ print $1 }' /proc/sys/net/ipv4/ip_local_port_range \
	    2>/dev/null)
	case $_elo in ''|*[!0-9]*) _elo=32768 ;; esac
	[ "$_elo" -gt 12000 ] || _elo=32768
	_port=$(od -An -N2 -tu2 /dev/urandom | tr -d ' ')
	_port=$((10000 + _port % (_elo - 10100)))
}

kms_free_port() {
	_try=0
	while [ $_try -lt 50 ]; do
		_try=$((_try + 1))
		kms_random_port
		case " $kms_used_ports " in *" $_port "*) continue ;; esac
		if ! kms_port_busy "$_port"; then
			kms_used_ports="$kms_used_ports $_port"
			kms_port=$_port
			return 0
		fi
	done
	echo "kms_free_port: no free port found" >&2
	return 1
}

kms_write_conf() {
	_f=$1 _port=$2
	shift 2
	{
		echo "[kms]"
		echo "id = sip:kms@corp.example"
		echo "listen = 127.0.0.1:$_port"
		echo "path = /mikey"
		echo "master_keys = kms-master.keys"
		echo "users = kms-users.conf"
		echo "metrics = true"
		echo "log_level = ${KMS_LOG_LEVEL:-info}"
		for _l in "$@"; do
			printf '%s\n' "$_l"
		done
	} >"$_f"
}

# kms_port_of CONF - the port of the 127.0.0.1 listen address of CONF
kms_port_of() {
	sed -n 's/^listen *= *127\.0\.0\.1:\([0-9]*\).*/\1/p' "$1" | head -1
}

kms_start() {
	_n=$1 _conf=$2
	shift 2
	rm -f "$KT/$_n.pid"
	$KMS_WRAP "$KMS_BIN" --config "$_conf" --pidfile "$KT/$_n.pid" "$@" \
	    >"$KT/$_n.log" 2>&1 &
	eval "kms_pid_$_n=$!"
	kms_started="$kms_started $_n"
	_port=$(kms_port_of "$_conf")
	_i=0
	_lim=$((KMS_WAIT * 10))
	while [ $_i -lt $_lim ]; do
		eval "_p=\$kms_pid_$_n"
		if ! kill -0 "$_p" 2>/dev/null; then
			wait "$_p"
			kms_status=$?
			echo "# kms_start $_n: exited with status $kms_status" >&2
			return 1
		fi
		if [ -s "$KT/$_n.pid" ] &&
		    curl -s -o /dev/null --max-time 2 \
		    "http://127.0.0.1:$_port/health" 2>/dev/null; then
			return 0
		fi
		sleep 0.1
		_i=$((_i + 1))
	done
	echo "# kms_start $_n: not ready after $KMS_WAIT s" >&2
	return 1
}

kms_stop() {
	eval "_p=\${kms_pid_$1:-}"
	kms_status=255
	[ -n "$_p" ] || return 1
	kill -TERM "$_p" 2>/dev/null
	_i=0
	_lim=$((KMS_WAIT * 10))
	while kill -0 "$_p" 2>/dev/null && [ $_i -lt $_lim ]; do
		sleep 0.1
		_i=$((_i + 1))
	done
	if kill -0 "$_p" 2>/dev/null; then
		echo "# kms_stop $1: still running after $KMS_WAIT s: SIGKILL" >&2
		kill -KILL "$_p" 2>/dev/null
	fi
	wait "$_p"
	kms_status=$?
	eval "kms_pid_$1="
	return 0
}

kms_dump_log() {
	[ -f "$KT/$1.log" ] || return 0
	echo "# ---- $1.log (last 60 lines)"
	tail -60 "$KT/$1.log" | sed 's/^/# /'
}

kms_http() {
	_m=$1 _url=$2 _body=${3:-} _ct=${4:-application/mikey}
	rm -f "$KT/http.body" "$KT/http.head"
	if [ -n "$_body" ]; then
		http_status=$(curl -s -X "$_m" --max-time 10 \
		    -H "Content-Type: $_ct" -H "Expect:" \
		    --data-binary "@$_body" -D "$KT/http.head" \
		    -o "$KT/http.body" -w '%{http_code}' "$_url")
	else
		http_status=$(curl -s -X "$_m" --max-time 10 \
		    -D "$KT/http.head" -o "$KT/http.body" \
		    -w '%{http_code}' "$_url")
	fi
	http_outcome=$(tr -d '\r' <"$KT/http.head" 2>/dev/null |
	    sed -n 's/^[Xx]-[Ii]mgate-[Oo]utcome: *//p' | tail -1)
	http_ctype=$(tr -d '\r' <"$KT/http.head" 2>/dev/null |
	    sed -n 's/^[Cc]ontent-[Tt]ype: *//p' | tail -1)
	[ -f "$KT/http.body" ] || : >"$KT/http.body"
}

kms_metric() {
	awk -v name="$2" -v want="$3" '
	function norm(s,   n, a, i, t, j, k) {
		n = split(s, a, ",")
		for (i = 2; i <= n; i++) {	# insertion sort
			t = a[i]
			for (j = i - 1; j >= 1 && a[j] > t; j--)
				a[j + 1] = a[j]
			a[j + 1] = t
		}
		k = ""
		for (i = 1; i <= n; i++)
			k = k (i > 1 ? "," : "") a[i]
		return k
	}
	BEGIN { w = norm(want); v = 0 }
	/^#/ { next }
	{
		m = $1
		if (index(m, "{") > 0) {
			nm = substr(m, 1, index(m, "{") - 1)
			lb = substr(m, index(m, "{") + 1)
			sub(/}$/, "", lb)
		} else {
			nm = m
			lb = ""
		}
		if (nm == name && norm(lb) == w)
			v = $2
	}
	END { print v + 0 }' "$1"
}
