# The training image for remote steps (SageMaker training jobs, Kubernetes Jobs): Modelway and
# its runtime libraries, run as a non-root user. The pipeline code itself is not baked in: each
# job downloads the step's code bundle from the stack's artifact store (see
# platform/modelway/backends/remote.py), so one image serves every pipeline of a Modelway version.
#
#   docker build -t modelway-training .
#
# The base is pinned to an exact Python patch release; CI (.github/workflows/image.yml) pushes
# the result to the stack's ECR repository tagged with the commit, and steps run it by digest.
ARG PYTHON_IMAGE=python:3.11.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY platform ./platform
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM ${PYTHON_IMAGE}
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    MODELWAY_SM_ROOT=/opt/ml
COPY --from=build /wheels /wheels
RUN pip install --no-index --find-links=/wheels modelway \
    && rm -rf /wheels \
    && useradd --uid 10001 --user-group --create-home --shell /usr/sbin/nologin modelway \
    && mkdir -p /opt/ml/checkpoints /opt/ml/output /opt/ml/input/config /opt/ml/model \
    && chown -R 10001:10001 /opt/ml
USER 10001:10001
WORKDIR /home/modelway
ENTRYPOINT ["python", "-m", "modelway.backends.remote"]
