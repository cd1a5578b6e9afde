"""The console overview's figures, read from the page and derived from the store the
same way web/app.js derives them: shared by tests/integration/console.py and
bench/console_live.py."""


def page_figures(driver):
    """Every figure the overview shows, by its data-figure name."""
    pairs = driver.execute_script(
        "return Array.from(document.querySelectorAll('[data-figure]'))"
        ".map(e => [e.dataset.figure, e.textContent])")
    return {k: int(v.replace(",", "")) for k, v in pairs}


def store_figures(st):
    """The same names from a status answer (`pskprov status --json` or /api/v1/status)."""
    out = {}
    for group in ("devices", "jobs", "keys"):
        for k, v in st[group].items():
            out[f"{group}.{k}"] = v
    # What the overview derives: machines queued (pending and retry jobs) and every
    # machine heard from (devices at rest, and one per active job).
    d, j = st["devices"], st["jobs"]
    out["jobs.queued"] = j["pending"] + j["retry"]
    out["machines.total"] = (d["seen"] + d["provisioned"] + d["failed"] + d["quarantined"] +
                             j["pending"] + j["retry"] + j["running"])
    return out
