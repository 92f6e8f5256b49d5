"""Checkpoints and the final model copied to S3 through fsspec, against moto's S3 server on 127.0.0.1."""

import socket

import pytest

from whisper_pipeline.io import write_json
from whisper_pipeline.training.artifacts import COMPLETE_MARKER, is_complete, upload_dir
from whisper_pipeline_tests.training.test_resume import finish, job_file, launch


@pytest.fixture
def s3(monkeypatch):
    import boto3
    from moto.server import ThreadedMotoServer

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": endpoint,
    }.items():
        monkeypatch.setenv(key, value)
    client = boto3.client("s3", endpoint_url=endpoint)
    client.create_bucket(Bucket="models")
    yield client
    server.stop()


def keys(client, prefix: str) -> set[str]:
    pages = client.get_paginator("list_objects_v2").paginate(Bucket="models", Prefix=prefix)
    return {o["Key"] for page in pages for o in page.get("Contents", [])}


def test_upload_dir_marks_completion_last(s3, tmp_path):
    (tmp_path / "a" / "sub").mkdir(parents=True)
    (tmp_path / "a" / "x.bin").write_bytes(b"x" * 1000)
    (tmp_path / "a" / "sub" / "y.json").write_text("{}")
    assert not is_complete("s3://models/t1")
    upload_dir(tmp_path / "a", "s3://models/t1")
    assert keys(s3, "t1/") == {"t1/x.bin", "t1/sub/y.json", f"t1/{COMPLETE_MARKER}"}
    assert is_complete("s3://models/t1")
    assert s3.get_object(Bucket="models", Key="t1/x.bin")["Body"].read() == b"x" * 1000


def test_training_copies_checkpoints_and_final_model(s3, tmp_path, tiny_model_dir, manifest):
    import json

    job = json.loads(
        job_file(
            tmp_path,
            "remote",
            tiny_model_dir,
            manifest,
            artifact_url="s3://models/runs",
        ).read_text()
    )
    job["settings"]["max_steps"] = 4
    job["settings"]["eval_steps"] = 2
    write_json(tmp_path / "remote.json", job)
    finish(launch(tmp_path / "remote.json"))
    found = keys(s3, "runs/remote/")
    assert {
        "runs/remote/final/model.safetensors",
        "runs/remote/final/run_manifest.json",
        "runs/remote/final/README.md",
        f"runs/remote/final/{COMPLETE_MARKER}",
    } <= found
    assert f"runs/remote/checkpoints/checkpoint-2/{COMPLETE_MARKER}" in found
    assert "runs/remote/checkpoints/checkpoint-4/trainer_state.json" in found


def test_a_copy_is_retried_while_the_endpoint_is_down(tmp_path, monkeypatch, caplog):
    """A real transient failure: nothing listens on the endpoint at first; moto's server comes up once the
    first attempt has failed (during the backoff), and the copy goes through on a later attempt."""
    import logging

    import boto3
    from moto.server import ThreadedMotoServer

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    endpoint = f"http://127.0.0.1:{port}"
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": endpoint,
    }.items():
        monkeypatch.setenv(key, value)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    up: list[str] = []

    class ComeUpAfterTheFirstFailure(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if "attempt 1/" in record.getMessage() and not up:
                server.start()
                boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket="models")
                up.append(record.getMessage())

    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.bin").write_bytes(b"x" * 100)
    logger = logging.getLogger("whisper_pipeline.training.artifacts")
    handler = ComeUpAfterTheFirstFailure()
    logger.addHandler(handler)
    try:
        with caplog.at_level("WARNING", logger=logger.name):
            upload_dir(tmp_path / "a", "s3://models/retried")
        assert keys(boto3.client("s3", endpoint_url=endpoint), "retried/") == {
            "retried/x.bin",
            f"retried/{COMPLETE_MARKER}",
        }
        assert up and "Could not connect" in up[0], up
    finally:
        logger.removeHandler(handler)
        server.stop()


def test_permanent_errors_are_not_retried(tmp_path):
    from whisper_pipeline.training.artifacts import with_retries

    calls, waits = [], []

    def missing():
        calls.append(1)
        raise FileNotFoundError("no such file: x.bin")

    with pytest.raises(FileNotFoundError):
        with_retries(missing, "copy x.bin", sleep=waits.append)
    assert (len(calls), waits) == (1, [])

    calls.clear()

    def flaky():
        calls.append(1)
        if len(calls) < 3:  # fails twice, then goes through
            raise ConnectionResetError("reset by peer")
        return "ok"

    assert with_retries(flaky, "copy y.bin", first_delay_s=1.0, sleep=waits.append) == "ok"
    assert waits == [1.0, 2.0], "exponential backoff"

    def down():
        raise ConnectionRefusedError("connection refused")

    waits.clear()
    with pytest.raises(OSError, match="^copy z.bin: failed after 4 attempts: connection refused"):
        with_retries(down, "copy z.bin", first_delay_s=1.0, sleep=waits.append)
    assert waits == [1.0, 2.0, 4.0], "bounded: four attempts, three waits"
