# syntax=docker/dockerfile:1
# UniAV Studio: the Gradio app, for Hugging Face Spaces (sdk: docker) or any Docker host.
#   docker build -t uniav-studio .
#   docker run --rm -p 7860:7860 uniav-studio                                   # the bundled model
#   docker run --rm -p 7860:7860 -e UNIAV_MODEL=owner/model uniav-studio        # a Hub model, fetched at start
#   docker run --rm -p 7860:7860 -e UNIAV_MODEL=owner/private -e HF_TOKEN=hf_... uniav-studio   # a private one
#   docker build --build-arg UNIAV_MODEL=owner/model -t uniav-studio .          # ... or baked into the image
#   docker build --build-arg UNIAV_MODEL=owner/private --secret id=HF_TOKEN,env=HF_TOKEN -t uniav-studio .
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# FFmpeg's command-line tools: Gradio converts uploads browsers cannot play (.avi, .mkv, .mov...) for the
# player with them (the analysis itself decodes through PyAV's own FFmpeg libraries)
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ffmpeg \
    && rm -rf /var/lib/apt/lists/*

# CPU-only PyTorch: the pins of requirements.txt resolve to the +cpu wheels of this index (no CUDA download)
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
COPY requirements.txt /tmp/requirements.txt
RUN pip install --extra-index-url "${TORCH_INDEX_URL}" -r /tmp/requirements.txt && rm /tmp/requirements.txt

# Spaces runs the container as uid 1000; so does this image everywhere
RUN useradd --create-home --uid 1000 user
USER user
ENV HOME=/home/user \
    HF_HOME=/home/user/.cache/huggingface \
    UNIAV_CACHE=/home/user/.cache/uniav \
    GRADIO_SERVER_NAME=0.0.0.0 \
    GRADIO_SERVER_PORT=7860 \
    GRADIO_ANALYTICS_ENABLED=False \
    UNIAV_MAX_UPLOAD_MB=200 \
    UNIAV_CONCURRENCY=2
WORKDIR /home/user/app

# the project: app.py, the uniav package, the bundled model in checkpoints/, the examples in assets/
COPY --chown=user . .

# UNIAV_MODEL: empty = the bundled model; a Hub repo id (owner/name[@revision]) given at build time (a Space
# variable is one) is downloaded now, so that the container starts without waiting for the Hub. A private
# model needs the token: a build secret HF_TOKEN (a Space secret is one; `--secret id=HF_TOKEN` elsewhere).
# Without it the download is left to start-up, where the app reads HF_TOKEN from the environment.
ARG UNIAV_MODEL=""
ENV UNIAV_MODEL=${UNIAV_MODEL}
RUN --mount=type=secret,id=HF_TOKEN,mode=0444,required=false \
    if [ -n "${UNIAV_MODEL}" ]; then \
      HF_TOKEN="$(cat /run/secrets/HF_TOKEN 2>/dev/null || true)" python -m uniav.studio.prefetch; \
    fi

EXPOSE 7860
CMD ["python", "app.py"]
