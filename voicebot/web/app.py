"""The web app: create_app(settings) wires sessions, pages, API, live updates and metrics."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.sessions import SessionMiddleware

from voicebot.web import api, live, metrics, pages
from voicebot.web.auth import LoginRequired, Throttle
from voicebot.web.settings import WebSettings

SESSION_HOURS = 12


def create_app(cfg: WebSettings) -> FastAPI:
    app = FastAPI(title="voicebot console", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.cfg = cfg
    app.state.throttle = Throttle()
    app.add_middleware(SessionMiddleware, secret_key=cfg.secret, session_cookie="voicebot_session",
                       max_age=SESSION_HOURS * 3600, same_site="strict", https_only=cfg.https_only)
    app.mount("/static", StaticFiles(directory=str(Path(__file__).with_name("static"))), name="static")
    for module in (pages, api, live, metrics):
        app.include_router(module.router)

    @app.exception_handler(LoginRequired)
    async def _to_login(request: Request, exc: LoginRequired):
        return RedirectResponse(f"/login?next={exc.next_url}", status_code=303)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException):
        wants_html = "text/html" in request.headers.get("accept", "") and not request.url.path.startswith("/api")
        if wants_html and exc.status_code in (403, 404, 400, 409):
            return pages.render(request, "error.html", None, status=exc.status_code,
                                code=exc.status_code, detail=exc.detail)
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)

    @app.middleware("http")
    async def _headers(request: Request, call_next):
        response = await call_next(request)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("Content-Security-Policy",
                                    "default-src 'self'; img-src 'self' data:; style-src 'self'; media-src 'self'")
        return response

    return app
