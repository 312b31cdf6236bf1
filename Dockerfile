# Tandem sidecar image: install into a virtual environment in one stage, copy it into a
# clean one that runs as a non-root user.
#
# BASE is any Debian-family image with Python 3.11+ and its venv module; python:3.11-slim
# by default. CI, which reaches no container registry, builds on Debian bookworm's own
# python3 (.ci/docker/base.Dockerfile; docs/engines.md). There is no `# syntax=` line:
# the file uses only what the builder has built in, so neither BuildKit nor the legacy
# builder has to pull a frontend image first.
ARG BASE=python:3.11-slim

FROM ${BASE} AS build
WORKDIR /src
RUN python3 -m venv /opt/tandem
COPY pyproject.toml README.md ./
COPY plugin plugin
COPY encoders encoders
COPY integration integration
COPY proto proto
# The server extra is the sidecar; export turns pulled checkpoints into ONNX (here at
# build time, and at run time for models pulled later).
RUN /opt/tandem/bin/pip install --no-cache-dir --disable-pip-version-check ".[server,export]"

FROM ${BASE} AS runtime
RUN useradd --create-home --uid 10001 tandem
COPY --from=build /opt/tandem /opt/tandem
ENV PATH=/opt/tandem/bin:$PATH
USER 10001
WORKDIR /home/tandem
# PULL_MODELS=1 bakes minilm and splade-tiny (pulled, exported to ONNX) into the image;
# 0 leaves them to the first start (mount /home/tandem/.cache/tandem to keep them).
ARG PULL_MODELS=1
RUN if [ "$PULL_MODELS" = "1" ]; then \
      python -c "from tandem.encoders.loader import load_dense, load_sparse; \
from tandem.encoders.registry import KNOWN_MODELS as M; \
load_dense(M['minilm']); load_sparse(M['splade-tiny'])"; \
    fi
ENV TANDEM_HOST=0.0.0.0 \
    TANDEM_PORT=50051 \
    TANDEM_METRICS_PORT=9464 \
    PYTHONUNBUFFERED=1
EXPOSE 50051 9464
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=30 \
  CMD ["tandem", "health", "--server", "localhost:50051"]
ENTRYPOINT ["tandem"]
CMD ["serve"]
