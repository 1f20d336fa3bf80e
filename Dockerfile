# CPU image of the bot and of the inference tier (Ray Serve): one image, three roles
# (Ray head with the Serve application, Ray worker, bot), see deploy/compose.yaml and
# docs/deployment.md (what must stay private, Ray's token authentication). Run by
# examples/compose_smoke.py. BASE is any Debian-like image with Python 3.11
# (python:3.11-slim by default; a machine without Docker Hub can debootstrap one, see
# docs/deployment.md).
# CUDA variant: BASE=nvidia/cuda:13.0.0-cudnn-runtime-ubuntu24.04 with Python 3.11 added,
# keep onnxruntime-gpu (it needs CUDA 13 and cuDNN 9) and give the step deployments
# `num_gpus: 1` in deploy/serve.yaml.
ARG BASE=python:3.11-slim
FROM ${BASE}

RUN python3 -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /app
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY training ./training
RUN pip install --no-cache-dir -e ".[scale]"
COPY exported_models ./exported_models
COPY deploy ./deploy

# The metrics listen on the container's loopback unless RNNBOT_METRICS_HOST says otherwise
# (deploy/compose.yaml opens them to the compose network, never to the host).
ENV RNNBOT_MODEL_DIR=/app/exported_models \
    RNNBOT_SETTINGS_DB=/data/settings.sqlite3 \
    RNNBOT_METRICS_PORT=9108
VOLUME /data
EXPOSE 9108
CMD ["python", "-m", "bot"]
