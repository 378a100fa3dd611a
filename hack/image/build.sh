#!/usr/bin/env bash
# Builds the day1kmod image offline, as a manifest list, from binaries built
# on the host: CONTEXT/OS-ARCH/day1kmod for each PLATFORM (OS/ARCH), with
# Dockerfile.prebuilt. A FROM scratch image needs no emulation to build for
# another architecture.
#
#   hack/image/build.sh IMAGE CONTEXT PLATFORM...
#
# The engine is probed, not assumed: podman if `podman info` answers, else
# docker if `docker info` answers (a docker CLI without a daemon is common).
# ENGINE=podman|docker forces one. PODMAN_FLAGS: global podman flags (the
# tests pass a private --root/--runroot). DOCKER_BUILD_FLAGS: docker's local
# image store keeps no manifest list unless it is the containerd store; the
# default --load builds one platform; pass --push to push the list.
# SOURCE_DATE_EPOCH (make passes the commit's time): podman dates the image
# and its files with it, so the same binaries give the same digests.
set -euo pipefail

if (($# < 3)); then
	echo "usage: $0 IMAGE CONTEXT PLATFORM..." >&2
	exit 2
fi
image=$1 context=$2
shift 2
platforms=("$@")
containerfile=$(cd "$(dirname "$0")/../.." && pwd)/Dockerfile.prebuilt
read -r -a podman_flags <<<"${PODMAN_FLAGS:-}"
read -r -a docker_flags <<<"${DOCKER_BUILD_FLAGS:---load}"

for p in "${platforms[@]}"; do
	bin=$context/${p/\//-}/day1kmod
	[[ -f $bin ]] || { echo "$0: $bin missing (make image builds it)" >&2; exit 1; }
done

engine=${ENGINE:-}
if [[ -z $engine ]]; then
	if command -v podman >/dev/null && podman "${podman_flags[@]}" info >/dev/null 2>&1; then
		engine=podman
	elif command -v docker >/dev/null && docker info >/dev/null 2>&1; then
		engine=docker
	else
		echo "$0: no working container engine: podman info and docker info both fail (install podman, or start docker's daemon)" >&2
		exit 1
	fi
fi

case $engine in
podman)
	# A rebuild replaces the list (and whatever image held its name).
	if podman "${podman_flags[@]}" manifest exists "$image" 2>/dev/null; then
		podman "${podman_flags[@]}" manifest rm "$image" >/dev/null
	elif podman "${podman_flags[@]}" image exists "$image" 2>/dev/null; then
		podman "${podman_flags[@]}" rmi "$image" >/dev/null
	fi
	podman "${podman_flags[@]}" manifest create "$image" >/dev/null
	timestamp=()
	if [[ -n ${SOURCE_DATE_EPOCH:-} ]]; then
		timestamp=(--timestamp "$SOURCE_DATE_EPOCH")
	fi
	for p in "${platforms[@]}"; do
		podman "${podman_flags[@]}" build --quiet --layers=false "${timestamp[@]}" --platform "$p" --manifest "$image" \
			-f "$containerfile" "$context" >/dev/null
	done
	echo "$image: manifest list for ${platforms[*]} (podman manifest inspect $image; podman manifest push --all $image docker://REGISTRY/...)"
	;;
docker)
	list=$(IFS=,; echo "${platforms[*]}")
	docker buildx build --platform "$list" -t "$image" "${docker_flags[@]}" -f "$containerfile" "$context"
	;;
*)
	echo "$0: ENGINE=$engine: podman or docker" >&2
	exit 1
	;;
esac
