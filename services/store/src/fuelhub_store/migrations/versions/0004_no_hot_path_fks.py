"""Hot-path storage: no foreign keys on the bulk-written tables; documents stored uncompressed.

A foreign key is checked by a trigger per inserted row: measured at ≈ 8.5 µs of backend CPU per
row (450,000 prices: 4.9 s with the key, 1.1 s without), which made the checks a large share of
a first sync. The apply already guarantees what they checked: ids in ``current_prices`` and
``station_services`` come only from joins with the catalogs and ``stations`` in the same
statement, catalog rows are never deleted (the admin cannot delete them), and stations are
tombstoned, never removed, with their links deleted in the same transaction. The convergence
and apply tests check that no orphan rows exist (docs/store.md, "Integrity").

A station's two documents (v1 + v2, ≈ 1.6 KB together) often crossed the 2 KB TOAST threshold
and were compressed with pglz on every write and decompressed on every API read; with
``toast_tuple_target`` at its maximum a row stays inline and uncompressed up to ≈ 8 KB.

Revision ID: 0004_no_hot_path_fks
Revises: 0003_point_index
Create Date: 2026-11-27
"""

from alembic import op

revision = "0004_no_hot_path_fks"
down_revision = "0003_point_index"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        ALTER TABLE store.current_prices DROP CONSTRAINT IF EXISTS current_prices_fuel_type_id_fkey;
        ALTER TABLE store.station_services
            DROP CONSTRAINT IF EXISTS station_services_station_id_fkey,
            DROP CONSTRAINT IF EXISTS station_services_service_id_fkey;
        ALTER TABLE store.station_docs SET (toast_tuple_target = 8160);
        """
    )


def downgrade() -> None:
    op.execute(
        """
        ALTER TABLE store.station_docs RESET (toast_tuple_target);
        ALTER TABLE store.current_prices ADD CONSTRAINT current_prices_fuel_type_id_fkey
            FOREIGN KEY (fuel_type_id) REFERENCES store.fuel_types (id);
        ALTER TABLE store.station_services
            ADD CONSTRAINT station_services_station_id_fkey
                FOREIGN KEY (station_id) REFERENCES store.stations (id) ON DELETE CASCADE,
            ADD CONSTRAINT station_services_service_id_fkey
                FOREIGN KEY (service_id) REFERENCES store.services (id);
        """
    )
