#!/usr/bin/env python3
"""A rolling upgrade under load: two replicas of the old binary serve callbacks and catalog writes
on one database; each is drained, stopped (SIGTERM) and replaced by the new binary in turn. Then
every acknowledged callback and write must be there, no request may have had a 5xx (or any other
failure), and every replica must show the same lineage. Run by scripts/rolling-upgrade-test.sh."""

import argparse
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

KEY = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="  # base64 of 32 zero bytes, shared by all replicas
SENDERS = 4
LOAD_SECONDS = 3
# The body is the task; the tables it names are registered when missing.
CREATE_TASK = "/api/v1/tasks?register_missing_tables=true"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def call(port, method, path, body=None, timeout=10):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, method=method)
    request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def wait_until(what, check, seconds):
    deadline = time.monotonic() + seconds
    while True:
        try:
            if check():
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            sys.exit(f"rolling upgrade: {what} not within {seconds} s")
        time.sleep(0.05)


class Replica:
    def __init__(self, slot, database_url, work):
        self.slot, self.database_url, self.work = slot, database_url, work
        self.grpc, self.rest = free_port(), free_port()
        self.process = None

    def start(self, binary, label):
        log = open(os.path.join(self.work, f"replica{self.slot}-{label}.log"), "w")
        env = dict(os.environ, DATABASE_URL=self.database_url, DATA_DIR=self.work, DATA_SOURCE_KEY=KEY,
                   LINEAGE_REFRESH_MS="100", HEALTH_CHECK_INTERVAL_MS="100", EXECUTION_DISCOVER_INTERVAL_SECS="0")
        args = [binary, "serve", "--host", "127.0.0.1", "--port", str(self.grpc), "--rest-port", str(self.rest)]
        self.process = subprocess.Popen(args, env=env, stdout=log, stderr=log)
        started = time.monotonic()
        wait_until(f"replica {self.slot} ({label}) ready", lambda: self.ready(), 120)
        return time.monotonic() - started

    def ready(self):
        if self.process.poll() is not None:
            sys.exit(f"rolling upgrade: replica {self.slot} exited with {self.process.returncode}; see {self.work}")
        return call(self.rest, "GET", "/readyz", timeout=2)[0] == 200

    def stop(self):
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=30)
        if code != 0:
            sys.exit(f"rolling upgrade: replica {self.slot} stopped with {code}")


class Load:
    """Senders that spread callbacks and task creations over the replicas in rotation, recording
    what was acknowledged and every failure."""

    def __init__(self, replicas, task_id):
        self.replicas, self.task_id = replicas, task_id
        self.lock = threading.Condition()
        self.live = set(range(len(replicas)))
        self.in_flight = {slot: 0 for slot in self.live}
        self.acked_runs, self.acked_tasks, self.failures = [], [], []
        self.counter = 0
        self.stopping = False
        self.threads = [threading.Thread(target=self.send, daemon=True) for _ in range(SENDERS)]

    def send(self):
        while True:
            with self.lock:
                if self.stopping:
                    return
                slot = random.choice(sorted(self.live))
                self.in_flight[slot] += 1
                self.counter += 1
                n = self.counter
            port = self.replicas[slot].rest
            try:
                if n % 2:
                    start = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(1_700_000_000 + 60 * n))
                    body = {"task_id": self.task_id, "status": "SUCCESS", "start_time": start,
                            "end_time": start, "rows_output": n}
                    status, answer = call(port, "POST", "/api/v1/tasks/callback", body)
                    if status == 200:
                        with self.lock:
                            self.acked_runs.append(start)
                else:
                    name = f"load_dws_roll_{n}"
                    body = {"name": name, "shell": "true", "inputs": ["dwd_roll"], "outputs": [f"dws_roll_{n}"]}
                    status, answer = call(port, "POST", CREATE_TASK, body)
                    if status == 200:
                        with self.lock:
                            self.acked_tasks.append(name)
                if status != 200:
                    self.failures.append(f"replica {slot}: HTTP {status}: {answer}")
            except OSError as e:
                self.failures.append(f"replica {slot}: {e}")
            finally:
                with self.lock:
                    self.in_flight[slot] -= 1
                    self.lock.notify_all()

    def drain(self, slot):
        """Takes a replica out of rotation, as a load balancer does, and waits for its calls."""
        with self.lock:
            self.live.discard(slot)
            self.lock.wait_for(lambda: self.in_flight[slot] == 0, timeout=30)

    def admit(self, slot):
        with self.lock:
            self.live.add(slot)

    def stop(self):
        with self.lock:
            self.stopping = True
        for thread in self.threads:
            thread.join()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--old", required=True)
    parser.add_argument("--new", required=True)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--work", required=True)
    args = parser.parse_args()

    replicas = [Replica(slot, args.database_url, args.work) for slot in range(2)]
    # The old release migrates the database first, then the second old replica joins.
    for replica in replicas:
        replica.start(args.old, "old")
    status, answer = call(replicas[0].rest, "POST", CREATE_TASK,
                          {"name": "load_dwd_roll", "shell": "true", "inputs": ["ods_roll"], "outputs": ["dwd_roll"]})
    assert status == 200, answer
    load = Load(replicas, int(answer["task"]["id"]))
    for thread in load.threads:
        thread.start()
    time.sleep(LOAD_SECONDS)  # load on the old replicas alone
    for replica in replicas:
        load.drain(replica.slot)
        replica.stop()
        took = replica.start(args.new, "new")
        print(f"rolling upgrade: replica {replica.slot} replaced, new binary ready after {took:.2f} s")
        load.admit(replica.slot)
        time.sleep(LOAD_SECONDS)  # load on a mixed (then all-new) set of replicas
    load.stop()

    runs, tasks = set(load.acked_runs), load.acked_tasks
    print(f"rolling upgrade: {len(runs)} callbacks and {len(tasks)} task writes acknowledged, "
          f"{len(load.failures)} failures")
    if load.failures:
        sys.exit("rolling upgrade: failed requests:\n" + "\n".join(load.failures[:20]))

    def recorded_runs(port):
        seen, token = set(), ""
        while True:
            path = f"/api/v1/tasks/{load.task_id}/executions?page_size=1000&page_token={urllib.parse.quote(token)}"
            status, answer = call(port, "GET", path)
            if status != 200:
                return False
            seen |= {e["startTime"] for e in answer.get("executions", [])}
            token = answer.get("nextPageToken", "")
            if not token:
                return seen >= runs

    def graph(port):
        status, answer = call(port, "GET", "/api/v1/lineage")
        assert status == 200, answer
        nodes = sorted(n["name"] for n in answer.get("nodes", []))
        edges = sorted(json.dumps(e, sort_keys=True) for e in answer.get("edges", []))
        return nodes, edges

    for replica in replicas:
        wait_until(f"every acknowledged callback recorded (replica {replica.slot})",
                   lambda: recorded_runs(replica.rest), 60)
        for name in tasks:
            status, answer = call(replica.rest, "GET", f"/api/v1/tasks/by-name/{name}")
            if status != 200:
                sys.exit(f"rolling upgrade: acknowledged task {name} missing on replica {replica.slot}: {answer}")
    expected = {f"dws_roll_{name.rsplit('_', 1)[1]}" for name in tasks} | {"ods_roll", "dwd_roll"}
    wait_until("the same lineage on every replica",
               lambda: all(set(graph(r.rest)[0]) >= expected for r in replicas)
               and graph(replicas[0].rest) == graph(replicas[1].rest), 30)
    for replica in replicas:
        replica.stop()
    print("rolling upgrade: passed")


if __name__ == "__main__":
    main()
