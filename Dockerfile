# The digest scheduler in a container. Build: docker build -t digest .
# Run: docker run -v "$PWD/data:/data" -e DIGEST_SECRET=... digest
# /data holds digest.toml, subscribers.csv, the state dir and the outbox; with no digest.toml
# there, the bundled sample config is used and its state goes to /data.
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN groupadd --system --gid 10001 digest \
    && useradd --system --uid 10001 --gid digest --home-dir /data --no-create-home \
       --shell /usr/sbin/nologin digest \
    && mkdir /data \
    && chown digest:digest /data

# As `make demo` does: exactly the locked packages, hashes checked, nothing resolved; then digest
# itself, built by the locked hatchling. Only what the wheel needs: it force-includes templates/ and samples/.
WORKDIR /src
COPY requirements.txt ./
RUN pip install --no-cache-dir --require-hashes --no-deps -r requirements.txt
COPY pyproject.toml README.md ./
COPY digest/ digest/
COPY templates/ templates/
COPY samples/ samples/
RUN pip install --no-cache-dir --no-deps --no-build-isolation . \
    && pip check \
    && rm -rf /src/*

WORKDIR /data
# Declared after the chown so a fresh named volume starts out writable by the digest user.
VOLUME ["/data"]
# Numeric, so runtimes can verify it is not root without reading /etc/passwd.
USER 10001:10001

# `digest schedule`, `run` and `send` handle SIGTERM and SIGINT alike (finish the batch in flight,
# record it, exit). As PID 1, Python ignores a SIGTERM it has no handler for, so SIGINT also
# stops the commands that have none (preview --serve, serve) instead of waiting for SIGKILL.
STOPSIGNAL SIGINT

# No HEALTHCHECK: the same image runs `schedule`, `serve` or one-off commands, and no single
# probe fits them all.
# ENTRYPOINT + CMD so any subcommand runs as `docker run IMAGE preview --format text`.
ENTRYPOINT ["digest"]
CMD ["schedule"]
