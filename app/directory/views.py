"""Pages of the directory: search, a service's page with its live capacity, management of
organisations and services, and HSDS export and import."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import phonenumbers
from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import format_timedelta
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from sqlalchemy.orm import joinedload, selectinload

from app import directory as perms
from app.accounts.models import MemberState
from app.accounts.roles import Role
from app.core.db import utcnow
from app.core.errors import NotFound, PermissionDenied
from app.core.forms import attach_field_error, select_choices
from app.core.i18n import all_languages, country_name, language_name
from app.core.permissions import requires
from app.directory import hsds, models, services
from app.directory.forms import ActiveForm, CapacityForm, ImportForm, OrganizationForm, SearchForm, ServiceForm
from app.directory.models import Organization, Service
from app.directory.queries import SEARCH_LIMIT
from app.directory.queries import search as search_services
from app.directory.services import InvalidEntry, OrganizationData, ServiceData
from app.directory.vocabulary import TargetGroup
from app.extensions import db

assert models  # the blueprint registers the area's models

bp = Blueprint("directory", __name__, url_prefix="/directory")


# --- template helpers -----------------------------------------------------------------------


def _since(moment: datetime) -> str:
    """'2 hours ago', in the reader's language."""
    return str(format_timedelta(moment - utcnow(), add_direction=True))


