"""The explorer's page in a real browser: Debian's Chromium, headless, driven by Selenium.

tools/setup.sh installs `chromium` and `chromium-driver` (apt) when they are missing, as it
installs Graphviz; where it could not, these tests skip and say why. With
TG_SCREENSHOTS=<folder> they also save the screenshots the README shows.
"""
from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

import pytest

import tinygrad_edu as tg
from tinygrad_edu import nn, viz

from test_explorer import ALIVE, lenet_loss, mlp_loss

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
try:
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    HAVE_SELENIUM = True
except ImportError:                  # the test extra installs it
    HAVE_SELENIUM = False

pytestmark = [
    pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's `dot` is not installed "
                       "(tools/setup.sh installs it); the explorer needs it"),
    pytest.mark.skipif(not HAVE_SELENIUM, reason="selenium is not installed (it is in the "
                       "test extra: pip install -e '.[test]')"),
    pytest.mark.skipif(CHROMIUM is None or DRIVER is None, reason="Chromium and its driver "
                       "are not installed (tools/setup.sh installs Debian's chromium and "
                       "chromium-driver with apt)"),
]
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync")


@pytest.fixture(scope="module")
def browser():
    profile = tempfile.mkdtemp(prefix="tg-chromium-")
    opts = Options()
    for flag in FLAGS:
        opts.add_argument(flag)
    opts.add_argument(f"--user-data-dir={profile}")
    opts.add_argument("--window-size=1500,900")
    opts.binary_location = CHROMIUM
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    try:
        driver = webdriver.Chrome(service=Service(DRIVER), options=opts)
    except Exception as e:          # a broken install: say so instead of failing each test
        pytest.skip(f"Chromium did not start under Selenium: {str(e).splitlines()[0]}")
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


def shoot(driver, name: str) -> None:
    folder = os.environ.get("TG_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(Path(folder) / f"{name}.png"))


def open_page(driver, ex, path: Path) -> list:
    ex.save(path)
    driver.get(path.resolve().as_uri())
    time.sleep(0.3)
    return [e for e in driver.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]


def rnn3_loss():
    tg.manual_seed(0)
    rnn = nn.RNN(3, 4)
    x = tg.randn(3, 2, 3)
    x.name = "x"
    ALIVE.append(x)
    with tg.fast(False):
        out, _ = rnn(x)
        loss = (out[-1] ** 2).sum()
    return loss, rnn


@pytest.mark.parametrize("make", [mlp_loss, lenet_loss, rnn3_loss],
                         ids=["mlp", "lenet5", "rnn3"])
def test_page_loads_without_console_errors(browser, tmp_path, make) -> None:
    loss, model = make()
    ex = viz.explore(loss, model=model, title=f"{make.__name__[:-5]}: cross-entropy loss"
                     if make is not rnn3_loss else None)
    errors = open_page(browser, ex, tmp_path / "g.html")
    assert errors == []
    n_steps = browser.execute_script("return window.tgExplorer.data.steps.length")
    assert n_steps == len(ex.steps) > 0
    assert browser.find_elements(By.CSS_SELECTOR, "#canvas svg g.node")
    if make is lenet_loss:
        shoot(browser, "explorer_lenet5")


def test_hovering_a_node_shows_its_gradient(browser, tmp_path) -> None:
    loss, model = mlp_loss()
    ex = viz.explore(loss, model=model)
    open_page(browser, ex, tmp_path / "g.html")
    w = ex.graph.node(model[0].weight)
    box = ex.data["tensors"][w.id]["box"]
    el = browser.find_element(By.ID, "n_" + ex.data["nodes"][box]["dot"])
    ActionChains(browser).move_to_element(el).perform()
    info = browser.find_element(By.ID, "info").text
    norm = ex.data["tensors"][w.id]["grad"]["norm"]
    assert "0.weight" in info and "gradient" in info
    assert f"= {float(f'{norm:.4g}'):g}" in info.replace("‖∂L/∂·‖ ", "")
    shoot(browser, "explorer_hover")


def test_stepping_through_the_backward_pass_of_a_3_step_rnn(browser, tmp_path) -> None:
    loss, model = rnn3_loss()
    ex = viz.explore(loss, model=model, title="nn.RNN over 3 steps, loss = Σ out[-1]²")
    assert open_page(browser, ex, tmp_path / "rnn.html") == []
    body = browser.find_element(By.TAG_NAME, "body")
    svg_size = browser.execute_script("const s = document.querySelector('#canvas svg');"
                                      "return [s.viewBox.baseVal.width, s.viewBox.baseVal.height]")
    visited = []
    for i, step in enumerate(ex.steps):
        body.send_keys(Keys.ARROW_RIGHT)
        count = browser.find_element(By.ID, "step-count").text
        assert count == f"step {i + 1} of {len(ex.steps)}"
        box = ex.data["tensors"][step["t"]]["box"]
        ids = browser.execute_script(
            "return [...document.querySelectorAll('g.node.visiting')].map(e => e.id)")
        assert "n_" + ex.data["nodes"][box]["dot"] in ids
        visited.append(step["t"])
    assert visited == [s["t"] for s in ex.steps]           # the engine's order, all of it
    # a shared weight (W_hh, through its transpose W_hhᵀ) gets one contribution per step,
    # and each is shown being added to its total
    w = ex.graph.node(model.weight_hh_l0).id
    w_t = next(t for t, n in ex.graph.tensors.items()
               if n.producer and ex.graph.ops[n.producer].inputs == [w])
    adds = [(i, c) for i, s in enumerate(ex.steps) for c in s["passed"] if c["to"] == w_t]
    assert [(c["k"], c["n"]) for _, c in adds] == [(1, 3), (2, 3), (3, 3)]
    for i, c in adds:
        browser.execute_script(f"window.tgExplorer.go({i})")
        text = browser.find_element(By.ID, "step-text").text
        assert f"contribution {c['k']} of 3 added" in text
        if c["k"] == 2:
            shoot(browser, "explorer_stepper")
    body.send_keys(Keys.HOME)
    assert browser.execute_script("return window.tgExplorer.at()") == -1
    # collapsing a step hides it behind a placeholder and does not lay the graph out again
    browser.find_element(By.XPATH, "//ul[@id='group-list']/li[text()='t = 1']").click()
    hidden = browser.execute_script(
        "return [...document.querySelectorAll('g.node.hidden')].length")
    assert hidden > 0
    assert browser.find_element(By.CSS_SELECTOR, "g.placeholder-group").is_displayed()
    assert browser.execute_script(
        "const s = document.querySelector('#canvas svg');"
        "return [s.viewBox.baseVal.width, s.viewBox.baseVal.height]") == svg_size
    browser.find_element(By.XPATH, "//ul[@id='group-list']/li[text()='t = 1']").click()
    assert browser.execute_script(
        "return [...document.querySelectorAll('g.node.hidden')].length") == 0


def test_search_finds_nodes_by_name(browser, tmp_path) -> None:
    loss, model = lenet_loss()
    ex = viz.explore(loss, model=model)
    open_page(browser, ex, tmp_path / "g.html")
    box = browser.find_element(By.ID, "search")
    box.send_keys("c3.weight")
    found = browser.find_element(By.ID, "found").text
    assert found == "1 found"
    box.send_keys(Keys.ENTER)
    assert "c3.weight" in browser.find_element(By.ID, "info").text
