#!/usr/bin/env bash
# Installs the programs the tests run that this machine lacks, as
# hack/tools.txt lists them: with the system's package manager (apt-get or
# dnf as root, or through sudo when it needs no password; brew on macOS) or
# with `go install` into bin/. It says in one line what it installs, prints
# nothing when nothing is missing, and when it cannot install something it
# fails, printing the command to run, before any test has run.
#
# Usage: hack/tools.sh [PROGRAM...]   (no PROGRAM: every program of the list)
# BIN: where Go modules go (default bin/), GO: the go command.
# A program is found as the tests find it: $NAME (upper case, - as _),
# bin/NAME, or NAME on PATH.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
list=$root/hack/tools.txt
bin=${BIN:-$root/bin}
GO=${GO:-go}
say() { printf 'make tools: %s\n' "$*" >&2; }

# found NAME: whether the tests would find NAME.
found() {
	local var
	var=$(printf '%s' "$1" | tr 'a-z-' 'A-Z_')
	[[ -n ${!var:-} && -x ${!var} ]] || [[ -x $bin/$1 ]] || command -v "$1" >/dev/null 2>&1
}

# The package manager, and the column of the list it reads.
manager='' column=0
if [[ $(uname -s) == Darwin ]]; then
	command -v brew >/dev/null 2>&1 && manager=brew column=4
elif command -v apt-get >/dev/null 2>&1; then
	manager=apt-get column=2
elif command -v dnf >/dev/null 2>&1; then
	manager=dnf column=3
fi

listed=" $(awk '$1 !~ /^#/ {print $1}' "$list" | tr '\n' ' ')"
for name in "$@"; do
	[[ $listed == *" $name "* ]] || { say "$name is not in hack/tools.txt"; exit 2; }
done

packages=() via_pm=() modules=() via_go=() manual=()
while read -r name apt dnf brew gomod how; do
	[[ -z $name || $name == \#* ]] && continue
	(($# == 0)) || [[ " $* " == *" $name "* ]] || continue
	# A module from the list is installed into bin/ at its version, even
	# where another version is on PATH.
	if [[ $gomod != - ]]; then
		[[ -x $bin/$name ]] || { modules+=("$gomod"); via_go+=("$name"); }
		continue
	fi
	found "$name" && continue
	pkg=-
	case $column in
	2) pkg=$apt ;;
	3) pkg=$dnf ;;
	4) pkg=$brew ;;
	esac
	if [[ $pkg != - ]]; then
		IFS=, read -r -a pkgs <<<"$pkg"
		packages+=("${pkgs[@]}")
		via_pm+=("$name")
	else
		[[ $how == - ]] && how="install it from this system's packages"
		manual+=("$name: ${manager:-no package manager known here (apt-get, dnf, brew)}${manager:+ has no package of it}; $how")
	fi
done <"$list"

((${#packages[@]} + ${#modules[@]} + ${#manual[@]} == 0)) && exit 0

# How the package manager runs: as root, through sudo without a password,
# or not at all (then the user is told the command).
sudo=() can_pm=true
if ((${#packages[@]})) && [[ $manager != brew ]] && [[ $(id -u) != 0 ]]; then
	if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
		sudo=(sudo -n)
	else
		can_pm=false
	fi
fi
case $manager in
apt-get)
	update=(apt-get -o DPkg::Lock::Timeout=600 update -q)
	# Without recommends: prometheus would bring node-exporter, a daemon.
	install=(env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -q
		--no-install-recommends "${packages[@]}")
	hint="sudo apt-get update && sudo apt-get install -y --no-install-recommends ${packages[*]}"
	;;
dnf)
	update=()
	install=(dnf install -y -q "${packages[@]}")
	hint="sudo dnf install -y ${packages[*]}"
	;;
brew)
	update=()
	install=(brew install "${packages[@]}")
	hint="brew install ${packages[*]}"
	;;
esac

# The one line: what is installed, and how.
what=''
((${#packages[@]})) && $can_pm && what="${via_pm[*]} with $manager"
((${#modules[@]})) && what="${what:+$what, }${via_go[*]} with go install into bin/"
[[ -n $what ]] && say "installing $what"

log=$(mktemp)
trap 'rm -f "$log"' EXIT
# run CMD...: runs it quietly; on failure shows its output and fails.
run() {
	if ! "$@" >"$log" 2>&1; then
		cat "$log" >&2
		say "failed: $*"
		exit 1
	fi
}

if ((${#modules[@]})); then
	mkdir -p "$bin"
	for m in "${modules[@]}"; do
		GOBIN=$bin run "$GO" install "$m"
	done
fi
if ((${#packages[@]})) && $can_pm; then
	# ${a[@]+...}: an empty array under set -u, in macOS's bash 3.2 too.
	((${#update[@]})) && run ${sudo[@]+"${sudo[@]}"} "${update[@]}"
	run ${sudo[@]+"${sudo[@]}"} "${install[@]}"
	missing=()
	for name in "${via_pm[@]}"; do
		found "$name" || missing+=("$name")
	done
	((${#missing[@]})) && manual+=("${missing[*]}: still not found after $manager installed ${packages[*]}")
fi

if ! $can_pm || ((${#manual[@]})); then
	say "cannot install what the tests need; do this, then run make test again:"
	$can_pm || printf '  %s\n' "$hint   # ${via_pm[*]}: not root, and sudo asks for a password" >&2
	((${#manual[@]})) && printf '  %s\n' "${manual[@]}" >&2
	exit 1
fi
