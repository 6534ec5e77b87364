"""`datadrip sql` views of results by action: `action_daily` (every conversion action's count and
value per entity-day, with the names of the client, account, entity, campaign and, from the
account's catalogue, the action) and `conversion_actions` (each account's catalogue).

An action's name comes from the catalogue only (a Meta custom conversion's name, a Google
conversion action's name); a standard Meta action type has no catalogue entry, so its
`action_name` is the type itself ("offsite_conversion.fb_pixel_purchase"). Ads Manager's words
("Purchases") are the Meta plug-in's and are shown by `datadrip metrics --by action`.

Meta's action types overlap (the purchase variants repeat one number; post_engagement contains
link_click), so a SUM over several Meta actions counts conversions twice: docs/sql.md says so.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0016'
down_revision: str | None = '0015'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ACTION_DAILY = """
CREATE VIEW action_daily AS
SELECT
    ag.name AS agency,
    cl.name AS client,
    acc.platform AS platform,
    acc.external_id AS account_external_id,
    acc.name AS account_name,
    acc.currency AS currency,
    x.level AS level,
    e.external_id AS entity_external_id,
    e.name AS entity_name,
    CASE x.level WHEN 'campaign' THEN e.external_id WHEN 'adset' THEN p.external_id
        WHEN 'ad' THEN gp.external_id END AS campaign_external_id,
    CASE x.level WHEN 'campaign' THEN e.name WHEN 'adset' THEN p.name
        WHEN 'ad' THEN gp.name END AS campaign_name,
    x.date AS date,
    x.action AS action,
    COALESCE(k.name, x.action) AS action_name,
    k.kind AS action_kind,
    k.category AS action_category,
    k.included_in_conversions AS included_in_conversions,
    CAST(x.count_millionths AS DOUBLE PRECISION) / 1000000 AS count,
    x.count_millionths AS count_millionths,
    x.value_micros AS value_micros,
    CAST(x.value_micros AS DOUBLE PRECISION) / 1000000 AS value,
    x.synced_at AS synced_at,
    cl.id AS client_id,
    x.account_id AS account_id,
    x.entity_id AS entity_id
FROM metric_action_daily x
JOIN ad_account acc ON acc.id = x.account_id
JOIN client cl ON cl.id = acc.client_id
JOIN agency ag ON ag.id = cl.agency_id
LEFT JOIN conversion_action k ON k.account_id = x.account_id AND k.action = x.action
LEFT JOIN entity e ON e.id = x.entity_id
LEFT JOIN entity p ON p.id = e.parent_id
LEFT JOIN entity gp ON gp.id = p.parent_id
"""

CONVERSION_ACTIONS = """
CREATE VIEW conversion_actions AS
SELECT
    ag.name AS agency,
    cl.name AS client,
    acc.platform AS platform,
    acc.external_id AS account_external_id,
    acc.name AS account_name,
    k.action AS action,
    k.name AS action_name,
    k.kind AS kind,
    k.category AS category,
    k."primary" AS "primary",
    k.included_in_conversions AS included_in_conversions,
    k.status AS status,
    k.updated_at AS updated_at,
    cl.id AS client_id,
    k.account_id AS account_id
FROM conversion_action k
JOIN ad_account acc ON acc.id = k.account_id
JOIN client cl ON cl.id = acc.client_id
JOIN agency ag ON ag.id = cl.agency_id
"""


def upgrade() -> None:
    op.execute(ACTION_DAILY)
    op.execute(CONVERSION_ACTIONS)


def downgrade() -> None:
    op.execute("DROP VIEW conversion_actions")
    op.execute("DROP VIEW action_daily")
