"""`make bench`'s arithmetic and bookkeeping, on fixtures: nothing here measures time or starts a stack."""

from __future__ import annotations

import asyncio
import json
import math
import os
import stat
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest
from restate_lambda.local.lambda_runtime import FunctionSpec, LocalLambdaRuntime, billed_duration_ms, report_line

from local.bench.bundles import (
    bytecode_files,
    function_assets,
    measure_bundle,
    read_only,
    synth_is_stale,
    without_bytecode,
)
from local.bench.compare import CLUSTER, CLUSTER_NODES, HTTP2, LAMBDA, Compared, cluster_figures
from local.bench.cpu import ProcessInfo, idle_share, process_table, tree_cpu_seconds, wait_for_quiet_machine
from local.bench.growth import (
    FANOUT_RATIO,
    KAFKA_ORDER,
    KAFKA_RATE,
    FanOut,
    KafkaRun,
    fan_out_figures,
    kafka_curve,
    kafka_figures,
)
from local.bench.instructions import instruction_count
from local.bench.load import (
    RESERVE,
    IngressConnection,
    SideResult,
    Throughput,
    latencies_ms,
    round_by_round_ratio,
    spread,
    turns,
)
from local.bench.patterns import ColdStart
from local.bench.report import (
    ARM64_USD_PER_GB_SECOND,
    USD_PER_MILLION_REQUESTS,
    Figure,
    Report,
    at_least,
    at_most,
    growth_curve,
    lambda_cost_usd,
    missed_goals,
    parse_reports,
    percentile,
    projected_latency_ms,
    render_table,
    usd_per_million_runs,
    write_results,
)
from local.bench.stack import ReportMeter
from local.processes import PROJECT_ROOT

FUNCTION_LOG = "\n".join(
    [
        "START RequestId: a1 Version: 1",
        "[INFO]\t2026-12-01T12:00:00\tfunctions.sagas\tFlight reserved: 7",
        "END RequestId: a1",
        "REPORT RequestId: a1\tDuration: 1.50 ms\tBilled Duration: 212 ms\tMemory Size: 512 MB"
        "\tMax Memory Used: 46 MB\tInit Duration: 210.20 ms",
        "START RequestId: b2 Version: 1",
        "END RequestId: b2",
        "REPORT RequestId: b2\tDuration: 0.42 ms\tBilled Duration: 1 ms\tMemory Size: 1024 MB\tMax Memory Used: 47 MB",
        "",
    ]
)


def test_report_lines_are_read_with_and_without_init_duration():
    assert parse_reports(FUNCTION_LOG) == [
        Report("a1", 1.50, 212, 512, 46, 210.20),
        Report("b2", 0.42, 1, 1024, 47, None),
    ]


@pytest.mark.parametrize(
    ("duration_ms", "init_ms", "billed"),
    [(0.2, None, 1), (1.0, None, 1), (1.01, None, 2), (1.5, 210.2, 212), (999.999, None, 1000)],
)
def test_billed_duration_rounds_up_to_the_next_millisecond_and_includes_the_init_phase(duration_ms, init_ms, billed):
    assert billed_duration_ms(duration_ms, init_ms) == billed


def test_the_runtime_report_line_is_lambdas_and_reads_back():
    line = report_line("c3", 12.345, 512, 50, init_ms=250.5)
    assert line == (
        "REPORT RequestId: c3\tDuration: 12.35 ms\tBilled Duration: 263 ms\tMemory Size: 512 MB"
        "\tMax Memory Used: 50 MB\tInit Duration: 250.50 ms"
    )
    assert parse_reports(line) == [Report("c3", 12.35, 263, 512, 50, 250.5)]
    assert "Init Duration" not in report_line("d4", 1.0, 512, 50)


def test_a_real_invocation_reports_init_once_then_warm(tmp_path):
    probe = FunctionSpec(name="probe", handler="tests.lambda_functions.probe.handler", memory_mb=256)
    with LocalLambdaRuntime([probe], tmp_path) as runtime:
        for _ in range(2):
            assert runtime.invoke("probe", {"action": "echo"}).status == 200
    cold, warm = parse_reports((tmp_path / "probe.log").read_text())
    assert cold.init_ms is not None and cold.init_ms > 0
    assert warm.init_ms is None
    assert (cold.memory_mb, warm.memory_mb) == (256, 256)
    assert warm.max_memory_used_mb > 0
    assert cold.billed_ms == math.ceil(cold.duration_ms + cold.init_ms)


