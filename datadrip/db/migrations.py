"""The schema's revisions, in order. Append only: a released revision is never edited."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa

if TYPE_CHECKING:
    from alembic.config import Config

# Kept here as data so that opening an up-to-date workbook never imports alembic.
REVISIONS: tuple[str, ...] = ("0001", "0002", "0003", "0004", "0005", "0006", "0007", "0008",
                              "0009", "0010", "0011", "0012", "0013", "0014", "0015", "0016",
                              "0017", "0018")
HEAD = REVISIONS[-1]
SCRIPTS = Path(__file__).parent / "alembic"


def alembic_config() -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(SCRIPTS))
    return config


def upgrade(connection: sa.Connection, revision: str = "head") -> None:
    """Migrate inside the caller's transaction, so a failed step leaves the old schema whole."""
    from alembic import command

    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, revision)
