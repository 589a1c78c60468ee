#!/usr/bin/env python3
"""serve_client.py: the client side of tests/cli_serve.sh (python3 standard library only).

Talks to a running `mtrec serve` on loopback and checks its answers against the CSV that
`mtrec predict` wrote for the same rows. Each subcommand prints what it checked and exits
non-zero, naming every failure, when something is wrong:

  check   both request forms (rows, columns) against the expected CSV
  errors  every bad-request class: status code and {"error": ...}; the server keeps serving
  load    concurrent clients, every answer 200 and equal to the expected CSV
  swap    clients run while --export_cmd writes a new version: no failed request, every
          answer from the old or the new version, the new version served afterwards
  metrics /metrics counters move by exactly what a known batch of requests adds
  drain   a request in flight when --pid gets SIGTERM still gets its full answer
"""
import argparse
import csv
import http.client
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time

TIMEOUT = 60
FAILURES = []
TOL = 1e-5  # relative + absolute tolerance against `mtrec predict` (--tol)


def fail(msg):
    FAILURES.append(msg)
    print("FAIL: " + msg, flush=True)


def finish(what):
    if FAILURES:
        print("%s: %d failure(s)" % (what, len(FAILURES)), flush=True)
        sys.exit(1)
    print("%s: ok" % what, flush=True)


def request(port, method, path, body=None, headers=None, conn=None):
    """One HTTP request; returns (status, parsed JSON or text, raw bytes)."""
    own = conn is None
    if own:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
    try:
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
        if isinstance(body, str):
            body = body.encode()
        h = {"Content-Type": "application/json"} if body is not None else {}
        h.update(headers or {})
        conn.request(method, path, body=body, headers=h)
        r = conn.getresponse()
        raw = r.read()
        ctype = r.getheader("Content-Type", "")
        data = raw.decode("utf-8", "replace")
        if ctype.startswith("application/json"):
            try:
                data = json.loads(raw)
            except ValueError:
                data = None
        return r.status, data, raw
    finally:
        if own:
            conn.close()


# ---- expected answers --------------------------------------------------------------------
class Data:
    """Rows of the input CSV (as text), their expected outputs, and the model's signature."""

    def __init__(self, port, name, csv_path, pred_paths):
        st, meta, _ = request(port, "GET", "/v1/models/%s/metadata" % name)
        if st != 200 or not isinstance(meta, dict):
            raise SystemExit("FAIL: GET metadata answered %s: %r" % (st, meta))
        sig = meta["metadata"]["signature_def"]["signature_def"]["serving_default"]
        self.inputs = [(k, v["type"]) for k, v in sig["inputs"].items()]
        self.outputs = list(sig["outputs"].keys())
        with open(csv_path, newline="") as f:
            self.rows = list(csv.DictReader(f))
        self.expected = []  # one list of rows per version: [{output: value}]
        for p in pred_paths:
            with open(p, newline="") as f:
                rd = csv.DictReader(f)
                exp = [{k: float(r[k]) for k in self.outputs} for r in rd]
            if len(exp) != len(self.rows):
                raise SystemExit("FAIL: %s has %d rows, %s has %d" % (p, len(exp), csv_path, len(self.rows)))
            missing = [k for k in self.outputs if k not in rd.fieldnames]
            if missing:
                raise SystemExit("FAIL: %s lacks output columns %s" % (p, missing))
            self.expected.append(exp)

    def typed(self, r, k, t, style):
        """Value of input k of row r as JSON: style 0 = CSV text, 1 = typed JSON values."""
        s = self.rows[r][k]
        if style == 0:
            return s if s != "" else None
        if s == "":
            return None if r % 2 else ""  # null and "" both mean the default
        if "|" in s or k.endswith("tags"):
            return s.split("|")  # tag lists as JSON arrays
        if t in ("INT32", "INT64"):
            return int(s)
        if t in ("FLOAT", "DOUBLE"):
            return float(s)
        if t == "STRING" and re.fullmatch(r"[1-9][0-9]{0,14}", s) and r % 2 == 0:
            return int(s)  # numeric ids as JSON numbers: printed back without a decimal point
        return s

    def instances(self, rows, style):
        return {"instances": [{k: self.typed(r, k, t, style) for k, t in self.inputs} for r in rows]}

    def columns(self, rows, style):
        return {"inputs": {k: [self.typed(r, k, t, style) for r in rows] for k, t in self.inputs}}

    def matches(self, got, rows, version):
        """None if the answers (list of {output: value}) equal the expected ones, else why."""
        exp = self.expected[version]
        if not isinstance(got, list) or len(got) != len(rows):
            return "expected %d predictions, got %r" % (len(rows), str(got)[:200])
        for g, r in zip(got, rows):
            if not isinstance(g, dict) or sorted(g) != sorted(self.outputs):
                return "row %d: keys %r, expected %r" % (r, sorted(g) if isinstance(g, dict) else g, sorted(self.outputs))
            for k in self.outputs:
                a, b = g[k], exp[r][k]
                if not isinstance(a, (int, float)) or abs(a - b) > TOL + TOL * abs(b):
                    return "row %d %s: got %r, mtrec predict wrote %r" % (r, k, a, b)
        return None


