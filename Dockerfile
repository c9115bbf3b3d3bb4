# UniAV Studio: the Gradio app, for Hugging Face Spaces (sdk: docker) or any Docker host.
#   docker build -t uniav-studio .
#   docker run --rm -p 7860:7860 uniav-studio                                   # the bundled model
#   docker run --rm -p 7860:7860 -e UNIAV_MODEL=owner/model uniav-studio        # a Hub model, fetched at start
#   docker build --build-arg UNIAV_MODEL=owner/model -t uniav-studio .          # ... or baked into the image
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

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

# UNIAV_MODEL: empty = the bundled checkpoints/uniav-synth; a Hub repo id (owner/name[@revision]) given at
# build time is downloaded now, so that the container starts without network access to the Hub
ARG UNIAV_MODEL=""
ENV UNIAV_MODEL=${UNIAV_MODEL}
RUN if [ -n "${UNIAV_MODEL}" ]; then \
      python -c "from uniav.studio import ModelRef; from uniav.hub import resolve_model_dir; \
r = ModelRef.parse('${UNIAV_MODEL}'); print('model in', resolve_model_dir(r.name, revision=r.revision))"; \
    fi

EXPOSE 7860
CMD ["python", "app.py"]
