"""KPIs over stored calls, `voicebot report`, and the CRM webhook (a local HTTP server)."""

from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from flow_support import BANK, OPEN, STRANGER, authenticate, fresh_store, start
from typer.testing import CliRunner

from voicebot.flow import CallEngine, flow_from_text, load_flow
from voicebot.flow.scripted import pressed, said
from voicebot.store.kpis import compute_kpis
from secret_support import without_random_hex


def call(outcome, seconds=100.0, csat=None, reason=None, caller="+1", started=OPEN):
    return {"call_id": f"{outcome}-{started}", "caller_id": caller, "outcome": outcome,
            "reason": reason, "csat": csat, "handle_seconds": seconds,
            "started_at": started.isoformat()}


def test_kpi_formulas():
    later = OPEN + timedelta(days=1)
    calls = [
        call("completed", 60, csat=5, caller="+1"),
        call("completed", 120, csat=3, caller="+1", started=later),  # repeat within 7 days
        call("self_service", 90, caller="+2"),
        call("transferred", 200, reason="routing", caller="+3"),
        call("escalated", 300, reason="negative_sentiment", caller="+4"),
        call("escalated", 330, reason="repeated_failures", caller="+5"),
        call("abandoned", 10, caller="+6"),
        call("completed", 80, csat=4, caller="+7"),
    ]
    kpis = compute_kpis(calls)
    assert kpis["calls"] == 8
    assert kpis["aht_seconds"] == pytest.approx((60 + 120 + 90 + 200 + 300 + 330 + 80) / 7, abs=0.05)
    assert kpis["fcr"] == pytest.approx(6 / 7, abs=1e-4)  # +1's first call was repeated
    assert kpis["csat_avg"] == 4.0 and kpis["csat_satisfied"] == pytest.approx(2 / 3, abs=1e-4)
    assert kpis["abandonment"] == 0.125 and kpis["containment"] == 0.125  # self_service only
    assert kpis["escalation_rate"] == 0.25
    assert kpis["escalations_by_reason"] == {"negative_sentiment": 0.125, "repeated_failures": 0.125}
    assert kpis["transfers_by_reason"] == {"routing": 0.125}


def test_kpis_of_an_empty_store_are_none():
    kpis = compute_kpis([])
    assert kpis["calls"] == 0 and kpis["aht_seconds"] is None and kpis["fcr"] is None


def test_report_command_over_real_calls(tmp_path):
    from voicebot.cli import _load_commands
    from voicebot.cli.app import app

    store = fresh_store(tmp_path)
    flow = load_flow(BANK)
    served = start(flow, store)
    served.handle(said("branch hours", "branch_hours"))
    served.handle(said("no", "deny", yesno="no"))
    served.advance(60)
    served.handle(pressed("4"))
    angry = start(flow, store)
    angry.advance(20)
    angry.handle(said("this is useless", "speak_to_agent", sentiment="negative", score=-0.9))
    start(flow, store).hangup()
    _load_commands()
    db = str(tmp_path / "voicebot.db")
    result = CliRunner().invoke(app, ["report", "--json", "--db", db])
    assert result.exit_code == 0, result.output
    kpis = json.loads(result.output)
    assert kpis["calls"] == 3 and kpis["csat_avg"] == 4.0
    assert kpis["outcomes"] == {"abandoned": 1, "escalated": 1, "self_service": 1}
    assert kpis["escalations_by_reason"] == {"negative_sentiment": pytest.approx(1 / 3, abs=1e-4)}
    table = CliRunner().invoke(app, ["report", "--db", db])
    assert table.exit_code == 0 and "containment" in table.output and "33.3%" in table.output


class _Collector(BaseHTTPRequestHandler):
    received: list[dict] = []

    def do_POST(self):  # noqa: N802 (http.server's naming)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Collector.received.append(json.loads(body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def crm_url():
    server = HTTPServer(("127.0.0.1", 0), _Collector)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Collector.received = []
    yield f"http://127.0.0.1:{server.server_port}/calls"
    server.shutdown()
    server.server_close()


WEBHOOK_FLOW = """
name: hooked
start: hello
crm_webhook: {url}
states:
  hello: {{say: "Hi, goodbye.", hangup: true}}
"""


def test_webhook_posts_the_finished_record(tmp_path, crm_url):
    store = fresh_store(tmp_path)
    engine = CallEngine(flow_from_text(WEBHOOK_FLOW.format(url=crm_url)), store, caller_id=STRANGER,
                        now=datetime(2026, 1, 1, tzinfo=timezone.utc), call_id="c-1")
    engine.start()
    assert engine.done
    assert [r["call_id"] for r in _Collector.received] == ["c-1"]
    assert _Collector.received[0]["outcome"] == "completed"


def test_webhook_failure_is_logged_not_raised(tmp_path, caplog):
    store = fresh_store(tmp_path)
    flow = flow_from_text(WEBHOOK_FLOW.format(url="http://127.0.0.1:9/nothing-listens"))
    engine = CallEngine(flow, store, now=OPEN)
    engine.start()
    assert engine.done and store.calls()[0]["outcome"] == "completed"
    assert "CRM webhook" in caplog.text


def test_webhook_carries_no_secrets(tmp_path, crm_url):
    text = BANK.read_text().replace("name: demo_bank", f"name: demo_bank\ncrm_webhook: {crm_url}")
    engine = start(flow_from_text(text), fresh_store(tmp_path))
    engine.handle(said("balance", "check_balance"))
    authenticate(engine)
    engine.hangup()
    posted = json.dumps(_Collector.received)
    assert "2468" not in without_random_hex(posted) and "12345678" not in posted
    assert _Collector.received[0]["outcome"] == "self_service"
