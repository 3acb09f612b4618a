# The image behind compose.yaml's web, worker and beat: the same code, the process differs.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DJANGO_SETTINGS_MODULE=config.settings.production

RUN useradd --create-home --uid 10001 app \
    && mkdir -p /app/var \
    && chown -R app:app /app
WORKDIR /app

# Dependencies first, so a code change does not reinstall them.
COPY requirements.lock ./
RUN pip install --requirement requirements.lock

COPY --chown=app:app . .
USER app

# collectstatic only needs the settings to import; these values exist for this step alone.
RUN DJANGO_SECRET_KEY=collectstatic-only DJANGO_ALLOWED_HOSTS=localhost \
    FIELD_ENCRYPTION_KEYS="$(python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())')" \
    python manage.py collectstatic --no-input --verbosity 0

EXPOSE 8000
# Workers, threads and the timeout: config/gunicorn.py (WEB_CONCURRENCY, WEB_THREADS).
CMD ["gunicorn", "-c", "config/gunicorn.py", "config.wsgi:application"]