def _phone_display(number: str) -> str:
    try:
        return phonenumbers.format_number(phonenumbers.parse(number), phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    except phonenumbers.NumberParseException:
        return number


@bp.context_processor
def _helpers() -> dict[str, Any]:
    return {
        "directory_perms": perms,
        "language_name": language_name,
        "target_group_title": lambda value: TargetGroup(value).title,
        "since": _since,
        "phone_display": _phone_display,
    }


# --- loading --------------------------------------------------------------------------------


def _service_or_404(service_id: str) -> Service:
    service = db.session.execute(
        select(Service).where(Service.id == service_id).options(joinedload(Service.organization))
    ).scalar_one_or_none()
    if service is None:
        raise NotFound()
    return service


def _visible_service_or_404(service_id: str) -> Service:
    service = _service_or_404(service_id)
    if not services.can_view_service(current_user, service):
        raise NotFound()
    return service


def _managed_organization(organization_id: str) -> Organization:
    organization = db.session.get(Organization, organization_id)
    if organization is None:
        raise NotFound()
    if not services.can_manage_organization(current_user, organization):
        raise PermissionDenied()
    return organization


def _managed_service(service_id: str) -> Service:
    service = _service_or_404(service_id)
    if not services.can_manage_service(current_user, service):
        raise PermissionDenied()
    return service


def _country_choices(only: list[str] | None = None) -> list[tuple[str, str]]:
    codes = db.session.execute(select(MemberState.code)).scalars().all()
    pairs = ((code, country_name(code)) for code in codes if only is None or code in only)
    return sorted(pairs, key=lambda item: item[1])


def _version(form: FlaskForm) -> int:
    text = form.version.data or ""
    return int(text) if text.isdigit() else -1


def _show_problems(form: FlaskForm, exc: InvalidEntry) -> None:
    db.session.rollback()
    for field, message in exc.problems:
        attach_field_error(form, field, message)


# --- search and a service's page ---------------------------------------------------------------


@bp.route("/")
@requires(perms.VIEW_DIRECTORY)
def search() -> ResponseReturnValue:
    form = SearchForm(formdata=request.args or None)
    form.set_choices(_country_choices(), all_languages())
    if not request.args:
        form.country.data = current_user.agency.member_state_code
    results = search_services(form.filters()) if form.validate() else []
    return render_template("directory/search.html", form=form, services=results, limit=SEARCH_LIMIT)


@bp.route("/services/<service_id>")
@requires(perms.VIEW_DIRECTORY)
def service_detail(service_id: str) -> ResponseReturnValue:
    service = _visible_service_or_404(service_id)
    form = CapacityForm(obj=service)
    form.version.data = str(service.version)
    return _service_page(service, form)


def _service_page(service: Service, capacity_form: CapacityForm) -> ResponseReturnValue:
    return render_template(
        "directory/service.html",
        service=service,
        capacity_form=capacity_form,
        can_update_capacity=services.can_update_capacity(current_user, service),
        can_manage=services.can_manage_service(current_user, service),
        active_form=ActiveForm(),
    )


@bp.route("/services/<service_id>/capacity", methods=["POST"])
@requires(perms.UPDATE_CAPACITY)
def update_capacity(service_id: str) -> ResponseReturnValue:
    service = _service_or_404(service_id)
    if not services.can_update_capacity(current_user, service):
        raise PermissionDenied()
    form = CapacityForm()
    if form.validate_on_submit():
        try:
            services.update_capacity(
                current_user,
                service,
                available=form.capacity_available.data,
                maximum=form.capacity_maximum.data,
                version=_version(form),
            )
        except InvalidEntry as exc:
            _show_problems(form, exc)
        else:
            db.session.commit()
            flash(_("The capacity is updated."), "success")
            return redirect(url_for("directory.service_detail", service_id=service.id))
    return _service_page(service, form)


# --- organisations and services ----------------------------------------------------------------


@bp.route("/organisations")
@requires(perms.MANAGE_DIRECTORY)
def organizations() -> ResponseReturnValue:
    rows = (
        db.session.execute(
            select(Organization)
            .where(services.manageable_organizations_filter(current_user))
            .options(selectinload(Organization.services), selectinload(Organization.agency))
            .order_by(Organization.member_state_code, Organization.name)
        )
        .scalars()
        .all()
    )
    return render_template("directory/organizations.html", organizations=rows, active_form=ActiveForm())


@bp.route("/organisations/new", methods=["GET", "POST"])
@requires(perms.MANAGE_DIRECTORY)
def organization_new() -> ResponseReturnValue:
    return _organization_form(None)


@bp.route("/organisations/<organization_id>", methods=["GET", "POST"])
@requires(perms.MANAGE_DIRECTORY)
def organization_edit(organization_id: str) -> ResponseReturnValue:
    return _organization_form(_managed_organization(organization_id))


def _organization_form(organization: Organization | None) -> ResponseReturnValue:
    form = OrganizationForm(obj=organization if request.method == "GET" else None)
    form.member_state_code.choices = select_choices(_country_choices(services.allowed_countries(current_user)))
    agencies = [
        (a.id, f"{a.name} ({a.member_state_code})") for a in services.linkable_agencies(current_user, organization)
    ]
    none = [] if current_user.role == Role.AGENCY_ADMIN else [(0, _("Not an agency on this system"))]
    form.agency_id.choices = select_choices([*none, *agencies])
    if organization is not None and request.method == "GET":
        form.agency_id.data = organization.agency_id or 0
        form.version.data = str(organization.version)
    if form.validate_on_submit():
        data = OrganizationData(
            name=form.name.data or "",
            member_state_code=form.member_state_code.data or "",
            description=form.description.data or "",
            email=form.email.data or "",
            website=form.website.data or "",
            agency_id=form.agency_id.data or None,
        )
        try:
            if organization is None:
                organization = services.create_organization(current_user, data)
            else:
                services.update_organization(current_user, organization, data, version=_version(form))
        except InvalidEntry as exc:
            _show_problems(form, exc)
        else:
            db.session.commit()
            flash(_("The organisation is saved."), "success")
            return redirect(url_for("directory.organizations"))
    return render_template("directory/organization_form.html", form=form, organization=organization)


@bp.route("/organisations/<organization_id>/active", methods=["POST"])
@requires(perms.MANAGE_DIRECTORY)
def organization_set_active(organization_id: str) -> ResponseReturnValue:
    organization = _managed_organization(organization_id)
    form = ActiveForm()
    if form.validate_on_submit():
        services.set_organization_active(current_user, organization, active=form.active.data == "1")
        db.session.commit()
        flash(_("The organisation is saved."), "success")
    return redirect(url_for("directory.organizations"))


@bp.route("/organisations/<organization_id>/services/new", methods=["GET", "POST"])
@requires(perms.MANAGE_DIRECTORY)
def service_new(organization_id: str) -> ResponseReturnValue:
    organization = _managed_organization(organization_id)
    return _service_form(organization, None)


@bp.route("/services/<service_id>/edit", methods=["GET", "POST"])
@requires(perms.MANAGE_DIRECTORY)
def service_edit(service_id: str) -> ResponseReturnValue:
    service = _managed_service(service_id)
    return _service_form(service.organization, service)


def _service_form(organization: Organization, service: Service | None) -> ResponseReturnValue:
    form = ServiceForm(obj=service if request.method == "GET" else None)
    form.set_choices(_country_choices(services.allowed_countries(current_user)), all_languages())
    if request.method == "GET":
        form.member_state_code.data = service.member_state_code if service else organization.member_state_code
        if service is not None:
            form.service_type.data = service.service_type.value
            form.version.data = str(service.version)
    if form.validate_on_submit():
        data = ServiceData(
            name=form.name.data or "",
            service_type=form.service_type.data or "",
            member_state_code=form.member_state_code.data or "",
            region=form.region.data or "",
            description=form.description.data or "",
            languages=list(form.languages.data or []),
            target_groups=list(form.target_groups.data or []),
            eligibility=form.eligibility.data or "",
            opening_hours=form.opening_hours.data or "",
            always_open=bool(form.always_open.data),
            phone=form.phone.data or "",
            email=form.email.data or "",
            capacity_unit=form.capacity_unit.data or "",
        )
        try:
            if service is None:
                service = services.create_service(current_user, organization, data)
            else:
                services.update_service(current_user, service, data, version=_version(form))
        except InvalidEntry as exc:
            _show_problems(form, exc)
        else:
            db.session.commit()
            flash(_("The service is saved."), "success")
            return redirect(url_for("directory.service_detail", service_id=service.id))
    return render_template("directory/service_form.html", form=form, organization=organization, service=service)


@bp.route("/services/<service_id>/active", methods=["POST"])
@requires(perms.MANAGE_DIRECTORY)
def service_set_active(service_id: str) -> ResponseReturnValue:
    service = _managed_service(service_id)
    form = ActiveForm()
    if form.validate_on_submit():
        services.set_service_active(current_user, service, active=form.active.data == "1")
        db.session.commit()
        flash(_("The service is saved."), "success")
    return redirect(url_for("directory.service_detail", service_id=service.id))


# --- export and import ----------------------------------------------------------------------


def _download(body: str, mimetype: str, extension: str) -> Response:
    filename = f"directory-{utcnow():%Y-%m-%d}.{extension}"
    return Response(body, mimetype=mimetype, headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@bp.route("/export.json")
@requires(perms.MANAGE_DIRECTORY)
def export_json() -> ResponseReturnValue:
    rows = hsds.exportable(current_user)
    body = hsds.export_json(rows)
    hsds.record_export(current_user, "json", rows)
    db.session.commit()
    return _download(body, "application/json", "json")


@bp.route("/export.csv")
@requires(perms.MANAGE_DIRECTORY)
def export_csv() -> ResponseReturnValue:
    rows = hsds.exportable(current_user)
    body = hsds.export_csv(rows)
    hsds.record_export(current_user, "csv", rows)
    db.session.commit()
    return _download(body, "text/csv", "csv")


@bp.route("/import", methods=["GET", "POST"])
@requires(perms.MANAGE_DIRECTORY)
def import_file() -> ResponseReturnValue:
    form = ImportForm()
    report = None
    if form.validate_on_submit():
        upload = form.file.data
        report = hsds.import_file(current_user, upload.filename or "", upload.read())
        db.session.commit()  # the import, or only the audit entry of its refusal
        if report.ok:
            flash(
                _(
                    "Imported: %(orgs)s organisations and %(services)s services created,"
                    " %(orgs_updated)s organisations and %(services_updated)s services updated.",
                    orgs=report.organizations_created,
                    services=report.services_created,
                    orgs_updated=report.organizations_updated,
                    services_updated=report.services_updated,
                ),
                "success",
            )
            return redirect(url_for("directory.organizations"))
    return render_template("directory/import.html", form=form, report=report)
