#!/usr/bin/python3
"""
Drives the admin console (html/) in headless Chromium through the seed's
steps, as a user would: create an API from scratch with its basic
information only, complete it later with a bad then a good WS URL,
activate it, and use "Try it" to see the gateway close with 1003 on an
undeclared binary message.  A screenshot of each step goes to --shots.

Prints TAP ("ok N - ..." / "not ok N - ...") for t/90-console.t.

usage: console_test.py --console URL --user U --password P --shots DIR
"""

import argparse
import os
import sys
import tempfile
import time
import traceback
from urllib.parse import urlsplit, urlunsplit

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select, WebDriverWait

N = 0
FAILED = 0


def ok(cond, name, diag=None):
    global N, FAILED
    N += 1
    if cond:
        print("ok %d - %s" % (N, name), flush=True)
    else:
        FAILED += 1
        print("not ok %d - %s" % (N, name), flush=True)
        if diag:
            for line in str(diag).splitlines():
                print("# " + line, flush=True)
    return cond


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--console", required=True)
    ap.add_argument("--user", required=True)
    ap.add_argument("--password", required=True)
    ap.add_argument("--shots", required=True)
    ap.add_argument("--timeout", type=float, default=20)
    ap.add_argument("--name", default="ticker")
    a = ap.parse_args()

    os.makedirs(a.shots, exist_ok=True)
    profile = tempfile.mkdtemp(prefix="ws-api-chromium-")

    opt = webdriver.ChromeOptions()
    opt.binary_location = "/usr/bin/chromium"
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu",
                 "--disable-quic", "--no-first-run",
                 "--disable-background-networking",
                 "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", "--window-size=1280,1000",
                 "--user-data-dir=" + profile):
        opt.add_argument(flag)

    d = webdriver.Chrome(service=Service("/usr/bin/chromedriver"),
                         options=opt)
    wait = WebDriverWait(d, a.timeout)
    step = [0]

    def shot(what):
        step[0] += 1
        path = os.path.join(a.shots, "%02d-%s.png" % (step[0], what))
        d.save_screenshot(path)
        print("# screenshot " + path, flush=True)

    def css(sel):
        return wait.until(EC.visibility_of_element_located(
            (By.CSS_SELECTOR, sel)))

    def click(sel):
        wait.until(EC.element_to_be_clickable((By.CSS_SELECTOR, sel))).click()

    def typein(sel, text):
        e = css(sel)
        e.clear()
        e.send_keys(text)
        return e

    def ready():
        wait.until(lambda d: d.execute_script(
            "return document.body.getAttribute('data-ready') === '1'"))

    try:
        u = urlsplit(a.console)
        authed = urlunsplit((u.scheme, "%s:%s@%s" % (a.user, a.password,
                                                     u.netloc),
                             u.path, u.query, u.fragment))
        t0 = time.time()
        d.get(authed)
        ready()
        ok(True, "the console loads (%.1f s)" % (time.time() - t0))
        css("#create-api")
        shot("api-list")

        # Create API -> Create from scratch -> WebSocket -> Create
        click("#create-api")
        css("#from-scratch")
        ok(not css("#create").is_enabled(),
           "Create is disabled before a choice is made")
        click("#from-scratch")
        click("#websocket")
        shot("create-from-scratch-websocket")
        click("#create")

        # Basic information: name, version, description; Save at once
        typein("input[id^=api-name]", a.name)
        typein("input[id^=api-version]", "1.0")
        typein("textarea[id^=api-description]", "Live prices")
        ok(len(d.find_elements(By.CSS_SELECTOR, "#continue")) == 1,
           "Basic information has Continue")
        shot("basic-information")
        click("#save")
        wait.until(lambda d: "#/apis/" in d.current_url)
        api_id = d.current_url.rsplit("/", 1)[-1]
        ok(len(api_id) == 36, "saved with its basic information only: "
           + api_id)
        css("#try-it")
        shot("saved-basic-only")

        # back to the list: the API is there, inactive
        d.get(a.console + "#/apis")
        ready()
        row = css("#api-list")
        ok(a.name in row.text and "Inactive" in row.text,
           "the list shows the API, inactive")

        # complete it later: Technical information, a bad WS URL first
        d.get(a.console + "#/apis/" + api_id)
        ready()
        click("#step-technical")
        ws = typein("input[id^=ws-url]", "http://prices.example/stream")
        click("#save")
        err = css("p.error[data-field=wsUrl]")
        ok("wsUrl" in (err.get_attribute("data-field") or ""),
           "the bad WS URL's error is shown: " + err.text)
        ws = d.find_element(By.CSS_SELECTOR, "input[id^=ws-url]")
        ok(ws.get_attribute("aria-invalid") == "true"
           and ws.get_attribute("aria-describedby") == err.get_attribute("id"),
           "next to the WS Url field, which it describes")
        shot("bad-ws-url")

        # a good WS URL, a parameter with allowed values, a message
        ws.clear()
        ws.send_keys(os.environ.get("CONSOLE_BACKEND",
                                    "ws://127.0.0.1:9001/"))
        click("#add-parameter")
        typein("input[id^=param-name]", "symbol")
        Select(css("select[id^=param-in]")).select_by_visible_text(
            "Query-string")
        Select(css("select[id^=param-type]")).select_by_visible_text(
            "String")
        for v in ("AAPL", "MSFT"):
            typein("input[id^=param-value]", v)
            click("button[title='Add value']")
        click("#add-message")
        Select(css("select[id^=msg-origin]")).select_by_visible_text(
            "Client")
        Select(css("select[id^=msg-type]")).select_by_visible_text("Text")
        typein("textarea[id^=msg-payload]", '{"subscribe":"AAPL"}')
        typein("input[id^=msg-description]", "subscribe")
        # the echo backend answers in kind: server text is declared too
        click("#add-message")
        Select(d.find_elements(By.CSS_SELECTOR, "select[id^=msg-origin]")[1]
               ).select_by_visible_text("Server")
        Select(d.find_elements(By.CSS_SELECTOR, "select[id^=msg-type]")[1]
               ).select_by_visible_text("Text")
        d.find_elements(By.CSS_SELECTOR, "input[id^=msg-description]")[1] \
            .send_keys("echo")
        shot("technical-information")
        click("#save")
        wait.until(lambda d: not d.find_elements(By.CSS_SELECTOR,
                                                 "p.error"))
        wait.until(lambda d: "saved" in d.find_element(
            By.TAG_NAME, "body").text.lower()
            or d.find_elements(By.CSS_SELECTOR, ".notice.ok"))
        ok(True, "completed with a WS URL, a parameter and a message")

        # activate
        click("button[aria-label^=Activate]")
        wait.until(lambda d: d.find_elements(
            By.CSS_SELECTOR, "button[aria-label^=Deactivate]"))
        ok(True, "activated")
        shot("activated")

        # Try it: connect, an undeclared binary message -> 1003
        q = d.find_elements(By.CSS_SELECTOR, "#try-query input")
        for e in q:
            if (e.get_attribute("value") or "") == "" and \
                    "value" in (e.get_attribute("id") or ""):
                e.send_keys("AAPL")
        click("#try-connect")
        wait.until(lambda d: "onnected" in css("#try-status").text
                   and "Not" not in css("#try-status").text)
        ok(True, "Try it connects: " + css("#try-status").text)
        typein("#try-payload", '{"subscribe":"AAPL"}')
        click("#try-send-text")
        wait.until(lambda d: len(d.find_elements(
            By.CSS_SELECTOR, "#try-log li")) >= 2)
        log = css("#try-log").text
        ok(log.count('{"subscribe":"AAPL"}') >= 2,
           "a declared text message goes through and is echoed", log)
        typein("#try-payload", "01 02 03")
        hexbox = d.find_element(By.CSS_SELECTOR, "#try-hex")
        if not hexbox.is_selected():
            hexbox.click()
        click("#try-send-binary")
        wait.until(lambda d: "1003" in css("#try-log").text
                   or "1003" in css("#try-status").text)
        text = css("#try-log").text + "\n" + css("#try-status").text
        ok("1003" in text, "an undeclared binary message: close 1003",
           text)
        ok("binary messages are not declared" in text,
           "with the gateway's reason", text)
        shot("try-it-1003")
    except Exception:
        ok(False, "the console session", traceback.format_exc())
        try:
            shot("failure")
            print("# page: " + d.find_element(By.TAG_NAME, "body")
                  .text.replace("\n", " | ")[:2000])
        except Exception:
            pass
    finally:
        d.quit()

    print("1..%d" % N)
    return 1 if FAILED else 0


if __name__ == "__main__":
    sys.exit(main())
