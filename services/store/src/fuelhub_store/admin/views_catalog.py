"""Catalog pages: fuel types and services (list, search, display name, icon) and fuel aliases."""

from __future__ import annotations

import re
from typing import Any, ClassVar

from fuelhub_common.normalize import fuel_key
from markupsafe import Markup
from sqladmin import ModelView, expose
from sqlalchemy import select
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from fuelhub_store.admin.context import admin_context
from fuelhub_store.admin.icons import MAX_BYTES, IconRejectedError, ProcessedIcon, process_icon
from fuelhub_store.admin.login import session_user
from fuelhub_store.admin.models import FuelAlias, FuelType, Service
from fuelhub_store.admin.security import csrf_ok, csrf_token
from fuelhub_store.admin.service import get_catalog_entry, set_presentation
from fuelhub_store.approvals import Catalog

MAX_DISPLAY_NAME = 100
_PK = re.compile(r"^[1-9][0-9]{0,9}$")


def _icon_cell(model: Any, _attr: Any) -> Markup:
    path = model.icon_path
    image = Markup('<img src="{}" width="32" height="32" alt="icon"> ').format(path) if path else ""
    link = Markup('<a href="presentation/{}">change name / icon</a>').format(model.id)
    return Markup("{}{}").format(image, link)


class _CatalogView(ModelView):
    catalog: ClassVar[Catalog]
    can_create = False
    can_edit = False
    can_delete = False
    can_export = False
    page_size = 50
    column_searchable_list: ClassVar[list[Any]] = ["name", "display_name"]
    column_sortable_list: ClassVar[list[Any]] = ["id", "name", "display_name", "updated_at"]
    column_labels: ClassVar[dict[Any, str]] = {"icon_path": "Icon"}
    column_formatters: ClassVar[dict[Any, Any]] = {"icon_path": _icon_cell}

    @expose("/presentation/{pk}", methods=["GET", "POST"])
    async def presentation(self, request: Request) -> Response:
        """Display name and icon of one entry; an upload replaces the icon only if accepted."""
        pk = request.path_params["pk"]
        if not _PK.fullmatch(pk):
            raise HTTPException(404, "No such entry.")
        ctx = admin_context(request)
        async with ctx.pool.connection() as conn:
            try:
                entry = await get_catalog_entry(conn, self.catalog, int(pk))
            except LookupError:
                raise HTTPException(404, "No such entry.") from None
        context: dict[str, Any] = {"error": None, "message": None}
        status = 200
        if request.method == "POST":
            form = await request.form(max_files=1, max_fields=10)
            try:
                if not csrf_ok(request, form):
                    raise _FormError("The form expired; reload the page and try again.", 403)
                display_name = _display_name(form.get("display_name"))
                icon = await _uploaded_icon(form.get("icon"))
            except _FormError as exc:
                context["error"], status = str(exc), exc.status_code
            else:
                icon_path = entry.icon_path
                if icon is not None:
                    icon_path = ctx.media.save_icon(icon)
                elif form.get("remove_icon") == "on":
                    icon_path = None
                async with ctx.pool.connection() as conn:
                    docs = await set_presentation(
                        conn,
                        catalog=self.catalog,
                        entry_id=entry.id,
                        display_name=display_name,
                        icon_path=icon_path,
                        actor=session_user(request),
                    )
                    entry = await get_catalog_entry(conn, self.catalog, entry.id)
                context["message"] = f"Saved; {docs} station document(s) rewritten."
        context.update(
            entry=entry,
            view=self,
            title=f"{self.name}: {entry.name}",
            csrf_token=csrf_token(request),
            max_mb=MAX_BYTES // 1024 // 1024,
        )
        response: Response = await self.templates.TemplateResponse(
            request, "fuelhub/presentation.html", context, status_code=status
        )
        return response


class _FormError(Exception):
    def __init__(self, message: str, status_code: int = 400) -> None:
        super().__init__(message)
        self.status_code = status_code


def _display_name(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise _FormError("The display name must be text.")
    text = " ".join(value.split())
    if len(text) > MAX_DISPLAY_NAME:
        raise _FormError(f"The display name is longer than {MAX_DISPLAY_NAME} characters.")
    if "\x00" in text:
        raise _FormError("The display name contains a NUL character.")
    return text or None


async def _uploaded_icon(value: object) -> ProcessedIcon | None:
    if not isinstance(value, UploadFile) or not value.filename:
        return None
    data = await value.read(MAX_BYTES + 1)
    try:
        return process_icon(data)
    except IconRejectedError as exc:
        raise _FormError(f"Icon refused: {exc} The previous icon is kept.") from None


class FuelTypeAdmin(_CatalogView, model=FuelType):
    catalog = "fuel_types"
    name = "Fuel type"
    name_plural = "Fuel types"
    icon = "fa-solid fa-gas-pump"
    category = "Catalog"
    column_list: ClassVar[list[Any]] = ["id", "name", "display_name", "icon_path", "updated_at"]


class ServiceAdmin(_CatalogView, model=Service):
    catalog = "services"
    name = "Service"
    name_plural = "Services"
    icon = "fa-solid fa-concierge-bell"
    category = "Catalog"
    column_list: ClassVar[list[Any]] = ["id", "name", "display_name", "icon_path", "updated_at"]


def _alias_spelling(value: object, field: str) -> str:
    text = fuel_key(value) if isinstance(value, str) else ""
    if not text:
        raise ValueError(f"{field}: enter a fuel name.")
    if len(text) > MAX_DISPLAY_NAME or "\x00" in text:
        raise ValueError(f"{field}: at most {MAX_DISPLAY_NAME} characters, no NUL.")
    return text


class FuelAliasAdmin(ModelView, model=FuelAlias):
    """The alias map the ingestors normalise fuel names with (served at /internal/fuel-aliases);
    changes reach the ingestors at their next poll."""

    name = "Fuel alias"
    name_plural = "Fuel aliases"
    icon = "fa-solid fa-right-left"
    category = "Catalog"
    page_size = 50
    column_list: ClassVar[list[Any]] = ["alias", "canonical", "updated_at"]
    column_searchable_list: ClassVar[list[Any]] = ["alias", "canonical"]
    column_sortable_list: ClassVar[list[Any]] = ["alias", "canonical", "updated_at"]
    column_default_sort: ClassVar[Any] = "alias"
    form_columns: ClassVar[list[Any]] = ["alias", "canonical"]
    column_descriptions: ClassVar[dict[str, str]] = {
        "alias": "A spelling an upstream sends, e.g. AI-95",
        "canonical": "The fuel it means, e.g. АИ-95",
    }

    async def on_model_change(
        self, data: dict[str, Any], model: Any, is_created: bool, request: Request
    ) -> None:
        data["alias"] = _alias_spelling(data.get("alias"), "Alias")
        data["canonical"] = _alias_spelling(data.get("canonical"), "Canonical name")
        if data["alias"] == data["canonical"]:
            raise ValueError("The alias and the canonical name are the same after normalisation.")
        async with self.session_maker() as session:
            taken = await session.scalar(
                select(FuelAlias.canonical).where(
                    FuelAlias.alias == data["alias"], FuelAlias.id != (model.id or 0)
                )
            )
        if taken is not None:
            raise ValueError(
                f"The alias {data['alias']} already exists (→ {taken}); edit that one."
            )


__all__ = ["FuelAliasAdmin", "FuelTypeAdmin", "ServiceAdmin"]
