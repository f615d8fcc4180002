# Rapport worker image. CI (.ci/run) mirrors these install steps, since no
# Docker engine runs where this project is built.
#
# Two stages: `build` installs the dependencies and the application into a virtual
# environment; the runtime image gets only that environment (no sources, no pip
# cache). Everything is pure Python: no C compiler is needed.
FROM python:3.11-slim-bookworm AS build

ENV PYTHONDONTWRITEBYTECODE=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VIRTUAL_ENV=/opt/rapport \
    PATH=/opt/rapport/bin:$PATH

RUN python -m venv /opt/rapport

# The runtime's dependencies in their own layer, from the lock (pinned, with hashes;
# tools/lock refreshes it): only a change to the lock rebuilds it, and a rebuild
# installs the same versions.
WORKDIR /src
COPY requirements.lock ./
RUN pip install --no-cache-dir --require-hashes -r requirements.lock

# The application itself, as a wheel (not editable). Not emulator/: it is test code (the `emulator`
# extra), and a wheel built without its directory has none of it; `rapport emulator`
# in the image says how to install it.
COPY pyproject.toml README.md ./
COPY worker ./worker
COPY graph_sync ./graph_sync
COPY consent ./consent
COPY scoring ./scoring
COPY storage ./storage
COPY compliance ./compliance
COPY crm ./crm
COPY insights ./insights
COPY web ./web
COPY news ./news
RUN pip install --no-cache-dir --no-deps .


FROM python:3.11-slim-bookworm AS runtime

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    VIRTUAL_ENV=/opt/rapport \
    PATH=/opt/rapport/bin:$PATH

COPY --from=build /opt/rapport /opt/rapport

RUN useradd --system --uid 10001 --home-dir /var/lib/rapport --create-home rapport
# Numeric, so that a runtime that checks runAsNonRoot can verify it.
USER 10001
WORKDIR /var/lib/rapport

EXPOSE 9464
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:9464/healthz', timeout=4).status == 200 else 1)"]

ENTRYPOINT ["rapport"]
CMD ["worker"]
