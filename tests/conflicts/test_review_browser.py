"""The review app in a real browser: open the list, a conflict, resolve it, see a refusal.

The conflict page's screenshot in the docs (``docs/review-conflict.png``) is
taken here: ``OCC_SCREENSHOTS=1 python -m pytest tests/conflicts/test_review_browser.py``
refreshes it.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import occ.sql
from occ.review import TokenAuth, review_app
from tests.conflicts.browser import chromium, require_browser, served
from tests.conflicts.reviewapp import ACCOUNT, App, make_app

pytestmark = pytest.mark.timeout(120)

TOKEN = "t" * 24
DOCS = Path(__file__).resolve().parents[2] / "docs"


@pytest.fixture
def site(tmp_path: Path) -> Iterator[tuple[App, str]]:
    require_browser()
    app = make_app(f"sqlite:///{tmp_path / 'app.db'}")
    app.accounts.insert({"id": 1, "owner": "Ada", "balance": 100})
    app.accounts.insert({"id": 2, "owner": "Grace <script>alert(1)</script>", "balance": 40})
    secret = b"k" * 32
    repos = {"account": occ.sql.Repository(app.engine, ACCOUNT)}
    asgi = review_app(app.store, repos, authenticate=TokenAuth(TOKEN, secret), secret=secret)
    with served(asgi) as url:
        yield app, url
    occ.sql.dispose(app.engine)


def click(driver: Any, text: str) -> None:
    """Click the button labelled ``text`` and wait for the page it leads to."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.wait import WebDriverWait

    old = driver.find_element(By.TAG_NAME, "html")
    driver.find_element(By.XPATH, f"//button[contains(normalize-space(.), '{text}')]").click()
    WebDriverWait(driver, 15).until(expected_conditions.staleness_of(old))


def test_open_the_list_open_a_conflict_resolve_it(site: tuple[App, str], tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    app, url = site
    cid = app.stale_write(1, owner="Ada Lovelace")
    app.stale_write(2, owner="Grace Hopper")
    with chromium() as driver:
        driver.get(f"{url}/")
        assert "Sign in first" in driver.page_source  # no token, no page
        driver.get(f"{url}/login?token={TOKEN}")
        assert driver.title == "Conflicts"
        rows = driver.find_elements(By.CSS_SELECTOR, "table.conflicts tbody tr")
        assert len(rows) == 2
        driver.find_element(By.CSS_SELECTOR, f"a[href$='/c/{cid}']").click()
        assert "account" in driver.title
        cells = {
            row.find_element(By.TAG_NAME, "th").text: [
                td.text for td in row.find_elements(By.TAG_NAME, "td")
            ]
            for row in driver.find_elements(By.CSS_SELECTOR, "table.sides tbody tr")
        }
        assert cells["owner"] == ["Ada", "Ada Lovelace", "Ada", "Ada"]
        assert cells["balance"] == ["100", "100", "150", "150"]
        highlighted = driver.find_element(By.XPATH, "//tr[th='owner']").get_attribute("class")
        assert "mine" in highlighted
        shot = tmp_path / "review-conflict.png"
        driver.save_screenshot(str(shot))
        if os.environ.get("OCC_SCREENSHOTS"):
            shutil.copy(shot, DOCS / "review-conflict.png")
        click(driver, "Take mine")
        assert "by token" in driver.find_element(By.CSS_SELECTOR, "dd.resolution").text
    row = app.row(1)
    assert (row.value["owner"], row.version) == ("Ada Lovelace", 3)


def test_a_stale_resolution_is_refused_in_the_browser(site: tuple[App, str]) -> None:
    from selenium.webdriver.common.by import By

    app, url = site
    cid = app.stale_write(2, owner="Grace Hopper")
    with chromium(390, 844, phone=True) as driver:
        driver.get(f"{url}/login?token={TOKEN}")
        driver.get(f"{url}/c/{cid}")
        assert "<script>" in driver.find_element(By.XPATH, "//tr[th='owner']").text  # as text
        app.accounts.update(2, {"balance": 7}, expected_version=2)  # moves while on the page
        click(driver, "Take mine")
        alert = driver.find_element(By.CSS_SELECTOR, "p.refused").text
        assert "is now at version 3" in alert
        assert "Nothing was written" in alert
        now = driver.find_element(By.XPATH, "//tr[th='balance']/td[@class='now']").text
        assert now == "7"
        assert app.store.get(cid).status == "pending"
        click(driver, "Take mine over v3")
        assert (
            "mine (over a later version)"
            in driver.find_element(By.CSS_SELECTOR, "dd.resolution").text
        )
        page, screen = driver.execute_script(
            "return [document.documentElement.scrollWidth, window.innerWidth]"
        )
        assert page <= screen  # readable on a phone: the page never scrolls sideways
    row = app.row(2)
    assert (row.value["owner"], row.value["balance"], row.version) == ("Grace Hopper", 7, 4)
