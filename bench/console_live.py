#!/usr/bin/python3
"""The web console at fleet scale, in headless Chromium (Selenium 4), for
bench/console_live.sh, which starts the server and passes:

  PP_URL                the server's API base (http://127.0.0.1:PORT)
  PP_READ_TOKEN_FILE    the browser's read token (0600 file)
  PP_STORE_TOKEN_FILE   a second read token for this script's /api/v1/status calls (each
                        token has its own rate limit)
  PP_FLEET              the fleet's command line; PP_FLEET_OUT, PP_FLEET_LOG its output
  PP_DEVICES, PP_WRONG, PP_DROP   the fleet's size, wrong-key and dropping devices
  PP_SEARCHES           how many random devices to look for
  PSKPROV, PSKPROV_DIR  the program and its data directory

Prints figures, never pass/fail; exits non-zero only when the bench itself cannot go on
(the browser cannot sign in, the fleet never settles). Never prints a token."""

import concurrent.futures
import json
import os
import random
import re
import shlex
import statistics
import subprocess
import sys
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests",
                                "integration", "lib"))
from console_figures import page_figures, store_figures  # noqa: E402

from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

URL = os.environ["PP_URL"]
PSKPROV = os.environ["PSKPROV"]
N = int(os.environ["PP_DEVICES"])
WRONG = int(os.environ["PP_WRONG"])
DROP = int(os.environ["PP_DROP"])
SAMPLE_S = 0.25
FIGS = (("devices.provisioned", "provisioned"), ("jobs.running", "in progress"),
        ("jobs.queued", "queued"), ("devices.failed", "failed"))


def stop(msg):
    print(f"console_live: {msg}", flush=True)
    sys.exit(1)


def read_token(var):
    with open(os.environ[var], encoding="ascii") as f:
        return f.read().strip()


def cli(*args):
    r = subprocess.run([PSKPROV, *args], capture_output=True, text=True, timeout=60, check=False)
    if r.returncode != 0:
        stop(f"pskprov {' '.join(args[:2])}: exit {r.returncode}: {r.stderr.strip()}")
    return json.loads(r.stdout)


