#!/usr/bin/python3
"""
The console (html/) in a headless chromium, driven by selenium, for
t/90-console.t: the seed's steps, a field error, basic information saved
first and completed later, activation, "Try it" with an echo and a 1003,
a new version, and a caller without activate_apis.

    console_test.py --url http://127.0.0.1:PORT/console/ --user admin
        --password admin --backend ws://127.0.0.1:PORT/stream
        --viewer viewer:viewer --shots build/console --scale 1

Prints one "ok N - ..." / "not ok N - ..." line per check (TAP), then
"1..N".  Screenshots go to --shots as NN-step.png.
"""

import argparse
import os
import shutil
import sys
import tempfile
import traceback

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select, WebDriverWait

count = 0
failed = 0


def ok(cond, name):
    global count, failed
    count += 1
    if not cond:
        failed += 1
    print(("ok" if cond else "not ok") + " %d - %s" % (count, name),
          flush=True)
    return cond


class Console:
    def __init__(self, args, user, password):
        self.args = args
        self.profile = tempfile.mkdtemp(prefix="wsapi-chromium-")
        o = webdriver.ChromeOptions()
        o.binary_location = "/usr/bin/chromium"
        for a in ("--headless", "--no-sandbox", "--disable-gpu",
                  "--disable-quic", "--no-first-run",
                  "--disable-background-networking",
                  "--disable-component-update", "--disable-sync",
                  "--disable-dev-shm-usage", "--window-size=1280,1000",
                  "--user-data-dir=" + self.profile):
            o.add_argument(a)
        self.d = webdriver.Chrome(service=Service("/usr/bin/chromedriver"),
                                  options=o)
        self.d.set_page_load_timeout(60 * args.scale)
        self.wait = WebDriverWait(self.d, 30 * args.scale)
        host = args.url.split("://", 1)[1]
        self.d.get("http://%s:%s@%s" % (user, password, host))
        self.ready()

    def ready(self):
        self.wait.until(lambda d: d.find_element(
            By.TAG_NAME, "body").get_attribute("data-ready") == "1")

    def go(self, fragment):
        self.d.get(self.args.url + fragment)
        self.ready()

    def find(self, css):
        return self.wait.until(EC.presence_of_element_located(
            (By.CSS_SELECTOR, css)))

    def visible(self, css):
        return self.wait.until(EC.visibility_of_element_located(
            (By.CSS_SELECTOR, css)))

    def click(self, css):
        e = self.wait.until(EC.element_to_be_clickable((By.CSS_SELECTOR,
                                                         css)))
        e.click()
        return e

    def text_in(self, css, text):
        return self.wait.until(EC.text_to_be_present_in_element(
            (By.CSS_SELECTOR, css), text))

    def field(self, section, label):
        """the control labelled `label` in a visible section"""
        xp = ("//section[@id='section-%s']//label[normalize-space(text())="
              "'%s']" % (section, label))
        lab = self.wait.until(EC.visibility_of_element_located((By.XPATH,
                                                                 xp)))
        return self.d.find_element(By.ID, lab.get_attribute("for"))

    def type(self, control, text):
        control.clear()
        control.send_keys(text)

    def shot(self, name):
        os.makedirs(self.args.shots, exist_ok=True)
        self.d.save_screenshot(os.path.join(self.args.shots, name + ".png"))

    def quit(self):
        try:
            self.d.quit()
        finally:
            shutil.rmtree(self.profile, ignore_errors=True)


def item_control(c, kind, index, label):
    """a control of the index-th parameter or message (0-based)"""
    items = c.d.find_elements(By.CSS_SELECTOR, "fieldset." + kind)
    lab = items[index].find_element(
        By.XPATH, ".//label[normalize-space(text())='%s']" % label)
    return c.d.find_element(By.ID, lab.get_attribute("for"))


def error_next_to(c, control, field):
    """the error paragraph for `field`, inside the control's field box"""
    p = c.visible("p.error[data-field='%s']" % field)
    box = p.find_element(By.XPATH, "..")
    inside = control in box.find_elements(By.XPATH, ".//*")
    return p, inside