WHERE_AM_I = """
import importlib.util, sys

def app(event, context):
    return {"path": sys.path, "executable": sys.executable, "project": importlib.util.find_spec("local") is not None}
"""


def test_a_function_given_an_interpreter_sees_its_code_root_and_not_the_project(tmp_path):
    code_root = tmp_path / "task"
    code_root.mkdir()
    (code_root / "where.py").write_text(WHERE_AM_I)
    spec = FunctionSpec(name="where", handler="where.app", code_root=code_root, python=sys.executable)
    with LocalLambdaRuntime([spec], tmp_path / "logs", base_environment={"PYTHONPATH": str(PROJECT_ROOT)}) as runtime:
        answer = runtime.invoke("where", {})
    assert answer.status == 200 and isinstance(answer.body, dict), answer.body
    assert answer.body["path"][0] == str(code_root)
    assert str(PROJECT_ROOT) not in answer.body["path"]
    assert not answer.body["project"]
    assert answer.body["executable"] == sys.executable


def test_read_only_takes_write_permission_off_the_folders_and_gives_it_back(tmp_path):
    bundle = tmp_path / "bundle"
    (bundle / "package" / "__pycache__").mkdir(parents=True)
    module = bundle / "package" / "module.py"
    module.write_text("")
    folders = [bundle, bundle / "package", bundle / "package" / "__pycache__"]
    modes = {folder: stat.S_IMODE(folder.stat().st_mode) for folder in [*folders, module]}
    with read_only([bundle]):
        assert all(not folder.stat().st_mode & 0o222 for folder in folders)
        # Files are hard links into the dependency cache: theirs is left alone.
        assert stat.S_IMODE(module.stat().st_mode) == modes[module]
    assert {folder: stat.S_IMODE(folder.stat().st_mode) for folder in modes} == modes


def test_a_bundle_without_bytecode_is_the_same_files_less_the_pyc(tmp_path):
    bundle = tmp_path / "bundle"
    (bundle / "package" / "__pycache__").mkdir(parents=True)
    (bundle / "package" / "module.py").write_text("x = 1\n")
    (bundle / "package" / "__pycache__" / "module.cpython-313.pyc").write_bytes(b"")
    (bundle / "native.so").write_bytes(b"")
    plain = without_bytecode(bundle, tmp_path / "plain")
    assert (bytecode_files(bundle), bytecode_files(plain)) == (1, 0)
    assert sorted(path.relative_to(plain).as_posix() for path in plain.rglob("*")) == [
        "native.so",
        "package",
        "package/module.py",
    ]
    assert (plain / "native.so").samefile(bundle / "native.so")


def test_a_cold_start_ratio_divides_round_by_round_so_a_slow_stretch_of_the_machine_cancels_out():
    # Rounds 3 and 4 ran while the machine was busy: both subjects took twice as long.
    floor = ColdStart("floor", samples_ms=[100.0, 100.0, 200.0, 200.0, 100.0])
    pattern = ColdStart("pattern", samples_ms=[120.0, 120.0, 240.0, 240.0, 120.0])
    assert pattern.over(floor) == pytest.approx(1.2)
    # Busy rounds that were not the same for both: the ratio of the medians would divide a busy
    # round's 240 ms by a quiet one's 100 ms.
    unlucky = ColdStart("pattern", samples_ms=[120.0, 240.0, 120.0, 240.0, 240.0])
    assert unlucky.over(floor) == pytest.approx(1.2)
    assert unlucky.median_ms / floor.median_ms == pytest.approx(2.4)


def test_a_cold_starts_spread_gives_the_quartiles_of_its_round_by_round_ratios():
    floor = ColdStart("floor", samples_ms=[100.0] * 5)
    pattern = ColdStart("pattern", samples_ms=[110.0, 120.0, 130.0, 140.0, 150.0])
    assert pattern.ratios(floor) == pytest.approx([1.1, 1.2, 1.3, 1.4, 1.5])
    assert pattern.spread_over(floor) == "quartiles 1.15 to 1.45 over 5 rounds"
    assert ColdStart("once", samples_ms=[120.0]).spread_over(ColdStart("f", samples_ms=[100.0])) == "1 round"


