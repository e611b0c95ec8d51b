"""Secrets are encrypted at rest: their values are in no file of the store, yet a workload that
names one gets it, and the API reads it back; the key lies beside the store, for the server's
user alone."""
import glob
import json
import os
import secrets as random_secrets

from conftest import busybox_job_yaml

SECRET = """
apiVersion: v1
kind: Secret
metadata:
  name: db
stringData:
  password: {value}
"""

JOB = busybox_job_yaml("uses-secret", "echo got-$PASSWORD") + """\
        env:
        - name: PASSWORD
          valueFrom:
            secretKeyRef: {name: db, key: password}
"""


def test_a_secret_is_not_in_the_store_files_but_reaches_its_workload(skiff, tmp_path):
    value = "hunter2-" + random_secrets.token_hex(8)
    (tmp_path / "secret.yaml").write_text(SECRET.format(value=value))
    (tmp_path / "job.yaml").write_text(JOB)
    skiff.cli("apply", "-f", str(tmp_path / "secret.yaml"))
    skiff.cli("apply", "-f", str(tmp_path / "job.yaml"))
    skiff.wait_for(lambda: f"got-{value}" in skiff.cli("logs", "job/uses-secret",
                                                       check=False).stdout,
                   what="the job to print the secret it was given")
    got = json.loads(skiff.cli("get", "secret", "db", "-o", "json").stdout)
    assert got["stringData"]["password"] == value
    assert "encrypted" not in got

    # Every file of the store, the WAL included, holds ciphertext only.
    files = glob.glob(os.path.join(skiff.home, "skiff.db*"))
    assert files
    for path in files:
        with open(path, "rb") as f:
            assert value.encode() not in f.read(), path
    for path in files + [os.path.join(skiff.home, "secrets.key")]:
        assert os.stat(path).st_mode & 0o777 == 0o600, path

    # The same key after a restart: the secret still reads.
    skiff.stop()
    skiff.start()
    got = json.loads(skiff.cli("get", "secret", "db", "-o", "json").stdout)
    assert got["stringData"]["password"] == value
