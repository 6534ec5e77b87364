"""Views for `datadrip sql`: daily numbers with agency, client, account, currency and names
resolved (daily_metrics; campaign_daily, adset_daily, ad_daily; account_daily). Documented
column by column in docs/sql.md: they are an interface, so a released view is never changed in
place; a later revision drops and recreates it.

Written in SQL that SQLite and PostgreSQL both run. Money stays integer micros (`*_micros`);
`spend` and `conversion_value` are display values in currency units (a double).

A later revision that rebuilds one of the tables these views read (on SQLite, a batch
alter_column or drop_column copies the table, drops it and renames the copy) must drop the views
first and create them again afterwards: SQLite refuses to rename a table while a view names a
table that is gone.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# An ad's parent is its ad set, an ad set's parent its campaign (entity.parent_id).
DAILY_METRICS = """
CREATE VIEW daily_metrics AS
SELECT
    ag.name AS agency,
    cl.name AS client,
    acc.platform AS platform,
    acc.external_id AS account_external_id,
    acc.name AS account_name,
    acc.currency AS currency,
    m.level AS level,
    e.external_id AS entity_external_id,
    e.name AS entity_name,
    e.status AS entity_status,
    CASE m.level WHEN 'campaign' THEN e.external_id WHEN 'adset' THEN p.external_id
        WHEN 'ad' THEN gp.external_id END AS campaign_external_id,
    CASE m.level WHEN 'campaign' THEN e.name WHEN 'adset' THEN p.name
        WHEN 'ad' THEN gp.name END AS campaign_name,
    CASE m.level WHEN 'adset' THEN e.external_id WHEN 'ad' THEN p.external_id
        END AS adset_external_id,
    CASE m.level WHEN 'adset' THEN e.name WHEN 'ad' THEN p.name END AS adset_name,
    m.date AS date,
    m.spend_micros AS spend_micros,
    CAST(m.spend_micros AS DOUBLE PRECISION) / 1000000 AS spend,
    m.impressions AS impressions,
    m.clicks AS clicks,
    m.conversions AS conversions,
    m.conversion_value_micros AS conversion_value_micros,
    CAST(m.conversion_value_micros AS DOUBLE PRECISION) / 1000000 AS conversion_value,
    m.reach AS reach,
    m.synced_at AS synced_at,
    cl.id AS client_id,
    m.account_id AS account_id,
    m.entity_id AS entity_id
FROM metric_daily m
JOIN ad_account acc ON acc.id = m.account_id
JOIN client cl ON cl.id = acc.client_id
JOIN agency ag ON ag.id = cl.agency_id
LEFT JOIN entity e ON e.id = m.entity_id
LEFT JOIN entity p ON p.id = e.parent_id
LEFT JOIN entity gp ON gp.id = p.parent_id
"""

COLUMNS = """agency, client, platform, account_external_id, account_name, currency, level,
    entity_external_id, entity_name, entity_status, campaign_external_id, campaign_name,
    adset_external_id, adset_name, date, spend_micros, spend, impressions, clicks, conversions,
    conversion_value_micros, conversion_value, reach, synced_at, client_id, account_id, entity_id"""

# Meta and Google both sync every campaign: an account's day is the sum of its campaigns' days.
# Reach is left out: people reached by two campaigns would be counted twice.
ACCOUNT_DAILY = """
CREATE VIEW account_daily AS
SELECT
    ag.name AS agency,
    cl.name AS client,
    acc.platform AS platform,
    acc.external_id AS account_external_id,
    acc.name AS account_name,
    acc.currency AS currency,
    m.date AS date,
    CAST(SUM(m.spend_micros) AS BIGINT) AS spend_micros,
    CAST(SUM(m.spend_micros) AS DOUBLE PRECISION) / 1000000 AS spend,
    CAST(SUM(m.impressions) AS BIGINT) AS impressions,
    CAST(SUM(m.clicks) AS BIGINT) AS clicks,
    SUM(m.conversions) AS conversions,
    CAST(SUM(m.conversion_value_micros) AS BIGINT) AS conversion_value_micros,
    CAST(SUM(m.conversion_value_micros) AS DOUBLE PRECISION) / 1000000 AS conversion_value,
    COUNT(*) AS campaigns,
    cl.id AS client_id,
    m.account_id AS account_id
FROM metric_daily m
JOIN ad_account acc ON acc.id = m.account_id
JOIN client cl ON cl.id = acc.client_id
JOIN agency ag ON ag.id = cl.agency_id
WHERE m.level = 'campaign'
GROUP BY m.account_id, m.date, ag.name, cl.name, cl.id, acc.platform, acc.external_id, acc.name,
    acc.currency
"""

LEVEL_VIEWS = {"campaign_daily": "campaign", "adset_daily": "adset", "ad_daily": "ad"}


def upgrade() -> None:
    op.execute(DAILY_METRICS)
    for view, level in LEVEL_VIEWS.items():
        op.execute(f"CREATE VIEW {view} AS SELECT {COLUMNS} FROM daily_metrics "
                   f"WHERE level = '{level}'")
    op.execute(ACCOUNT_DAILY)


def downgrade() -> None:
    op.execute("DROP VIEW account_daily")
    for view in reversed(LEVEL_VIEWS):
        op.execute(f"DROP VIEW {view}")
    op.execute("DROP VIEW daily_metrics")
