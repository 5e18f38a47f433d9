"""Store schema: normalised tables, read model, inbox, parts, guard state, outbox, roles.

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

UPGRADE = r"""
CREATE EXTENSION IF NOT EXISTS cube;
CREATE EXTENSION IF NOT EXISTS earthdistance;

-- Catalogs (ids are ours; names come from the sources; display name and icon from the admin).
CREATE TABLE store.fuel_types (
    id serial PRIMARY KEY,
    name text NOT NULL UNIQUE,
    display_name text,
    icon_path text,
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE store.services (
    id serial PRIMARY KEY,
    name text NOT NULL UNIQUE,
    display_name text,
    icon_path text,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- Source 1's stations. A deleted station keeps its row as a tombstone (deleted, version) so
-- an older change delivered late cannot bring it back.
CREATE TABLE store.stations (
    id bigint PRIMARY KEY,
    latitude numeric(12, 9),
    longitude numeric(13, 9),
    number integer,
    address text,
    image_urls text[] NOT NULL DEFAULT '{}',
    services text[] NOT NULL DEFAULT '{}',
    deleted boolean NOT NULL DEFAULT false,
    version timestamptz NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE store.station_services (
    station_id bigint NOT NULL REFERENCES store.stations (id) ON DELETE CASCADE,
    service_id integer NOT NULL REFERENCES store.services (id),
    position smallint NOT NULL,
    PRIMARY KEY (station_id, service_id)
);
CREATE INDEX station_services_service_idx ON store.station_services (service_id);

-- Source 2's price lists: one entity per station (its version), prices one row per fuel.
CREATE TABLE store.price_lists (
    station_id bigint PRIMARY KEY,
    deleted boolean NOT NULL DEFAULT false,
    version timestamptz NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE store.current_prices (
    station_id bigint NOT NULL,
    fuel_type_id integer NOT NULL REFERENCES store.fuel_types (id),
    price numeric(12, 4) NOT NULL,
    currency char(3) NOT NULL,
    updated_at timestamptz NOT NULL,
    version timestamptz NOT NULL,
    PRIMARY KEY (station_id, fuel_type_id)
);
CREATE INDEX current_prices_fuel_idx ON store.current_prices (fuel_type_id, currency, price);
CREATE TABLE store.price_history (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    station_id bigint NOT NULL,
    fuel_type_id integer NOT NULL,
    price numeric(12, 4),
    currency char(3),
    observed_at timestamptz NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX price_history_station_idx
    ON store.price_history (station_id, fuel_type_id, observed_at);
-- Retention deletes by age; rows arrive roughly in time order, so BRIN is tiny and enough.
CREATE INDEX price_history_observed_brin ON store.price_history USING brin (observed_at);

-- The read model (docs/read-model.md).
CREATE TABLE store.station_docs (
    station_id bigint PRIMARY KEY,
    seq bigint NOT NULL,
    deleted boolean NOT NULL DEFAULT false,
    updated_at timestamptz NOT NULL,
    latitude double precision,
    longitude double precision,
    number integer,
    fuel_type_ids integer[] NOT NULL DEFAULT '{}',
    service_ids integer[] NOT NULL DEFAULT '{}',
    doc_v1 text,
    doc_v2 text
);
CREATE INDEX station_docs_seq_idx ON store.station_docs (seq);
CREATE INDEX station_docs_updated_idx ON store.station_docs (updated_at);
CREATE INDEX station_docs_earth_idx
    ON store.station_docs USING gist (ll_to_earth(latitude, longitude));
CREATE INDEX station_docs_latlon_idx ON store.station_docs (latitude, longitude);
CREATE INDEX station_docs_number_idx ON store.station_docs (number);
CREATE INDEX station_docs_fuels_idx ON store.station_docs USING gin (fuel_type_ids);
CREATE INDEX station_docs_services_idx ON store.station_docs USING gin (service_ids);

-- The applied-change feed. Positions come from the sequence, taken only while holding
-- pg_advisory_xact_lock(73110), so they increase in commit order.
CREATE SEQUENCE store.outbox_seq AS bigint;
CREATE TABLE store.outbox (
    seq bigint PRIMARY KEY,
    kind text NOT NULL,
    entity_id bigint NOT NULL,
    op text NOT NULL,
    payload jsonb,
    event_time timestamptz NOT NULL,
    committed_at timestamptz NOT NULL
);
CREATE INDEX outbox_committed_brin ON store.outbox USING brin (committed_at);
-- How far the relay has published the outbox to the fuelhub.applied exchange.
CREATE TABLE store.outbox_relay (
    id smallint PRIMARY KEY CHECK (id = 1),
    published_seq bigint NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO store.outbox_relay (id) VALUES (1);

-- Bookkeeping: messages applied (inbox), parts waiting for their set, guard state.
CREATE TABLE store.inbox (
    message_id uuid PRIMARY KEY,
    kind text NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX inbox_received_brin ON store.inbox USING brin (received_at);
CREATE TABLE store.change_set_parts (
    change_set_id uuid NOT NULL,
    part integer NOT NULL,
    parts integer NOT NULL,
    kind text NOT NULL,
    message_id uuid NOT NULL,
    body text NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (change_set_id, part)
);
-- Newest applied snapshot per kind ('stations' / 'prices'): every entity it held, and every
-- entity it lacked that is not held back, is known to be current as of snapshot_at.
CREATE TABLE store.snapshot_watermarks (
    kind text PRIMARY KEY,
    snapshot_at timestamptz NOT NULL,
    change_set_id uuid NOT NULL
);
-- Absences the guard holds back (= held deletions), with their consecutive-absence counter.
CREATE TABLE store.absences (
    kind text NOT NULL,
    entity_id bigint NOT NULL,
    count integer NOT NULL,
    first_absent_at timestamptz NOT NULL,
    last_absent_at timestamptz NOT NULL,
    PRIMARY KEY (kind, entity_id)
);
-- Entities the newest snapshot kept without a state (their record was rejected upstream).
CREATE TABLE store.snapshot_kept (
    kind text NOT NULL,
    entity_id bigint NOT NULL,
    PRIMARY KEY (kind, entity_id)
);
-- Approvals of held deletions (written by the admin through fuelhub_store.approvals).
CREATE TABLE store.deletion_approvals (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind text NOT NULL,
    entity_id bigint NOT NULL,
    approved_by text NOT NULL,
    approved_at timestamptz NOT NULL DEFAULT now(),
    applied boolean NOT NULL
);

-- Poll outcomes, for freshness (data_as_of) and the admin's status page.
CREATE TABLE store.source_status (
    source text PRIMARY KEY,
    last_poll_at timestamptz,
    last_outcome text,
    last_success_at timestamptz,
    last_error text,
    last_error_at timestamptz,
    records_seen integer NOT NULL DEFAULT 0,
    records_accepted integer NOT NULL DEFAULT 0,
    records_rejected integer NOT NULL DEFAULT 0,
    rejections jsonb NOT NULL DEFAULT '{}',
    rejection_samples jsonb NOT NULL DEFAULT '[]',
    held_deletions integer NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- Roles are cluster-wide: create them only when missing (another database may have).
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'fuelhub_reader') THEN
        CREATE ROLE fuelhub_reader NOLOGIN;
    END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
END $$;
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'fuelhub_api') THEN
        CREATE ROLE fuelhub_api LOGIN;
    END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
END $$;
GRANT fuelhub_reader TO fuelhub_api;
GRANT USAGE ON SCHEMA store TO fuelhub_reader;
GRANT SELECT ON store.station_docs, store.current_prices, store.fuel_types, store.services,
    store.price_history, store.outbox, store.source_status TO fuelhub_reader;
"""

DOWNGRADE = r"""
DROP TABLE store.source_status, store.deletion_approvals, store.snapshot_kept, store.absences,
    store.snapshot_watermarks, store.change_set_parts, store.inbox, store.outbox_relay,
    store.outbox, store.station_docs, store.price_history, store.current_prices,
    store.price_lists, store.station_services, store.stations, store.services,
    store.fuel_types;
DROP SEQUENCE store.outbox_seq;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
