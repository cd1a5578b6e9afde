#!/usr/bin/python3
"""The web console in headless Chromium (Selenium 4, Debian's chromium and chromedriver),
driven by tests/integration/console.sh, which starts the server and the fleets and passes:

  PP_URL                 the server's API base (http://127.0.0.1:PORT)
  PP_READ_TOKEN_FILE     a read token (0600 file)
  PP_ADMIN_TOKEN_FILE    an admin token (0600 file)
  PP_FAILED, PP_CLONE, PP_PROVISIONED   devices (JSON, as `pskprov devices list --json`)
  PP_FLEET2A, PP_FLEET2B, PP_FLEET2_OUT  the second fleet's halves (command lines) and
                         where their summaries go
  PP_ARTIFACTS           where screenshots go
  PSKPROV, PSKPROV_DIR   the program and its data directory (status --json, credentials)

Prints "ok NAME" for each check passed; exits 1 with "FAIL: ..." on the first failure.
Never prints a token or a secret."""

import json
import os
import shlex
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from console_figures import page_figures, store_figures  # noqa: E402

from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

URL = os.environ["PP_URL"]
ART = os.environ["PP_ARTIFACTS"]
PSKPROV = os.environ["PSKPROV"]
SHOTS = []


def fail(msg):
    print(f"FAIL: {msg}", flush=True)
    sys.exit(1)


def ok(name):
    print(f"ok {name}", flush=True)


def read_token(var):
    with open(os.environ[var], encoding="ascii") as f:
        return f.read().strip()


def cli(*args):
    """pskprov ARGS --json on the test's data directory, parsed."""
    r = subprocess.run([PSKPROV, *args], capture_output=True, text=True, timeout=30, check=False)
    if r.returncode != 0:
        fail(f"pskprov {args[0]} {args[1] if len(args) > 1 else ''}: exit {r.returncode}: "
             f"{r.stderr.strip()}")
    return json.loads(r.stdout)


def shot(driver, name):
    path = os.path.join(ART, f"{name}.png")
    driver.save_screenshot(path)
    SHOTS.append(path)


