"""A real Chromium (Debian's ``chromium`` with its ``chromium-driver``) driven by Selenium
against a real dbplane server, with a SQLite and a PostgreSQL database holding the Tables
API's test schema. No browser: the tests fail in CI and skip elsewhere, saying how to
install one.

``DBPLANE_CONSOLE_SCREENSHOTS=docs/console`` saves the main pages as PNG files there."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from tests.api.tables_schema import reset
from tests.conftest import ADMIN_TOKEN, LiveServer, run_live_server
from tests.fixtures.servers import SqlDatabase
from tests.fixtures.services import IN_CI

_INSTALL = "apt-get install -y chromium chromium-driver"


def _binary(*names: str) -> str | None:
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    return None


@dataclass
class Browser:
    """A signed-out Chromium on the console of ``server``."""

    driver: WebDriver
    server: LiveServer

    def open(self, path: str) -> None:
        self.driver.get(self.server.base_url + path)

    def wait(self, seconds: float = 20) -> WebDriverWait[WebDriver]:
        return WebDriverWait(self.driver, seconds)

    def find(self, css: str) -> object:
        return self.driver.find_element(By.CSS_SELECTOR, css)

    def text(self, css: str) -> str:
        # the page's polling may re-render the element between finding and reading it
        for _ in range(20):
            try:
                return str(self.driver.find_element(By.CSS_SELECTOR, css).text)
            except StaleElementReferenceException:
                time.sleep(0.05)
        return str(self.driver.find_element(By.CSS_SELECTOR, css).text)

    def visible(self, css: str) -> None:
        self.wait().until(ec.visibility_of_element_located((By.CSS_SELECTOR, css)))

    def sign_in_with_token(self, token: str = ADMIN_TOKEN) -> None:
        self.open("/console/login")
        self.driver.find_element(By.ID, "token").send_keys(token)
        self.driver.find_element(By.ID, "signin-token").click()
        self.visible("#databases")

    def sign_in(self, email: str, password: str) -> None:
        self.open("/console/login")
        self.driver.find_element(By.ID, "email").send_keys(email)
        self.driver.find_element(By.ID, "password").send_keys(password)
        self.driver.find_element(By.ID, "signin").click()
        self.visible("#databases")

    def sign_out(self) -> None:
        self.driver.find_element(By.ID, "signout").click()
        self.visible("#signin")

    def screenshot(self, name: str) -> None:
        folder = os.environ.get("DBPLANE_CONSOLE_SCREENSHOTS")
        if folder:
            Path(folder).mkdir(parents=True, exist_ok=True)
            self.driver.save_screenshot(str(Path(folder) / f"{name}.png"))

    def csp_violations(self) -> list[str]:
        return [entry["message"] for entry in self.driver.get_log("browser")
                if "Content Security Policy" in entry["message"]
                or "Refused to" in entry["message"]]


@pytest.fixture(scope="module")
def console_server(tmp_path_factory: pytest.TempPathFactory, sqlite_url: SqlDatabase,
                   pg_url: SqlDatabase) -> Iterator[LiveServer]:
    """A live server with ``lite`` (SQLite) and ``pg`` (PostgreSQL) registered, and a
    project directory with a factory of articles."""
    for db in (sqlite_url, pg_url):
        reset(db)
    project = tmp_path_factory.mktemp("project")
    (project / "factories").mkdir()
    (project / "factories" / "articles.yaml").write_text(
        "table: articles\ncount: 10\nseed: 7\ncolumns:\n  title: sentence\n"
        "  score: {faker: random_int, min: 0, max: 99}\n  author_id: {ref: authors.id}\n")
    with pytest.MonkeyPatch.context() as patch:
        # the server's settings read it from the environment, as `dbplane serve` would
        patch.setenv("DBPLANE_PROJECT_DIR", str(project))
        with run_live_server(tmp_path_factory.mktemp("console") / "data") as server, \
                httpx.Client(base_url=server.base_url,
                             headers={"Authorization": f"Bearer {server.token}"}) as api:
            for rid, db in (("lite", sqlite_url), ("pg", pg_url)):
                answer = api.post("/v1/databases", json={"resource_id": rid, "url": db.url})
                assert answer.status_code == 201, answer.text
            yield server


@pytest.fixture(scope="module")
def chromium() -> Iterator[WebDriver]:
    browser = _binary("chromium", "chromium-browser", "google-chrome")
    driver_path = _binary("chromedriver")
    if browser is None or driver_path is None:
        message = f"no Chromium and chromedriver on PATH; install them with: {_INSTALL}"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    options = Options()
    options.binary_location = browser
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                "--disable-gpu", "--window-size=1280,900", "--lang=en-US"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(driver_path))
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def browser(chromium: WebDriver, console_server: LiveServer) -> Iterator[Browser]:
    chromium.delete_all_cookies()
    yield Browser(chromium, console_server)
    chromium.delete_all_cookies()