def predictions_of(resp, columnar, outputs):
    """Answer of either form as a list of {output: value}."""
    if not isinstance(resp, dict):
        return None
    if not columnar:
        return resp.get("predictions")
    outs = resp.get("outputs")
    if not isinstance(outs, dict) or any(k not in outs for k in outputs):
        return None
    n = len(outs[outputs[0]])
    if any(not isinstance(outs[k], list) or len(outs[k]) != n for k in outputs):
        return None
    return [{k: outs[k][i] for k in outputs} for i in range(n)]


def predict_path(name):
    return "/v1/models/%s:predict" % name


# ---- subcommands -------------------------------------------------------------------------
def cmd_check(a):
    d = Data(a.port, a.name, a.csv, [a.pred])
    if a.precision:
        st, meta, _ = request(a.port, "GET", "/v1/models/%s/metadata" % a.name)
        got = meta.get("metadata", {}).get("precision") if isinstance(meta, dict) else None
        if got != a.precision:
            fail("metadata precision is %r, expected %r" % (got, a.precision))
    n = min(a.rows, len(d.rows))
    rows = list(range(n))
    for columnar in (0, 1):
        for style in (0, 1):
            body = d.columns(rows, style) if columnar else d.instances(rows, style)
            st, resp, raw = request(a.port, "POST", predict_path(a.name), body)
            what = "%s form, %s values" % ("column" if columnar else "row", "text" if style == 0 else "typed")
            if st != 200:
                fail("%s: status %d: %s" % (what, st, raw[:300]))
                continue
            why = d.matches(predictions_of(resp, columnar, d.outputs), rows, 0)
            if why:
                fail("%s: %s" % (what, why))
            else:
                print("  %s: %d rows equal mtrec predict (tolerance %g)" % (what, n, TOL))
    # single rows, one request each, and rows with only some inputs given (the rest default)
    for r in range(min(5, n)):
        st, resp, raw = request(a.port, "POST", predict_path(a.name), d.instances([r], 1))
        why = "status %d: %s" % (st, raw[:200]) if st != 200 else d.matches(resp.get("predictions"), [r], 0)
        if why:
            fail("single row %d: %s" % (r, why))
    st, full, _ = request(a.port, "POST", predict_path(a.name), {"instances": [{}, {}]})
    if st != 200 or len(full.get("predictions", [])) != 2 or full["predictions"][0] != full["predictions"][1]:
        fail("two all-default rows: status %d, %r" % (st, full))
    st, stat, _ = request(a.port, "GET", "/v1/models/%s" % a.name)
    ok = st == 200 and stat["model_version_status"][0]["state"] == "AVAILABLE" and \
        stat["model_version_status"][0]["status"]["error_code"] == "OK"
    if not ok:
        fail("GET /v1/models/%s: %d %r" % (a.name, st, stat))
    if a.version and ok and stat["model_version_status"][0]["version"] != a.version:
        fail("serving version %s, expected %s" % (stat["model_version_status"][0]["version"], a.version))
    if a.version:  # TF Serving's explicit-version paths
        vp = "/v1/models/%s/versions/%s" % (a.name, a.version)
        st, resp, raw = request(a.port, "POST", vp + ":predict", d.instances(rows[:3], 0))
        why = "status %d: %s" % (st, raw[:200]) if st != 200 else d.matches(resp.get("predictions"), rows[:3], 0)
        if why:
            fail("POST %s:predict: %s" % (vp, why))
        st, resp, raw = request(a.port, "GET", vp)
        if st != 200:
            fail("GET %s: %d %s" % (vp, st, raw[:200]))
    st, meta, _ = request(a.port, "GET", "/v1/models/%s/metadata" % a.name)
    sig = meta["metadata"]["signature_def"]["signature_def"]["serving_default"]
    if st != 200 or not sig["inputs"] or not sig["outputs"] or meta["model_spec"]["name"] != a.name:
        fail("metadata: %d %r" % (st, meta))
    if any(set(v) < {"name", "type", "default"} for v in sig["inputs"].values()):
        fail("metadata inputs lack name/type/default: %r" % sig["inputs"])
    finish("check")


