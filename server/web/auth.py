"""Signing in and out of the web viewer with a server-side session."""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)

from server.errors import AppError
from server.extensions import db, limiter
from server.services import accounts, audit
from server.web import queries

bp = Blueprint("account", __name__)


def _login_limit() -> str:
    return str(current_app.config["LOGIN_RATE_LIMIT"])


def _safe_next(target: str | None) -> str:
    # only same-site paths, never "//host" or a scheme, so sign-in cannot bounce elsewhere
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return url_for("account.home")


@bp.get("/")
def home() -> Any:
    """Show a signed-in user their studies; send anyone else to sign in."""
    if g.user is None:
        return redirect(url_for("account.login"))
    return render_template("studies/index.html", cards=queries.study_cards(g.user))


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
def login() -> Any:
    """Sign in with e-mail and password; a new session is started every time."""
    if request.method == "GET":
        return render_template("auth/login.html", next=request.args.get("next", ""))
    email = request.form.get("email", "")
    try:
        user = accounts.check_credentials(email, request.form.get("password", ""))
    except AppError as error:
        flash(error.message)
        return render_template("auth/login.html", email=email), 401
    old_key = session.get("key")
    if old_key:
        accounts.end_web_session(old_key)
    # a fresh session on sign-in: nothing set before it (fixation) survives
    session.clear()
    session["key"] = accounts.start_web_session(
        user, request.remote_addr, int(current_app.config["SESSION_HOURS"])
    )
    session.permanent = False
    audit.record("auth.login", actor=user, detail={"via": "web"})
    db.session.commit()
    return redirect(_safe_next(request.form.get("next")))


@bp.post("/logout")
def logout() -> Any:
    """End this browser session on the server and forget the cookie."""
    key = session.get("key")
    if key:
        accounts.end_web_session(key)
        audit.record("auth.logout")
    session.clear()
    return redirect(url_for("account.login"))
