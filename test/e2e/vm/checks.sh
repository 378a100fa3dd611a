# shellcheck shell=bash
# Assertions of the VM end-to-end harness, on what one scenario's boots left in
# $SD: boot-N.console (serial console), boot-N.results (results port: "E2E
# key=value" lines and the journal of every boot so far) and journal/boot-K.log.

# res N KEY: value of "E2E KEY=..." reported by boot N.
res() {
	{ grep -a "^E2E $2=" "$SD/boot-$1.results" 2>/dev/null || true; } | tail -n 1 | cut -d= -f2- | tr -d '\r'
}

# split_journal N: splits the journal reported by boot N into journal/boot-K.log.
split_journal() {
	mkdir -p "$SD/journal"
	rm -f "$SD"/journal/boot-*.log
	tr -d '\r' <"$SD/boot-$1.results" | awk -v dir="$SD/journal" '
		/^E2E-JOURNAL-BEGIN/ { on = 1; k = 1; n = 0; next }
		/^E2E-JOURNAL-END/ { on = 0 }
		!on { next }
		/^-- Boot [0-9a-f]+ --$/ { if (n > 0) { k++; n = 0 }; next }
		/^-- No entries --$/ { next }
		{ print > (dir "/boot-" k ".log"); n++ }'
}

# jts K REGEX: monotonic time (s) of boot K's first journal line matching REGEX.
jts() {
	{ grep -aE -m1 "$2" "$SD/journal/boot-$1.log" 2>/dev/null || true; } | sed -nE 's/^\[ *([0-9]+\.[0-9]+)\].*/\1/p'
}
jhas() { grep -aqE "$2" "$SD/journal/boot-$1.log" 2>/dev/null; }
jcount() { grep -acE "$2" "$SD/journal/boot-$1.log" 2>/dev/null || true; }

# check DESCRIPTION COMMAND...: runs an assertion, records and prints it; a
# failure clears ROW_OK, the verdict of the report row (run.sh).
check() {
	local desc=$1
	shift
	if "$@"; then
		echo "    ok   $desc" | tee -a "$SD/checks"
	else
		echo "    FAIL $desc" | tee -a "$SD/checks"
		# shellcheck disable=SC2034 # read by run.sh
		ROW_OK=0
	fi
}
eq() { [[ $1 == "$2" ]] || { echo "         got '$1', want '$2'" | tee -a "$SD/checks"; return 1; }; }
# holds X OP Y: the numbers X and Y, both present, compare as OP says (an
# awk operator: <, <=, >=).
holds() {
	if [[ -n $1 && -n $3 ]] && awk -v a="$1" -v b="$3" "BEGIN { exit !(a $2 b) }"; then
		return 0
	fi
	echo "         '$1' $2 '$3' is false" | tee -a "$SD/checks"
	return 1
}
lt() { holds "$1" '<' "$2"; }
not() { ! "$@"; }
contains() { [[ $1 == *"$2"* ]] || { echo "         '$1' does not contain '$2'" | tee -a "$SD/checks"; return 1; }; }
lacks() { [[ $1 != *"$2"* ]] || { echo "         '$1' contains '$2'" | tee -a "$SD/checks"; return 1; }; }

# The journal lines worth reading when something failed.
JOURNAL_FOCUS='day1kmod|dummy|e2e_twin|e2e_fw|crc_itu_t|firmware|registry|podman|network-pre|network-online|NetworkManager|Failed|failed|e2e:|Reached target|reboot|Power'

# journal_from_disk: when no boot reported its journal (the last one hung or
# crashed), reads the persistent journal straight off the disk image, with the
# host's journalctl when there is one.
journal_from_disk() {
	[[ -e $SD/disk.img ]] && command -v journalctl >/dev/null || return 0
	rm -rf "$SD/journal-files"
	mkdir -p "$SD/journal-files"
	debugfs -R "rdump /var/log/journal $SD/journal-files" "$SD/disk.img" >/dev/null 2>&1 || return 0
	{
		echo E2E-JOURNAL-BEGIN
		journalctl -D "$SD/journal-files/journal" -o short-monotonic --no-hostname --no-pager 2>/dev/null || true
		echo E2E-JOURNAL-END
	} >"$SD/disk-journal.results"
	cp "$SD/disk-journal.results" "$SD/boot-0.results"
	split_journal 0
	echo "  (journal read from the disk image: a hung guest may not have written its last lines)"
}

JOURNAL_NOISE='registry: (POST|PUT) |preloaded 127|NetworkManager\[[0-9]+\]: <info>'

# explain: prints what a failed scenario needs to be understood.
explain() {
	local n k f
	echo "  ---- what the guest showed ($SD) ----"
	if ! compgen -G "$SD/journal/boot-*.log" >/dev/null; then
		journal_from_disk
	fi
	for ((n = 1; n <= BOOTS; n++)); do
		echo "  -- boot $n: ${ENDINGS[n - 1]}; console tail:"
		tr -d '\r' <"$SD/boot-$n.console" | sed 's/\x1b\[[0-9;]*m//g' | grep -av '^\s*$' | tail -n 25 | sed 's/^/     | /'
		echo "  -- boot $n: results port:"
		tr -d '\r' <"$SD/boot-$n.results" | grep -a '^E2E ' | sed 's/^/     | /'
	done
	for f in "$SD"/journal/boot-*.log; do
		[[ -e $f ]] || continue
		k=${f##*/boot-}
		echo "  -- journal of boot ${k%.log} (focus):"
		grep -aE "$JOURNAL_FOCUS" "$f" | grep -avE "$JOURNAL_NOISE" | tail -n 80 | sed 's/^/     | /'
	done
}