def test_the_instruction_count_is_read_from_cachegrinds_summary_and_its_absence_names_valgrinds_last_words():
    summary = "==41== \n==41== I   refs:        687,577,009\n"
    assert instruction_count(summary) == 687_577_009
    with pytest.raises(RuntimeError, match=r"no instruction count: .*Killed"):
        instruction_count("==41== Memcheck\n==41== Killed\n")


def test_waiting_for_a_quiet_machine_reads_the_idle_share_and_gives_up_at_its_timeout():
    assert 0.0 <= idle_share(0.05) <= 1.0
    waited, idle = wait_for_quiet_machine(at_least_idle=0.0, window_seconds=0.05, timeout=5.0)
    assert waited < 5.0 and 0.0 <= idle <= 1.0
    # No machine is ever more than all idle: the wait ends at its timeout, and says how idle it was.
    waited, idle = wait_for_quiet_machine(at_least_idle=1.01, window_seconds=0.05, timeout=0.2)
    assert waited >= 0.2 and idle < 1.01


def test_cost_is_billed_gb_seconds_at_each_memory_plus_requests():
    one_gb_second = Report("e5", 999.5, 1000, 1024, 60)
    half_gb_second = Report("f6", 1.0, 1000, 512, 60)
    assert lambda_cost_usd([one_gb_second]) == pytest.approx(ARM64_USD_PER_GB_SECOND + 0.2 / 1_000_000)
    assert usd_per_million_runs([one_gb_second, half_gb_second]) == pytest.approx(
        1.5 * ARM64_USD_PER_GB_SECOND * 1_000_000 + 2 * USD_PER_MILLION_REQUESTS
    )
    assert usd_per_million_runs([one_gb_second, half_gb_second], runs=2) == pytest.approx(
        usd_per_million_runs([one_gb_second, half_gb_second]) / 2
    )


def test_projection_adds_each_overhead_per_invocation():
    assert projected_latency_ms(34.0, 10) == {"5": 84.0, "15": 184.0, "30": 334.0}


def test_percentiles_are_nearest_rank():
    values = [float(value) for value in range(1, 101)]
    assert (percentile(values, 0.5), percentile(values, 0.95), percentile([7.0], 0.95)) == (50.0, 95.0, 7.0)


def test_figures_say_ok_miss_or_fail_and_the_table_lists_them():
    figures = [
        Figure("Reserve p50 latency, Lambda / HTTP/2", 1.1, goal=at_most(1.2)),
        Figure("Kafka events per second, end to end", 420.0, "/s", at_least(500), "2000 events"),
        Figure("invocations per run: sagas", 21, ""),
        Figure("fan-out", None, note="TimeoutError: no answer"),
    ]
    assert [figure.status for figure in figures] == ["ok", "MISS", "-", "FAIL"]
    assert missed_goals(figures) == ["Kafka events per second, end to end: 420/s", "fan-out: error"]
    table = render_table(figures).splitlines()
    assert table[0].split() == ["figure", "value", "goal", "status"]
    assert table[2].split()[-6:] == ["420/s", ">=", "500/s", "MISS", "2000", "events"]


def test_results_are_written_as_json_with_unmeasurable_ratios_as_null(tmp_path):
    path = tmp_path / "bench" / "results.json"
    write_results(
        path, {"lambda_vs_http2": {"reserve_p50_ratio": math.inf}, "kafka_by_keys": {"100": {"order_kept": True}}}
    )
    assert json.loads(path.read_text()) == {
        "lambda_vs_http2": {"reserve_p50_ratio": None},
        "kafka_by_keys": {"100": {"order_kept": True}},
    }


def test_the_meter_counts_reports_written_since_its_mark(tmp_path):
    log = tmp_path / "sagas.log"
    log.write_text(FUNCTION_LOG)
    meter = ReportMeter(tmp_path)
    meter.mark()
    with log.open("a") as more:
        more.write(report_line("g7", 3.0, 512, 48) + "\n")
    (tmp_path / "durable_rpc.log").write_text(report_line("h8", 2.0, 512, 48) + "\n")
    assert [report.request_id for report in meter.reports()] == ["h8", "g7"]
    assert meter.count(["sagas"]) == 1


