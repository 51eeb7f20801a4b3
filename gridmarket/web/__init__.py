"""The browser app: templates and static files (front-end packages come from npm)."""
