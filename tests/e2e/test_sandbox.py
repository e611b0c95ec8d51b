"""Tenants are isolated below the API: a pod of one profile, tried as an attacker would, cannot
read the admin token, the store, the platform's or another profile's logs, folders and volumes,
cannot write into SKIFF_HOME, and cannot see or signal another profile's processes. Every
attempt is made by the workload itself and judged from its own output."""
import json
import os
import subprocess

SNOOP = """
apiVersion: batch/v1
kind: Job
metadata:
  name: snoop
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: main
        image: busybox
        command: ["sh", "-c"]
        args:
        - |
          H={home}
          cat $H/admin-token 2>/dev/null && echo LEAK-token || echo no-token
          head -c 16 $H/skiff.db 2>/dev/null | grep -q SQLite && echo LEAK-store || echo no-store
          ls $H/logs/team-a 2>/dev/null | grep -q . && echo LEAK-logs || echo no-logs
          ls $H/workloads 2>/dev/null | grep -q team-a && echo LEAK-workloads || echo no-workloads
          ls $H/volumes/team-a 2>/dev/null | grep -q . && echo LEAK-volumes || echo no-volumes
          ls $H/artifacts 2>/dev/null | grep -q . && echo LEAK-artifacts || echo no-artifacts
          touch $H/planted 2>/dev/null && echo LEAK-write || echo no-write
          for p in $VICTIMS; do kill -STOP $p 2>/dev/null && echo LEAK-signal-$p; done
          echo no-signal
          cat /proc/[0-9]*/cmdline 2>/dev/null | tr '\\0' ' ' | grep -q 'victim-marke[r]' \\
            && echo LEAK-ps || echo no-ps
          echo my-home=$HOME
          echo done-snooping
"""

VICTIM = """
apiVersion: batch/v1
kind: Job
metadata:
  name: victim
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: main
        image: busybox
        command: ["sh", "-c", "echo team-a-private-log; sleep 60; echo victim-marker"]
        volumeMounts:
        - name: data
          mountPath: /data
      volumes:
      - name: data
        persistentVolumeClaim:
          claimName: data
"""


def test_a_tenants_pod_cannot_reach_the_platform_or_another_profile(skiff, tmp_path):
    skiff.cli("user", "create", "eve")
    eve = skiff.cli("token", "create", "--user", "eve").stdout.strip()
    skiff.cli("profile", "create", "team-eve", "--owner", "eve")
    skiff.cli("profile", "create", "team-a", "--owner", "admin")
    victim = tmp_path / "victim.yaml"
    victim.write_text(VICTIM)
    skiff.cli("apply", "-n", "team-a", "-f", str(victim))
    skiff.wait_for(lambda: "team-a-private-log" in skiff.cli(
        "logs", "job/victim", "-n", "team-a", check=False).stdout, what="the victim to run")
    # Its processes as the machine sees them (the shim and the sandbox's own, and its shell).
    pids = skiff.wait_for(lambda: subprocess.run(
        ["pgrep", "-f", "victim-marker"], capture_output=True, text=True).stdout.split(),
        what="the victim's processes")

    snoop = tmp_path / "snoop.yaml"
    snoop.write_text(SNOOP.format(home=skiff.home).replace(
        "      - name: main\n", f"      - name: main\n        env:\n        - name: VICTIMS\n"
        f"          value: \"{' '.join(pids)}\"\n", 1))
    skiff.cli("apply", "-n", "team-eve", "-f", str(snoop), token=eve)
    out = skiff.wait_for(lambda: (o := skiff.cli("logs", "job/snoop", "-n", "team-eve",
                                                  token=eve, check=False).stdout)
                         and "done-snooping" in o and o, timeout=60, what="the snoop's report")
    print(out)
    assert "LEAK" not in out, out
    for attempt in ("token", "store", "logs", "workloads", "volumes", "artifacts", "write",
                    "signal", "ps"):
        assert f"no-{attempt}" in out, (attempt, out)
    assert "skf_" not in out
    assert "my-home=/tmp" in out
    assert not os.path.exists(os.path.join(skiff.home, "planted"))
    for pid in pids:
        state = open(f"/proc/{pid}/stat").read().split(") ")[1].split()[0]
        assert state != "T", f"the victim's process {pid} was stopped"

    # The snoop ran as the profile's own identity (the server runs as root here).
    if os.geteuid() == 0:
        pods = json.loads(skiff.cli("get", "pods", "-n", "team-eve", "-o", "json").stdout)["items"]
        assert pods and pods[0]["status"]["phase"] == "Succeeded", pods
