"""Read-only pages: the sources' data (stations, prices, history) and the audit log."""

from __future__ import annotations

from typing import Any, ClassVar

from sqladmin import ModelView
from sqladmin.filters import AllUniqueStringValuesFilter, OperationColumnFilter

from fuelhub_store.admin.models import AuditEntry, CurrentPrice, PriceHistory, Station

SOURCE_OWNED = "Owned by the sources: read-only here, since the next poll would overwrite any edit."


class _ReadOnly(ModelView):
    can_create = False
    can_edit = False
    can_delete = False
    can_export = False
    page_size = 50
    category = "Data (read-only)"


class StationAdmin(_ReadOnly, model=Station):
    name = "Station"
    name_plural = "Stations"
    icon = "fa-solid fa-location-dot"
    column_list: ClassVar[list[Any]] = ["id", "number", "address", "services", "deleted"]
    column_searchable_list: ClassVar[list[Any]] = ["address"]
    column_sortable_list: ClassVar[list[Any]] = ["id", "number", "updated_at"]
    column_filters: ClassVar[list[Any]] = [
        OperationColumnFilter(Station.number),
        OperationColumnFilter(Station.address),
    ]
    column_descriptions: ClassVar[dict[str, str]] = {"address": SOURCE_OWNED}


class CurrentPriceAdmin(_ReadOnly, model=CurrentPrice):
    name = "Current price"
    name_plural = "Current prices"
    icon = "fa-solid fa-tag"
    column_list: ClassVar[list[Any]] = [
        "station_id",
        "fuel_type_id",
        "price",
        "currency",
        "updated_at",
    ]
    column_sortable_list: ClassVar[list[Any]] = ["station_id", "price", "updated_at"]
    column_filters: ClassVar[list[Any]] = [
        OperationColumnFilter(CurrentPrice.station_id),
        OperationColumnFilter(CurrentPrice.fuel_type_id),
        AllUniqueStringValuesFilter(CurrentPrice.currency),
    ]
    column_descriptions: ClassVar[dict[str, str]] = {"price": SOURCE_OWNED}


class PriceHistoryAdmin(_ReadOnly, model=PriceHistory):
    name = "Price change"
    name_plural = "Price history"
    icon = "fa-solid fa-clock-rotate-left"
    column_list: ClassVar[list[Any]] = [
        "station_id",
        "fuel_type_id",
        "price",
        "currency",
        "observed_at",
    ]
    column_sortable_list: ClassVar[list[Any]] = ["station_id", "observed_at"]
    column_default_sort: ClassVar[Any] = ("observed_at", True)
    column_filters: ClassVar[list[Any]] = [
        OperationColumnFilter(PriceHistory.station_id),
        OperationColumnFilter(PriceHistory.fuel_type_id),
        OperationColumnFilter(PriceHistory.observed_at),
    ]


class AuditLogAdmin(_ReadOnly, model=AuditEntry):
    name = "Audit entry"
    name_plural = "Audit log"
    icon = "fa-solid fa-list-check"
    category = "Administration"
    column_list: ClassVar[list[Any]] = [
        "at",
        "actor",
        "action",
        "target_type",
        "target_id",
        "before",
        "after",
    ]
    column_searchable_list: ClassVar[list[Any]] = ["actor", "action", "target_id"]
    column_sortable_list: ClassVar[list[Any]] = ["at", "actor", "action"]
    column_default_sort: ClassVar[Any] = ("at", True)
    column_filters: ClassVar[list[Any]] = [
        AllUniqueStringValuesFilter(AuditEntry.actor),
        AllUniqueStringValuesFilter(AuditEntry.action),
        AllUniqueStringValuesFilter(AuditEntry.target_type),
        OperationColumnFilter(AuditEntry.at),
    ]
