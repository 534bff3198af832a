"""The app's Actuals page under `streamlit.testing.v1.AppTest`: it settles the example actuals
with the package's own figures, forecasts from months to date, and says what is wrong with a
bad upload in the package's own words."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[1]
PAGE = str(ROOT / "app" / "pages" / "7_Actuals.py")


def _page() -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=120).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_the_page_settles_the_example_actuals_to_the_penny():
    at = _page()
    metrics = {m.label: m.value for m in at.metric}
    assert metrics == {"Pool": "£4,048,000.00", "Transfers to providers": "£3,764,640.00",
                       "Commissioners retain": "£283,360.00",
                       "System savings": "£765,920.00"}  # fmt: skip
    assert [b.label for b in at.get("download_button")] == [
        "Actuals template (Excel) for this case", "Statement (JSON)", "Statement (Markdown)",
        "Statement (CSV)"]  # fmt: skip


def test_months_to_date_gives_a_forecast_with_a_range():
    at = _page()
    at.select_slider(key="actuals.months").set_value(6).run()
    assert not at.exception
    assert "Pool (projected)" in {m.label for m in at.metric}
    assert any("5% to 95%" in m.value for m in at.markdown)


def test_an_example_without_actuals_asks_for_an_upload():
    at = _page()
    at.selectbox(key="actuals.case").set_value("mssp").run()
    assert not at.exception
    assert any("Upload the actuals" in i.value for i in at.info)
