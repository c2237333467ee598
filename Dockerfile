# syntax=docker/dockerfile:1
# occuloop container image. Today it has one target, `server`: the embedded ClearML-compatible server.
# The training and serving targets, the Helm chart and the container checks come with issue 9.
#
#   docker build --target server -t occuloop-server:0.1.0 .
#   docker run -p 8008:8008 -p 8081:8081 -v occuloop-data:/data occuloop-server:0.1.0
ARG PYTHON_IMAGE=python:3.11.7-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
WORKDIR /src
COPY requirements.lock pyproject.toml README.md ./
COPY services ./services
COPY training ./training
COPY serving ./serving
# Only the runtime dependencies of the project, at the versions of the lock (no TensorFlow in this image).
RUN python -m venv /opt/occuloop \
 && /opt/occuloop/bin/pip install --no-cache-dir --constraint requirements.lock .

FROM ${PYTHON_IMAGE} AS server
RUN groupadd --gid 10001 occuloop \
 && useradd --uid 10001 --gid 10001 --no-create-home --shell /usr/sbin/nologin occuloop \
 && mkdir -p /data && chown 10001:10001 /data
COPY --from=build /opt/occuloop /opt/occuloop
ENV PATH=/opt/occuloop/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    OCCULOOP_DATA_DIR=/data \
    OCCULOOP_SERVER_HOST=0.0.0.0 \
    OCCULOOP_LOG_FORMAT=json
USER 10001:10001
VOLUME ["/data"]
EXPOSE 8008 8081
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8008/healthz', timeout=4)"]
ENTRYPOINT ["occuloop"]
CMD ["server"]
