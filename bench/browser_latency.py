"""Interaction latency in a real browser: JupyterLab + Debian's Chromium driven by Playwright.

    python -m bench.browser_latency --tiny                 # ~3-5 min on 2 shared cores
    python -m bench.browser_latency --repo /path/to/other/checkout --json before.json

A scratch folder gets a notebook that shows the compression panel (a 5-epoch reference MLP, Preview tab),
the coupling playground and the W inspector; JupyterLab (free localhost port, token on) serves it with
``PYTHONPATH=<repo>`` so the kernel imports that checkout's ``lab``. Each interaction is timed inside the
page: the input event's ``timeStamp`` (keydown of a slider step, the Train click) to the first animation
frame after a ``MutationObserver`` saw the output change to the expected state (rAF + a task: the frame
is painted). Measured:

* compression slider step (ArrowRight on the sparsity slider) -> the diamond at the new sparsity
  (``figure``) and -> the results table naming it (``table``);
* playground Train click -> first visible response (the status line changes) and -> the first W heatmap
  of the new run (its title says "before training");
* W inspector epoch scrubber step -> the heatmap titled with the new epoch.

The kernel's share comes from the kernel's own clock: the notebook wraps ``ipywidgets.Widget._handle_msg``
(a browser message arrives) and ``Widget._send`` (an update leaves); kernel ms = the first update of the
output's widget class sent after the input's message arrived - that arrival. The rest (total - kernel) is
transport, the browser's queue and drawing.
Reports median / p90 / max per measurement, and the widget-state bytes the notebook would store.
"""
from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
               "--disable-sync", "--no-first-run"]
NOTEBOOK = "latency.ipynb"
FIGURE_CLASSES = ("LabFigureWidget", "FigureWidget")

SETUP = '''import json, os, time
os.environ["LAB_RUNS"] = {runs!r}
import ipywidgets
_bench = {{"recv": [], "send": []}}
_handle, _send = ipywidgets.Widget._handle_msg, ipywidgets.Widget._send
def _timed_handle(self, msg):
    start = time.time()
    try:
        return _handle(self, msg)
    finally:
        _bench["recv"].append((start, time.time(), type(self).__name__))
def _timed_send(self, msg, buffers=None):
    _bench["send"].append((time.time(), type(self).__name__, len(json.dumps(msg, default=str))
                           + sum(len(b) for b in buffers or ())))
    return _send(self, msg, buffers)
ipywidgets.Widget._handle_msg, ipywidgets.Widget._send = _timed_handle, _timed_send
from lab.ui import CompressionPanel, CouplingPlayground, ModelSource, PlaygroundConfig, WInspector'''
CELLS = [
    "cp = CompressionPanel(ModelSource(epochs=5, limit=400), update_interval=0.0)\ncp.run()\n"
    "cp.tabs.selected_index = 1\ncp",
    "pg = CouplingPlayground(PlaygroundConfig(width=16, stages=2, epochs={epochs}, small_data=True, baselines=()))\n"
    "pg.run()\npg",
    "insp = WInspector()\ninsp",
    'print("BENCH" + json.dumps({"recv": _bench["recv"], "send": _bench["send"], "state": '
    'len(json.dumps(ipywidgets.Widget.get_manager_state(drop_defaults=False), default=str))}))',
]

