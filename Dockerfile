# syntax=docker/dockerfile:1
# occuloop images, one target per role (the Helm chart's images.<role>):
#   server    the embedded ClearML-compatible server (`occuloop server`)
#   services  sync, trigger, rollout, the web UI (`occuloop ui`), clearml-agent (services mode), the k8s glue (+ kubectl)
#   training  what a training pod runs: clearml-agent + the training code + tensorflow-cpu + tf2onnx
#   serving   the clearml-serving inference app + onnxruntime + occuloop's engine code: no TensorFlow
#   serving-tensorflow  the same plus tensorflow-cpu, for model packages trained before ONNX export (not in the chart)
#
#   docker build --target serving -t occuloop-serving:0.1.0 .        # Docker / BuildKit: pip uses the index
#   podman build --build-context wheelhouse=DIR --build-arg PIP_NO_INDEX=1 --target serving ...  # offline wheels
#
# Every target runs as uid 10001 with no write access outside /tmp and its data volume.
# The pinned base (exact Python patch release and Debian release); pass a digest-pinned reference to pin harder.
# checkov:skip=CKV_DOCKER_7:the base is pinned through this ARG, which checkov does not resolve
ARG PYTHON_IMAGE=python:3.11.7-slim-bookworm

# Pre-built wheels. Empty by default; `--build-context wheelhouse=DIR` replaces it (for builds that cannot reach
# the package index, e.g. behind TLS interception).
FROM scratch AS wheelhouse

# kubectl for the k8s glue (clearml-agent drives pods through it), checked against its sha256.
# `--build-context kubectl=DIR` (a directory holding `kubectl`) replaces the download.
FROM ${PYTHON_IMAGE} AS kubectl
ARG KUBECTL_VERSION=v1.35.2
ARG KUBECTL_SHA256=924eb50779153f20cb668117d141440b95df2f325a64452d78dff9469145e277
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
RUN python -c "import sys, urllib.request; urllib.request.urlretrieve(sys.argv[1], '/kubectl')" \
      "https://dl.k8s.io/release/${KUBECTL_VERSION}/bin/linux/amd64/kubectl" \
 && echo "${KUBECTL_SHA256}  /kubectl" | sha256sum --check - \
 && chmod 0755 /kubectl

# One virtualenv per role, from the pinned lock (constraints), so each image carries only what its role imports.
FROM ${PYTHON_IMAGE} AS venv-source
ARG PIP_NO_INDEX=0
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PIP_NO_INDEX=${PIP_NO_INDEX} PIP_FIND_LINKS=/wheelhouse
WORKDIR /src
COPY requirements.lock pyproject.toml README.md ./
COPY services ./services
COPY training ./training
COPY serving ./serving

FROM venv-source AS venv-services
RUN --mount=type=bind,from=wheelhouse,target=/wheelhouse \
    python -m venv /opt/occuloop \
 && /opt/occuloop/bin/pip install --constraint requirements.lock ".[k8s,ui]"

FROM venv-services AS venv-training
RUN --mount=type=bind,from=wheelhouse,target=/wheelhouse \
    /opt/occuloop/bin/pip install --constraint requirements.lock ".[k8s,train]"

# Serving starts from the source, not from training: onnxruntime runs the packages' ONNX graphs, so neither
# TensorFlow (~1.5 GB, ~3 s and ~600 MB to import in every pod) nor the k8s and UI packages are in the image.
FROM venv-source AS venv-serving
RUN --mount=type=bind,from=wheelhouse,target=/wheelhouse \
    python -m venv /opt/occuloop \
 && /opt/occuloop/bin/pip install --constraint requirements.lock ".[serve]"

FROM venv-serving AS venv-serving-tensorflow
RUN --mount=type=bind,from=wheelhouse,target=/wheelhouse \
    /opt/occuloop/bin/pip install --constraint requirements.lock ".[serve,train]"

# Shared runtime base: the non-root user and an environment that works with a read-only root filesystem.
FROM ${PYTHON_IMAGE} AS runtime
RUN groupadd --gid 10001 occuloop \
 && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /tmp --shell /usr/sbin/nologin occuloop
ENV PATH=/opt/occuloop/bin:$PATH \
    HOME=/tmp \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    OCCULOOP_LOG_FORMAT=json
WORKDIR /tmp
LABEL org.opencontainers.image.source="https://github.com/occuloop/occuloop" \
      org.opencontainers.image.licenses="Apache-2.0"

FROM runtime AS server
RUN mkdir -p /data && chown 10001:10001 /data
COPY --from=venv-services /opt/occuloop /opt/occuloop
ENV OCCULOOP_DATA_DIR=/data OCCULOOP_SERVER_HOST=0.0.0.0
USER 10001:10001
VOLUME ["/data"]
EXPOSE 8008 8081
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8008/healthz', timeout=4)"]
ENTRYPOINT ["occuloop"]
CMD ["server"]

FROM runtime AS services
COPY --from=kubectl /kubectl /usr/local/bin/kubectl
COPY --from=venv-services /opt/occuloop /opt/occuloop
USER 10001:10001
EXPOSE 8090 8091 8092
# Several roles share this image (sync, agents, glue): the chart probes each one on its own terms.
HEALTHCHECK NONE
ENTRYPOINT ["occuloop"]
CMD ["--help"]

FROM runtime AS training
COPY --from=venv-training /opt/occuloop /opt/occuloop
USER 10001:10001
# A batch job started by the k8s glue (which replaces the command): nothing to health-check.
HEALTHCHECK NONE
ENTRYPOINT ["occuloop"]
CMD ["train", "--help"]

FROM runtime AS serving
COPY --from=venv-serving /opt/occuloop /opt/occuloop
USER 10001:10001
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s \
  CMD ["python", "-c", "import socket; socket.create_connection(('127.0.0.1', 8080), timeout=4).close()"]
ENTRYPOINT ["occuloop"]
CMD ["serving", "run", "--host", "0.0.0.0", "--port", "8080"]

# The serving image for model packages without model.onnx (served from their SavedModel): only while such a
# package must stay in service; retraining gives it an ONNX graph. The serving target with TensorFlow added.
FROM serving AS serving-tensorflow
COPY --from=venv-serving-tensorflow /opt/occuloop /opt/occuloop
