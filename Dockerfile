# Tisser's production image: the same image runs the web server, the workers and the relay.
FROM python:3.11-slim-bookworm

# WeasyPrint needs Pango; HarfBuzz's subset library makes font subsetting several times
# faster than WeasyPrint's fallback (fontTools).
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fontconfig \
 && rm -rf /var/lib/apt/lists/* \
 && pip install --no-cache-dir uv

WORKDIR /app
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PROJECT_ENVIRONMENT=/venv
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --locked --no-dev --no-install-project
COPY . .
RUN uv sync --locked --no-dev \
 && useradd --system --uid 10001 --home-dir /data tisser \
 && mkdir -p /data && chown tisser /data

ENV PATH=/venv/bin:$PATH TISSER_DATA_DIR=/data PYTHONUNBUFFERED=1
USER tisser
EXPOSE 8000
CMD ["tisser", "serve", "--host", "0.0.0.0", "--port", "8000"]
