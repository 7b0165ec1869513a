"""Agent console and wallboard: a FastAPI app with server-rendered pages and live updates (SSE).

Modules: settings (what it runs on), auth (sessions, roles, CSRF, throttling), views (what pages
show), actions (what agents change), pages (HTML), api (JSON), live (SSE), metrics (Prometheus),
charts (server-side SVG), app (wiring)."""
