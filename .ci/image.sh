#!/usr/bin/env bash
# Builds mote's container image: FROM scratch, one layer holding only the
# static binary, one image per platform under one OCI index, written as an
# OCI layout directory and as an oci-archive tarball.
#
# usage: image.sh OUT_DIR VERSION PLATFORM=BINARY...
#   PLATFORM is os/arch[/variant] as OCI spells it: linux/amd64, linux/arm64,
#   linux/arm/v6, linux/arm/v7.
#
# buildah does the work without a daemon: a private containers-storage under
# OUT_DIR (vfs driver, which needs no overlay mounts), nothing run inside the
# image (so no build isolation is needed), every file and config dated by the
# last commit, so the same binaries packed at the same commit give the same
# digests.
set -euo pipefail

out=$1 version=$2
shift 2
# A relative path would name the OCI layout after the current directory.
out=$(mkdir -p "$out" && cd "$out" && pwd)
storage=$out/storage
ba() { buildah --root "$storage/root" --runroot "$storage/run" --storage-driver vfs "$@"; }
stamp=$(git log -1 --format=%ct 2>/dev/null || echo 0)
list=localhost/mote:$version

# The storage is this script's alone: clear what an interrupted run left.
ba rm --all >/dev/null 2>&1 || true
ba manifest rm "$list" >/dev/null 2>&1 || true
ba manifest create "$list" >/dev/null
for spec in "$@"; do
	platform=${spec%%=*} binary=${spec#*=}
	IFS=/ read -r os arch variant <<<"$platform"
	name=localhost/mote-${platform//\//-}:$version
	echo "image: $platform from $binary ($(stat -c %s "$binary") bytes)"
	ctr=$(ba from --quiet --name "mote-build-${platform//\//-}" scratch)
	ba copy --quiet --chmod 0755 "$ctr" "$binary" /mote >/dev/null
	# The defaults a container needs: every address (the host publishes the
	# port), a user that owns nothing (65532, the conventional "nonroot"), and
	# the arguments as CMD so that `run IMAGE --root /site` replaces them.
	ba config --os "$os" --arch "$arch" ${variant:+--variant "$variant"} \
		--user 65532:65532 --port 8080/tcp --workingdir / --created-by "COPY mote /mote" \
		--entrypoint '["/mote"]' --cmd '["--listen", "0.0.0.0:8080"]' --stop-signal SIGTERM \
		--label org.opencontainers.image.title=mote \
		--label org.opencontainers.image.description="tiny static-site HTTP/1.1 server" \
		--label org.opencontainers.image.version="$version" \
		--label org.opencontainers.image.licenses=MIT \
		"$ctr"
	ba commit --quiet --format oci --timestamp "$stamp" --rm "$ctr" "$name" >/dev/null
	ba manifest add ${variant:+--variant "$variant"} "$list" "containers-storage:$name" >/dev/null
done

rm -rf "$out/oci" "$out/mote.tar"
ba manifest push --quiet --all --format oci "$list" "oci:$out/oci:mote:$version"
ba manifest push --quiet --all --format oci "$list" "oci-archive:$out/mote.tar:mote:$version"
ba rmi --prune >/dev/null 2>&1 || true
echo "image: $out/oci (OCI layout) and $out/mote.tar (oci-archive), tagged mote:$version, $(stat -c %s "$out/mote.tar") bytes"
