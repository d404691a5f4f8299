"""The trust list page: peer installations and their public keys (system administrators).

The same changes as ``flask federation``, audited the same way; bad input is shown next to
the field with what was typed, and changes nothing.
"""

from __future__ import annotations

from flask import Blueprint, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from app import federation as perms
from app.accounts.reference_data import EU_MEMBER_STATES
from app.core.db import utcnow
from app.core.errors import NotFound
from app.core.forms import attach_field_error, select_choices
from app.core.i18n import country_name
from app.core.permissions import public, requires
from app.extensions import csrf, db, limiter
from app.federation import identity, transport, trust
from app.federation.envelope import MAX_PACKAGE_BYTES
from app.federation.forms import ActionForm, KeyForm, PeerForm

bp = Blueprint("federation", __name__, url_prefix="/admin/federation")

KIND_TITLES = {"referral": _l("Referral"), "receipt": _l("Status receipt"), "request": _l("Request")}
PROBLEM_TITLES = {
    "unreachable": _l("The installation could not be reached"),
    "bad_receipt": _l("Its receipt did not check"),
    "no_encryption_key": _l("No valid encryption key of this installation in the trust list"),
    "error": _l("Delivery failed here; it will be tried again"),
    "suspended": _l("The installation is suspended: kept until it is taken back"),
}
REFUSAL_TITLES = {
    "oversized": _l("too large"),
    "malformed": _l("not a valid package"),
    "wrong_encryption": _l("wrong encryption"),
    "not_for_us": _l("not for that installation"),
    "undecryptable": _l("could not be decrypted"),
    "unsigned": _l("not signed"),
    "untrusted_key": _l("our signing key is not in its trust list"),
    "bad_signature": _l("bad signature"),
    "sender_mismatch": _l("sender does not match the key"),
    "expired": _l("too old"),
    "from_the_future": _l("our clock is ahead of theirs"),
}


def delivery_problem(code: str | None) -> str:
    """A delivery error code, in the reader's language."""
    if not code:
        return ""
    if code.startswith("refused:"):
        reason = code.removeprefix("refused:")
        return str(_("Refused by the installation: %(reason)s", reason=REFUSAL_TITLES.get(reason, reason)))
    if code.startswith("http_"):
        return str(_("The installation answered with error %(status)s", status=code.removeprefix("http_")))
    return str(PROBLEM_TITLES.get(code, code))


def _forms(peer_form: PeerForm | None = None, key_form: KeyForm | None = None) -> tuple[PeerForm, KeyForm]:
    peer_form = peer_form or PeerForm(formdata=None)
    key_form = key_form or KeyForm(formdata=None)
    peer_form.country.choices = select_choices(
        [("", _("Choose a country")), *sorted(((c, country_name(c)) for c in EU_MEMBER_STATES), key=lambda i: i[1])]
    )
    key_form.peer.choices = select_choices(
        [(0, _("Choose an installation")), *((p.id, f"{p.base_url} ({p.country})") for p in trust.peers())]
    )
    return peer_form, key_form


def _page(peer_form: PeerForm | None = None, key_form: KeyForm | None = None, status: int = 200) -> ResponseReturnValue:
    peer_form, key_form = _forms(peer_form, key_form)
    return (
        render_template(
            "admin/trust_list.html",
            peers=trust.peers(),
            ours=identity.public_jwks() if identity.enabled() else None,
            us=identity.us() if identity.enabled() else None,
            undelivered=transport.undelivered(),
            delivery_problem=delivery_problem,
            kind_titles=KIND_TITLES,
            peer_form=peer_form,
            key_form=key_form,
            action_form=ActionForm(),
        ),
        status,
    )


@bp.route("/")
@requires(perms.MANAGE_TRUST_LIST)
def index() -> ResponseReturnValue:
    return _page()


@bp.route("/peers", methods=["POST"])
@requires(perms.MANAGE_TRUST_LIST)
def add_peer() -> ResponseReturnValue:
    form, _keys = _forms(PeerForm())
    if form.validate_on_submit():
        try:
            peer = trust.add_peer(current_user, base_url=form.base_url.data or "", country=form.country.data or "")
        except trust.TrustListError as exc:
            db.session.rollback()
            attach_field_error(form, exc.field, exc.message)
        else:
            db.session.commit()
            flash(_("%(url)s is in the trust list. Add its public keys.", url=peer.base_url), "success")
            return redirect(url_for("federation.index"))
    return _page(peer_form=form, status=400)


