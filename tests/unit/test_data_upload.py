"""Data upload: what is checked without a stack (the rest: tests/stack/test_data_upload.py)."""

from __future__ import annotations

import re

import pytest

from functions.data_upload.storage import bucket_name
from local.clients.data_upload import main as client_main

VALID_BUCKET_NAME = re.compile(r"[a-z0-9][a-z0-9-]{1,61}[a-z0-9]")


def test_client_refuses_a_bad_email_before_starting_an_upload(capsys):
    with pytest.raises(SystemExit):
        client_main(["--ingress", "http://127.0.0.1:9", "--id", "u", "--email", "nobody"])
    assert "expected an email address" in capsys.readouterr().err


@pytest.mark.parametrize(
    "upload_ids",
    [
        ("data-1", "Data_1", "DATA.1", "data 1"),
        ("x" * 200, "x" * 201),
        ("---", "___", "é", "ü", ""),
        ("192.168.1.1", "xn--abc", "a..b", "upload-1--ol-s3"),
    ],
)
def test_bucket_names_are_valid_s3_names_and_distinct_per_upload_id(upload_ids):
    names = [bucket_name(upload_id) for upload_id in upload_ids]
    for upload_id, name in zip(upload_ids, names, strict=True):
        assert VALID_BUCKET_NAME.fullmatch(name), (upload_id, name)
        assert name.startswith("restate-data-upload-"), name
    assert len(set(names)) == len(names), names