def test_polling_the_meter_counts_each_report_once_and_a_half_written_one_when_it_is_whole(tmp_path):
    log = tmp_path / "sagas.log"
    log.write_text(FUNCTION_LOG)
    meter = ReportMeter(tmp_path)
    meter.mark()
    whole, half = report_line("g7", 3.0, 512, 48) + "\n", report_line("h8", 2.0, 512, 48)
    with log.open("a") as more:
        more.write(whole + half[:20])
    assert meter.count() == 1
    assert meter.count() == 1, "a second poll with nothing new counts nothing twice"
    with log.open("a") as more:
        more.write(half[20:] + "\n")
    assert meter.count() == 2
    meter.mark()
    assert meter.count() == 0


def test_bundles_are_found_through_the_templates_and_measured(tmp_path):
    asset = tmp_path / "asset.0123abcd"
    (asset / "functions").mkdir(parents=True)
    (asset / "functions" / "service.py").write_text("x = 1\n" * 1000)
    template = {
        "Resources": {
            "ServiceFunction243F2A49": {
                "Type": "AWS::Lambda::Function",
                "Metadata": {"aws:asset:path": asset.name},
                "Properties": {"FunctionName": "restate-patterns-durable_rpc"},
            },
            "ProviderframeworkonEvent334FDBE0": {
                "Type": "AWS::Lambda::Function",
                "Metadata": {"aws:asset:path": asset.name},
                "Properties": {},
            },
            "Role": {"Type": "AWS::IAM::Role"},
        }
    }
    (tmp_path / "durable_rpc.template.json").write_text(json.dumps(template))
    assert function_assets(tmp_path, "restate-patterns") == {
        "durable_rpc": asset,
        "durable_rpc:ProviderframeworkonEvent": asset,
    }
    size = measure_bundle(asset)
    assert size.unzipped_bytes == 6000
    assert 0 < size.zipped_bytes < size.unzipped_bytes


def test_synth_is_stale_when_missing_or_older_than_a_source(tmp_path):
    cdk_out, project = tmp_path / "cdk.out", tmp_path / "project"
    (project / "functions").mkdir(parents=True)
    source = project / "functions" / "service.py"
    source.write_text("")
    assert synth_is_stale(cdk_out, project)
    cdk_out.mkdir()
    (cdk_out / "manifest.json").write_text("{}")
    written = (cdk_out / "manifest.json").stat().st_mtime
    os.utime(source, (written - 10, written - 10))
    assert not synth_is_stale(cdk_out, project)
    os.utime(source, (written + 10, written + 10))
    assert synth_is_stale(cdk_out, project)


class Answers(BaseHTTPRequestHandler):
    """An ingress stand-in: a length-delimited answer, or a chunked one for paths ending in /chunked."""

    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        received = self.rfile.read(int(self.headers["content-length"]))
        if self.path.endswith("/chunked"):
            self.send_response(200)
            self.send_header("transfer-encoding", "chunked")
            self.end_headers()
            for part in (b'{"echo": ', received or b"null", b"}"):
                self.wfile.write(f"{len(part):x}\r\n".encode() + part + b"\r\n")
            self.wfile.write(b"0\r\n\r\n")
            return
        answer = b"true"
        self.send_response(404 if self.path.startswith("/missing") else 200)
        self.send_header("content-length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - signature fixed by http.server
        pass


def test_the_load_connection_reads_length_delimited_and_chunked_answers_on_one_connection():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Answers)
    threading.Thread(target=server.serve_forever, daemon=True).start()

    async def calls() -> list[tuple[int, bytes]]:
        connection = await IngressConnection.open(f"http://127.0.0.1:{server.server_address[1]}")
        try:
            return [
                await connection.post("/ProductService/p1/Reserve", b""),
                await connection.post("/BookingWorkflow/t1/chunked", b'"trip"'),
                await connection.post("/missing", b""),
            ]
        finally:
            connection.close()

    try:
        assert asyncio.run(calls()) == [(200, b"true"), (200, b'{"echo": "trip"}'), (404, b"true")]
    finally:
        server.shutdown()
        server.server_close()


