#!/usr/bin/env bash
# build-image.sh — builds morphd's container images with buildah, no Docker engine and no image
# registry needed (`make image` runs it).
#
#   deploy/build-image.sh [cpu] [cuda] [cuda-build] [--root DIR] [--cuda-archs LIST]
#     cpu         morphd:cpu   from deploy/docker/Dockerfile (CPU engine)
#     cuda        morphd:cuda  from deploy/docker/Dockerfile.cuda (CUDA engine + CPU fallback)
#     cuda-build  only the CUDA image's build stage (toolkit install + compile), tagged
#                 morphd:cuda-build: what CI checks, as the full image adds no compilation
#     (none)      cpu and cuda
#     --root DIR  buildah's image store (default: the system's, /var/lib/containers/storage)
#     --cuda-archs LIST  CMAKE_CUDA_ARCHITECTURES for the CUDA image (default: the Dockerfile's)
#
# Why like this: our machines and CI reach Debian's archive and nothing else, so the debian:12
# base image both Dockerfiles start FROM is made here with debootstrap from the same Debian
# mirror this machine's apt uses, laid out like the official image (deb822 debian.sources with
# bookworm, -updates and -security, component main), and tagged docker.io/library/debian:12 and
# :12-slim in the local store. buildah runs with the vfs storage driver and chroot isolation:
# no overlay filesystem, no runtime (runc) and no network namespace needed, so it works in an
# unprivileged-looking CI container as root. On a machine with Docker and a registry the
# Dockerfiles build as they are (`docker build -f deploy/docker/Dockerfile .`).
set -euo pipefail
cd "$(dirname "$0")/.."

root=""
archs=""
targets=()
while [ $# -gt 0 ]; do
    case "$1" in
    cpu | cuda | cuda-build) targets+=("$1") ;;
    --root) root="$2"; shift ;;
    --cuda-archs) archs="$2"; shift ;;
    -h | --help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "build-image: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
    shift
done
[ ${#targets[@]} -gt 0 ] || targets=(cpu cuda)

for tool in buildah debootstrap; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "build-image: $tool is missing: apt-get install buildah debootstrap" \
             "(deploy/install-deps.sh --image installs them)" >&2
        exit 2
    fi
done
if [ "$(id -u)" -ne 0 ]; then
    echo "build-image: run as root (debootstrap and buildah's chroot isolation need it)," \
         "e.g. sudo make image" >&2
    exit 2
fi

bh=(buildah --storage-driver vfs)
[ -n "$root" ] && bh+=(--root "$root" --runroot "$root/run")
bud=("${bh[@]}" bud --isolation chroot --format docker --pull=never) # reads ./.dockerignore

# The Debian mirrors apt uses here: deb822 files first, then one-line sources.
mirror_for() { # $1: suite (bookworm or bookworm-security)
    local f uri
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        uri=$(awk -v s="$1" '
            /^URIs:/ { u = $2 }
            /^Suites:/ { for (i = 2; i <= NF; i++) if ($i == s) found = u }
            /^$/ { u = "" }
            END { print found }' "$f")
        [ -n "$uri" ] && { echo "$uri"; return; }
    done
    uri=$(awk -v s="$1" '$1 == "deb" && $3 == s { print $2; exit }' /etc/apt/sources.list 2>/dev/null)
    echo "${uri:-}"
}

work=""
trap '[ -z "$work" ] || rm -rf "$work"' EXIT

make_base() {
    if "${bh[@]}" inspect --type image docker.io/library/debian:12 >/dev/null 2>&1; then
        return
    fi
    local main security
    main=${MORPHD_DEBIAN_MIRROR:-$(mirror_for bookworm)}
    main=${main:-http://deb.debian.org/debian}
    security=${MORPHD_DEBIAN_SECURITY_MIRROR:-$(mirror_for bookworm-security)}
    security=${security:-http://deb.debian.org/debian-security}
    work=$(mktemp -d "${TMPDIR:-/tmp}/morphd-base.XXXXXX")
    echo "build-image: debian:12 base from $main (debootstrap --variant=minbase)" >&2
    debootstrap --variant=minbase bookworm "$work/rootfs" "$main" >"$work/debootstrap.log" 2>&1 || {
        tail -20 "$work/debootstrap.log" >&2
        echo "build-image: debootstrap failed (log above)" >&2
        return 1
    }
    rm -f "$work/rootfs/etc/apt/sources.list"
    cat >"$work/rootfs/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $main
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
    rm -rf "$work/rootfs/var/cache/apt/archives/"*.deb "$work/rootfs/var/lib/apt/lists/"*
    tar -C "$work/rootfs" -cf "$work/rootfs.tar" .
    rm -rf "$work/rootfs"
    printf 'FROM scratch\nADD rootfs.tar /\nCMD ["bash"]\n' >"$work/Containerfile"
    "${bh[@]}" bud --isolation chroot --format docker -f "$work/Containerfile" \
        -t docker.io/library/debian:12 -t docker.io/library/debian:12-slim "$work" >&2
    rm -rf "$work"
    work=""
}

make_base
for t in "${targets[@]}"; do
    case "$t" in
    cpu) "${bud[@]}" -f deploy/docker/Dockerfile -t morphd:cpu . ;;
    cuda | cuda-build)
        args=()
        [ -n "$archs" ] && args+=(--build-arg "CUDA_ARCHS=$archs")
        if [ "$t" = cuda ]; then
            "${bud[@]}" "${args[@]}" -f deploy/docker/Dockerfile.cuda -t morphd:cuda .
        else
            "${bud[@]}" "${args[@]}" --target build -f deploy/docker/Dockerfile.cuda \
                -t morphd:cuda-build .
        fi
        ;;
    esac
done