def read_response(s):
    """Read one HTTP response from socket s: (status or None, body bytes)."""
    buf = b""
    while True:
        try:
            chunk = s.recv(65536)
        except (ConnectionResetError, socket.timeout):
            break
        if not chunk:
            break
        buf += chunk
        end = buf.find(b"\r\n\r\n")
        if end >= 0:
            cl = re.search(rb"(?i)content-length:\s*(\d+)", buf[:end])
            if cl and len(buf) >= end + 4 + int(cl.group(1)):
                break
    m = re.match(rb"HTTP/1\.[01] (\d{3})", buf)
    end = buf.find(b"\r\n\r\n")
    if not m or end < 0:
        return None, buf[:300]
    return int(m.group(1)), buf[end + 4:]


def raw_exchange(port, head, body=b"", read_timeout=10):
    """Send raw bytes (head, then body) and return (status, parsed JSON body or None)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=read_timeout)
    try:
        s.sendall(head + body)
        st, raw = read_response(s)
    finally:
        s.close()
    try:
        return st, json.loads(raw)
    except ValueError:
        return st, None


def cmd_errors(a):
    p = predict_path(a.name)
    d = Data(a.port, a.name, a.csv, [a.pred])
    good = d.instances([0], 1)
    inputs = [k for k, _ in d.inputs]
    cases = [
        # (what, method, path, body, status, substring of the error)
        ("malformed JSON", "POST", p, '{"instances": [', 400, "malformed JSON"),
        ("trailing garbage", "POST", p, '{"instances": [{}]} x', 400, "malformed JSON"),
        ("empty body", "POST", p, "", 400, "empty"),
        ("body not an object", "POST", p, "[1, 2]", 400, "JSON object"),
        ("instances not an array", "POST", p, {"instances": {"a": 1}}, 400, "must be an array"),
        ("instance not an object", "POST", p, {"instances": [1]}, 400, "instances[0]"),
        ("object value", "POST", p, {"instances": [{inputs[0]: {"a": 1}}]}, 400, "instances[0]." + inputs[0]),
        ("nested list item", "POST", p, {"instances": [{inputs[0]: [[1]]}]}, 400, "list items"),
        ("unknown field", "POST", p, {"instances": [{}, {"no_such_field": 1}]}, 400, "no_such_field"),
        ("unknown column", "POST", p, {"inputs": {"no_such_col": [1]}}, 400, "no_such_col"),
        ("duplicate field", "POST", p, '{"instances": [{"%s": 1, "%s": 2}]}' % (inputs[0], inputs[0]), 400, "twice"),
        ("unknown top-level key", "POST", p, {"instancez": [{}]}, 400, "instancez"),
        ("both forms", "POST", p, {"instances": [{}], "inputs": {}}, 400, "not both"),
        ("empty instances", "POST", p, {"instances": []}, 400, "empty"),
        ("empty inputs", "POST", p, {"inputs": {}}, 400, "empty"),
        ("inputs not an object", "POST", p, {"inputs": [1]}, 400, "must be an object"),
        ("column not an array", "POST", p, {"inputs": {inputs[0]: 1}}, 400, inputs[0]),
        ("inconsistent column lengths", "POST", p, {"inputs": {inputs[0]: [1, 2], inputs[1]: [1]}}, 400,
         "every input needs one per row"),
        ("too many rows", "POST", p, {"instances": [{}] * (a.max_rows + 1)}, 413, str(a.max_rows)),
        ("too many column rows", "POST", p, {"inputs": {inputs[0]: [None] * (a.max_rows + 1)}}, 413, str(a.max_rows)),
        ("unknown model", "POST", "/v1/models/no_such_model:predict", good, 404, "no_such_model"),
        ("unknown model status", "GET", "/v1/models/no_such_model", None, 404, "no_such_model"),
        ("unknown path", "GET", "/v2/nothing", None, 404, "no such path"),
        ("version not served", "POST", "/v1/models/%s/versions/1:predict" % a.name, good, 404, "version 1 "),
        ("unknown verb", "POST", "/v1/models/%s:classify" % a.name, good, 404, "no such path"),
        ("GET on predict", "GET", p, None, 405, "POST"),
        ("POST on status", "POST", "/v1/models/%s" % a.name, good, 405, "GET"),
        ("PUT on metrics", "PUT", "/metrics", "x", 405, "GET"),
    ]
    typed_bad = [k for k, t in d.inputs if t in ("INT32", "INT64")]
    if typed_bad:
        cases.append(("non-numeric value for %s" % typed_bad[0], "POST", p,
                      {"instances": [{typed_bad[0]: "not-a-number"}]}, 400, typed_bad[0]))
    for what, method, path, body, status, sub in cases:
        st, resp, raw = request(a.port, method, path, body)
        err = resp.get("error") if isinstance(resp, dict) else None
        if st != status or not isinstance(err, str) or sub not in err:
            fail("%s: expected %d with an error naming %r, got %d %s" % (what, status, sub, st, raw[:300]))
        else:
            print("  %-34s %d %s" % (what, st, err[:90]))
    # a body over the limit is refused from its Content-Length, before it is sent
    n = a.max_body + 1
    st, resp = raw_exchange(a.port, ("POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                                     "Content-Length: %d\r\n\r\n" % (p, n)).encode())
    if st != 413 or not isinstance(resp, dict) or "limit" not in resp.get("error", ""):
        fail("body over the limit (not sent): expected 413 at once, got %s %r" % (st, resp))
    else:
        print("  %-34s %d %s" % ("body over the limit (unsent)", st, resp["error"][:90]))
    # the same over a chunked body (no Content-Length): read, dropped, answered 413
    body = b"[" + b"0," * (n // 2) + b"0]"
    chunked = b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)
    st, resp = raw_exchange(a.port, ("POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                                     "Transfer-Encoding: chunked\r\n\r\n" % p).encode(), chunked)
    if st != 413 or not isinstance(resp, dict):
        fail("chunked body over the limit: expected 413, got %s %r" % (st, resp))
    else:
        print("  %-34s %d %s" % ("chunked body over the limit", st, resp["error"][:90]))
    # still serving, and correctly
    st, resp, raw = request(a.port, "POST", p, good)
    why = "status %d: %s" % (st, raw[:200]) if st != 200 else d.matches(resp.get("predictions"), [0], 0)
    if why:
        fail("after the bad requests: %s" % why)
    finish("errors (%d classes)" % (len(cases) + 2))


def client_loop(a, d, seed, n_req, stop, results, versions_ok):
    """One client thread: n_req requests (or until stop) on one keep-alive connection, random
    rows and forms; appends (ok, message, version index matched) to results."""
    rng = random.Random(seed)
    conn = http.client.HTTPConnection("127.0.0.1", a.port, timeout=TIMEOUT)
    i = 0
    while (n_req is None or i < n_req) and not (stop and stop.is_set()):
        i += 1
        k = rng.randint(1, min(20, len(d.rows)))
        rows = [rng.randrange(len(d.rows)) for _ in range(k)]
        columnar = rng.random() < 0.5
        body = d.columns(rows, 1) if columnar else d.instances(rows, 1)
        try:
            st, resp, raw = request(a.port, "POST", predict_path(a.name), body, conn=conn)
        except (OSError, http.client.HTTPException) as ex:
            results.append((False, "request %d: %r" % (i, ex), None))
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", a.port, timeout=TIMEOUT)
            continue
        if st != 200:
            results.append((False, "status %d: %s" % (st, raw[:200]), None))
            continue
        got = predictions_of(resp, columnar, d.outputs)
        whys = [d.matches(got, rows, v) for v in versions_ok]
        match = next((v for v, w in zip(versions_ok, whys) if w is None), None)
        results.append((match is not None, whys[0], match))
    conn.close()


def run_clients(a, d, n_threads, n_req, stop, versions_ok):
    results = []
    ts = [threading.Thread(target=client_loop, args=(a, d, 1000 + t, n_req, stop, results, versions_ok))
          for t in range(n_threads)]
    for t in ts:
        t.start()
    return ts, results


def cmd_load(a):
    d = Data(a.port, a.name, a.csv, [a.pred])
    t0 = time.time()
    ts, results = run_clients(a, d, a.threads, a.requests, None, [0])
    for t in ts:
        t.join(TIMEOUT * 2)
    bad = [r for r in results if not r[0]]
    if len(results) != a.threads * a.requests:
        fail("%d answers for %d requests" % (len(results), a.threads * a.requests))
    for r in bad[:5]:
        fail("concurrent request: %s" % r[1])
    print("  %d clients x %d requests: %d ok, %d failed in %.2f s" % (
        a.threads, a.requests, len(results) - len(bad), len(bad), time.time() - t0))
    finish("load")


def serving_version(a):
    st, stat, _ = request(a.port, "GET", "/v1/models/%s" % a.name)
    return stat["model_version_status"][0]["version"] if st == 200 else None


def cmd_swap(a):
    d = Data(a.port, a.name, a.csv, [a.pred, a.pred_new])
    v0 = serving_version(a)
    stop = threading.Event()
    ts, results = run_clients(a, d, a.threads, None, stop, [0, 1])
    time.sleep(0.5)
    r = subprocess.run(a.export_cmd, shell=True)
    if r.returncode != 0:
        fail("export command failed (%d): %s" % (r.returncode, a.export_cmd))
    deadline = time.time() + a.wait
    v1 = v0
    while time.time() < deadline and v1 == v0:
        time.sleep(0.1)
        v1 = serving_version(a)
    n_at_swap = len(results)
    time.sleep(1.0)  # keep the load on the new version for a while
    stop.set()
    for t in ts:
        t.join(TIMEOUT * 2)
    if v1 == v0:
        fail("still serving version %s %d s after the export" % (v0, a.wait))
    bad = [r for r in results if not r[0]]
    for r in bad[:5]:
        fail("request during the swap: %s" % r[1])
    after = [r[2] for r in results[n_at_swap:]]
    if not after or after[-1] != 1:
        fail("requests after the swap do not match the new version's predictions")
    if not any(r[2] == 0 for r in results):
        fail("no request matched the old version (the load did not overlap the swap)")
    print("  version %s -> %s under %d clients: %d requests, %d failed, %d on the old version, %d on the new" % (
        v0, v1, a.threads, len(results), len(bad), sum(r[2] == 0 for r in results),
        sum(r[2] == 1 for r in results)))
    finish("swap")


def metric_values(port):
    st, text, _ = request(port, "GET", "/metrics")
    if st != 200 or not isinstance(text, str):
        raise SystemExit("FAIL: GET /metrics answered %s" % st)
    vals = {}
    for line in text.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        key, _, v = line.rpartition(" ")
        vals[key] = float(v)
    return vals, text


def cmd_metrics(a):
    d = Data(a.port, a.name, a.csv, [a.pred])
    m0, _ = metric_values(a.port)
    n_ok, rows, n_bad = 7, 0, 3
    for i in range(n_ok):
        st, _, _ = request(a.port, "POST", predict_path(a.name), d.instances(list(range(i + 1)), 1))
        rows += i + 1
        if st != 200:
            fail("metrics: predict answered %d" % st)
    for _ in range(n_bad):
        request(a.port, "POST", predict_path(a.name), "{bad json")
    m1, text = metric_values(a.port)

    def delta(k):
        return m1.get(k, 0) - m0.get(k, 0)
    checks = [
        ('mtrec_requests_total{code="200"}', n_ok + 1),  # + the first GET /metrics
        ('mtrec_requests_total{code="400"}', n_bad),
        ("mtrec_request_errors_total", n_bad),
        ("mtrec_rows_predicted_total", rows),
        ("mtrec_request_duration_seconds_count", n_ok + n_bad),
        ('mtrec_request_duration_seconds_bucket{le="+Inf"}', n_ok + n_bad),
    ]
    for k, want in checks:
        if k not in m1:
            fail("metrics: %s missing" % k)
        elif delta(k) != want:
            fail("metrics: %s moved by %g, expected %d" % (k, delta(k), want))
    buckets = [(k, v) for k, v in m1.items() if k.startswith("mtrec_request_duration_seconds_bucket")]
    les = [float(re.search(r'le="([^"]+)"', k).group(1)) for k, _ in buckets]
    if not buckets or les[0] != 0.0001 or 1.0 not in les or les != sorted(les):
        fail("metrics: histogram buckets %r" % les)
    if [v for _, v in buckets] != sorted(v for _, v in buckets):
        fail("metrics: histogram buckets are not cumulative")
    if m1.get("mtrec_request_duration_seconds_sum", 0) <= m0.get("mtrec_request_duration_seconds_sum", 0):
        fail("metrics: duration sum did not grow")
    ver = serving_version(a)
    if 'mtrec_model_version{model="%s",version="%s"}' % (a.name, ver) not in m1:
        fail("metrics: no mtrec_model_version line for version %s:\n%s" % (ver, text))
    if a.min_load_failures and m1.get("mtrec_model_load_failures_total", 0) < a.min_load_failures:
        fail("metrics: mtrec_model_load_failures_total is %g, expected >= %d" % (
            m1.get("mtrec_model_load_failures_total", 0), a.min_load_failures))
    finish("metrics")


def cmd_drain(a):
    """Headers and half a body, then SIGTERM, then the rest: the answer must still come."""
    d = Data(a.port, a.name, a.csv, [a.pred])
    rows = list(range(min(50, len(d.rows))))
    body = json.dumps(d.instances(rows, 1)).encode()
    head = ("POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"
            "\r\n" % (predict_path(a.name), len(body))).encode()
    s = socket.create_connection(("127.0.0.1", a.port), timeout=TIMEOUT)
    s.sendall(head + body[:len(body) // 2])
    time.sleep(0.3)
    os.kill(a.pid, signal.SIGTERM)
    time.sleep(0.5)
    s.sendall(body[len(body) // 2:])
    st, raw = read_response(s)
    s.close()
    if st != 200:
        fail("request in flight at SIGTERM: status %s: %r" % (st, raw[:300]))
    else:
        try:
            why = d.matches(json.loads(raw).get("predictions"), rows, 0)
        except ValueError as ex:
            why = "bad JSON: %s" % ex
        if why:
            fail("request in flight at SIGTERM: %s" % why)
        else:
            print("  a request in flight at SIGTERM got its %d predictions" % len(rows))
    # no new requests once draining
    try:
        st, _, _ = request(a.port, "GET", "/v1/models/%s" % a.name)
        fail("a new request was answered (%d) after SIGTERM" % st)
    except (OSError, http.client.HTTPException):
        print("  new connections are refused")
    finish("drain")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("cmd", choices=["check", "errors", "load", "swap", "metrics", "drain"])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--name", default="model")
    ap.add_argument("--csv", required=True, help="input rows (CSV with a header)")
    ap.add_argument("--pred", required=True, help="`mtrec predict` output for --csv")
    ap.add_argument("--pred_new", help="swap: predictions of the version being exported")
    ap.add_argument("--export_cmd", help="swap: shell command writing the new version")
    ap.add_argument("--version", help="check: the version that must be serving")
    ap.add_argument("--rows", type=int, default=40)
    ap.add_argument("--threads", type=int, default=8)
    ap.add_argument("--requests", type=int, default=50)
    ap.add_argument("--wait", type=int, default=30, help="swap: seconds to wait for the new version")
    ap.add_argument("--max_rows", type=int, default=10000)
    ap.add_argument("--max_body", type=int, default=8 << 20)
    ap.add_argument("--min_load_failures", type=int, default=0)
    ap.add_argument("--pid", type=int, help="drain: the server's process id")
    ap.add_argument("--tol", type=float, default=1e-5, help="check: tolerance against --pred")
    ap.add_argument("--precision", help="check: the precision metadata must say")
    a = ap.parse_args()
    global TOL
    TOL = a.tol
    {"check": cmd_check, "errors": cmd_errors, "load": cmd_load, "swap": cmd_swap,
     "metrics": cmd_metrics, "drain": cmd_drain}[a.cmd](a)


if __name__ == "__main__":
    main()
