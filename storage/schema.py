"""Every table of the store, registered on one metadata (what migrations describe)."""

from __future__ import annotations

from sqlmodel import SQLModel

import storage.crm_tables
import storage.dataverse_tables
import storage.lease_tables
import storage.news_tables
import storage.rapport_tables
import storage.sync_tables
import storage.tick_tables  # noqa: F401  (each import registers its tables)

metadata = SQLModel.metadata
