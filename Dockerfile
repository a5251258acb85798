# Tisser's production image: the same image runs the web server, the workers and the relay.
# Two stages: the first installs the locked dependencies and Tisser with uv; the image
# that runs gets the installed environment and Tisser's code, without uv, without the
# tests (.dockerignore keeps them, .env and the rest out of the build).
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
# The uv that wrote uv.lock.
RUN pip install --no-cache-dir uv==0.13.9
WORKDIR /app
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PROJECT_ENVIRONMENT=/venv \
    UV_PYTHON_DOWNLOADS=never
# Dependencies first: this layer is rebuilt only when the lock changes.
COPY pyproject.toml uv.lock README.md .python-version ./
RUN uv sync --locked --no-dev --no-install-project
COPY . .
# Tisser itself, installed as a link to /app (its templates and translations stay there).
RUN uv sync --locked --no-dev \
 && python -m compileall -q /app

FROM ${PYTHON_IMAGE}
# WeasyPrint needs Pango; HarfBuzz's subset library makes font subsetting several times
# faster than WeasyPrint's fallback (fontTools). Slips in Arabic, Russian, Ukrainian and
# Chinese take the scripts Atkinson Hyperlegible lacks from Debian's Noto faces.
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fontconfig \
      fonts-noto-core fonts-noto-cjk \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /data tisser \
 && mkdir -p /data && chown tisser /data
# The same paths as in the build stage: the environment's scripts and its link to
# Tisser name them.
COPY --from=build /venv /venv
COPY --from=build /app /app
WORKDIR /app
ENV PATH=/venv/bin:$PATH TISSER_DATA_DIR=/data PYTHONUNBUFFERED=1
USER tisser
EXPOSE 8000
CMD ["tisser", "serve", "--host", "0.0.0.0", "--port", "8000"]
