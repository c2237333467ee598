#!/usr/bin/env bash
# Container smoke test (make smoke-containers): build the four images with podman on a locally built stand-in
# of the base image, render the embedded-mode release with the chart and run the whole loop with `podman kube play`
# (a labeled file in the inbox volume to a prediction from the promoted model). Needs root (podman, debootstrap),
# Debian's apt and PyPI; see helm/README.md for what it proves.
set -euo pipefail
SMOKE_STARTED=$(date +%s)
cd "$(dirname "$0")/../../.."
ROOT=$PWD
TOOLS=$ROOT/.tools
TAG=${SMOKE_TAG:-smoke}
BASE=docker.io/library/$(sed -n 's/^ARG PYTHON_IMAGE=//p' Dockerfile)

if ! command -v podman >/dev/null || ! command -v runc >/dev/null || ! command -v debootstrap >/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq podman buildah runc debootstrap >/dev/null
fi

# These machines run cgroup v1 without CAP_SYS_RESOURCE: runc and ulimits under the hard limits.
mkdir -p "$TOOLS/podman"
cat > "$TOOLS/podman/containers.conf" <<'CONF'
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=4096:4096"]
[engine]
runtime = "runc"
CONF
export CONTAINERS_CONF=$TOOLS/podman/containers.conf

# No registry is reachable: a stand-in base from Debian bookworm (python3 3.11), tagged as the pinned base.
if ! podman image exists "$BASE"; then
  echo "smoke: building the stand-in base $BASE with debootstrap"
  rootfs=$(mktemp -d)
  debootstrap --variant=minbase --include=python3,python3-venv,python3-pip,python-is-python3,ca-certificates \
    bookworm "$rootfs" http://deb.debian.org/debian >/dev/null
  rm -f "$rootfs"/usr/lib/python3.11/EXTERNALLY-MANAGED
  tar -C "$rootfs" -c . | podman import --change 'CMD ["python3"]' - "$BASE" >/dev/null
  rm -rf "$rootfs"
fi

# pip inside an image build cannot reach the index here (TLS interception): wheels are built on the host.
if [ ! -f "$TOOLS/wheelhouse/.complete" ] || [ requirements.lock -nt "$TOOLS/wheelhouse/.complete" ]; then
  mkdir -p "$TOOLS/wheelhouse"
  python3.11 -m pip wheel --quiet --disable-pip-version-check --no-deps -r requirements.lock setuptools wheel \
    -w "$TOOLS/wheelhouse" >"$TOOLS/podman/wheelhouse.log" 2>&1 || { tail -20 "$TOOLS/podman/wheelhouse.log"; exit 1; }
  touch "$TOOLS/wheelhouse/.complete"
fi

for target in server services training serving; do
  start=$(date +%s)
  podman build --pull=never --target "$target" -t "localhost/occuloop-$target:$TAG" \
    --build-context wheelhouse="$TOOLS/wheelhouse" --build-context kubectl="$TOOLS/bin" \
    --build-arg PIP_NO_INDEX=1 -f Dockerfile . >"$TOOLS/podman/build-$target.log" 2>&1 \
    || { tail -40 "$TOOLS/podman/build-$target.log"; exit 1; }
  echo "smoke: built localhost/occuloop-$target:$TAG in $(( $(date +%s) - start )) s"
done
podman image ls --format '{{.Repository}}:{{.Tag}} {{.Size}}' | grep "occuloop-.*:$TAG" | sed 's/^/smoke: image /'

echo "smoke: tools, base image, wheels and images ready after $(( $(date +%s) - SMOKE_STARTED )) s"
"$ROOT/.venv/bin/python" -m tests.helm.smoke.kube_play --tag "$TAG"
echo "smoke: make smoke-containers took $(( $(date +%s) - SMOKE_STARTED )) s in all"
