"""The Billing page in a real headless Chromium (Debian's chromium + chromedriver, Selenium),
served by the API on the real pipeline (see ``conftest``). What a click changes (an order
listed as pending, a downgrade notice) travels page -> API -> Kafka -> ``botbill worker``
(account-events archive, money jobs) -> ClickHouse -> page: the test reloads the page until
it shows the effect, at most ``EFFECT_TIMEOUT_S`` seconds."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from pypdf import PdfReader

pytestmark = [pytest.mark.integration, pytest.mark.browser, pytest.mark.skipif(
    not (os.access("/usr/bin/chromium", os.X_OK) and os.access("/usr/bin/chromedriver",
                                                               os.X_OK)),
    reason="needs Debian's chromium and chromium-driver: run .ci/install-chromium.sh")]

from selenium import webdriver  # noqa: E402
from selenium.common.exceptions import (  # noqa: E402
    NoSuchElementException,
    StaleElementReferenceException,
    TimeoutException,
)
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as ec  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402

from .conftest import FINAL_INVOICE, FINAL_TOTAL_TEXT  # noqa: E402


@pytest.fixture
def downloads(tmp_path: Path) -> Path:
    path = tmp_path / "downloads"
    path.mkdir()
    return path


@pytest.fixture
def browser(tmp_path: Path, downloads: Path):
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
                f"--user-data-dir={tmp_path / 'profile'}"):
        options.add_argument(arg)
    options.add_experimental_option("prefs", {
        "download.default_directory": str(downloads), "download.prompt_for_download": False,
        "download.directory_upgrade": True, "safebrowsing.enabled": False})
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


def sign_in(driver, world, who: str) -> None:
    driver.get(world.url + "/")
    driver.find_element(By.ID, "token").send_keys(world.tokens[who])
    driver.find_element(By.ID, "login-button").click()
    WebDriverWait(driver, 20).until(lambda d: d.find_element(By.ID, "app").text.strip())


def wait(driver):
    return WebDriverWait(driver, 20)


def bot_cells(driver) -> dict[str, list[str]]:
    table = wait(driver).until(ec.presence_of_element_located((By.ID, "bots-table")))
    rows = table.find_elements(By.TAG_NAME, "tr")[1:]
    out = {}
    for row in rows:
        cells = [c.text.strip() for c in row.find_elements(By.TAG_NAME, "td")]
        out[cells[0]] = cells
    return out


def open_manage(driver, bot: str) -> None:
    driver.find_element(By.CSS_SELECTOR, f"button.manage[data-bot='{bot}']").click()
    wait(driver).until(lambda d: d.find_element(By.ID, "manage-bot").text == bot)


def manage_message(driver) -> str:
    wait(driver).until(lambda d: d.find_element(By.ID, "manage-message").text)
    return driver.find_element(By.ID, "manage-message").text


def close_manage(driver) -> None:
    driver.find_element(By.ID, "close-manage").click()


def reload_until(driver, world, check, what: str):
    """Reload the page (the token stays in the tab's session) until ``check(driver)``
    returns something truthy, which is returned: the worker's effect has reached the page."""
    def attempt():
        driver.refresh()
        try:
            return check(driver)
        except (NoSuchElementException, StaleElementReferenceException, TimeoutException):
            return None
    return world.wait_until(attempt, what)


def bot_row(driver, bot: str):
    return next(r for r in driver.find_elements(By.CSS_SELECTOR, "#bots-table tr")
                if r.text.startswith(bot + " ") or r.text == bot)


def test_admin_sees_bots_and_balances(browser, world):
    sign_in(browser, world, "ann")
    bots = bot_cells(browser)
    assert bots["bot-1"][1:4] == ["standard", "active", "600.00"]  # conftest.BOT_1_BALANCE
    assert bots["bot-2"][1:4] == ["essential", "active", "0.00"]
    icon = browser.find_element(By.CSS_SELECTOR, "#bots-table .info")
    assert "Trial expiring in 2 day(s)" in icon.get_attribute("data-notices")
    assert browser.find_element(By.ID, "orders-invoices").is_displayed()


def test_admin_adds_funds_and_sees_the_order_pending(browser, world):
    sign_in(browser, world, "ann")
    open_manage(browser, "bot-1")
    amount = browser.find_element(By.ID, "funds-amount")
    amount.clear()
    amount.send_keys("99.99")
    browser.find_element(By.ID, "add-funds").click()
    assert "amount_cents" in manage_message(browser)  # under the 100.00 minimum: refused
    amount.clear()
    amount.send_keys("150.00")
    Select(browser.find_element(By.ID, "funds-method")).select_by_value("wire_transfer")
    browser.find_element(By.ID, "add-funds").click()
    wait(browser).until(lambda d: d.find_element(By.ID, "manage-message").text.startswith(
        "Accepted: order "))
    order_id = manage_message(browser).rsplit("order ", 1)[1].strip()
    close_manage(browser)

    def order_row(driver):
        table = wait(driver).until(ec.presence_of_element_located((By.ID, "orders-table")))
        rows = [r for r in table.find_elements(By.TAG_NAME, "tr") if order_id in r.text]
        return [c.text for c in rows[0].find_elements(By.TAG_NAME, "td")] if rows else None

    cells = reload_until(browser, world, order_row, f"order {order_id} on the page")
    assert cells[1:] == ["bot-1", "2026-03-10", "150.00", "wire transfer", "pending"]
    assert bot_cells(browser)["bot-1"][3] == "600.00"  # a pending order is not money yet


def test_admin_changes_a_plan_and_sees_the_downgrade_notice(browser, world):
    sign_in(browser, world, "ann")
    open_manage(browser, "bot-2")
    Select(browser.find_element(By.ID, "plan-select")).select_by_value("standard")
    browser.find_element(By.ID, "change-plan").click()
    wait(browser).until(lambda d: d.find_element(By.ID, "manage-message").text.startswith(
        "Accepted"))
    message = manage_message(browser)
    assert "downgrade effective 2026-04-01" in message
    close_manage(browser)

    def notice_of_bot_2(driver):
        bot_cells(driver)
        icons = bot_row(driver, "bot-2").find_elements(By.CLASS_NAME, "info")
        return icons[0].get_attribute("title") if icons else None

    notice = reload_until(browser, world, notice_of_bot_2, "bot-2's downgrade notice")
    assert notice == "Downgrade to standard scheduled on 2026-04-01"
    assert len(browser.find_elements(By.CSS_SELECTOR, "#bots-table .info")) == 2  # + bot-3
    assert bot_cells(browser)["bot-2"][1] == "essential"  # until April


def test_admin_downloads_an_invoice_pdf_with_the_right_total(browser, world, downloads):
    sign_in(browser, world, "ann")
    table = wait(browser).until(ec.presence_of_element_located((By.ID, "invoices-table")))
    row = next(r for r in table.find_elements(By.TAG_NAME, "tr")
               if FINAL_INVOICE["invoice_id"] in r.text)
    row.find_element(By.CLASS_NAME, "download-pdf").click()
    deadline = time.monotonic() + 20
    while not list(downloads.glob("*.pdf")) and time.monotonic() < deadline:
        time.sleep(0.2)
    (pdf,) = downloads.glob("*.pdf")
    text = "".join(page.extract_text() for page in PdfReader(pdf).pages)
    assert f"Total: USD {FINAL_TOTAL_TEXT}" in text  # computed by hand in conftest
    draft = next(r for r in table.find_elements(By.TAG_NAME, "tr")
                 if "INV-acct-a-2026-03" in r.text)
    assert draft.find_elements(By.CLASS_NAME, "download-pdf") == []


@pytest.mark.parametrize("who", ["max", "sam"])
def test_members_and_shared_users_see_no_billing_section(browser, world, who):
    sign_in(browser, world, who)
    assert "Billing is managed by your account's admins" in browser.find_element(
        By.ID, "app").text
    for element in ("billing", "nav-billing", "bots-table", "orders-invoices"):
        with pytest.raises(NoSuchElementException):
            browser.find_element(By.ID, element)


def test_enterprise_sees_no_orders_and_invoices(browser, world):
    sign_in(browser, world, "eve")
    assert bot_cells(browser)["bot-e1"][1] == "enterprise"
    assert browser.find_element(By.ID, "billing").is_displayed()
    with pytest.raises(NoSuchElementException):
        browser.find_element(By.ID, "orders-invoices")
    assert "Orders & Invoices" not in browser.find_element(By.ID, "app").text
