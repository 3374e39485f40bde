"""Northflank's own JS client (`@northflank/js-client`, from npm) against the simulator: range
logs, the live tail of a running run, containers and metrics, read the way the official
client reads them. Skipped, saying why, where node or npm is missing or the npm registry
cannot be reached; the package is installed once into ~/.cache/nf-runs-tests/js."""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import datetime, timezone
from pathlib import Path

import pytest

from tui.simulator import run_simulator

JS_CLIENT = "@northflank/js-client@0.9.5"
CACHE = Path.home() / ".cache" / "nf-runs-tests" / "js"
P, J = "payments", "refund-batch"

SCRIPT = r"""
const { ApiClient, ApiClientInMemoryContextProvider } = require('@northflank/js-client');
const [host, token, runId, startTime, endTime] = process.argv.slice(2);
(async () => {
  const provider = new ApiClientInMemoryContextProvider();
  await provider.addContext({ name: 'sim', token, host });
  const api = new ApiClient(provider, { throwErrorOnHttpErrorCode: true });
  const parameters = { projectId: 'payments', jobId: 'refund-batch' };
  const out = {};
  const logs = await api.get.job.logs({ parameters, options: {
    runId, startTime: new Date(startTime), endTime: new Date(endTime), lineLimit: 5,
    direction: 'forward' } });
  out.logs = { count: logs.data.length, first: logs.data[0].log,
               tsIsDate: logs.data[0].ts instanceof Date, pagination: logs.pagination || null };
  const containers = await api.get.job.containers({ parameters, options: { runId } });
  out.containers = containers.data;
  const metrics = await api.get.job.metricsRange({ parameters, options: {
    runId, metricTypes: ['cpu', 'memory'], startTime: new Date(startTime),
    endTime: new Date(endTime) } });
  const cpu = metrics.data.cpu;
  out.metrics = { unit: cpu.metricInfo.metricUnit, points: cpu.values[0].data.length,
                  memoryUnit: metrics.data.memory.metricInfo.metricUnit };
  const tail = await api.get.job.logTail({ parameters, options: { runId, lineLimit: 3 } });
  const batches = [];
  tail.on('logs-received', (lines) => {
    batches.push(lines.map((line) => line.log));
    if (batches.length >= 3) tail.stop();
  });
  tail.on('error', (error) => { out.tailError = String(error && error.message || error); });
  const timer = setTimeout(() => { out.tailTimeout = true; tail.stop(); }, 60000);
  await tail.start();
  clearTimeout(timer);
  out.tail = batches;
  process.stdout.write(JSON.stringify(out));
})().catch((error) => { process.stdout.write(JSON.stringify({ failed: String(error) })); });
"""


def _installed() -> Path:
    """The package directory, installing it first if needed (skip when that cannot be)."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.skip("node or npm is not installed: the official JS client cannot run")
    package = CACHE / "node_modules" / "@northflank" / "js-client"
    if not (package / "package.json").exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        if not (CACHE / "package.json").exists():
            (CACHE / "package.json").write_text('{"name": "nf-runs-js-probe", "private": true}')
        try:
            result = subprocess.run(
                [npm, "install", "--no-audit", "--no-fund", JS_CLIENT], cwd=CACHE,
                capture_output=True, text=True, timeout=600, check=False,
            )
        except subprocess.TimeoutExpired:
            pytest.skip("npm install of the official JS client timed out (registry unreachable?)")
        if result.returncode != 0 or not (package / "package.json").exists():
            last = (result.stderr.strip().splitlines() or ["no output"])[-1][:200]
            pytest.skip(f"cannot install {JS_CLIENT} from npm (registry unreachable?): {last}")
    return package


def test_the_official_js_client_reads_logs_tail_containers_and_metrics() -> None:
    _installed()
    start = datetime(2026, 11, 29, 12, 0, tzinfo=timezone.utc)
    # The clock runs (5 simulated seconds a second) so that the tail sends batches.
    with run_simulator(seed=7, speed=5.0, start=start, history=False) as sim:
        sim.world.set_log_every(P, J, 0.5)
        run = sim.world.start_run(P, J, duration=10**6)
        sim.world.advance(30)
        (CACHE / "probe.js").write_text(SCRIPT)
        result = subprocess.run(
            ["node", "probe.js", sim.url, sim.token, run["id"], "2026-11-29T11:59:00.000Z",
             "2026-11-29T13:00:00.000Z"],
            cwd=CACHE, capture_output=True, text=True, timeout=180, check=False,
        )
        assert not sim.errors
    assert result.returncode == 0, result.stderr[-2000:]
    out = json.loads(result.stdout)
    assert "failed" not in out, out
    assert out["logs"]["count"] == 5 and out["logs"]["tsIsDate"]
    assert out["logs"]["first"].startswith("Starting container for job run")
    assert out["logs"]["pagination"]["hasNextPage"] is True
    assert len(out["logs"]["pagination"]["cursor"]) == 24
    assert out["containers"]["runId"] == run["id"]
    assert out["containers"]["containers"][0]["status"] in ("TASK_STARTING", "TASK_RUNNING")
    assert out["metrics"] == {"unit": "vCPU", "points": out["metrics"]["points"],
                              "memoryUnit": "mb"}
    assert out["metrics"]["points"] >= 1
    assert "tailError" not in out and "tailTimeout" not in out, out
    assert len(out["tail"]) == 3 and all(out["tail"])
