"""A real failed run on a real instance → the run-failure sensor writes the alert to logs/alerts.jsonl and
POSTs it to the webhook (a real HTTP server on 127.0.0.1); a webhook that is down is logged, not raised."""

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import dagster as dg
import pytest

from whisper_pipeline.alerts import WEBHOOK_ENV, post_alert
from whisper_pipeline.io import read_jsonl
from whisper_pipeline.jobs import pipeline_definitions
from whisper_pipeline.resources import AlertsResource, configured_alerts
from whisper_pipeline.sensors import alert_on_run_failure
from whisper_pipeline_tests.conftest import free_port
from whisper_pipeline_tests.pipeline import pipeline_resources


@pytest.fixture
def webhook():
    """A local HTTP server that keeps every POSTed body; yields (url, bodies)."""
    bodies: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            bodies.append(
                {
                    "content_type": self.headers["Content-Type"],
                    "json": json.loads(self.rfile.read(int(self.headers["Content-Length"]))),
                }
            )
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hooks/pipeline", bodies
    server.shutdown()
    server.server_close()


def failed_run(ws, instance) -> tuple[dg.DagsterRun, dg.DagsterEvent]:
    """evaluation_job[hr] in a workspace without a trained model: a real failure of the eval_report step."""
    defs = pipeline_definitions(pipeline_resources(ws, "builtin:whisper-base"))
    result = defs.resolve_job_def("evaluation_job").execute_in_process(
        instance=instance, partition_key="hr", raise_on_error=False
    )
    assert not result.success
    failure = instance.all_logs(result.run_id, of_type=dg.DagsterEventType.RUN_FAILURE)[0].dagster_event
    return instance.get_run_by_id(result.run_id), failure


def evaluate_sensor(ws, instance, run, event, alerts: AlertsResource) -> None:
    context = dg.build_run_status_sensor_context(
        sensor_name=alert_on_run_failure.name,
        dagster_event=event,
        dagster_instance=instance,
        dagster_run=run,
        resources={"workspace": pipeline_resources(ws, "")["workspace"], "alerts": alerts},
    ).for_run_failure()
    alert_on_run_failure(context)


def test_failed_run_is_written_and_posted(tmp_path, webhook, monkeypatch):
    from whisper_pipeline.workspace import Workspace

    url, bodies = webhook
    monkeypatch.setenv(WEBHOOK_ENV, url)
    ws = Workspace.at(tmp_path / "ws").ensure()
    with dg.instance_for_test() as instance:
        run, event = failed_run(ws, instance)
        evaluate_sensor(ws, instance, run, event, configured_alerts())  # the webhook through EnvVar
    (alert,) = read_jsonl(ws.alerts_log)
    assert alert["run_id"] == run.run_id and alert["job"] == "evaluation_job" and alert["partition"] == "hr"
    assert alert["failed_steps"] == ["eval_report"]
    assert "No trained model for run (latest): materialize checkpoint first" in alert["errors"][0]
    assert "eval_report" in alert["message"] and alert["time"].endswith("Z")
    assert bodies == [{"content_type": "application/json", "json": alert}], "the same JSON, posted once"


def test_without_webhook_only_the_file(tmp_path, monkeypatch):
    from whisper_pipeline.workspace import Workspace

    monkeypatch.delenv(WEBHOOK_ENV, raising=False)
    assert configured_alerts().webhook() == "", "an unset variable means no webhook, not a config error"
    ws = Workspace.at(tmp_path / "ws").ensure()
    with dg.instance_for_test() as instance:
        for _ in range(2):
            run, event = failed_run(ws, instance)
            evaluate_sensor(ws, instance, run, event, configured_alerts())
    alerts = read_jsonl(ws.alerts_log)
    assert len(alerts) == 2 and alerts[0]["run_id"] != alerts[1]["run_id"], "appended, one line per failure"


def test_a_webhook_that_is_down_is_logged_not_raised(caplog):
    url = f"http://127.0.0.1:{free_port()}/nothing-listens"
    with caplog.at_level("WARNING", logger="whisper_pipeline"):
        assert post_alert(url, {"run_id": "r1"}, timeout=2.0) is False
    assert "alert for run r1 not posted to the webhook" in caplog.text