# window.__lab.arm(specs): resolve window.__lab.done with {name: ms after the input event} once each spec's
# element satisfies its check (tested on every DOM mutation and every animation frame), on the frame after
# (rAF, then a task: that frame is painted)
PAGE_JS = """() => {
  if (window.__lab) return;
  window.__lab = {
    t0: null,
    arm(specs, timeoutMs) {
      window.__lab.t0 = null;
      const waits = specs.map(s => new Promise(resolve => {
        const el = document.querySelector(s.selector);
        const check = new Function('el', 'return (' + s.check + ');');
        const probe = () => { try { return JSON.stringify(new Function('return (' + s.probe + ');')()).slice(0, 300); }
                              catch (e) { return String(e); } };
        const finish = (why) => requestAnimationFrame(() => setTimeout(() =>
          resolve([s.name, why ? null : performance.now(), why && s.probe ? probe() : null]), 0));
        let settled = false;
        const test = () => {
          if (settled) return;
          let ok = false;
          try { ok = window.__lab.t0 !== null && check(el); } catch (e) { ok = false; }
          if (ok) { settled = true; obs.disconnect(); finish(); }
        };
        const obs = new MutationObserver(test);
        obs.observe(el, {subtree: true, childList: true, attributes: true, characterData: true});
        const poll = () => { test(); if (!settled) requestAnimationFrame(poll); };   // a change without a DOM
        requestAnimationFrame(poll);                                                 // mutation: next frame
        setTimeout(() => { if (!settled) { settled = true; obs.disconnect(); finish('timeout'); } }, timeoutMs);
      }));
      window.__lab.done = Promise.all(waits).then(pairs => {
        const t0 = window.__lab.t0;
        const out = {t0_epoch_ms: performance.timeOrigin + t0};
        for (const [name, t, seen] of pairs) {
          out[name] = t === null ? null : t - t0;
          if (seen !== null) out[name + '_seen'] = seen;      // what the page showed when it timed out
        }
        return out;
      });
    },
  };
  for (const type of ['keydown', 'mousedown']) {
    document.addEventListener(type, e => { if (window.__lab.t0 === null) window.__lab.t0 = e.timeStamp; },
                              {capture: true});
  }
}"""


def note(text: str) -> None:
    """A progress line on stderr (the table goes to stdout)."""
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_notebook(folder: Path, epochs: int) -> None:
    runs = folder / "runs"
    sources = [SETUP.format(runs=str(runs))] + [c.replace("{epochs}", str(epochs)) for c in CELLS]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in sources], metadata={
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}})
    nbformat.write(nb, folder / NOTEBOOK)


def start_lab(folder: Path, repo: Path) -> tuple[subprocess.Popen, str, str]:
    port, token = free_port(), secrets.token_hex(16)
    settings = folder / "settings"
    for path, value in ((settings / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings",
                         {"fetchNews": "false", "checkForUpdates": False}),
                        (settings / "@jupyterlab" / "notebook-extension" / "tracker.jupyterlab-settings",
                         {"windowingMode": "none"})):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(value))
    env = {**os.environ, "PYTHONPATH": str(repo), "LAB_FAST": "1", "JUPYTER_RUNTIME_DIR": str(folder / "runtime"),
           "JUPYTERLAB_WORKSPACES_DIR": str(folder / "ws"), "JUPYTERLAB_SETTINGS_DIR": str(settings)}
    log = open(folder / "jupyter.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyter", "lab", "--no-browser", f"--port={port}", "--ServerApp.ip=127.0.0.1",
         f"--IdentityProvider.token={token}", "--allow-root", f"--ServerApp.root_dir={folder}",
         "--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"],
        stdout=log, stderr=subprocess.STDOUT, env=env, cwd=folder)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while True:
        try:
            with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2) as r:
                if r.status == 200:
                    return proc, base, token
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            stop_lab(proc)
            raise RuntimeError(f"JupyterLab did not start:\n{(folder / 'jupyter.log').read_text()[-3000:]}")
        time.sleep(0.5)


def stop_lab(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGINT)
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)