@bp.route("/keys", methods=["POST"])
@requires(perms.MANAGE_TRUST_LIST)
def add_key() -> ResponseReturnValue:
    _peers, form = _forms(key_form=KeyForm())
    if form.validate_on_submit():
        peer = next((p for p in trust.peers() if p.id == form.peer.data), None)
        try:
            if peer is None:
                raise trust.TrustListError("peer", _l("Choose an installation."))
            row = trust.add_key(current_user, peer, form.jwk.data or "")
        except trust.TrustListError as exc:
            db.session.rollback()
            attach_field_error(form, "jwk" if exc.field == "jwk" else "peer", exc.message)
        else:
            db.session.commit()
            flash(_("Key %(kid)s added.", kid=row.kid), "success")
            return redirect(url_for("federation.index"))
    return _page(key_form=form, status=400)


@bp.route("/peers/<int:peer_id>/<state>", methods=["POST"])
@requires(perms.MANAGE_TRUST_LIST)
def set_peer_state(peer_id: int, state: str) -> ResponseReturnValue:
    """Suspend an installation, or take it back."""
    peer = next((p for p in trust.peers() if p.id == peer_id), None)
    if peer is None or state not in ("suspend", "reactivate"):
        raise NotFound()
    if not ActionForm().validate_on_submit():
        flash(_("This form has expired. Reload the page and try again."), "error")
        return redirect(url_for("federation.index"))
    try:
        trust.set_peer_active(current_user, peer, active=state == "reactivate")
    except trust.TrustListError as exc:
        db.session.rollback()
        flash(str(exc.message), "error")
    else:
        db.session.commit()
        flash(
            _("%(url)s is suspended: nothing is sent to it or accepted from it.", url=peer.base_url)
            if state == "suspend"
            else _("%(url)s is active again.", url=peer.base_url),
            "success",
        )
    return redirect(url_for("federation.index"))


@bp.route("/outbox/<package_id>/retry", methods=["POST"])
@requires(perms.MANAGE_TRUST_LIST)
def retry_package(package_id: str) -> ResponseReturnValue:
    """Send a package the peer refused again (after fixing the trust list, say)."""
    if not ActionForm().validate_on_submit():
        flash(_("This form has expired. Reload the page and try again."), "error")
        return redirect(url_for("federation.index"))
    try:
        transport.retry_refused(current_user, package_id, now=utcnow())
    except LookupError:
        db.session.rollback()
        flash(_("There is no such refused package."), "error")
    else:
        db.session.commit()
        flash(_("The package will be sent again."), "success")
    return redirect(url_for("federation.index"))


@bp.route("/keys/<kid>/revoke", methods=["POST"])
@requires(perms.MANAGE_TRUST_LIST)
def revoke_key(kid: str) -> ResponseReturnValue:
    if not ActionForm().validate_on_submit():
        flash(_("This form has expired. Reload the page and try again."), "error")
        return redirect(url_for("federation.index"))
    try:
        trust.revoke_key(current_user, kid, now=utcnow())
    except trust.TrustListError as exc:
        db.session.rollback()
        flash(str(exc.message), "error")
    else:
        db.session.commit()
        flash(_("Key %(kid)s revoked: what it signs is refused from now on.", kid=kid), "success")
    return redirect(url_for("federation.index"))


# -- the receiving endpoint (peer installations, not people) ------------------------------

api = Blueprint("federation_api", __name__, url_prefix="/federation")


@api.route("/inbox", methods=["POST"])
@public
@csrf.exempt
@limiter.limit(lambda: str(current_app.config["FEDERATION_INBOX_LIMIT"]))
def inbox() -> ResponseReturnValue:
    """A peer installation delivers a package (a compact JWE). No session: the package's
    signature says who sent it; the answer is a signed receipt, or a refusal code."""
    if (request.content_length or 0) > MAX_PACKAGE_BYTES:
        status, answer = transport.refuse_oversized()
    else:
        status, answer = transport.receive(request.get_data(cache=False)[: MAX_PACKAGE_BYTES + 1], now=utcnow())
    db.session.commit()  # the inbox row and its audit entry, or the refusal's entry
    return jsonify(answer), status