def main_flow(c, args):
    # 1.-5. APIs, Create API, Create from scratch, WebSocket, Create
    c.click("#nav-apis")
    c.find("#create-api")
    c.shot("01-apis")
    c.click("#create-api")
    create = c.find("#create")
    ok(not create.is_enabled(), "Create is disabled before the choices")
    c.click("label.choice input#from-scratch")
    c.click("label.choice input#websocket")
    c.shot("02-create-from-scratch-websocket")
    c.click("#create")

    # 6. Basic information
    c.text_in("#heading-basic", "Basic information")
    c.type(c.field("basic", "Name"), "ticker")
    ok(c.field("basic", "Version").get_attribute("value") == "1.0",
       "Version defaults to 1.0")
    team = c.field("basic", "Team")
    for t in ("trading", "ops"):
        c.type(team, t)
        c.click("#add-team")
    chips = c.d.find_elements(By.CSS_SELECTOR, "#team-list li")
    ok([e.text.replace("\u00d7", "").strip() for e in chips]
       == ["trading", "ops"], "two teams chosen")
    c.click("button[aria-label='Remove team ops']")
    chips = c.d.find_elements(By.CSS_SELECTOR, "#team-list li")
    ok(len(chips) == 1, "a team removed with its delete icon")
    c.type(c.field("basic", "Description"), "Live prices")
    c.shot("03-basic-information")

    # 7. Save at this stage, without technical information
    c.click("#save")
    c.text_in("#notice", "ticker 1.0 was created.")
    ok(True, "saved with basic information only")
    c.shot("04-basic-saved")
    api_url = c.d.current_url

    c.go("#/apis")
    row = c.find("#api-list tr[data-id]")
    ok("Inactive" in row.text and "not set yet" in row.text,
       "the list shows it inactive, without a WS Url")
    c.shot("05-list-inactive")

    # later: complete the technical information
    c.d.get(api_url)
    c.ready()
    c.click("#step-technical")
    url = c.field("technical", "WS Url")
    c.type(url, args.backend.replace("ws://", "http://"))

    c.click("#add-parameter")
    c.type(item_control(c, "parameter", 0, "Name"), "symbol")
    Select(item_control(c, "parameter", 0, "Parameter type")) \
        .select_by_visible_text("Query-string")
    Select(item_control(c, "parameter", 0, "Data type")) \
        .select_by_visible_text("String")
    p0 = c.d.find_elements(By.CSS_SELECTOR, "fieldset.parameter")[0]
    p0.find_element(By.XPATH, ".//label[contains(., 'Required')]/input") \
        .click()
    p0.find_element(By.XPATH, ".//label[contains(., 'Array')]/input").click()
    values = item_control(c, "parameter", 0, "Values")
    for v in ("AAPL", "MSFT"):
        c.type(values, v)
        p0.find_element(By.CSS_SELECTOR, "button.add-value").click()
    ok(len(p0.find_elements(By.CSS_SELECTOR, "ul.chips li")) == 2,
       "two allowed values added one by one")

    c.click("#add-parameter")
    c.type(item_control(c, "parameter", 1, "Name"), "X-Client-Id")
    Select(item_control(c, "parameter", 1, "Parameter type")) \
        .select_by_visible_text("Header")
    Select(item_control(c, "parameter", 1, "Data type")) \
        .select_by_visible_text("Integer")

    c.click("#add-message")
    Select(item_control(c, "message", 0, "Origin")) \
        .select_by_visible_text("Client")
    Select(item_control(c, "message", 0, "Type")) \
        .select_by_visible_text("Text")
    c.type(item_control(c, "message", 0, "Sample message payload"),
           '{"subscribe":"AAPL"}')
    c.type(item_control(c, "message", 0, "Message description"),
           "subscribe")
    c.click("#add-message")
    Select(item_control(c, "message", 1, "Origin")) \
        .select_by_visible_text("Server")
    c.type(item_control(c, "message", 1, "Message description"),
           "price tick")

    # 9. Save: the bad WS Url is refused, next to its field
    c.click("#save")
    p, inside = error_next_to(c, url, "wsUrl")
    ok(inside, "the wsUrl error is shown next to the WS Url field")
    ok("ws://" in p.text, "... saying what is expected: " + p.text)
    ok(url.get_attribute("aria-invalid") == "true",
       "... and the field is marked invalid")
    c.shot("06-ws-url-error")

    # an error inside a parameter, next to its control
    values1 = item_control(c, "parameter", 1, "Values")
    c.type(values1, "abc")
    c.d.find_elements(By.CSS_SELECTOR, "fieldset.parameter")[1] \
        .find_element(By.CSS_SELECTOR, "button.add-value").click()
    c.type(url, args.backend)
    c.click("#save")
    p, inside = error_next_to(c, values1, "parameters[1].values[0]")
    ok(inside, "parameters[1].values[0] is shown next to that "
               "parameter's values: " + p.text)
    ok(not c.d.find_elements(By.CSS_SELECTOR, "p.error[data-field='wsUrl']"),
       "the earlier error is gone")
    c.shot("07-parameter-error")
    c.d.find_elements(By.CSS_SELECTOR, "fieldset.parameter")[1] \
        .find_element(By.CSS_SELECTOR, "button[aria-label='Remove value abc']"
                      ).click()

    c.click("#save")
    c.text_in("#notice", "ticker 1.0 was saved.")
    ok(True, "technical information saved")
    c.click("#step-technical")
    c.shot("08-technical-information")

    # activate
    c.click("button[data-action='activate']")
    c.text_in("#notice", "ticker 1.0 is active.")
    ok("Active" in c.find("h1 + .badge, .badge.active").text,
       "activated: the badge says Active")
    c.find("#try-connect")
    c.shot("09-active")

    # Try it
    qn = c.find("#try-query .q-name")
    ok(qn.get_attribute("value") == "symbol",
       "Try it offers the declared query parameter")
    c.click("#try-connect")
    c.text_in("#try-status", "Connected to ")
    ok(True, "connected through the gateway")
    c.click("#try-send-text")
    c.text_in("#try-log", '{"subscribe":"AAPL"}')
    ok(len(c.d.find_elements(By.CSS_SELECTOR, "#try-log li.in")) == 1,
       "the text message came back from the echo backend")
    c.shot("10-try-it-echo")

    c.type(c.find("#try-payload"), "01 02")
    c.click("#try-hex")
    c.click("#try-send-binary")
    c.wait.until(lambda d: d.find_element(By.ID, "try-status")
                 .get_attribute("data-code"))
    status = c.find("#try-status")
    ok(status.get_attribute("data-code") == "1003",
       "an undeclared binary message: close code 1003")
    ok("client binary messages are not declared for this API"
       in status.text, "... with its reason: " + status.text)
    c.shot("11-try-it-1003")

    # versions
    c.type(c.find("#new-version"), "2.0")
    c.click("#create-version")
    c.text_in("#notice", "ticker 2.0 was created (inactive)")
    ok("Inactive" in c.find(".badge.inactive").text,
       "a new version, inactive")
    c.text_in("#version-list", "1.0")
    c.type(c.find("#new-version"), "1.0")
    c.click("#create-version")
    p = c.visible("#version-error")
    ok("409" in p.text, "an existing version: the 409 next to the field")
    c.shot("12-versions")

    c.go("#/apis")
    rows = c.d.find_elements(By.CSS_SELECTOR, "#api-list tr[data-id]")
    ok(len(rows) == 2 and "Active" in rows[0].text
       and "Inactive" in rows[1].text, "the list: 1.0 active, 2.0 inactive")
    c.shot("13-list")