def wait_until(page, predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while True:
        button = page.locator(".jp-Dialog .jp-mod-accept")
        if button.count() and button.first.is_visible():
            button.first.click()
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
        page.wait_for_timeout(100)


def text(page, css: str) -> str:
    loc = page.locator(css)
    return loc.first.inner_text() if loc.count() else ""


def measure(page, specs: list[dict], act, timeout_ms: int = 20_000) -> dict:
    """Arm the observers, do ``act()`` (a key press or click), return {name: ms} (None: timed out)."""
    page.evaluate("([specs, t]) => window.__lab.arm(specs, t)", [specs, timeout_ms])
    act()
    return page.evaluate("() => window.__lab.done")


def plots(css: str, what: str) -> str:
    """A JS expression: ``what`` of every plotly graph div ``g`` inside ``css`` (the probe of a timed-out check)."""
    return f"Array.from(document.querySelectorAll('{css} .js-plotly-plot')).map(g => {{ try {{ return {what}; }} " \
           "catch (e) { return String(e); } })"


def any_plot(css: str, test: str) -> str:
    """A JS check: some plotly graph div ``g`` inside ``css`` passes ``test`` (every one is tried: a view
    replaced by a new widget may linger in the box for a while)."""
    return f"Array.from(document.querySelectorAll('{css} .js-plotly-plot')).some(g => {{ try {{ return {test}; }} " \
           "catch (e) { return false; } })"


def show(page, css: str) -> None:
    """Scroll ``css`` to the middle of the window: the output must be on screen to be timed as on screen
    (plotly.js may hold back drawing a figure outside the window), and its input stays in view too."""
    page.locator(css).first.evaluate("el => el.scrollIntoView({block: 'center'})")
    page.wait_for_timeout(200)


def slider_steps(page, reps: int) -> list[dict]:
    handle = page.locator(".lab-sparsity .noUi-handle").first
    show(page, ".lab-preview-info")
    out = []
    for k in range(reps):
        key = "ArrowLeft" if (k // 5) % 2 else "ArrowRight"       # walk 5 steps right, 5 left, ...
        now = float(text(page, ".lab-sparsity .widget-readout") or "nan")
        target = round(now + (0.01 if key == "ArrowRight" else -0.01), 2)
        specs = [{"name": "figure", "selector": ".lab-preview-view",
                  "check": any_plot(".lab-preview-view", f"Math.abs(g.data[1].x[0] - {target}) < 1e-6"),
                  "probe": plots(".lab-preview-view", "Array.from(g.data[1].x)")},
                 {"name": "table", "selector": ".lab-preview-info",
                  "check": f"el.innerText.includes('sparsity {target:.2f}')"}]
        handle.focus()
        out.append({"target": target, **measure(page, specs, lambda: page.keyboard.press(key))})
        page.wait_for_timeout(300)
    return out


def train_clicks(page, reps: int) -> list[dict]:
    out = []
    for k in range(reps):
        wait_until(page, lambda: text(page, ".lab-playground .lab-status").startswith("done:")
                   and page.locator(".lab-playground .lab-stop").first.is_disabled(), 180, "the playground to be idle")
        seed = page.locator(".lab-playground .lab-seed input").first
        seed.fill(str(k + 1))
        seed.press("Enter")
        page.wait_for_timeout(300)
        before = text(page, ".lab-playground .lab-status")
        specs = [{"name": "first_response", "selector": ".lab-playground .lab-status",
                  "check": f"el.innerText.trim() !== {json.dumps(before)}"},
                 {"name": "first_W", "selector": ".lab-W-view",
                  "check": any_plot(".lab-W-view", "String(g.layout.title.text || g.layout.title)"
                                                   ".includes('before training')"),
                  "probe": plots(".lab-W-view", "String(g.layout.title.text || g.layout.title)")}]
        button = page.locator(".lab-playground .lab-train").first
        show(page, ".lab-W-view")
        out.append(measure(page, specs, lambda: button.click()))
    wait_until(page, lambda: text(page, ".lab-playground .lab-status").startswith("done:"), 180, "the last run")
    return out


def scrub_steps(page, reps: int) -> list[dict]:
    handle = page.locator(".lab-inspector .lab-epoch .noUi-handle").first
    show(page, ".lab-inspector-W")
    out = []
    for k in range(reps):
        now = int(text(page, ".lab-inspector .lab-epoch .widget-readout") or 0)
        key = "ArrowLeft" if (k // 3) % 2 == 0 and now > 0 else "ArrowRight"    # 3 epochs back, 3 forward, ...
        target = now - 1 if key == "ArrowLeft" else now + 1
        specs = [{"name": "W", "selector": ".lab-inspector-W",
                  "check": any_plot(".lab-inspector-W",
                                    f"/epoch {target}( |$)/.test(String(g.layout.title.text || g.layout.title))"),
                  "probe": plots(".lab-inspector-W", "String(g.layout.title.text || g.layout.title)")}]
        handle.focus()
        out.append({"target": target, **measure(page, specs, lambda: page.keyboard.press(key))})
        page.wait_for_timeout(300)
    return out


def kernel_share(rows: list[dict], bench: dict, name: str, input_class: str, output_classes: tuple[str, ...]) -> None:
    """Add ``<name>_kernel`` (ms) to each row: the first update of ``output_classes`` sent after the input's
    message arrived (and before the output was on screen), minus that arrival (kernel clock)."""
    for row in rows:
        if row.get(name) is None:
            continue
        t0 = row["t0_epoch_ms"] / 1000
        done = t0 + row[name] / 1000
        arrived = [start for start, _, cls in bench["recv"] if cls == input_class and start >= t0 - 0.05]
        sent = [t for t, cls, _ in bench["send"] if cls in output_classes and (arrived and arrived[0] <= t <= done)]
        row[f"{name}_kernel"] = 1000 * (sent[0] - arrived[0]) if arrived and sent else None


def bytes_sent(rows: list[dict], bench: dict, name: str) -> None:
    """Add ``bytes`` to each row: what the kernel sent from the input event until the ``name`` output."""
    for row in rows:
        if row.get(name) is None:
            continue
        t0 = row["t0_epoch_ms"] / 1000
        row["bytes"] = sum(size for t, _, size in bench["send"] if t0 <= t <= t0 + row[name] / 1000 + 0.5)


def summary(values: list[float | None]) -> dict:
    got = sorted(v for v in values if v is not None)
    if not got:
        return {"n": 0, "median": None, "p90": None, "max": None, "missed": len(values)}
    p90 = got[min(len(got) - 1, int(round(0.9 * (len(got) - 1))))]
    return {"n": len(got), "median": statistics.median(got), "p90": p90, "max": got[-1],
            "missed": len(values) - len(got)}


def run(repo: Path, reps: int, train_reps: int, epochs: int, chromium: Path, headless: bool = True) -> dict:
    from playwright.sync_api import sync_playwright

    folder = Path(tempfile.mkdtemp(prefix="lab-latency-"))
    write_notebook(folder, epochs)
    proc, base, token = start_lab(folder, repo)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(chromium), headless=headless, args=LAUNCH_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1600})
            try:
                page.goto(f"{base}/lab/workspaces/latency/tree/{NOTEBOOK}?token={token}")
                page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=90_000)
                wait_until(page, lambda: "Idle" in str(page.locator(".jp-StatusBar-Widget").all_inner_texts()), 90,
                           "the kernel")
                note("Run All")
                t_run = time.monotonic()
                page.get_by_role("menuitem", name="Run", exact=True).click()
                page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
                outputs = page.locator(".jp-Notebook .jp-OutputArea")
                wait_until(page, lambda: "BENCH{" in str(outputs.all_inner_texts()), 600, "Run All")
                run_all = time.monotonic() - t_run
                wait_until(page, lambda: page.locator(".lab-preview-view .js-plotly-plot").count()
                           and page.locator(".lab-inspector-W .js-plotly-plot").count(), 120, "the figures")
                page.evaluate(PAGE_JS)
                page.wait_for_timeout(1000)
                note(f"Run All took {run_all:.0f} s; {reps} slider steps")
                slider = slider_steps(page, reps)
                note(f"{train_reps} Train clicks")
                train = train_clicks(page, train_reps)
                note(f"{reps} scrubber steps")
                scrub = scrub_steps(page, reps)
                note("reading the kernel's timings")
                cells = page.locator(".jp-Notebook .jp-Cell")
                last = cells.nth(cells.count() - 1)
                last.locator(".jp-InputArea").click()
                before = last.locator(".jp-InputPrompt").inner_text()
                page.keyboard.press("Control+Enter")                # run in place: its output is replaced
                wait_until(page, lambda: last.locator(".jp-InputPrompt").inner_text() not in (before, "[*]:"), 60,
                           "the timings cell to run")
                wait_until(page, lambda: last.locator(".jp-OutputArea-output").count()
                           and "BENCH" in last.inner_text() and "Idle" in str(
                               page.locator(".jp-StatusBar-Widget").all_inner_texts()), 60, "the kernel's timings")
                raw = last.locator(".jp-OutputArea-output").last.inner_text()
                bench = json.loads(raw[raw.rindex("BENCH") + 5:].strip())
            finally:
                browser.close()
    finally:
        stop_lab(proc)
        shutil.rmtree(folder, ignore_errors=True)
    kernel_share(slider, bench, "figure", "FloatSlider", FIGURE_CLASSES)
    kernel_share(slider, bench, "table", "FloatSlider", ("HTML",))
    kernel_share(train, bench, "first_response", "Button", ("Label",))
    kernel_share(train, bench, "first_W", "Button", FIGURE_CLASSES)
    kernel_share(scrub, bench, "W", "IntSlider", FIGURE_CLASSES)
    bytes_sent(slider, bench, "figure")
    bytes_sent(train, bench, "first_W")
    bytes_sent(scrub, bench, "W")
    results = {"slider -> figure": [r.get("figure") for r in slider], "slider -> table": [r.get("table") for r in slider],
               "Train -> first response": [r.get("first_response") for r in train],
               "Train -> first W": [r.get("first_W") for r in train], "scrubber -> W": [r.get("W") for r in scrub]}
    kernel = {"slider -> figure": [r.get("figure_kernel") for r in slider],
              "slider -> table": [r.get("table_kernel") for r in slider],
              "Train -> first response": [r.get("first_response_kernel") for r in train],
              "Train -> first W": [r.get("first_W_kernel") for r in train],
              "scrubber -> W": [r.get("W_kernel") for r in scrub]}
    sent = {"slider step": [r.get("bytes") for r in slider], "Train click (to first W)": [r.get("bytes") for r in train],
            "scrubber step": [r.get("bytes") for r in scrub]}
    train_all = [sz for t, cls, sz in bench["send"]]
    return {"repo": str(repo), "run_all_s": run_all, "widget_state_bytes": bench["state"],
            "max_message_bytes": max(train_all) if train_all else 0,
            "summary": {k: summary(v) for k, v in results.items()},
            "kernel": {k: summary(v) for k, v in kernel.items()},
            "bytes": {k: summary(v) for k, v in sent.items()},
            "raw": {"slider": slider, "train": train, "scrub": scrub}, "kernel_log": bench}


