"""The console in a real Chromium: sign in, browse a table on SQLite and PostgreSQL,
filter, edit a row, run a backup and watch it finish, and a user denied what its role
does not grant. Every page is checked for Content-Security-Policy violations (the
console's own script must run under the strict policy)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import Select

from tests.conftest import LiveServer
from tests.console.conftest import Browser


def _api(server: LiveServer) -> httpx.Client:
    return httpx.Client(base_url=server.base_url,
                        headers={"Authorization": f"Bearer {server.token}"})


@pytest.mark.parametrize("rid", ["lite", "pg"])
def test_browse_filter_and_edit_a_row(browser: Browser, rid: str) -> None:
    browser.sign_in_with_token()
    browser.screenshot("databases")
    assert "running" in browser.text(f"#databases tr:has(a[href='/console/databases/{rid}'])")
    browser.driver.find_element(By.CSS_SELECTOR, f"a[href='/console/databases/{rid}']").click()
    browser.visible("#table-list")
    counts = browser.text("#table-list")
    assert "articles" in counts and "3" in counts
    if rid == "pg":
        browser.screenshot("database")
    browser.driver.find_element(By.LINK_TEXT, "articles").click()
    browser.visible("#rows")
    assert "1-3 of 3" in browser.text("#range")

    Select(browser.driver.find_element(By.ID, "f-col")).select_by_visible_text("score")
    Select(browser.driver.find_element(By.ID, "f-op")).select_by_value("$gte")
    browser.driver.find_element(By.ID, "f-val").send_keys("10")
    browser.driver.find_element(By.ID, "add-filter").click()
    browser.wait().until(ec.text_to_be_present_in_element(("css selector", "#range"),
                                                          "1-2 of 2"))
    rows = browser.text("#rows tbody")
    assert "Engines" in rows and "Compilers" in rows and "Notes" not in rows
    assert "score $gte 10" in browser.text("#filters")
    if rid == "pg":
        browser.screenshot("table")

    # the author_id cell links to the author it refers to
    link = browser.driver.find_element(By.CSS_SELECTOR, "#rows a[href*='/tables/authors?']")
    link.click()
    browser.visible("#rows")
    assert "1-1 of 1" in browser.text("#range")
    browser.driver.back()
    browser.visible("#rows")

    edit = browser.driver.find_element(By.XPATH, "//tr[td[text()='Engines']]//a[text()='Edit']")
    edit.click()
    browser.visible("#row-form")
    score = browser.driver.find_element(By.CSS_SELECTOR, "[data-column='score']")
    score.clear()
    score.send_keys("many")
    browser.driver.find_element(By.ID, "save").click()
    browser.visible("#error-score")
    assert "score" in browser.text("#error-score")
    if rid == "pg":
        browser.screenshot("row-error")
    score = browser.driver.find_element(By.CSS_SELECTOR, "[data-column='score']")
    score.clear()
    score.send_keys("12")
    title = browser.driver.find_element(By.CSS_SELECTOR, "[data-column='title']")
    title.clear()
    title.send_keys(f"Engines {rid}")
    browser.driver.find_element(By.ID, "save").click()
    browser.visible("#saved")
    with _api(browser.server) as api:
        record = api.get(f"/v1/databases/{rid}/tables/articles/1").json()
    assert record["title"] == f"Engines {rid}" and record["score"] == 12
    assert browser.csp_violations() == []


def test_run_a_backup_and_watch_it_finish(browser: Browser) -> None:
    browser.sign_in_with_token()
    browser.open("/console/databases/pg")
    browser.visible("#backup-now")
    browser.driver.find_element(By.ID, "backup-now").click()
    # the operation's card is followed by the page's script until the backup is done,
    # then the page reloads and lists it
    browser.visible("#operations .op")
    browser.wait(60).until(ec.text_to_be_present_in_element(
        ("css selector", "#backup-list tbody"), "done"))
    op = browser.text("#operations .op")
    assert "backup" in op and "done" in op
    browser.screenshot("backups")
    row = browser.driver.find_element(By.CSS_SELECTOR, "#backup-list tbody tr")
    assert row.find_element(By.LINK_TEXT, "Download").get_attribute("href")
    row.find_element(By.LINK_TEXT, "Delete…").click()
    browser.visible("#loss")
    assert "for good" in browser.text("#loss")
    browser.driver.find_element(By.ID, "confirm").click()
    browser.visible("#backup-list")
    assert "No backup yet" in browser.text("#backup-list")
    assert browser.csp_violations() == []


def test_a_user_is_denied_what_its_role_does_not_grant(browser: Browser) -> None:
    role = f"viewer_{uuid.uuid4().hex[:6]}"
    email = f"viewer-{uuid.uuid4().hex[:6]}@example.com"
    with _api(browser.server) as api:
        assert api.post("/v1/roles", json={"name": role, "grants": [
            {"database": "lite", "table": "articles", "actions": ["read"]}]}
        ).status_code == 201
        assert api.post("/v1/users", json={"name": "Viewer", "email": email,
                                           "password": "correct horse battery",
                                           "role": role}).status_code == 201
    browser.sign_in(email, "correct horse battery")
    listed = browser.text("#databases")
    assert "lite" in listed and "pg" not in listed.split()
    assert "Users" not in browser.text("header")
    browser.open("/console/databases/lite")
    browser.visible("#table-list")
    assert "articles" in browser.text("#table-list")
    assert "authors" not in browser.text("#table-list")
    assert browser.driver.find_elements(By.ID, "backup-now") == []
    assert "for admins" in browser.text("#admin-only")
    browser.open("/console/databases/lite/tables/authors")
    browser.visible("#problem")
    assert "404" in browser.text("h1")
    browser.screenshot("denied")
    browser.open("/console/databases/pg")
    browser.visible("#problem")
    assert browser.driver.find_element(By.ID, "problem").get_attribute("data-code") in (
        "DBP-N101", "DBP-A202", "DBP-N002") or "404" in browser.text("h1")
    browser.open("/console/users")
    browser.visible("#problem")
    assert "403" in browser.text("h1")
    browser.open("/console/databases/lite/tables/articles/rows/2")
    browser.visible("#row-form")
    title = browser.driver.find_element(By.CSS_SELECTOR, "[data-column='title']")
    title.clear()
    title.send_keys("not allowed")
    browser.driver.find_element(By.ID, "save").click()
    browser.visible("#row-error")
    assert "may not update" in browser.text("#row-error")
    browser.open("/console")
    browser.sign_out()
    browser.open("/console")
    browser.visible("#signin")


def test_schema_routines_and_admin_pages(browser: Browser) -> None:
    browser.sign_in_with_token()
    browser.open("/console/databases/pg/schema")
    browser.visible("#snapshot-yaml")
    assert "articles" not in browser.text("h1")
    browser.screenshot("schema")
    browser.open("/console/databases/pg/routines")
    browser.visible("#migrations")
    browser.driver.find_element(By.ID, "pretend").click()
    browser.visible("#pretend-result")
    # a factory with a row count: its progress bar is followed until it is done
    count = browser.driver.find_element(By.ID, "factory-count")
    count.send_keys("300")
    browser.driver.find_element(By.ID, "run-factory").click()
    browser.visible("#operations .op")
    browser.wait(60).until(ec.text_to_be_present_in_element(
        ("css selector", "#operations .op"), "done"))
    # the page's polling re-renders the card: read the bar afresh each time
    def full(driver: Any) -> bool:
        try:
            bar = driver.find_element(By.CSS_SELECTOR, "#operations .op progress")
            return float(bar.get_attribute("value") or 0) == 1.0
        except StaleElementReferenceException:
            return False

    browser.wait(30).until(full)
    browser.screenshot("routines")
    with _api(browser.server) as api:
        total = api.get("/v1/databases/pg/tables/articles",
                        params={"count": "exact", "limit": "1"}).headers["content-range"]
    assert total.endswith("/303")
    browser.open("/console/users")
    browser.visible("#users")
    browser.screenshot("users")
    browser.open("/console/roles")
    browser.visible("#roles")
    assert "admin" in browser.text("#roles")
    assert browser.csp_violations() == []
