# Production image: gunicorn on Python 3.11-slim, non-root. Migrations are a separate
# command (`docker run ... flask db upgrade`), never run at start-up.
FROM python:3.11-slim AS base

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    APP_ENV=production \
    FLASK_APP=wsgi.py

WORKDIR /srv/app

COPY requirements.txt ./
RUN pip install --no-cache-dir -r requirements.txt

COPY app ./app
COPY migrations ./migrations
COPY config.py wsgi.py gunicorn.conf.py babel.cfg ./
RUN pybabel compile -d app/translations \
    && useradd --system --uid 10001 --home-dir /srv/app --shell /usr/sbin/nologin appuser \
    && mkdir -p /srv/app/instance && chown appuser /srv/app/instance

USER appuser
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --retries=3 \
    CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4).status == 200 else 1)"
CMD ["gunicorn", "--config", "gunicorn.conf.py", "wsgi:app"]
