# syntax=docker/dockerfile:1
# Tandem sidecar image: build wheels in one stage, run as a non-root user in the next.

FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY plugin plugin
COPY encoders encoders
COPY integration integration
COPY proto proto
# The server extra is the sidecar; export turns the pulled checkpoints into ONNX in the image.
RUN pip wheel --no-cache-dir --wheel-dir /wheels ".[server,export]"

FROM python:3.11-slim AS runtime
RUN useradd --create-home --uid 10001 tandem
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
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