def viewer_flow(args):
    user, password = args.viewer.split(":", 1)
    c = Console(args, user, password)
    try:
        c.go("#/apis")
        c.text_in("#who", user)
        rows = c.wait.until(lambda d: d.find_elements(
            By.CSS_SELECTOR, "#api-list tr[data-id]"))
        ok(len(rows) == 2, "the viewer sees the APIs of their team")
        ok(not c.d.find_elements(By.CSS_SELECTOR, "[data-action]"),
           "no activate or deactivate button without activate_apis")
        ok(c.d.find_elements(By.CSS_SELECTOR, "#create-api"),
           "but Create API, with manage_apis")
        rows[0].find_element(By.TAG_NAME, "a").click()
        c.find("#save")
        ok(not c.d.find_elements(By.CSS_SELECTOR, "[data-action]"),
           "none on the API's page either")
        c.shot("14-viewer")
    finally:
        c.quit()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--user", required=True)
    ap.add_argument("--password", required=True)
    ap.add_argument("--backend", required=True)
    ap.add_argument("--viewer", required=True)
    ap.add_argument("--shots", required=True)
    ap.add_argument("--scale", type=float, default=1)
    args = ap.parse_args()

    c = Console(args, args.user, args.password)
    try:
        main_flow(c, args)
    except Exception:
        ok(False, "the admin's steps ran to the end")
        traceback.print_exc()
        c.shot("99-failure")
        print("# page: " + c.d.current_url, flush=True)
    finally:
        c.quit()

    try:
        viewer_flow(args)
    except Exception:
        ok(False, "the viewer's steps ran to the end")
        traceback.print_exc()

    print("1..%d" % count, flush=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
