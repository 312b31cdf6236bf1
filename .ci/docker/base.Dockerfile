# CI's stand-in for python:3.11-slim (no registry is reachable in CI): Debian bookworm's
# own Python 3.11 with venv, plus curl for the engine images' health checks. Built on the
# local Debian base that .ci/docker-up makes with mmdebstrap.
ARG DEBIAN=local/debian:bookworm
FROM ${DEBIAN}
# hadolint ignore=DL3008
RUN apt-get update -qq \
 && apt-get install -y -qq --no-install-recommends python3 python3-venv curl passwd \
 && rm -rf /var/lib/apt/lists/*
