"""The status page at `/`: rendered by the server with every model and its state, refreshed from
`/status.json` (counts, latency histogram), and drawn by headless Chromium (Debian's `chromium`) with the
loaded models visible in the screenshot."""
import json
import shutil
import subprocess
import urllib.request

import pytest
from PIL import Image

from conftest import write_add_model
from test_batching import infer_add

READY_GREEN = (0, 0x77, 0)  # the page's colour for READY


@pytest.fixture
def served(tmp_path, start_server):
    write_add_model(tmp_path, "add", "max_batch_size: 4\n")
    write_add_model(tmp_path, "broken", 'max_batch_size: 4\ninput [ { name: "nope" data_type: TYPE_FP32 dims: [ 4 ] } ]\n')
    server = start_server(tmp_path)
    for value in range(5):
        infer_add(server.http_url, 1, value)
    return server


def test_page_lists_models_and_states(served):
    html = urllib.request.urlopen(f"http://{served.http_url}/").read().decode()
    assert 'data-name="add"' in html and 'data-name="broken"' in html
    assert '<td class="state READY">READY</td>' in html
    assert '<td class="state UNAVAILABLE">UNAVAILABLE</td>' in html
    assert "setInterval(refresh, 2000)" in html


def test_status_json_counts_and_histogram(served):
    status = json.loads(urllib.request.urlopen(f"http://{served.http_url}/status.json").read())
    add = [m for m in status["models"] if m["name"] == "add"][0]
    assert add["state"] == "READY" and add["success"] == 5
    assert sum(add["latency_counts"]) == 5
    assert len(add["latency_counts"]) == len(add["latency_bounds_us"]) + 1
    broken = [m for m in status["models"] if m["name"] == "broken"][0]
    assert broken["state"] == "UNAVAILABLE" and "not an input" in broken["reason"]


def chromium():
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(chromium() is None, reason="Debian's chromium is not installed (scripts/install-deps.sh installs it)")
def test_headless_chromium_renders_the_loaded_models(served, tmp_path):
    url = f"http://{served.http_url}/"
    common = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
              f"--user-data-dir={tmp_path}/profile", "--virtual-time-budget=3000"]
    # The DOM after the script ran: the rows now come from /status.json, with histogram bars.
    dom = subprocess.run(common + ["--dump-dom", url], capture_output=True, text=True, timeout=120).stdout
    assert 'data-name="add"' in dom and 'class="bars"' in dom
    screenshot = tmp_path / "status.png"
    subprocess.run(common + [f"--screenshot={screenshot}", "--window-size=1200,500", url],
                   capture_output=True, timeout=120, check=True)
    image = Image.open(screenshot).convert("RGB")
    assert image.size == (1200, 500)
    pixels = image.getdata()
    # The READY state is drawn (green text) and the page is not blank.
    assert sum(1 for p in pixels if p == READY_GREEN) > 20
    assert len(set(pixels)) > 50