def browser():
    opts = webdriver.ChromeOptions()
    opts.binary_location = "/usr/bin/chromium"
    for a in ("--headless=new", "--disable-gpu", "--window-size=1400,1000",
              "--disable-dev-shm-usage", "--no-first-run", "--disable-extensions",
              "--disable-background-networking", "--disable-sync", "--disable-default-apps"):
        opts.add_argument(a)
    if os.geteuid() == 0:
        opts.add_argument("--no-sandbox")
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    service = Service(executable_path=os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver"))
    d = webdriver.Chrome(service=service, options=opts)
    d.set_page_load_timeout(30)
    return d


def wait(driver, cond, what, secs=15):
    try:
        return WebDriverWait(driver, secs, poll_frequency=0.1).until(lambda d: cond(d))
    except TimeoutException:
        shot(driver, "failure")
        fail(f"timed out after {secs} s waiting for {what}")
    return None


def el(driver, css):
    found = driver.find_elements(By.CSS_SELECTOR, css)
    return found[0] if found else None


def text_of(driver, css):
    e = el(driver, css)
    return e.text if e else None


def sign_in(driver, tok):
    driver.get(URL + "/")
    wait(driver, lambda d: el(d, "#token"), "the sign-in form")
    el(driver, "#token").send_keys(tok)
    el(driver, "#signin button[type=submit]").click()
    wait(driver, lambda d: el(d, "#cards [data-figure]"), "the overview after sign-in")


def sign_out(driver):
    el(driver, "#signout").click()
    wait(driver, lambda d: el(d, "#token"), "the sign-in form after signing out")


def go(driver, route):
    """Follows a hash route and returns once the page has drawn its new view's frame."""
    driver.execute_async_script(
        "const [r, done] = arguments;"
        "if (location.hash === r) { done(); return; }"
        "window.addEventListener('hashchange', () => setTimeout(done, 0), {once: true});"
        "location.hash = r;", route)


def row_uuids(driver, table):
    return driver.execute_script(
        "return Array.from(document.querySelectorAll(arguments[0] + ' tbody tr'))"
        ".map(r => r.dataset.uuid)", table)


def check_overview(driver, name):
    """The overview's figures equal the store's (status --json), every one of them."""
    go(driver, "#/")
    last = {}

    def same(d):
        nonlocal last
        try:
            last = (page_figures(d), store_figures(cli("status", "--json")))
        except (ValueError, KeyError):
            return False
        return last[0] == {k: last[1][k] for k in last[0]} and len(last[0]) >= 16

    if not wait_quiet(driver, same, 20):
        shot(driver, "failure")
        fail(f"{name}: the overview's figures differ from status --json: page {last[0]}, "
             f"store {last[1]}")
    ok(f"{name}: {len(last[0])} figures equal status --json")


def wait_quiet(driver, cond, secs):
    try:
        WebDriverWait(driver, secs, poll_frequency=0.5).until(lambda d: cond(d))
        return True
    except TimeoutException:
        return False


def run_fleet(cmd, out):
    """A fleet in the background, its summary appended to out."""
    return subprocess.Popen(shlex.split(cmd), stdout=out, stderr=subprocess.DEVNULL)


def check_live(driver):
    """The provisioned count moves while the second fleet runs (two halves, one after the
    other), without a reload: the page shows the first half's end, then the second's."""
    go(driver, "#/")
    wait(driver, lambda d: el(d, "#live.live-on"), "the live stream to connect")
    driver.execute_script("window.ppNoReload = 1")
    start = page_figures(driver)["devices.provisioned"]
    seen = [start]
    with open(os.environ["PP_FLEET2_OUT"], "w", encoding="ascii") as out:
        for half, var in enumerate(("PP_FLEET2A", "PP_FLEET2B")):
            fleet = run_fleet(os.environ[var], out)
            goal = start + 20 * (half + 1)
            t0 = time.monotonic()
            while time.monotonic() - t0 < 60 and seen[-1] < goal:
                v = page_figures(driver)["devices.provisioned"]
                if v != seen[-1]:
                    seen.append(v)
                time.sleep(0.1)
            if half == 0:
                shot(driver, "overview-live")
            rc = fleet.wait(timeout=60)
            if rc != 0:
                fail(f"the second fleet's half {half + 1} exited {rc}")
            if seen[-1] != goal:
                fail(f"the live view did not follow the fleet: provisioned went {seen}, "
                     f"expected {goal} after half {half + 1}")
    if driver.execute_script("return window.ppNoReload") != 1:
        fail("the page reloaded during the live view")
    ok(f"live view moved without a reload: provisioned {' -> '.join(map(str, seen))}")


def search(driver, text, want_uuid, what):
    go(driver, "#/devices")
    box = wait(driver, lambda d: el(d, "#q"), "the device search box")
    box.clear()
    t0 = time.monotonic()
    box.send_keys(text)
    wait(driver, lambda d: row_uuids(d, "#devices") == [want_uuid],
         f"the search for {what} to find exactly its device")
    ms = (time.monotonic() - t0) * 1000
    ok(f"search by {what} finds the device ({ms:.0f} ms, typing and the 200 ms pause included)")


def unproven_job():
    """The wrong-key machine's failed job, from the store (pskprov jobs list): it never
    proved its key, so it has no device row."""
    jobs = [j for j in cli("jobs", "list", "--state", "failed", "--json") if not j["bound"]]
    if not jobs:
        fail("no failed job of a machine that never proved its key (the wrong-key device)")
    return max(jobs, key=lambda j: j["id"])


def unproven_row(driver, job):
    return el(driver, f'#unproven-search tbody tr[data-job="{job["id"]}"]')


def check_unproven_row(driver, job, what):
    """The search's row for the job: its PID, address, state and reason in words."""
    row = unproven_row(driver, job)
    cells = [c.text for c in row.find_elements(By.CSS_SELECTOR, "td")]
    cause = job["last_error"].split(": ")[-1]
    if cells[0] != job["pid"] or cells[1] != job["address"] or cells[2] != "failed":
        fail(f"search by {what}: the unproven row says {cells}, expected {job['pid']} "
             f"{job['address']} failed")
    if not cause or cause.lower() not in cells[3].lower():
        fail(f"search by {what}: the reason '{cells[3]}' does not say the store's '{cause}'")
    if row_uuids(driver, "#devices"):
        fail(f"search by {what}: a device row for a machine that never proved its key")
    return cells[3]


def search_unproven(driver, text, job, what):
    go(driver, "#/devices")
    box = wait(driver, lambda d: el(d, "#q"), "the device search box")
    box.clear()
    t0 = time.monotonic()
    box.send_keys(text)
    wait(driver, lambda d: unproven_row(d, job) and (text_of(d, "#count") or "").startswith("no device"),
         f"the search for the wrong-key machine's {what} to show its job")
    ms = (time.monotonic() - t0) * 1000
    reason = check_unproven_row(driver, job, what)
    ok(f"search by the wrong-key machine's {what} shows it never proved its key ({ms:.0f} ms, "
       f"typing and the 200 ms pause included): {reason}")


def check_unproven(driver):
    """A machine with a wrong PPS has no device row: the devices search (and the header's)
    finds its failed job by PID and address, says why, and links to the job's page."""
    job = unproven_job()
    search_unproven(driver, job["pid"], job, "PID")
    search_unproven(driver, job["pid"].replace("-", "").lower(), job, "PID without dash")
    search_unproven(driver, job["address"], job, "address")
    shot(driver, "search-unproven")
    go(driver, "#/batches")
    wait(driver, lambda d: el(d, "#batches"), "the batches page")
    el(driver, "#search-q").send_keys(job["address"])
    el(driver, "#search-q").submit()
    wait(driver, lambda d: unproven_row(d, job), "the header search's unproven row")
    check_unproven_row(driver, job, "address in the header search")
    ok("the header search shows the machine that never proved its key")
    unproven_row(driver, job).find_element(By.CSS_SELECTOR, "a").click()
    wait(driver, lambda d: el(d, "#job-facts") and el(d, "#failure-reason"), "the job's page")
    reason = text_of(driver, "#failure-reason .reason")
    cause = job["last_error"].split(": ")[-1]
    if cause.lower() not in reason.lower():
        fail(f"the job page's reason '{reason}' does not say the store's '{cause}'")
    if not el(driver, "#timeline .ev-failed") or not el(driver, "#timeline .ev-queued"):
        fail("the job page's events lack 'queued' or 'failed'")
    if "never proved" not in (text_of(driver, "#job-bound") or ""):
        fail(f"the job page does not say the key was never proved: {text_of(driver, '#job-bound')}")
    if f"Job {job['id']}" not in driver.title:
        fail(f"the job page's title: {driver.title}")
    shot(driver, "job-unproven")
    ok(f"the job's page shows its events and why it failed: {reason}")


def main():
    os.makedirs(ART, exist_ok=True)
    read_tok = read_token("PP_READ_TOKEN_FILE")
    admin_tok = read_token("PP_ADMIN_TOKEN_FILE")
    failed = json.loads(os.environ["PP_FAILED"])
    clone = json.loads(os.environ["PP_CLONE"])
    prov = json.loads(os.environ["PP_PROVISIONED"])
    driver = browser()
    try:
        run(driver, read_tok, admin_tok, failed, clone, prov)
    finally:
        driver.quit()
    print("screenshots:")
    for s in SHOTS:
        print(f"  {s}")


def run(driver, read_tok, admin_tok, failed, clone, prov):
    # Signing in: a wrong token is refused with a message; the read token is taken.
    driver.get(URL + "/")
    wait(driver, lambda d: el(d, "#token"), "the sign-in form")
    shot(driver, "signin")
    el(driver, "#token").send_keys("ppt_" + "0" * 64)
    el(driver, "#signin button[type=submit]").click()
    wait(driver, lambda d: (text_of(d, "#signin-error") or "") != "", "the refusal of a wrong token")
    ok("a wrong token is refused: " + text_of(driver, "#signin-error"))
    el(driver, "#token").clear()
    el(driver, "#token").send_keys(read_tok)
    el(driver, "#signin button[type=submit]").click()
    wait(driver, lambda d: el(d, "#cards [data-figure]"), "the overview after sign-in")
    ok("signed in with the read token")

    check_overview(driver, "overview after the first fleet")
    shot(driver, "overview")
    check_live(driver)
    check_overview(driver, "overview after the second fleet")

    search(driver, failed["pid"], failed["uuid"], "PID")
    search(driver, failed["pid"].replace("-", "").lower(), failed["uuid"], "PID without dash")
    search(driver, failed["address"], failed["uuid"], "address")
    shot(driver, "devices-search")
    check_unproven(driver)
    go(driver, "#/devices?state=failed")
    wait(driver, lambda d: el(d, "#devices tbody tr"), "the failed devices")
    shot(driver, "devices-failed")

    # The failed device's page says why, in words, from the store's reason.
    el(driver, f'#devices tbody tr[data-uuid="{failed["uuid"]}"] a').click()
    wait(driver, lambda d: el(d, "#failure-reason"), "the failure reason on the device page")
    reason = text_of(driver, "#failure-reason .reason")
    cause = failed["last_error"].split(": ")[-1]
    if not cause or cause.lower() not in reason.lower():
        fail(f"the failure reason '{reason}' does not say the store's '{cause}'")
    if not el(driver, "#timeline .ev-failed"):
        fail("the timeline has no 'failed' event")
    shot(driver, "device-failed")
    ok(f"the failed device's page says why: {reason}")

    # The clone's page says why it is quarantined.
    go(driver, f"#/device/{clone['uuid']}")
    wait(driver, lambda d: el(d, "#quarantine-reason"), "the quarantine reason")
    qr = text_of(driver, "#quarantine-reason .reason")
    if not qr or "no reason recorded" in qr:
        fail(f"the clone's quarantine reason is missing: {qr}")
    shot(driver, "device-quarantined")
    ok(f"the clone's page says why it is quarantined: {qr}")

    # A read token cannot reveal credentials: the refusal is shown, no secret.
    creds = cli("devices", "credentials", prov["uuid"], "--reveal", "--json")
    secrets = [v for k, v in creds.items() if "password" in k and v]
    if not secrets:
        fail("no escrowed password to look for")
    go(driver, f"#/device/{prov['uuid']}")
    wait(driver, lambda d: el(d, "#reveal"), "the reveal button")
    el(driver, "#reveal").click()
    el(driver, "#reveal-confirm").click()
    wait(driver, lambda d: "Refused" in (text_of(d, "#action-msg") or ""), "the refusal of the reveal")
    msg = text_of(driver, "#action-msg")
    if any(s in driver.page_source for s in secrets):
        fail("a secret is in the page after a refused reveal")
    shot(driver, "reveal-refused")
    ok(f"a read token's reveal is refused: {msg}")
    sign_out(driver)

    # An admin token reveals them, and the audit log lists the reveal.
    sign_in(driver, admin_tok)
    go(driver, f"#/device/{prov['uuid']}")
    wait(driver, lambda d: el(d, "#reveal"), "the reveal button")
    el(driver, "#reveal").click()
    el(driver, "#reveal-confirm").click()
    wait(driver, lambda d: el(d, "#cred-admin"), "the revealed credentials")
    if text_of(driver, "#cred-admin") != creds["admin_password"] or \
            text_of(driver, "#cred-mebx") != creds["mebx_password"]:
        fail("the revealed credentials differ from the store's")
    ok("an admin token reveals the credentials the store holds")
    driver.find_element(By.XPATH, "//button[text()='Hide']").click()
    if el(driver, "#cred-admin"):
        fail("Hide left the credentials in the page")

    # The admin's actions through the page: release the clone (a JSON POST from the
    # page's own origin), retry the failed device's job.
    go(driver, f"#/device/{clone['uuid']}")
    wait(driver, lambda d: el(d, "#release-reason"), "the release form")
    el(driver, "#release-reason").send_keys("console test: a known clone")
    el(driver, "#release").click()
    wait(driver, lambda d: el(d, "#release-reason") is None and el(d, ".sub .st-failed"),
         "the released clone's page (state failed)")
    ok("the admin releases the clone from its page")
    go(driver, f"#/device/{failed['uuid']}")
    wait(driver, lambda d: el(d, "#retry"), "the retry button")
    el(driver, "#retry").click()
    wait(driver, lambda d: "queued again" in (text_of(d, "#toast") or ""), "the retry's answer")
    ok("the admin retries the failed device's job from its page")

    go(driver, "#/audit")
    wait(driver, lambda d: el(d, "#chain"), "the audit page")
    rows = [r.text for r in driver.find_elements(By.CSS_SELECTOR, "#audit tbody tr")]
    for action, subject in (("reveal", prov["uuid"]), ("device.released", clone["uuid"]),
                            ("job.requeued", "")):
        if not any("api:console-admin" in r and action in r and subject in r for r in rows):
            fail(f"the audit page does not list the admin's {action}: {rows[:5]}")
    if "intact" not in text_of(driver, "#chain"):
        fail(f"audit chain: {text_of(driver, '#chain')}")
    shot(driver, "audit")
    ok("the audit page lists the reveal, release and retry by api:console-admin; the chain is intact")

    go(driver, "#/batches")
    wait(driver, lambda d: el(d, '#batches tr[data-batch="lab"]'), "the batches page")
    shot(driver, "batches")
    go(driver, "#/keys?batch=lab")
    wait(driver, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#keys tbody tr")) > 0, "the keys page")
    shot(driver, "keys")
    ok("the batches and keys pages list the batch and its keys")

    check_clean(driver, [read_tok, admin_tok])

    # A token revoked while the page is open: the next call is refused and the page
    # goes back to the sign-in form, saying why.
    r = subprocess.run([PSKPROV, "token", "revoke", "console-admin"], capture_output=True,
                       text=True, timeout=30, check=False)
    if r.returncode != 0:
        fail(f"token revoke: {r.stderr.strip()}")
    t0 = time.monotonic()
    while not el(driver, "#token") and time.monotonic() - t0 < 20:
        go(driver, "#/batches" if el(driver, "#audit") else "#/audit")
        time.sleep(0.5)
    if not el(driver, "#token"):
        fail("the page stayed signed in with a revoked token")
    if "sign in again" not in (text_of(driver, "#signin-error") or ""):
        fail(f"no word of the refused token: {text_of(driver, '#signin-error')}")
    if driver.execute_script("return sessionStorage.length") != 0:
        fail("the refused token is still in sessionStorage")
    shot(driver, "signed-out")
    ok("a revoked token sends the page back to sign-in, the token forgotten")


def check_clean(driver, tokens):
    """No CSP violation or script error in the console; no token in any URL."""
    errors = [e["message"] for e in driver.get_log("browser")
              if e["level"] in ("SEVERE", "WARNING") or "Content Security Policy" in e["message"]]
    # The refused calls the test made on purpose answer 401/403: the browser logs those
    # as failed resources, which are not script errors.
    errors = [m for m in errors if not ("status of 401" in m or "status of 403" in m)]
    if errors:
        fail(f"the browser's console has errors: {errors[:5]}")
    ok("no CSP violation or script error in the browser's console")
    urls = [driver.current_url]
    urls += driver.execute_script(
        "return performance.getEntries().map(e => e.name).concat([location.href])")
    for e in driver.get_log("performance"):
        m = json.loads(e["message"])["message"]
        if m.get("method") == "Network.requestWillBeSent":
            urls.append(m["params"]["request"]["url"])
            urls.append(m["params"].get("documentURL", ""))
    for u in urls:
        for t in tokens:
            if t in u or t[4:] in u:
                fail("a token appears in a URL the browser visited")
    if not any("/api/v1/" in u for u in urls):
        fail("no API call recorded: the URL check saw nothing")
    ok(f"no token in any of {len(urls)} URLs the browser visited")


if __name__ == "__main__":
    main()
