"""Read model: index coordinates as a GiST over point(longitude, latitude).

The GiST over ll_to_earth(latitude, longitude) cost ≈ 20 µs per document write to evaluate and
a cube insertion on top, and every price change rewrites a document; a point GiST is several
times cheaper and serves bbox queries too (so the (latitude, longitude) btree goes). Radius
queries prefilter by the cap's bounding boxes and check earth_distance exactly (the API's
fuelhub_api.geo). docs/read-model.md describes the model.

Revision ID: 0003_point_index
Revises: 0002_admin
Create Date: 2026-11-27
"""

from alembic import op

revision = "0003_point_index"
down_revision = "0002_admin"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        DROP INDEX IF EXISTS store.station_docs_earth_idx;
        DROP INDEX IF EXISTS store.station_docs_latlon_idx;
        CREATE INDEX station_docs_point_idx
            ON store.station_docs USING gist (point(longitude, latitude));
        """
    )


def downgrade() -> None:
    op.execute(
        """
        DROP INDEX IF EXISTS store.station_docs_point_idx;
        CREATE INDEX station_docs_earth_idx
            ON store.station_docs USING gist (ll_to_earth(latitude, longitude));
        CREATE INDEX station_docs_latlon_idx ON store.station_docs (latitude, longitude);
        """
    )
