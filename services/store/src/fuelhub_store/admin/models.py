"""SQLAlchemy mappings of the store's tables as the admin pages show them (sqladmin needs ORM
classes). Catalog and source-owned tables are only read through them; writes that must rebuild
read-model documents go through :mod:`fuelhub_store.approvals` instead."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, Boolean, Integer, Numeric, String, Text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, TIMESTAMP
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

TZ = TIMESTAMP(timezone=True)


class Base(DeclarativeBase):
    pass


class _CatalogEntry:
    """The columns fuel types and services share (a name from the sources, a presentation)."""

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    display_name: Mapped[str | None] = mapped_column(Text)
    icon_path: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(TZ)

    def __str__(self) -> str:
        return self.display_name or self.name


class FuelType(_CatalogEntry, Base):
    __tablename__ = "fuel_types"
    __table_args__ = {"schema": "store"}  # noqa: RUF012


class Service(_CatalogEntry, Base):
    __tablename__ = "services"
    __table_args__ = {"schema": "store"}  # noqa: RUF012


class FuelAlias(Base):
    __tablename__ = "fuel_aliases"
    __table_args__ = {"schema": "store"}  # noqa: RUF012

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    alias: Mapped[str] = mapped_column(String(100))
    canonical: Mapped[str] = mapped_column(String(100))
    updated_at: Mapped[datetime | None] = mapped_column(TZ, server_default="now()")

    def __str__(self) -> str:
        return f"{self.alias} → {self.canonical}"

    def audit_state(self) -> dict[str, Any]:
        return {"alias": self.alias, "canonical": self.canonical}


class AuditEntry(Base):
    __tablename__ = "admin_audit_log"
    __table_args__ = {"schema": "store"}  # noqa: RUF012

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    at: Mapped[datetime] = mapped_column(TZ, server_default="now()")
    actor: Mapped[str] = mapped_column(Text)
    action: Mapped[str] = mapped_column(Text)
    target_type: Mapped[str] = mapped_column(Text)
    target_id: Mapped[str | None] = mapped_column(Text)
    before: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSONB)


class Station(Base):
    __tablename__ = "stations"
    __table_args__ = {"schema": "store"}  # noqa: RUF012

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    number: Mapped[int | None] = mapped_column(Integer)
    address: Mapped[str | None] = mapped_column(Text)
    latitude: Mapped[Decimal | None] = mapped_column(Numeric(12, 9))
    longitude: Mapped[Decimal | None] = mapped_column(Numeric(13, 9))
    services: Mapped[list[str]] = mapped_column(ARRAY(Text))
    image_urls: Mapped[list[str]] = mapped_column(ARRAY(Text))
    deleted: Mapped[bool] = mapped_column(Boolean)
    version: Mapped[datetime] = mapped_column(TZ)
    updated_at: Mapped[datetime] = mapped_column(TZ)


class CurrentPrice(Base):
    __tablename__ = "current_prices"
    __table_args__ = {"schema": "store"}  # noqa: RUF012

    station_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    fuel_type_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    price: Mapped[Decimal] = mapped_column(Numeric(12, 4))
    currency: Mapped[str] = mapped_column(String(3))
    updated_at: Mapped[datetime] = mapped_column(TZ)


class PriceHistory(Base):
    __tablename__ = "price_history"
    __table_args__ = {"schema": "store"}  # noqa: RUF012

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    station_id: Mapped[int] = mapped_column(BigInteger)
    fuel_type_id: Mapped[int] = mapped_column(Integer)
    price: Mapped[Decimal | None] = mapped_column(Numeric(12, 4))
    currency: Mapped[str | None] = mapped_column(String(3))
    observed_at: Mapped[datetime] = mapped_column(TZ)
    recorded_at: Mapped[datetime] = mapped_column(TZ)
