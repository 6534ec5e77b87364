"""metric_daily keeps conversions as integer millionths (`conversions_millionths`, BIGINT), as money
is micros, instead of a float (`conversions`, REAL / DOUBLE PRECISION), so that sums are exact.

Existing rows are converted exactly as far as a stored float allows: each is the double nearest to
what the platform sent (a decimal string of at most six decimals), so its exact binary value times
10^6, rounded half to even to an integer, is the best one can do (and gives the platform's number
back for every count of at most six decimals below 2^53 / 10^6). Done in Python, not SQL: SQLite's
ROUND() rounds half away from zero, and both engines' products of a double and 10^6 are rounded
again. Down, each count becomes the double nearest to millionths / 10^6 (a correctly rounded
division on both engines).

The new column is added with DEFAULT 0 (SQLite adds a NOT NULL column only with a default, and
dropping it again would copy the whole table), declared so in the model too.

The `datadrip sql` views read the column, so they are dropped first and created again (0004's
note: a view naming a dropped column blocks the change). They keep every column and its meaning:
`conversions` is now millionths / 1e6 as a double, like `spend` (so `1537.5` where the float sum
showed `1537.499999…`), and each view gains `conversions_millionths` (the exact integer) as its
last column, so that no existing column moves.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07
"""

from collections.abc import Sequence
from decimal import ROUND_HALF_EVEN, Decimal

import sqlalchemy as sa
from alembic import op

revision: str = '0013'
down_revision: str | None = '0012'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KEY = ("account_id", "level", "date", "entity_id")
LEVEL_VIEWS = {"campaign_daily": "campaign", "adset_daily": "adset", "ad_daily": "ad"}
BATCH = 10_000

# The views as 0004 made them (for the way down) and as they are from here.
OLD_DAILY_METRICS = """
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

OLD_COLUMNS = """agency, client, platform, account_external_id, account_name, currency, level,
    entity_external_id, entity_name, entity_status, campaign_external_id, campaign_name,
    adset_external_id, adset_name, date, spend_micros, spend, impressions, clicks, conversions,
    conversion_value_micros, conversion_value, reach, synced_at, client_id, account_id, entity_id"""

OLD_ACCOUNT_DAILY = """
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
    CAST(m.conversions_millionths AS DOUBLE PRECISION) / 1000000 AS conversions,
    m.conversion_value_micros AS conversion_value_micros,
    CAST(m.conversion_value_micros AS DOUBLE PRECISION) / 1000000 AS conversion_value,
    m.reach AS reach,
    m.synced_at AS synced_at,
    cl.id AS client_id,
    m.account_id AS account_id,
    m.entity_id AS entity_id,
    m.conversions_millionths AS conversions_millionths
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
    conversion_value_micros, conversion_value, reach, synced_at, client_id, account_id, entity_id,
    conversions_millionths"""

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
    CAST(SUM(m.conversions_millionths) AS DOUBLE PRECISION) / 1000000 AS conversions,
    CAST(SUM(m.conversion_value_micros) AS BIGINT) AS conversion_value_micros,
    CAST(SUM(m.conversion_value_micros) AS DOUBLE PRECISION) / 1000000 AS conversion_value,
    COUNT(*) AS campaigns,
    cl.id AS client_id,
    m.account_id AS account_id,
    CAST(SUM(m.conversions_millionths) AS BIGINT) AS conversions_millionths
FROM metric_daily m
JOIN ad_account acc ON acc.id = m.account_id
JOIN client cl ON cl.id = acc.client_id
JOIN agency ag ON ag.id = cl.agency_id
WHERE m.level = 'campaign'
GROUP BY m.account_id, m.date, ag.name, cl.name, cl.id, acc.platform, acc.external_id, acc.name,
    acc.currency
"""



def _drop_views() -> None:
    op.execute("DROP VIEW account_daily")
    for view in reversed(LEVEL_VIEWS):
        op.execute(f"DROP VIEW {view}")
    op.execute("DROP VIEW daily_metrics")


def _create_views(daily: str, columns: str, account: str) -> None:
    op.execute(daily)
    for view, level in LEVEL_VIEWS.items():
        op.execute(f"CREATE VIEW {view} AS SELECT {columns} FROM daily_metrics "
                   f"WHERE level = '{level}'")
    op.execute(account)


def millionths(count: float | None) -> int:
    """The stored double's exact value in millionths, rounded half to even."""
    return int((Decimal(count or 0) * 1_000_000).to_integral_value(ROUND_HALF_EVEN))


def upgrade() -> None:
    _drop_views()
    op.add_column('metric_daily', sa.Column('conversions_millionths', sa.BigInteger(),
                                            nullable=False, server_default='0'))
    bind = op.get_bind()
    where = " AND ".join(f"{name} = :{name}" for name in KEY)
    update = sa.text(f"UPDATE metric_daily SET conversions_millionths = :n WHERE {where}")
    rows = bind.execute(sa.text(f"SELECT {', '.join(KEY)}, conversions FROM metric_daily "
                                "WHERE conversions <> 0")).all()
    for start in range(0, len(rows), BATCH):
        bind.execute(update, [dict(zip(KEY, row[:4], strict=True), n=millionths(row[4]))
                              for row in rows[start:start + BATCH]])
    op.drop_column('metric_daily', 'conversions')
    _create_views(DAILY_METRICS, COLUMNS, ACCOUNT_DAILY)


def downgrade() -> None:
    _drop_views()
    op.add_column('metric_daily', sa.Column('conversions', sa.Float(), nullable=False,
                                            server_default='0'))
    op.execute("UPDATE metric_daily SET conversions = "
               "CAST(conversions_millionths AS DOUBLE PRECISION) / 1000000")
    op.drop_column('metric_daily', 'conversions_millionths')
    _create_views(OLD_DAILY_METRICS, OLD_COLUMNS, OLD_ACCOUNT_DAILY)
