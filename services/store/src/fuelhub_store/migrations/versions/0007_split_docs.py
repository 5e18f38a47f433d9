"""Read model in two parts: a station's catalog part apart from its fuels and feed position.

A price change used to rewrite the station's whole document: a 1.75 KB row and seven index
entries (the primary key, ``seq``, ``updated_at``, ``number``, two GINs and the point GiST), all
non-HOT since ``seq`` changes. Prices change several times a day; the catalog every few days.
Now:

* ``station_doc_heads`` holds what the catalog decides: ``deleted``, the coordinates, the number,
  the service ids, the document's head (``{"id":…,"image_urls":[…]``) and its services. Written
  only when the station's catalog entry (or a service's name or icon) changes.
* ``station_doc_fuels`` holds what prices decide, and the station's position in the applied feed:
  ``seq`` and ``updated_at`` of its latest change of any kind, the fuel type ids and the rendered
  fuels of v1 and v2. Written on every change of the station: ≈ 1 KB, four index entries.
* ``station_docs`` is a view with the columns the table had (``doc_v1`` and ``doc_v2`` are
  concatenated from the two parts; the texts are the same as before), so readers keep one name.
  It is a LEFT JOIN so that a query using only the catalog part never touches the fuels (the
  planner removes the join); a condition on a fuels column makes it an inner join that can start
  from the fuels' indexes.

Existing documents are split by position: ``,"fuels":[`` and ``],"services":[`` cannot occur
inside a JSON string (their quotes would be escaped), so their first occurrences are the
boundaries. The downgrade concatenates them back.

Revision ID: 0007_split_docs
Revises: 0006_outbox_text
Create Date: 2026-11-27
"""

from alembic import op

revision = "0007_split_docs"
down_revision = "0006_outbox_text"
branch_labels = None
depends_on = None

VIEW = r"""
CREATE VIEW store.station_docs AS
SELECT h.station_id, f.seq, h.deleted, f.updated_at, h.latitude, h.longitude, h.number,
    f.fuel_type_ids, h.service_ids,
    CASE WHEN NOT h.deleted THEN concat(
        h.head, ',"fuels":[', f.fuels_v1, '],"services":[', h.services, ']}') END AS doc_v1,
    CASE WHEN NOT h.deleted THEN concat(
        h.head, ',"fuels":[', f.fuels_v2, '],"services":[', h.services,
        '],"updated_at":', to_json(f.updated_at), '}') END AS doc_v2
FROM store.station_doc_heads AS h
LEFT JOIN store.station_doc_fuels AS f ON f.station_id = h.station_id;
GRANT SELECT ON store.station_docs, store.station_doc_heads, store.station_doc_fuels
    TO fuelhub_reader;
"""

UPGRADE = r"""
ALTER TABLE store.station_docs RENAME TO station_doc_heads;
ALTER INDEX store.station_docs_pkey RENAME TO station_doc_heads_pkey;
ALTER INDEX store.station_docs_point_idx RENAME TO station_doc_heads_point_idx;
ALTER INDEX store.station_docs_number_idx RENAME TO station_doc_heads_number_idx;
ALTER INDEX store.station_docs_services_idx RENAME TO station_doc_heads_services_idx;

CREATE TABLE store.station_doc_fuels (
    station_id bigint PRIMARY KEY,
    seq bigint NOT NULL,
    updated_at timestamptz NOT NULL,
    fuel_type_ids integer[] NOT NULL DEFAULT '{}',
    fuels_v1 text,
    fuels_v2 text
);
INSERT INTO store.station_doc_fuels
    (station_id, seq, updated_at, fuel_type_ids, fuels_v1, fuels_v2)
SELECT station_id, seq, updated_at, fuel_type_ids,
    nullif(split_part(split_part(doc_v1, ',"fuels":[', 2), '],"services":[', 1), ''),
    nullif(split_part(split_part(doc_v2, ',"fuels":[', 2), '],"services":[', 1), '')
FROM store.station_doc_heads;
CREATE INDEX station_doc_fuels_seq_idx ON store.station_doc_fuels (seq);
CREATE INDEX station_doc_fuels_updated_idx ON store.station_doc_fuels (updated_at);
CREATE INDEX station_doc_fuels_fuels_idx ON store.station_doc_fuels USING gin (fuel_type_ids);

ALTER TABLE store.station_doc_heads ADD COLUMN head text, ADD COLUMN services text;
UPDATE store.station_doc_heads SET
    head = split_part(doc_v1, ',"fuels":[', 1),
    services = nullif(left(split_part(doc_v1, '],"services":[', 2), -2), '')
WHERE doc_v1 IS NOT NULL;
-- Their indexes (seq, updated_at, the fuels GIN) go with them.
ALTER TABLE store.station_doc_heads
    DROP COLUMN seq, DROP COLUMN updated_at, DROP COLUMN fuel_type_ids,
    DROP COLUMN doc_v1, DROP COLUMN doc_v2;
"""
UPGRADE += VIEW

DOWNGRADE = r"""
ALTER TABLE store.station_doc_heads
    ADD COLUMN seq bigint, ADD COLUMN updated_at timestamptz,
    ADD COLUMN fuel_type_ids integer[] NOT NULL DEFAULT '{}',
    ADD COLUMN doc_v1 text, ADD COLUMN doc_v2 text;
UPDATE store.station_doc_heads AS h SET
    seq = d.seq, updated_at = d.updated_at, fuel_type_ids = d.fuel_type_ids,
    doc_v1 = d.doc_v1, doc_v2 = d.doc_v2
FROM store.station_docs AS d WHERE d.station_id = h.station_id;
DROP VIEW store.station_docs;
DROP TABLE store.station_doc_fuels;
ALTER TABLE store.station_doc_heads
    DROP COLUMN head, DROP COLUMN services,
    ALTER COLUMN seq SET NOT NULL, ALTER COLUMN updated_at SET NOT NULL;
ALTER TABLE store.station_doc_heads RENAME TO station_docs;
ALTER INDEX store.station_doc_heads_pkey RENAME TO station_docs_pkey;
ALTER INDEX store.station_doc_heads_point_idx RENAME TO station_docs_point_idx;
ALTER INDEX store.station_doc_heads_number_idx RENAME TO station_docs_number_idx;
ALTER INDEX store.station_doc_heads_services_idx RENAME TO station_docs_services_idx;
CREATE INDEX station_docs_seq_idx ON store.station_docs (seq);
CREATE INDEX station_docs_updated_idx ON store.station_docs (updated_at);
CREATE INDEX station_docs_fuels_idx ON store.station_docs USING gin (fuel_type_ids);
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
