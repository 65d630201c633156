"""Machine facts, the human-readable report, and the JSON result file.

The header states what the numbers depend on (cores, Python, database, server processes,
load tool, machine load at the start) so that two result files can be compared honestly.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
from importlib import metadata
from pathlib import Path
from typing import Any

LOAD_TOOL = "aiohttp asyncio client"


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def _cpu_model() -> str | None:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def machine_info() -> dict[str, Any]:
    try:
        load: list[float] | None = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        load = None
    return {
        "cpu_count": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "loadavg_at_start": load,
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "plaudit": _version("plaudit"),
        "aiohttp": _version("aiohttp"),
        "uvloop": _version("uvloop"),
    }


def _ms(value: float) -> str:
    return f"{value:8.2f} ms"


def _latency_line(lat: dict[str, float], label: str = "latency") -> str:
    return (
        f"  {label:<10}p50 {_ms(lat['p50_ms'])}   p95 {_ms(lat['p95_ms'])}   "
        f"p99 {_ms(lat['p99_ms'])}   max {_ms(lat['max_ms'])}"
    )


def _failure_lines(result: dict[str, Any]) -> list[str]:
    if not result["failed"]:
        return ["  non-2xx   0"]
    lines = [f"  non-2xx   {result['failed']}  <-- server problem or overload"]
    for kind, count in sorted(result["failures"].items()):
        sample = result["failure_samples"].get(kind, "")
        lines.append(f"            {count:>7} x {kind}: {sample[:160]}")
    return lines


def _cpu_line(result: dict[str, Any]) -> str:
    server = result.get("server_cpu_pct")
    server_text = "n/a" if server is None else f"{server:.0f}%"
    client = result["client_cpu_pct"]
    database = result.get("database_cpu_pct")
    database_text = "" if database is None else f"   postgres {database:.0f}%"
    other = result.get("other_cpu_pct")
    other_text = "" if other is None else f"   other processes {other:.0f}%"
    return (
        f"  cpu       server {server_text}{database_text}   client {client:.0f}%"
        f"{other_text}  (100% = one core)"
    )


def header(info: dict[str, Any], target: dict[str, Any], plan: dict[str, Any]) -> str:
    workers = (
        f"{target['workers']} worker process(es)"
        if target["workers"] is not None
        else "worker processes unknown (external server)"
    )
    lines = [
        "=" * 78,
        "Plaudit benchmark",
        "=" * 78,
        f"machine      {info['cpu_count']} CPUs ({info['cpu_model'] or 'unknown model'}), "
        f"load avg {info['loadavg_at_start']}",
        f"python       {info['implementation']} {info['python']} on {info['platform']}",
        f"database     {target['database']}"
        + (f" ({target['database_version']})" if target.get("database_version") else ""),
        f"server       plaudit {info['plaudit']}, {workers}, {target['base_url']}",
        f"load tool    {LOAD_TOOL} (aiohttp {info['aiohttp']}"
        + (", uvloop" if plan.get("client_loop") == "uvloop" else "")
        + ")",
        f"scenarios    {', '.join(plan['scenarios'])}; {plan['duration_s']:g} s each, "
        f"warm-up {plan['warmup_s']:g} s; {plan['users']} users",
    ]
    return "\n".join(lines)


def setup_text(setup: dict[str, Any]) -> str:
    return f"\nsetup        {setup['users']} users created in {setup['seconds']:.1f} s (batch API)"


def throughput_text(r: dict[str, Any]) -> str:
    return "\n".join(
        [
            f"\n[throughput] closed loop, {r['concurrency']} connections, {r['duration_s']:.1f} s",
            f"  events/s  {r['events_per_s']:10.1f}   ({r['ok']} events acknowledged with 2xx)",
            _latency_line(r["latency"]),
            *_failure_lines(r),
            _cpu_line(r),
        ]
    )


def latency_text(r: dict[str, Any]) -> str:
    late = ""
    if r["send_lateness_p99_ms"] > 5:
        late = "  <-- client could not keep the schedule; latencies include that delay"
    return "\n".join(
        [
            f"\n[latency] open loop at {r['target_rate']:g} events/s (latency measured from "
            f"the scheduled send time), {r['duration_s']:.1f} s",
            f"  achieved  {r['achieved_rate']:10.1f} events/s   "
            f"({r['ok']} of {r['scheduled']} scheduled acknowledged with 2xx)",
            _latency_line(r["latency"]),
            f"  send lag  p99 {_ms(r['send_lateness_p99_ms'])}   "
            f"max {_ms(r['send_lateness_max_ms'])}{late}",
            *_failure_lines(r),
            _cpu_line(r),
        ]
    )


def batch_text(r: dict[str, Any]) -> str:
    if r["exact"]:
        status = "OK, every accepted event counted exactly once"
    elif not r["drained"]:
        status = (
            f"NOT DRAINED: {r['counted_events']:g} of {r['expected_events']} accepted events "
            f"counted {r['drain_after_send_s']:.0f} s after sending stopped"
        )
    elif r["users_wrong"]:
        status = f"MISMATCH: {r['users_wrong']} users' totals differ, e.g. {r['examples'][:3]}"
    else:
        status = (
            f"OK: {r['counted_events']:g} counted = {r['expected_events']} accepted "
            f"+ {r['counted_events'] - r['expected_events']:g} of {r['uncertain_events']} "
            "sent in requests that failed on the client side"
        )
    processed = r["processed_events_per_s"]
    processed_line = (
        f"  processed {processed:10.1f} events/s end to end "
        f"(all counted {r['end_to_end_s']:.1f} s after the first request, "
        f"{r['drain_after_send_s']:.1f} s after the last)"
        if processed is not None
        else "  processed        n/a (the backlog did not drain in time)"
    )
    return "\n".join(
        [
            f"\n[batch] {r['concurrency']} concurrent requests of {r['batch_size']} events "
            f"over {r['users']} users, {r['duration_s']:.1f} s",
            f"  accepted  {r['accepted_events_per_s']:10.1f} events/s at the endpoint "
            f"({r['accepted_events']} events, {r['requests_per_s']:.1f} requests/s, HTTP 202)",
            processed_line,
            _latency_line(r["latency"], "request"),
            *_failure_lines(r),
            _cpu_line(r),
            f"  check     {status}",
        ]
    )


def verify_text(v: dict[str, Any]) -> str:
    if v["exact"]:
        verdict = "OK"
    elif v["ok"]:
        verdict = (
            f"OK (within {v['uncertain']} events whose requests failed on the client side "
            "and may or may not have been counted)"
        )
    else:
        verdict = "MISMATCH"
    lines = [
        f"\n[check] {verdict}: sum of server totals for '{v['metric']}' = {v['server_total']:g}, "
        f"2xx events sent = {v['expected_total']} ({v['users_checked']} users read in "
        f"{v['seconds']:.1f} s)",
    ]
    if not v["ok"]:
        lines.append(f"  {v['users_wrong']} users differ, e.g.:")
        lines.extend(
            f"    {e['user']}: {e['expected']} acknowledged (+{e['uncertain']} uncertain), "
            f"server total {e['server']:g}"
            for e in v["examples"]
        )
    return "\n".join(lines)


def server_log_text(scan: dict[str, Any], saved: str | None) -> str:
    levels = scan.get("levels", {})
    if not levels:
        return "\nserver log   no warnings or errors"
    lines = [f"\nserver log   {scan['lines']} lines: {levels}" + (f" -> {saved}" if saved else "")]
    lines.extend(f"  {line[:200]}" for line in scan.get("first", []))
    return "\n".join(lines)


def result_path(results_dir: Path, database: str) -> Path:
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    return results_dir / f"{stamp}-{database}.json"


def write_json(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, default=str) + "\n")
