# CPU image of the bot and of the inference tier (Ray Serve). NOT BUILT OR RUN on the
# machine this was written on (no container engine there): treat it as a starting point.
# CUDA variant: start FROM nvidia/cuda:13.0.0-cudnn-runtime-ubuntu24.04 with Python 3.11,
# keep onnxruntime-gpu (it needs CUDA 13 and cuDNN 9) and give replicas `num_gpus: 1`
# in deploy/serve.yaml.
FROM python:3.11-slim

WORKDIR /app
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY training ./training
COPY exported_models ./exported_models
COPY deploy ./deploy
RUN pip install --no-cache-dir -e ".[scale]"

ENV RNNBOT_MODEL_DIR=/app/exported_models \
    RNNBOT_SETTINGS_DB=/data/settings.sqlite3 \
    RNNBOT_METRICS_PORT=9108
VOLUME /data
EXPOSE 9108
CMD ["python", "-m", "bot"]