def api(tok, path):
    req = urllib.request.Request(URL + path, headers={"Authorization": f"Bearer {tok}"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())


def browser():
    opts = webdriver.ChromeOptions()
    opts.binary_location = "/usr/bin/chromium"
    for a in ("--headless=new", "--disable-gpu", "--window-size=1400,1000",
              "--disable-dev-shm-usage", "--no-first-run", "--disable-extensions",
              "--disable-background-networking", "--disable-sync", "--disable-default-apps"):
        opts.add_argument(a)
    if os.geteuid() == 0:
        opts.add_argument("--no-sandbox")
    service = Service(executable_path=os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver"))
    d = webdriver.Chrome(service=service, options=opts)
    d.set_page_load_timeout(30)
    d.set_script_timeout(30)
    return d


def wait(driver, cond, what, secs=15):
    try:
        return WebDriverWait(driver, secs, poll_frequency=0.05).until(lambda d: cond(d))
    except TimeoutException:
        said = driver.execute_script(
            "const e = document.querySelector('#signin-error, #page-error, #devices-error');"
            "return e ? e.textContent : ''")
        stop(f"timed out after {secs} s waiting for {what}" + (f" (the page says: {said})" if said else ""))
    return None


def el(driver, css):
    found = driver.find_elements(By.CSS_SELECTOR, css)
    return found[0] if found else None


def go(driver, route):
    """Follows a hash route; returns once the page has drawn its new view's frame."""
    driver.execute_async_script(
        "const [r, done] = arguments;"
        "if (location.hash === r) { done(); return; }"
        "window.addEventListener('hashchange', () => setTimeout(done, 0), {once: true});"
        "location.hash = r;", route)


def med_max(xs, fmt="{:.0f}"):
    if not xs:
        return "none"
    return f"median {fmt.format(statistics.median(xs))}, max {fmt.format(max(xs))}"


def settled(st):
    d, j = st["devices"], st["jobs"]
    return (d["seen"] == 0 and d["configuring"] == 0 and j["running"] == 0 and
            j["pending"] == 0 and j["retry"] == 0 and
            d["provisioned"] + d["failed"] + d["quarantined"] >= N - WRONG and
            j["failed"] >= WRONG)


# ---- 1, 2: the run, followed live ----

def sample_run(driver, store_tok):
    """Samples the page's figures and /api/v1/status at once, every 250 ms, from the
    fleet's start until the store has settled and the page shows the same figures (or
    10 s after). Returns [(t_page, page, t_store, store)], the fleet's start and the time
    the store settled."""
    pool = concurrent.futures.ThreadPoolExecutor(1)

    def store_at():
        a = time.monotonic()
        st = api(store_tok, "/api/v1/status")
        return (a + time.monotonic()) / 2, st

    samples = []
    with open(os.environ["PP_FLEET_OUT"], "w", encoding="ascii") as out, \
            open(os.environ["PP_FLEET_LOG"], "w", encoding="ascii") as log:
        t0 = time.monotonic()
        fleet = subprocess.Popen(shlex.split(os.environ["PP_FLEET"]), stdout=out, stderr=log)
        t_settled = None
        next_at = t0
        while True:
            fut = pool.submit(store_at)
            a = time.monotonic()
            page = page_figures(driver)
            tp = (a + time.monotonic()) / 2
            ts, st = fut.result()
            samples.append((tp, page, ts, st))
            now = time.monotonic()
            if t_settled is None and settled(st):
                t_settled = ts
            if t_settled is not None and (all(page[k] == store_figures(st)[k] for k, _ in FIGS)
                                          or now - t_settled > 10):
                break
            if now - t0 > 180:
                fleet.terminate()
                stop(f"the store did not settle in 180 s: {st['devices']}, jobs {st['jobs']}")
            if fleet.poll() is not None and t_settled is None and now - t0 > 5 and \
                    fleet.returncode not in (0, 1):
                stop(f"the fleet exited {fleet.returncode} before the store settled")
            next_at += SAMPLE_S
            time.sleep(max(0.0, next_at - time.monotonic()))
        if fleet.poll() is None:
            fleet.terminate()  # the dropping devices would hello again a minute later
        fleet.wait(timeout=30)
    pool.shutdown()
    return samples, t0, t_settled


def crossing(store_series, v):
    """When the store's provisioned count first reached v, interpolated between samples."""
    prev_t, prev_v = None, None
    for t, sv in store_series:
        if sv >= v:
            if prev_t is None or sv == prev_v:
                return t
            return prev_t + (t - prev_t) * (v - prev_v) / (sv - prev_v)
        prev_t, prev_v = t, sv
    return None


def report_run(samples, t0, t_settled):
    store_series = [(ts, st["devices"]["provisioned"]) for _, _, ts, st in samples]
    final_v = store_series[-1][1]
    t_final = crossing(store_series, final_v)
    first = next((t for t, v in store_series if v > 0), None)
    print(f"run: the store's provisioned count went 0 -> {final_v} from "
          f"{(first or t0) - t0:.1f} s to {t_final - t0:.1f} s after the fleet started; "
          f"settled (nothing queued or in progress) at {t_settled - t0:.1f} s")
    moving = [s for s in samples if s[0] <= t_final + 0.01 and s[2] >= (first or t0)]
    behind = [st["devices"]["provisioned"] - page["devices.provisioned"] for _, page, _, st in moving]
    apart = [sum(abs(store_figures(st)[k] - page[k]) for k, _ in FIGS)
             for _, page, _, st in moving]
    ages = []
    for tp, page, _, _ in moving:
        v = page["devices.provisioned"]
        tc = crossing(store_series, v) if v > 0 else None
        if tc is not None:
            ages.append(max(0.0, tp - tc))
    print(f"live view: {len(samples)} samples every {SAMPLE_S * 1000:.0f} ms, {len(moving)} while "
          f"the store's count moved")
    print(f"  the page behind the store, provisioned: {med_max(behind)} devices; "
          f"the four figures (provisioned, in progress, queued, failed) apart in all: "
          f"{med_max(apart)} devices")
    print(f"  the page's provisioned figure was the store's of {med_max(ages, '{:.2f}')} s before")
    shown = next((tp for tp, page, _, _ in samples
                  if tp >= t_final and page["devices.provisioned"] == final_v), None)
    if shown is not None:
        print(f"  the page showed the final {final_v} provisioned {shown - t_final:.2f} s "
              f"after the store had it")
    else:
        print(f"  the page never showed the final {final_v} provisioned while sampled")
    peak = {k: max(store_figures(st)[k] for _, _, _, st in samples) for k, _ in FIGS}
    pk = {k: max(page[k] for _, page, _, _ in samples) for k, _ in FIGS}
    print("  peaks, store / page: " + "; ".join(f"{name} {peak[k]} / {pk[k]}" for k, name in FIGS))


def report_final(driver):
    """The final page figures against `pskprov status --json` (the page keeps its keys
    from a 5 s poll: waited for up to 12 s)."""
    go(driver, "#/")
    t0 = time.monotonic()
    while True:
        page = page_figures(driver)
        store = store_figures(cli("status", "--json"))
        same = len(page) >= 16 and all(store.get(k) == v for k, v in page.items())
        if same or time.monotonic() - t0 > 12:
            break
        time.sleep(0.5)
    print(f"final page:           {json.dumps(page, sort_keys=True)}")
    print(f"pskprov status --json: {json.dumps({k: store[k] for k in sorted(page) if k in store})}")
    diff = {k: (v, store.get(k)) for k, v in page.items() if store.get(k) != v}
    print(f"  {len(page)} figures on the page, {len(page) - len(diff)} equal to the store's"
          + (f"; differ (page, store): {diff}" if diff else ""))


# ---- 3: finding a device ----

TIMER_JS = """
if (!window.ppBench) {
  window.ppBench = {};
  document.addEventListener('input', () => {
    const t = performance.now();
    if (ppBench.first === null) ppBench.first = t;
    ppBench.last = t;
  }, true);
  new MutationObserver(() => {
    const b = window.ppBench;
    if (!b.uuid || b.found !== null) return;
    if (document.querySelector('#devices tbody tr[data-uuid="' + b.uuid + '"]')) {
      b.found = performance.now();
      b.count = (document.getElementById('count') || {}).textContent || '';
    }
  }).observe(document.getElementById('main'), {childList: true, subtree: true});
}
Object.assign(window.ppBench, {uuid: arguments[0], first: null, last: null, found: null, count: ''});
performance.clearResourceTimings();
"""


def debounce_ms():
    """The device list's typing pause, read from the app.js the server serves."""
    with urllib.request.urlopen(URL + "/static/app.js", timeout=10) as r:
        js = r.read().decode("utf-8")
    m = re.search(r"debounce = setTimeout\(.*?\},\s*(\d+)\)", js, re.S)
    return int(m.group(1)) if m else None


def search_once(driver, where, text, uuid):
    """Types text into the header search (then Enter) or the device list's box; returns
    (ms from the last keystroke to the device's row in the DOM, the list's count line,
    ms of the API call) or None when the row did not appear in 5 s."""
    if where == "header":
        go(driver, "#/")
        wait(driver, lambda d: el(d, "#cards [data-figure]"), "the overview")
        box = el(driver, "#search-q")
    else:
        go(driver, "#/devices?q=no-such-device")
        wait(driver, lambda d: "no device matches" in (d.find_element(By.ID, "count").text or ""),
             "the empty device list")
        box = el(driver, "#q")
        driver.execute_script("arguments[0].value = ''", box)
    driver.execute_script(TIMER_JS, uuid)
    box.send_keys(text + (Keys.ENTER if where == "header" else ""))
    try:
        WebDriverWait(driver, 5, poll_frequency=0.05).until(
            lambda d: d.execute_script("return window.ppBench.found !== null"))
    except TimeoutException:
        return None
    b = driver.execute_script(
        "const r = performance.getEntriesByType('resource')"
        ".filter(e => e.name.includes('/api/v1/devices?') && e.name.includes('q='));"
        "return {found: ppBench.found, last: ppBench.last, first: ppBench.first,"
        " count: ppBench.count, api: r.length ? r[r.length - 1].duration : null}")
    return b["found"] - b["last"], b["count"], b["api"], b["last"] - b["first"]


def report_search(driver, devices):
    n = min(int(os.environ["PP_SEARCHES"]), len(devices))
    seed = random.randrange(1 << 30)
    picks = random.Random(seed).sample(devices, n)
    pause = debounce_ms()
    print(f"search: {n} random devices (seed {seed}) of {len(devices)}, each by PID, address and "
          f"UUID fragment (its first 8 characters); ms from the last keystroke to the device's "
          f"row in the page (performance.now() in the browser)")
    for where, label in (("header", "header search (Enter)"), ("list", "device list box")):
        for kind in ("pid", "address", "uuid"):
            times, apis, missed, typing, counts = [], [], 0, [], []
            for d in picks:
                text = d["uuid"][:8] if kind == "uuid" else d[kind]
                r = search_once(driver, where, text, d["uuid"])
                if r is None:
                    missed += 1
                    continue
                times.append(r[0])
                typing.append(r[3])
                if r[2] is not None:
                    apis.append(r[2])
                m = re.search(r"of ([\d,]+) devices", r[1])
                counts.append(int(m.group(1).replace(",", "")) if m else 0)
            extra = f"; {missed} not on the first page in 5 s" if missed else ""
            print(f"  {label:22} by {kind:7}: {med_max(times)} ms (the API call {med_max(apis)} ms; "
                  f"typing took {med_max(typing)} ms; matches {med_max(counts)}){extra}")
    print(f"  the header search has no typing pause (Enter submits); the device list box waits "
          f"{pause} ms after the last keystroke (web/app.js debounce), inside its figures")


# ---- 4: why each failed device failed ----

DEVICE_JS = """
const [uuid, done] = arguments;
const t0 = performance.now();
const check = () => {
  const r = document.querySelector('#failure-reason .reason');
  const h = document.querySelector('#main h1');
  if (r || (h && h.textContent.startsWith('Device ') && document.getElementById('uuid') &&
            document.getElementById('uuid').textContent === uuid)) {
    obs.disconnect();
    done({ms: performance.now() - t0, reason: r ? r.textContent : null});
    return true;
  }
  return false;
};
const obs = new MutationObserver(check);
obs.observe(document.getElementById('main'), {childList: true, subtree: true});
location.hash = '#/device/' + uuid;
"""


def report_failed(driver, store_tok):
    failed = cli("devices", "list", "--state", "failed", "--limit", "1000000", "--json")
    shown, times, missing = 0, [], []
    for d in failed:
        go(driver, "#/")
        wait(driver, lambda dr: el(dr, "#cards [data-figure]"), "the overview")
        r = driver.execute_async_script(DEVICE_JS, d["uuid"])
        times.append(r["ms"])
        cause = (d.get("last_error") or "").split(": ")[-1].lower()
        if r["reason"] and cause and cause in r["reason"].lower():
            shown += 1
        else:
            missing.append(d["pid"])
    print(f"failed devices: {shown} of {len(failed)} pages show the store's failure reason"
          + (f" (not: {', '.join(missing)})" if missing else "")
          + f"; device page load {med_max(times)} ms (hash change to the page drawn)")
    if failed:
        print(f"  e.g. {failed[0]['pid']}: {failed[0].get('last_error')}")
    # Senders that never proved their key (wrong key) have no device: the overview lists them.
    jobs = api(store_tok, "/api/v1/jobs?state=failed&limit=500")["jobs"]
    unproven = {j["pid"] for j in jobs if not j.get("bound")}
    go(driver, "#/")
    wait(driver, lambda dr: el(dr, "#failures h2"), "the overview's failures")
    try:
        WebDriverWait(driver, 5, poll_frequency=0.1).until(lambda dr: el(dr, "#unproven") or not unproven)
    except TimeoutException:
        pass
    rows = driver.execute_script(
        "return Array.from(document.querySelectorAll('#unproven tbody tr'))"
        ".map(r => [r.cells[0].textContent, r.cells[2].textContent])")
    listed = {pid for pid, why in rows if pid in unproven and why}
    print(f"wrong-key senders (no device: never proved their key): {len(listed)} of {len(unproven)} "
          f"listed with a reason on the overview")


def main():
    read_tok = read_token("PP_READ_TOKEN_FILE")
    store_tok = read_token("PP_STORE_TOKEN_FILE")
    driver = browser()
    try:
        caps = driver.capabilities
        print(f"browser: {caps.get('browserName')} {caps.get('browserVersion')}, chromedriver "
              f"{caps.get('chrome', {}).get('chromedriverVersion', '?').split(' ')[0]}, headless")
        driver.get(URL + "/")
        wait(driver, lambda d: el(d, "#token"), "the sign-in form")
        el(driver, "#token").send_keys(read_tok)
        el(driver, "#signin button[type=submit]").click()
        wait(driver, lambda d: el(d, "#cards [data-figure]"), "the overview after sign-in")
        wait(driver, lambda d: el(d, "#live.live-on"), "the live stream to connect")
        samples, t0, t_settled = sample_run(driver, store_tok)
        report_run(samples, t0, t_settled)
        with open(os.environ["PP_FLEET_OUT"], encoding="ascii") as f:
            txt = f.read().strip()
        if txt:
            fl = json.loads(txt)
            print(f"fleet: {fl.get('provisioned')} of {fl.get('devices')} provisioned, "
                  f"first hello to provisioned {fl.get('first_hello_to_provisioned_ms')} ms")
        report_final(driver)
        devices = cli("devices", "list", "--limit", "1000000", "--json")
        report_search(driver, devices)
        report_failed(driver, store_tok)
    finally:
        driver.quit()


if __name__ == "__main__":
    main()