def test_cpu_of_a_process_tree_counts_its_descendants_only():
    table = {
        10: ProcessInfo(parent=1, cpu_seconds=1.0, command=b"restate-server"),
        11: ProcessInfo(parent=10, cpu_seconds=2.5, command=b"restate-server binary"),
        12: ProcessInfo(parent=11, cpu_seconds=0.5, command=b"helper"),
        20: ProcessInfo(parent=1, cpu_seconds=9.0, command=b"hypercorn"),
    }
    assert tree_cpu_seconds(table, 10) == 4.0
    assert tree_cpu_seconds(table, 99) == 0.0
    assert os.getpid() in process_table()


def test_throughput_ratio_is_the_median_of_round_by_round_ratios():
    on_lambda = SideResult(rounds={10: [Throughput(300, 0, 1.0), Throughput(100, 0, 1.0), Throughput(400, 1, 1.0)]})
    on_http2 = SideResult(rounds={10: [Throughput(400, 0, 1.0), Throughput(400, 0, 1.0), Throughput(400, 0, 1.0)]})
    # A burst of other work in the second round hit the Lambda side only: the median leaves it out.
    assert round_by_round_ratio(on_lambda, on_http2, 10) == 0.75
    assert on_lambda.throughputs[10] == Throughput(800, 1, 3.0)


def test_callers_are_spread_over_a_clusters_nodes_in_turn():
    nodes = ["http://n1", "http://n2", "http://n3"]
    assert spread(nodes, 7) == [*nodes, *nodes, "http://n1"]
    assert spread(["http://one"], 3) == ["http://one"] * 3
    with pytest.raises(ValueError, match="no ingress"):
        spread([], 1)


def test_sides_take_turns_each_going_first_as_often():
    assert [turns(["lambda", "http2"], round_number) for round_number in range(3)] == [
        ["lambda", "http2"],
        ["http2", "lambda"],
        ["lambda", "http2"],
    ]
    rounds = [turns([LAMBDA, CLUSTER, HTTP2], round_number) for round_number in range(3)]
    assert [order[0] for order in rounds] == [LAMBDA, CLUSTER, HTTP2]
    assert all(sorted(order) == sorted([LAMBDA, CLUSTER, HTTP2]) for order in rounds)


def test_growth_curves_are_each_amounts_figure_over_the_unit_keyed_as_json_keys_are():
    assert growth_curve({200: 3.4, 1: 1.1, 10: 1.2}, 1.0) == {"1": 1.1, "10": 1.2, "200": 3.4}
    assert growth_curve({10: 400.0, 100: 600.0, 1000: 300.0}, 400.0) == {"10": 1.0, "100": 1.5, "1000": 0.75}
    assert growth_curve({10: 5.0}, 0.0) == {"10": math.inf}, "a rate of nothing is no figure (null in the JSON)"


def test_cluster_figures_are_the_cluster_over_one_node_in_the_same_rounds_without_a_goal():
    one_node = SideResult(
        latencies_ms=[10.0, 12.0],
        rounds={10: [Throughput(400, 0, 1.0), Throughput(400, 0, 1.0)], 50: [Throughput(500, 0, 1.0)] * 2},
        cpu_seconds={10: {"restate": 0.8, "runtime": 0.4}, 50: {"restate": 1.0}},
    )
    cluster = SideResult(
        latencies_ms=[15.0, 18.0],
        rounds={10: [Throughput(200, 0, 1.0), Throughput(300, 2, 1.0)], 50: [Throughput(250, 0, 1.0)] * 2},
        cpu_seconds={10: {"restate": 2.5, "runtime": 0.4}, 50: {"restate": 2.0}},
    )
    compared = Compared({LAMBDA: one_node, CLUSTER: cluster, HTTP2: one_node}, 1.0, 0)
    figures, ratios = cluster_figures("reserve", compared)
    assert ratios == {
        "reserve_p50_ratio": 1.5,
        "reserve_throughput_c10_ratio": 0.625,
        "reserve_throughput_c50_ratio": 0.5,
    }
    assert [figure.name for figure in figures] == [
        f"Reserve p50 latency, {CLUSTER_NODES} nodes / 1 node",
        f"Reserve throughput c10, {CLUSTER_NODES} nodes / 1 node",
        f"Reserve throughput c50, {CLUSTER_NODES} nodes / 1 node",
    ]
    assert all(figure.goal is None and figure.status == "-" for figure in figures)
    assert figures[0].note == "15.0 vs 10.0 ms"
    assert figures[1].note == "250 vs 400 calls/s; Restate's CPU 5.0 vs 1.0 ms a call; 2 calls failed"