def table(result: dict) -> str:
    fmt = lambda v: "-" if v is None else f"{v:.0f}"  # noqa: E731
    lines = ["| interaction | median / p90 / max (ms) | kernel share, median (ms) | n |", "|---|---|---|---|"]
    for name, s in result["summary"].items():
        k = result["kernel"][name]
        lines.append(f"| {name} | {fmt(s['median'])} / {fmt(s['p90'])} / {fmt(s['max'])} | {fmt(k['median'])} | "
                     f"{s['n']}" + (f" ({s['missed']} timed out)" if s["missed"] else "") + " |")
    lines.append(f"\nwidget state of the notebook: {result['widget_state_bytes'] / 1e6:.2f} MB; largest kernel "
                 f"message: {result['max_message_bytes'] / 1e6:.2f} MB; Run All: {result['run_all_s']:.0f} s")
    for name, s in result["bytes"].items():
        lines.append(f"- bytes sent per {name}: median {fmt(s['median'])}, max {fmt(s['max'])}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repo", type=Path, default=ROOT, help="checkout whose lab/ the kernel imports (default: this one)")
    ap.add_argument("--tiny", action="store_true", help="few repetitions (a few minutes)")
    ap.add_argument("--reps", type=int, default=None, help="slider and scrubber steps (default 30; --tiny 10)")
    ap.add_argument("--train-reps", type=int, default=None, help="Train clicks (default 8; --tiny 3)")
    ap.add_argument("--json", type=Path, default=None, help="also write the full result here")
    ap.add_argument("--chromium", type=Path, default=CHROMIUM)
    args = ap.parse_args(argv)
    if not args.chromium.exists():
        print(f"error: Chromium not found at {args.chromium} (apt-get install -y chromium)", file=sys.stderr)
        return 2
    if not (args.repo / "lab" / "__init__.py").is_file():
        print(f"error: {args.repo} holds no lab/ package", file=sys.stderr)
        return 2
    reps = args.reps or (10 if args.tiny else 30)
    train_reps = args.train_reps or (3 if args.tiny else 8)
    if reps < 1 or train_reps < 1:
        print("error: --reps and --train-reps must be >= 1", file=sys.stderr)
        return 2
    result = run(args.repo.resolve(), reps, train_reps, epochs=6, chromium=args.chromium)
    print(table(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
