# The gridmarket API and web app. Front-end packages come from the npm registry at build time.
FROM node:20-bookworm-slim AS web
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund

FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 GRIDMARKET_NODE_MODULES=/app/node_modules
WORKDIR /app
COPY pyproject.toml README.md ./
COPY gridmarket ./gridmarket
RUN pip install --no-cache-dir .
COPY --from=web /app/node_modules ./node_modules
RUN useradd --system --home /app gridmarket
USER gridmarket
EXPOSE 8000
CMD ["gridmarket", "serve", "--host", "0.0.0.0", "--port", "8000"]