def test_the_fan_out_curve_is_each_sizes_median_wall_over_one_subtask_with_the_goal_on_100():
    run = FanOut(
        walls_seconds={1: [1.2, 1.1, 1.3], 100: [2.0, 2.2, 2.1], 200: [3.0, 4.0, 3.5]},
        invocations={1: [3, 3, 3], 100: [204, 204, 204], 200: [402, 404, 406]},
        cpu_seconds={1: [0.03, 0.03, 0.03], 100: [2.0, 2.0, 2.0], 200: [5.0, 6.0, 7.0]},
    )
    assert run.curve() == {"1": 1.2, "100": 2.1, "200": 3.5}
    figures, results = fan_out_figures(run)
    assert [(figure.name, figure.goal) for figure in figures] == [
        ("fan-out 1 x 1 s, wall / 1 s", None),
        ("fan-out 100 x 1 s, wall / 1 s", FANOUT_RATIO),
        ("fan-out 200 x 1 s, wall / 1 s", None),
    ]
    assert figures[2].note == "3.00, 4.00, 3.50 s; 404 invocations and 30 ms CPU a subtask"
    assert results["fanout_100x1s_wall_ratio"] == 2.1
    assert results["fanout_invocations_per_run"] == {"1": 3, "100": 204, "200": 404}


def test_kafka_runs_of_one_key_count_add_up():
    both = KafkaRun(1000, 2.0, 10, 10, 1.5) + KafkaRun(1000, 3.0, 9, 10, 2.5)
    assert both == KafkaRun(2000, 5.0, 19, 20, 4.0)
    assert (both.events_per_second, both.order_kept_percent, both.cpu_ms_per_event) == (400.0, 95.0, 2.0)


def test_the_kafka_curve_is_each_rate_over_the_fewest_keys_and_order_is_a_goal_at_every_count():
    runs = {
        1000: KafkaRun(10_000, 20.0, 999, 1000, 60.0),
        10: KafkaRun(10_000, 10.0, 10, 10, 30.0),
        100: KafkaRun(10_000, 12.5, 100, 100, 40.0),
    }
    assert kafka_curve(runs) == {"fewest_keys": 10, "10": 1.0, "100": 0.8, "1000": 0.5}
    figures, results = kafka_figures(runs)
    assert [(figure.name, figure.goal, figure.status) for figure in figures] == [
        ("Kafka events per second, 10 keys", None, "-"),
        ("Kafka keys handled in order, 10 keys", KAFKA_ORDER, "ok"),
        ("Kafka events per second, 100 keys", KAFKA_RATE, "ok"),
        ("Kafka keys handled in order, 100 keys", KAFKA_ORDER, "ok"),
        ("Kafka events per second, 1000 keys", None, "-"),
        ("Kafka keys handled in order, 1000 keys", KAFKA_ORDER, "MISS"),
    ]
    assert figures[4].note == "10000 events in 20.0 s, 6.0 ms CPU an event; 0.50 x the rate over 10 keys"
    assert results["kafka_by_keys"]["1000"] == {
        "events_per_s": 500.0,
        "order_kept": False,
        "events": 10_000,
        "cpu_ms_per_event": 6.0,
    }


class Counting(Answers):
    """The ingress stand-in, counting the calls each server got."""

    calls: ClassVar[dict[str, int]] = {}
    """By the host a call named: each server's own address."""

    def do_POST(self) -> None:
        Counting.calls[self.headers["host"]] = Counting.calls.get(self.headers["host"], 0) + 1
        super().do_POST()


def test_calls_at_concurrency_1_go_to_each_node_in_turn():
    servers = [ThreadingHTTPServer(("127.0.0.1", 0), Counting) for _ in range(3)]
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        hosts = [f"127.0.0.1:{server.server_address[1]}" for server in servers]
        assert len(latencies_ms([f"http://{host}" for host in hosts], RESERVE, 7)) == 7
        assert [Counting.calls.get(host) for host in hosts] == [3, 2, 2]
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()
