"""Screenshots of every page of the web app for docs/web.md (run by tools/web-screenshots).

Builds the demo store (`rapport demo`, scored as of a fixed day), serves the trial app
over it with uvicorn on a loopback port, and has Debian's headless Chromium (the browser
tests' helper, tests/web/browser_chromium.py) take a full-page screenshot of the
portfolio, the pipeline, an opportunity's record page, a contact's record page and, when
the app has one, the admin page.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from datetime import datetime
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from storage.engine import create_store_engine
from tests.web.browser_chromium import VIEWPORT, chromium
from tests.web.server import serving
from web.app import trial_app

CHECKOUT = Path(__file__).resolve().parents[2]
DEFAULT_OUT = CHECKOUT / "docs" / "web-screenshots"
DEMO_NOW = "2026-06-01T12:00:00+00:00"


def _worst_deal_with_stakeholders(engine: Engine) -> str:
    """The scored open deal with a weakest key contact and the lowest score."""
    with engine.connect() as connection:
        deal = connection.execute(
            sa.text(
                "SELECT k.record_id FROM relationship_kpi k "
                "JOIN opportunity o ON o.id = k.record_id "
                "WHERE k.record_type = 'opportunity' AND o.status = 'open' "
                "AND k.weakest_contact_id IS NOT NULL AND k.health_score IS NOT NULL "
                "ORDER BY k.health_score, k.record_id LIMIT 1"
            )
        ).scalar()
        if deal is None:
            deal = connection.execute(
                sa.text(
                    "SELECT min(record_id) FROM relationship_kpi WHERE record_type = 'opportunity'"
                )
            ).scalar_one()
    return str(deal)


def _contact_with_introducers(engine: Engine) -> str:
    """A contact someone can introduce, the one with the most interactions."""
    with engine.connect() as connection:
        contact = connection.execute(
            sa.text(
                "SELECT i.record_id FROM introducer i JOIN interaction_party p "
                "ON p.record_type = 'contact' AND p.record_id = i.record_id "
                "WHERE i.record_type = 'contact' "
                "GROUP BY i.record_id ORDER BY count(*) DESC, i.record_id LIMIT 1"
            )
        ).scalar()
        if contact is None:
            contact = connection.execute(sa.text("SELECT min(id) FROM contact")).scalar_one()
    return str(contact)


def take(out: Path, workdir: Path) -> list[Path]:
    """Build the demo store in `workdir`, screenshot every page into `out`; the files."""
    database = workdir / "demo.db"
    rapport = Path(sys.executable).with_name("rapport")
    built = subprocess.run(
        [str(rapport), "demo", "--database", str(database), "--now", DEMO_NOW, "--json"],
        capture_output=True,
        text=True,
        check=False,
    )
    if built.returncode != 0:
        raise SystemExit(f"rapport demo failed ({built.returncode}): {built.stderr.strip()}")
    engine = create_store_engine(f"sqlite:///{database}")
    now = datetime.fromisoformat(DEMO_NOW)
    pages = {
        "portfolio": "/portfolio?limit=25",
        "pipeline": "/pipeline",
        "record-opportunity": f"/records/opportunity/{_worst_deal_with_stakeholders(engine)}",
        "record-contact": f"/records/contact/{_contact_with_introducers(engine)}",
        "admin": "/admin",
    }
    out.mkdir(parents=True, exist_ok=True)
    written = []
    with serving(trial_app(engine, clock=lambda: now)) as web, chromium() as browser:
        context = browser.new_context(base_url=str(web.base_url), viewport=VIEWPORT)
        page = context.new_page()
        for name, path in pages.items():
            answer = page.goto(path)
            status = answer.status if answer else 0
            if name == "admin" and status == 404:
                sys.stderr.write(f"{path}: no admin page in this app yet; not taken\n")
                continue
            if status != 200:
                raise SystemExit(f"{path}: HTTP {status}")
            target = out / f"{name}.png"
            page.screenshot(path=str(target), full_page=True)
            written.append(target)
        context.close()
    engine.dispose()
    return written


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where the PNGs go")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="rapport-screenshots-") as workdir:
        for path in take(args.out, Path(workdir)):
            sys.stdout.write(f"{path}\n")


if __name__ == "__main__":
    main()
