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
        f"  {label:<9} p50 {_ms(lat['p50_ms'])}   p95 {_ms(lat['p95_ms'])}   "
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


def _cpu_line(result: dict[str, Any], label: str = "cpu") -> str:
    server = result.get("server_cpu_pct")
    server_text = "n/a" if server is None else f"{server:.0f}%"
    client = result["client_cpu_pct"]
    database = result.get("database_cpu_pct")
    database_text = "" if database is None else f"   postgres {database:.0f}%"
    other = result.get("other_cpu_pct")
    other_text = "" if other is None else f"   other processes {other:.0f}%"
    return (
        f"  {label:<9} server {server_text}{database_text}   client {client:.0f}%"
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
        f"warm-up {plan['warmup_s']:g} s; {plan['users']} users"
        + (
            f" (+ {plan['backdate_users']} for backdate)" if "backdate" in plan["scenarios"] else ""
        ),
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


def _phase_lines(label: str, r: dict[str, Any], extra: str = "") -> list[str]:
    return [
        f"  {label:<9} events/s {r['events_per_s']:10.1f}   ({r['ok']} events in "
        f"{r['duration_s']:.1f} s){extra}",
        _latency_line(r["latency"], ""),
    ]


def _target(met: bool) -> str:
    return "MET" if met else "MISSED"


def _settled(settle: dict[str, Any]) -> str:
    if settle["idle"] is None:
        return ""
    if settle["idle"]:
        return f", idle after {settle['seconds']:.1f} s"
    return f", still {settle['busy_pct']:.0f}% busy after {settle['seconds']:.0f} s"


def _per_event_line(per_event: dict[str, float | None]) -> list[str]:
    without, with_ = per_event["without"], per_event["with"]
    if without is None or with_ is None:
        return []
    return [
        f"  cpu/event w/o {without:.2f} ms   with {with_:.2f} ms   "
        f"({with_ / without - 1:+.0%}; server + database CPU per event, steadier than events/s "
        "on a busy machine)"
    ]


def overhead_text(r: dict[str, Any]) -> str:
    b, t, settle = r["backdating"], r["thresholds"], r["settle"]
    if not b["reached"]:
        backdated = f"NOT finished after {b['seconds']:.0f} s ({b['completions']} completions)"
    else:
        backdated = f"{b['completions']} completions backdated in {b['seconds']:.1f} s"
    idle = _settled(settle)
    ratio = r["ratio"]
    ratio_line = (
        f"  ratio     {ratio:10.3f}   (events/s with / without; target >= "
        f"{r['target_ratio']:.2f}: {_target(ratio >= r['target_ratio'])})"
        if ratio is not None
        else "  ratio            n/a (no events without achievements)"
    )
    check = r["check"]
    if check["ok"]:
        verdict = (
            "OK, each achievement's completions = the users whose total reached its threshold"
            + (
                f" (within {check['uncertain_events']} uncertain events)"
                if check["uncertain_events"]
                else ""
            )
        )
    elif check["achievements_wrong"]:
        verdict = (
            f"MISMATCH in {check['achievements_wrong']} achievements, e.g. {check['examples'][:2]}"
        )
    else:
        verdict = "INCOMPLETE: backdating did not finish before the second phase"
    return "\n".join(
        [
            f"\n[achievements-overhead] closed loop, {r['concurrency']} connections, "
            f"on '{r['metric']}' ({r['users']} users, totals seeded 1..{r['seed_max']})",
            f"  setup     totals seeded in {r['seed_s']:.1f} s{_settled(r['seed_settle'])}; "
            f"{r['achievements']} active "
            f"achievements at {t['first']}, {t['first'] + t['step']}, ..., {t['last']}: "
            f"{backdated}{idle}",
            *_phase_lines("without", r["without"]),
            *_phase_lines(
                "with",
                r["with"],
                f", {r['completions_during_with']} achievements completed by them",
            ),
            ratio_line,
            *_per_event_line(r["cpu_ms_per_event"]),
            *_failure_lines(r),
            _cpu_line(r["without"], "cpu w/o"),
            _cpu_line(r["with"], "cpu with"),
            f"  check     {verdict}",
        ]
    )


def backdate_text(r: dict[str, Any]) -> str:
    if r["reached"]:
        seconds = r["backdating_s"]
        target = (
            f"target < {r['target_s']:g} s: {_target(seconds < r['target_s'])}"
            if r["database"] == "postgres"
            else f"the < {r['target_s']:g} s target is for PostgreSQL"
        )
        first = r["first_completion_s"]
        duration = (
            f"  backdating {seconds:9.1f} s from activation until all {r['expected_completions']} "
            f"completions existed ({r['completions_per_s']:.0f}/s; first seen after "
            f"{first:.1f} s; polled every 0.25 s)   {target}"
        )
    else:
        duration = (
            f"  backdating NOT finished: {r['completions']} of {r['expected_completions']} "
            f"completions after {r['waited_s']:.0f} s"
        )
    check = (
        f"OK: completions = {r['completions']} = E exactly"
        if r["exact"]
        else f"MISMATCH: completions = {r['completions']}, E = {r['expected_completions']}"
    )
    load, base, during = r["load"], r["baseline"], r["during"]
    late = "  <-- client could not keep the schedule" if load["send_lateness_p99_ms"] > 5 else ""
    return "\n".join(
        [
            f"\n[backdate] {r['users']} users with totals 1..{r['values'][1]} on '{r['metric']}'; "
            f"achievement 'at least {r['threshold']}' activated; E = {r['expected_completions']} "
            "users qualify",
            f"  setup     {r['users']} users in {r['setup_s']:.1f} s (batch API)"
            f"{_settled(r['setup_settle'])}; activating answered in "
            f"{r['activate_request_s'] * 1000:.0f} ms",
            duration,
            f"  check     {check}",
            f"  load      {load['rate']:g} events/s to other users on '{load['metric']}' "
            "(open loop, latency from the scheduled send time)",
            _latency_line(base["latency"], "baseline")
            + f"   ({base['latency']['count']} events, {base['duration_s']:.1f} s)",
            _latency_line(during["latency"], "during")
            + f"   ({during['latency']['count']} events, {during['duration_s']:.1f} s)",
            f"  send lag  p99 {_ms(load['send_lateness_p99_ms'])}   "
            f"max {_ms(load['send_lateness_max_ms'])}{late}",
            *_failure_lines(r),
            _cpu_line(base, "cpu base"),
            _cpu_line(during, "cpu during"),
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


def _exact_text(check: dict[str, Any]) -> str:
    if check["ok"]:
        uncertain = (
            f" (+{check['uncertain']} users whose request failed on the client side)"
            if check["uncertain"]
            else ""
        )
        return f"OK, each of the {check['expected']} users' webhook arrived, once{uncertain}"
    return (
        f"MISMATCH: {check['missing']} of {check['expected']} never arrived, "
        f"{check['doubled']} users got two webhook-ids, {check['stray']} unexpected, "
        f"e.g. {check['examples']}"
    )


def _rate(value: float | None, digits: int = 0) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def webhooks_text(r: dict[str, Any]) -> str:
    d, with_ = r["delivery"], r["with"]
    rate = d["deliveries_per_s"]
    rate_text = "n/a" if rate is None else f"{rate:10.1f}"
    target = (
        ""
        if rate is None
        else f"   target >= {r['target_per_s']:g}: " + _target(rate >= r["target_per_s"])
    )
    first = d["first_after_s"]
    ratio = r["ratio"]
    drain = (
        f"the last of them {with_['drain_s']:.1f} s after the load stopped"
        if with_["drained"]
        else f"NOT all arrived {with_['drain_s']:.0f} s after the load stopped"
    )
    return "\n".join(
        [
            f"\n[webhooks] receiver {r['receiver']} (in this process, 200 at once); every "
            f"event completes an achievement for a new user: one achievement.completed each",
            f"  delivery  {rate_text} deliveries/s   ({d['received']} of {d['events']} events' "
            f"webhooks, first to last receipt in {d['span_s']:.1f} s){target}",
            f"            second half alone {_rate(d['second_half_per_s'])}/s (delivery only: "
            "the events are all in by then); server CPU "
            f"{_rate(d['server_cpu_ms_per_delivery'], 2)} ms per webhook (event processing "
            "included)",
            f"            {d['events']} events accepted through the batch API in "
            f"{d['accepted_s']:.1f} s; first webhook after "
            + ("n/a" if first is None else f"{first:.2f} s")
            + f"; all in {d['end_to_end_s']:.1f} s end to end ({d['end_to_end_per_s']:.0f}/s)",
            _cpu_line(d, "cpu"),
            f"  check     {_exact_text(d['check'])}",
            f"  ingestion closed loop, {r['without']['concurrency']} connections, "
            f"POST /v1/metrics/{r['metric']}/event, each to a new user",
            *_phase_lines("without", r["without"], ", no subscription"),
            *_phase_lines(
                "with",
                with_,
                f", subscribed: {with_['webhooks_during']} webhooks arrived meanwhile, {drain}",
            ),
            (
                f"  ratio     {ratio:10.3f}   (events/s with / without)"
                if ratio is not None
                else "  ratio            n/a"
            ),
            *_per_event_line(r["cpu_ms_per_event"]),
            *_failure_lines(r),
            _cpu_line(r["without"], "cpu w/o"),
            _cpu_line(with_, "cpu with"),
            f"  check     {_exact_text(with_['check'])}",
            f"  receiver  {r['requests']} requests, {r['duplicates']} repeated a webhook-id "
            f"(at least once); signatures of {r['signatures_checked']} checked: "
            + ("all good" if not r["bad_signatures"] else f"BAD {r['bad_signatures'][:3]}")
            + f"; left pending {r['left_pending']}, failed {r['left_failed']}",
        ]
    )
