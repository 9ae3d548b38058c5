#!/usr/bin/env python3
"""Smoke test of a running dataportal server: Health, every TableService, TaskService and
LineageService RPC, publishing a task to DolphinScheduler (WorkflowService), DataSourceService,
and the google.rpc error details (ErrorInfo reason, BadRequest field violations) read with
grpcio-status's rpc_status.from_call.

    clients/python/generate.sh
    clients/python/.venv/bin/python clients/python/smoke_test.py 127.0.0.1:50051

ADDRESS defaults to $PORTAL_ADDR, then 127.0.0.1:50051. Every name carries a random suffix,
so the database need not be empty; what the test creates is deleted at the end (except its
workflows: the API has no DeleteWorkflow). The publishing checks need a server with DS_URL,
DS_TOKEN and DS_DEFAULT_DATASOURCE set (scripts/with-server.sh runs a fake DolphinScheduler).
Prints one line per check and last "N passed, M failed"; exits non-zero when anything failed.
"""

import random
import string
import sys
import traceback

import grpc
from google.protobuf import field_mask_pb2

from dataportal_client import (
    DOMAIN,
    Portal,
    PortalError,
    address_from,
    call_error,
    datasource_pb2,
    datasource_service_pb2 as dsvc,
    health_pb2,
    lineage_pb2,
    lineage_service_pb2 as lsvc,
    portal_error,
    table_pb2,
    table_service_pb2 as tsvc,
    task_pb2,
    task_service_pb2 as ksvc,
    workflow_pb2,
    workflow_service_pb2 as wsvc,
)

RUN = "py" + "".join(random.choices(string.ascii_lowercase + string.digits, k=8))
# A publish request waits up to 30 s for DolphinScheduler (or the call's deadline).
PUBLISH_TIMEOUT = 40.0


class Failure(AssertionError):
    pass


def expect(cond, what):
    if not cond:
        raise Failure(what)


def expect_eq(got, want, what):
    if got != want:
        raise Failure(f"{what}: got {got!r}, want {want!r}")


def expect_error(err: PortalError, code: grpc.StatusCode, reason: str) -> PortalError:
    expect(err is not None, f"expected {code.name} {reason}, but the call succeeded")
    expect_eq(err.code, code, f"status code ({err})")
    expect(err.has_rich_status, f"no grpc-status-details-bin in {err}")
    expect_eq(err.domain, DOMAIN, f"ErrorInfo.domain ({err})")
    expect_eq(err.reason, reason, f"ErrorInfo.reason ({err})")
    return err


def links(task_links):
    """[(table, EdgeSource)] of Task.linked_inputs / linked_outputs."""
    return [(l.table, l.source) for l in task_links]


def edge_tuple(e):
    return (e.source, e.target, e.task, e.edge_source)


def reached(nodes, start_table):
    """{name: distance} of the tables a traversal reached, checked nearest first. The start
    table is left out (when the answer lists it, it must be at distance 0)."""
    out, previous = {}, 0
    for n in nodes:
        expect(n.distance >= previous, f"nodes nearest first: {[(m.name, m.distance) for m in nodes]}")
        previous = n.distance
        if n.name == start_table:
            expect_eq(n.distance, 0, "distance of the start")
            continue
        expect(n.distance >= 1 and n.name not in out, f"{n.name} at distance {n.distance}, once")
        out[n.name] = n.distance
    return out


class Smoke:
    def __init__(self, portal: Portal):
        self.p = portal
        self.t = portal.timeout
        self.passed = 0
        self.failed = 0
        self.s = {}  # state shared by the checks
        self.table_ids = []
        self.task_ids = []
        self.data_source_ids = []

    def check(self, name, fn):
        try:
            fn()
        except Failure as e:
            self.failed += 1
            print(f"FAIL {name}: {e}")
        except grpc.RpcError as e:
            self.failed += 1
            print(f"FAIL {name}: unexpected error {portal_error(e)}")
        except Exception:  # a bug in a check, or state missing after an earlier failure
            self.failed += 1
            print(f"FAIL {name}: " + traceback.format_exc().strip().splitlines()[-1])
        else:
            self.passed += 1
            print(f"ok   {name}")

    # ------------------------------------------------------------ helpers

    def create_table(self, name, **kw):
        fields = kw.pop("fields", None) or [
            table_pb2.Field(name="id", type="bigint", primary_key=True),
            table_pb2.Field(name="payload", type="string", nullable=True),
        ]
        t = self.p.tables.CreateTable(
            tsvc.CreateTableRequest(table=table_pb2.Table(name=name, fields=fields, **{"owner": "it_py", **kw})),
            timeout=self.t).table
        self.table_ids.append(t.id)
        return t

    def cleanup(self):
        for tid in self.task_ids:
            call_error(self.p.tasks.DeleteTask, ksvc.DeleteTaskRequest(id=tid), timeout=self.t)
        for tid in self.table_ids:
            call_error(self.p.tables.DeleteTable, tsvc.DeleteTableRequest(id=tid), timeout=self.t)
        for did in self.data_source_ids:
            call_error(self.p.data_sources.DeleteDataSource, dsvc.DeleteDataSourceRequest(id=did),
                       timeout=self.t)

    # ------------------------------------------------------------ checks

    def health_serving(self):
        r = self.p.health.Check(health_pb2.HealthCheckRequest(), timeout=self.t)
        expect_eq(r.status, health_pb2.HealthCheckResponse.SERVING, "Health/Check status")

    def health_unknown_service(self):
        err = call_error(self.p.health.Check, health_pb2.HealthCheckRequest(service="no.such.Service"),
                         timeout=self.t)
        expect(err is not None, "Check of an unknown service succeeded")
        expect_eq(err.code, grpc.StatusCode.NOT_FOUND, "status code")

    def table_create(self):
        t = self.create_table(
            f"ods_user_{RUN}", description="users",
            fields=[
                table_pb2.Field(name="id", type="bigint", primary_key=True),
                table_pb2.Field(name="name", type="varchar(64)", nullable=True),
                table_pb2.Field(name="created_at", type="timestamp"),
            ])
        self.s["ods"] = t
        expect(t.id > 0, "id assigned")
        expect_eq(t.layer, table_pb2.LAYER_ODS, "layer inferred from ods_")
        expect_eq(t.status, table_pb2.TABLE_STATUS_ACTIVE, "status")
        expect_eq([f.position for f in t.fields], [1, 2, 3], "field positions")
        expect(t.etag, "etag set")
        self.s["dwd"] = self.create_table(f"dwd_user_{RUN}")
        expect_eq(self.s["dwd"].layer, table_pb2.LAYER_DWD, "layer inferred from dwd_")

    def table_get(self):
        ods = self.s["ods"]
        by_name = self.p.tables.GetTable(tsvc.GetTableRequest(name=ods.name), timeout=self.t).table
        expect_eq(by_name.id, ods.id, "GetTable by name")
        expect_eq(len(by_name.fields), 3, "fields (FULL view)")
        by_id = self.p.tables.GetTable(tsvc.GetTableRequest(id=ods.id), timeout=self.t).table
        expect_eq(by_id.name, ods.name, "GetTable by id")

    def table_list(self):
        r = self.p.tables.ListTables(tsvc.ListTablesRequest(name_contains=RUN), timeout=self.t)
        expect_eq(r.total_size, 2, "total_size")
        expect_eq([t.name for t in r.tables], [self.s["ods"].name, self.s["dwd"].name], "tables by id")
        r = self.p.tables.ListTables(
            tsvc.ListTablesRequest(name_contains=RUN, layer=table_pb2.LAYER_DWD), timeout=self.t)
        expect_eq([t.name for t in r.tables], [self.s["dwd"].name], "layer filter")
        p1 = self.p.tables.ListTables(tsvc.ListTablesRequest(name_contains=RUN, page_size=1), timeout=self.t)
        expect(len(p1.tables) == 1 and p1.next_page_token, "first page of 1 with a next_page_token")
        p2 = self.p.tables.ListTables(
            tsvc.ListTablesRequest(name_contains=RUN, page_size=1, page_token=p1.next_page_token),
            timeout=self.t)
        expect_eq([t.name for t in p2.tables], [self.s["dwd"].name], "second page")

    def table_update(self):
        ods = self.s["ods"]
        u = self.p.tables.UpdateTable(tsvc.UpdateTableRequest(
            table=table_pb2.Table(id=ods.id, etag=ods.etag, description="users, cleaned", owner="team_py"),
            update_mask=field_mask_pb2.FieldMask(paths=["description"]),
        ), timeout=self.t).table
        expect_eq(u.description, "users, cleaned", "description updated")
        expect_eq(u.owner, "it_py", "owner (not in the mask) unchanged")
        expect(u.etag and u.etag != ods.etag, "etag changed")
        self.s["ods_stale_etag"] = ods.etag
        self.s["ods"] = u

    def table_update_stale_etag(self):
        ods = self.s["ods"]
        err = call_error(self.p.tables.UpdateTable, tsvc.UpdateTableRequest(
            table=table_pb2.Table(id=ods.id, etag=self.s["ods_stale_etag"], description="lost"),
            update_mask=field_mask_pb2.FieldMask(paths=["description"]),
        ), timeout=self.t)
        expect_error(err, grpc.StatusCode.ABORTED, "ETAG_MISMATCH")

    def table_create_taken(self):
        err = call_error(self.p.tables.CreateTable, tsvc.CreateTableRequest(
            table=table_pb2.Table(name=self.s["ods"].name)), timeout=self.t)
        expect_error(err, grpc.StatusCode.ALREADY_EXISTS, "TABLE_NAME_TAKEN")

    def table_invalid_name(self):
        err = call_error(self.p.tables.CreateTable, tsvc.CreateTableRequest(
            table=table_pb2.Table(name="Not A Name!")), timeout=self.t)
        expect_error(err, grpc.StatusCode.INVALID_ARGUMENT, "INVALID_ARGUMENT")
        expect("table.name" in [f for f, _ in err.field_violations], f"BadRequest names table.name: {err}")

    def task_create(self):
        ods, dwd = self.s["ods"], self.s["dwd"]
        t = self.p.tasks.CreateTask(ksvc.CreateTaskRequest(task=task_pb2.Task(
            name=f"load_dwd_user_{RUN}",
            sql=f"insert into {dwd.name} select * from {ods.name}",
            task_type=task_pb2.TASK_TYPE_BATCH,
            engine=task_pb2.ENGINE_DOLPHIN,
            schedule="0 3 * * *",
            inputs=[ods.name],
            outputs=[dwd.name],
        )), timeout=self.t).task
        self.task_ids.append(t.id)
        self.s["task"] = t
        expect(t.id > 0, "id assigned")
        expect_eq(t.WhichOneof("body"), "sql", "body")
        expect_eq((t.task_type, t.engine), (task_pb2.TASK_TYPE_BATCH, task_pb2.ENGINE_DOLPHIN), "type/engine")
        expect_eq((list(t.inputs), list(t.outputs)), ([ods.name], [dwd.name]), "inputs/outputs")

    def task_get(self):
        task = self.s["task"]
        by_name = self.p.tasks.GetTask(ksvc.GetTaskRequest(name=task.name), timeout=self.t).task
        expect_eq(by_name.id, task.id, "GetTask by name")
        expect_eq(by_name.schedule, "0 3 * * *", "schedule")
        by_id = self.p.tasks.GetTask(ksvc.GetTaskRequest(id=task.id), timeout=self.t).task
        expect_eq(by_id.name, task.name, "GetTask by id")

    def task_list(self):
        task = self.s["task"]
        r = self.p.tasks.ListTasks(ksvc.ListTasksRequest(reads_table=self.s["ods"].name), timeout=self.t)
        expect_eq([t.id for t in r.tasks], [task.id], "reads_table filter")
        r = self.p.tasks.ListTasks(ksvc.ListTasksRequest(writes_table=self.s["dwd"].name), timeout=self.t)
        expect_eq([t.id for t in r.tasks], [task.id], "writes_table filter")
        r = self.p.tasks.ListTasks(ksvc.ListTasksRequest(name_contains=RUN), timeout=self.t)
        expect_eq(r.total_size, 1, "name_contains total_size")

    def task_update(self):
        task = self.s["task"]
        u = self.p.tasks.UpdateTask(ksvc.UpdateTaskRequest(
            task=task_pb2.Task(id=task.id, etag=task.etag, schedule="30 4 * * *", retries=2),
            update_mask=field_mask_pb2.FieldMask(paths=["schedule", "retries"]),
        ), timeout=self.t).task
        expect_eq((u.schedule, u.retries), ("30 4 * * *", 2), "schedule/retries updated")
        expect_eq(u.sql, task.sql, "sql unchanged")
        expect(u.etag != task.etag, "etag changed")
        err = call_error(self.p.tasks.UpdateTask, ksvc.UpdateTaskRequest(
            task=task_pb2.Task(id=task.id, etag=task.etag, retries=3),
            update_mask=field_mask_pb2.FieldMask(paths=["retries"]),
        ), timeout=self.t)
        expect_error(err, grpc.StatusCode.ABORTED, "ETAG_MISMATCH")
        self.s["task"] = u

    def table_delete_in_use(self):
        err = call_error(self.p.tables.DeleteTable, tsvc.DeleteTableRequest(id=self.s["ods"].id), timeout=self.t)
        expect_error(err, grpc.StatusCode.FAILED_PRECONDITION, "TABLE_IN_USE")

    def task_missing_tables(self):
        a, b = f"ods_missing_{RUN}", f"dwd_missing_{RUN}"
        err = call_error(self.p.tasks.CreateTask, ksvc.CreateTaskRequest(task=task_pb2.Task(
            name=f"load_missing_{RUN}", sql="select 1", inputs=[a], outputs=[b])), timeout=self.t)
        expect_error(err, grpc.StatusCode.NOT_FOUND, "TABLE_NOT_FOUND")
        expect_eq(sorted(err.metadata.get("missing_tables", "").split(",")), sorted([a, b]),
                  "ErrorInfo.metadata missing_tables")

    def task_invalid(self):
        err = call_error(self.p.tasks.CreateTask, ksvc.CreateTaskRequest(task=task_pb2.Task(
            name=f"bad_{RUN}", sql="select 1", schedule="every day at three", retries=99)), timeout=self.t)
        expect_error(err, grpc.StatusCode.INVALID_ARGUMENT, "INVALID_ARGUMENT")
        fields = {f for f, _ in err.field_violations}
        expect({"task.schedule", "task.retries"} <= fields, f"BadRequest lists every violation: {err}")

    def task_create_taken(self):
        t = self.s["task"]
        err = call_error(self.p.tasks.CreateTask, ksvc.CreateTaskRequest(task=task_pb2.Task(
            name=t.name, sql="select 1", inputs=[self.s["ods"].name])), timeout=self.t)
        expect_error(err, grpc.StatusCode.ALREADY_EXISTS, "TASK_NAME_TAKEN")

    def task_delete(self):
        task = self.s["task"]
        self.p.tasks.DeleteTask(ksvc.DeleteTaskRequest(id=task.id, etag=task.etag), timeout=self.t)
        err = call_error(self.p.tasks.GetTask, ksvc.GetTaskRequest(name=task.name), timeout=self.t)
        expect_error(err, grpc.StatusCode.NOT_FOUND, "TASK_NOT_FOUND")

    def table_delete(self):
        ods = self.s["ods"]
        self.p.tables.DeleteTable(tsvc.DeleteTableRequest(id=ods.id, etag=ods.etag), timeout=self.t)
        self.p.tables.DeleteTable(tsvc.DeleteTableRequest(id=self.s["dwd"].id), timeout=self.t)
        err = call_error(self.p.tables.GetTable, tsvc.GetTableRequest(id=ods.id), timeout=self.t)
        expect_error(err, grpc.StatusCode.NOT_FOUND, "TABLE_NOT_FOUND")

    # ------------------------------------------------------------ lineage

    def create_task(self, **kw):
        t = self.p.tasks.CreateTask(ksvc.CreateTaskRequest(task=task_pb2.Task(**kw)), timeout=self.t).task
        self.task_ids.append(t.id)
        return t

    def lineage_example(self):
        owner = f"lineage-example-{RUN}"
        ods = self.create_table(f"ods_user_lin_{RUN}", owner=owner)
        dwd = self.create_table(f"dwd_user_lin_{RUN}", owner=owner)
        t = self.create_task(name=f"load_dwd_user_lin_{RUN}", owner=owner,
                             sql=f"insert into {dwd.name} select * from {ods.name}",
                             inputs=[ods.name], outputs=[dwd.name])
        expect_eq(links(t.linked_inputs), [(ods.name, lineage_pb2.EDGE_SOURCE_BOTH)], "linked_inputs")
        expect_eq(links(t.linked_outputs), [(dwd.name, lineage_pb2.EDGE_SOURCE_BOTH)], "linked_outputs")
        expect_eq(list(t.lineage_warnings), [], "lineage_warnings")
        g = self.p.lineage.GetLineageGraph(lsvc.GetLineageGraphRequest(owner=owner), timeout=self.t)
        expect_eq({n.name: (n.table_id, n.layer) for n in g.nodes},
                  {ods.name: (ods.id, table_pb2.LAYER_ODS), dwd.name: (dwd.id, table_pb2.LAYER_DWD)}, "graph nodes")
        expect_eq([edge_tuple(e) for e in g.edges],
                  [(ods.name, dwd.name, t.name, lineage_pb2.EDGE_SOURCE_BOTH)], "graph edges")
        e = g.edges[0]
        expect_eq((e.source_table_id, e.target_table_id, e.task_id), (ods.id, dwd.id, t.id), "edge ids")
        whole = self.p.lineage.GetLineageGraph(lsvc.GetLineageGraphRequest(), timeout=self.t)
        expect(e in whole.edges, "the whole graph holds the edge")
        dwd_only = self.p.lineage.GetLineageGraph(
            lsvc.GetLineageGraphRequest(owner=owner, layer=table_pb2.LAYER_DWD), timeout=self.t)
        expect_eq(([n.name for n in dwd_only.nodes], len(dwd_only.edges)), ([dwd.name], 0), "layer filter")

    def lineage_sql_only(self):
        owner = f"lineage-sql-{RUN}"
        ods = self.create_table(f"ods_sqlonly_{RUN}", owner=owner)
        dim = self.create_table(f"dim_sqlonly_{RUN}", owner=owner)
        dwd = self.create_table(f"dwd_sqlonly_{RUN}", owner=owner)
        t = self.create_task(name=f"sqlonly_{RUN}", owner=owner,
                             sql=f"insert into {dwd.name} select o.id, d.payload from {ods.name} o "
                                 f"join {dim.name} d on o.id = d.id")
        expect_eq((list(t.inputs), list(t.outputs)), ([], []), "declared tables stay empty")
        sql = lineage_pb2.EDGE_SOURCE_SQL
        expect_eq(sorted(links(t.linked_inputs)), sorted([(ods.name, sql), (dim.name, sql)]), "linked_inputs")
        expect_eq(links(t.linked_outputs), [(dwd.name, sql)], "linked_outputs")
        g = self.p.lineage.GetLineageGraph(lsvc.GetLineageGraphRequest(owner=owner), timeout=self.t)
        expect_eq(sorted(edge_tuple(e) for e in g.edges),
                  sorted([(ods.name, dwd.name, t.name, sql), (dim.name, dwd.name, t.name, sql)]), "graph edges")

    def lineage_warning(self):
        owner = f"lineage-warn-{RUN}"
        ods = self.create_table(f"ods_warn_{RUN}", owner=owner)
        dim = self.create_table(f"dim_warn_{RUN}", owner=owner)
        dwd = self.create_table(f"dwd_warn_{RUN}", owner=owner)
        t = self.create_task(name=f"warn_{RUN}", owner=owner,
                             sql=f"insert into {dwd.name} select * from {ods.name} join {dim.name} using (id)",
                             inputs=[ods.name], outputs=[dwd.name])
        expect_eq(links(t.linked_inputs), [(ods.name, lineage_pb2.EDGE_SOURCE_BOTH)], "linked_inputs")
        expect_eq([(w.kind, w.table) for w in t.lineage_warnings],
                  [(lineage_pb2.LINEAGE_WARNING_KIND_UNDECLARED_INPUT, dim.name)], "lineage_warnings")

    def lineage_chain(self):
        # ods -> dwd (shell task, declared) -> dws (SQL only) -> ads (declared + SQL)
        s = f"chain_{RUN}"
        c = {layer: self.create_table(f"{layer}_{s}", owner=f"{layer}-team-{s}") for layer in ("ods", "dwd", "dws", "ads")}
        c["load"] = self.create_task(name=f"load_{s}", owner=f"load-team-{s}", shell="load.sh",
                                     inputs=[c["ods"].name], outputs=[c["dwd"].name])
        c["build"] = self.create_task(name=f"build_{s}", owner=f"build-team-{s}",
                                      sql=f"insert into {c['dws'].name} select * from {c['dwd'].name}")
        c["publish"] = self.create_task(name=f"publish_{s}", owner=f"publish-team-{s}",
                                        sql=f"insert into {c['ads'].name} select * from {c['dws'].name}",
                                        inputs=[c["dws"].name], outputs=[c["ads"].name])
        self.s["chain"] = c
        return c

    def lineage_up_down(self):
        c = self.lineage_chain()
        n = {k: v.name for k, v in c.items()}
        up = self.p.lineage.GetUpstream(lsvc.GetUpstreamRequest(
            start=lineage_pb2.LineageStart(table=n["ads"]), all_depths=True), timeout=self.t)
        expect_eq(reached(up.nodes, n["ads"]), {n["dws"]: 1, n["dwd"]: 2, n["ods"]: 3}, "upstream, all depths")
        expect_eq(up.truncated, False, "truncated")
        expect_eq(sorted(edge_tuple(e) for e in up.edges), sorted([
            (n["ods"], n["dwd"], n["load"], lineage_pb2.EDGE_SOURCE_DECLARED),
            (n["dwd"], n["dws"], n["build"], lineage_pb2.EDGE_SOURCE_SQL),
            (n["dws"], n["ads"], n["publish"], lineage_pb2.EDGE_SOURCE_BOTH)]), "upstream edges")
        up = self.p.lineage.GetUpstream(lsvc.GetUpstreamRequest(
            start=lineage_pb2.LineageStart(table_id=c["ads"].id), depth=1), timeout=self.t)
        expect_eq(reached(up.nodes, n["ads"]), {n["dws"]: 1}, "upstream, depth 1")
        down = self.p.lineage.GetDownstream(lsvc.GetDownstreamRequest(
            start=lineage_pb2.LineageStart(table=n["ods"]), depth=2), timeout=self.t)
        expect_eq(reached(down.nodes, n["ods"]), {n["dwd"]: 1, n["dws"]: 2}, "downstream, depth 2")
        down = self.p.lineage.GetDownstream(lsvc.GetDownstreamRequest(
            start=lineage_pb2.LineageStart(task=n["build"]), all_depths=True), timeout=self.t)
        expect_eq(reached(down.nodes, None), {n["dws"]: 1, n["ads"]: 2}, "downstream of a task")
        down = self.p.lineage.GetDownstream(lsvc.GetDownstreamRequest(
            start=lineage_pb2.LineageStart(table=n["ods"]), all_depths=True, node_limit=1), timeout=self.t)
        expect_eq((reached(down.nodes, n["ods"]), down.truncated), ({n["dwd"]: 1}, True), "node_limit 1")

    def lineage_impact(self):
        c = self.s["chain"]
        n = {k: v.name for k, v in c.items()}
        r = self.p.lineage.GetImpact(lsvc.GetImpactRequest(start=lineage_pb2.LineageStart(table=n["ods"])),
                                     timeout=self.t)
        levels = [l.distance for l in r.levels]
        expect_eq(levels, sorted(set(levels)), "levels nearest first")
        expect_eq({l.distance: sorted(t.name for t in l.tables) for l in r.levels if l.tables},
                  {1: [n["dwd"]], 2: [n["dws"]], 3: [n["ads"]]}, "tables by distance")
        expect_eq(sorted(t.name for t in r.affected_tasks), sorted([n["load"], n["build"], n["publish"]]),
                  "affected_tasks")
        owners = list(r.affected_owners)
        expect_eq(owners, sorted(set(owners)), "affected_owners sorted, once each")
        want = {c[k].owner for k in ("dwd", "dws", "ads", "load", "build", "publish")}
        expect(want <= set(owners), f"affected_owners {owners} include {sorted(want)}")

    def lineage_task_dependencies(self):
        c = self.s["chain"]
        r = self.p.lineage.GetTaskDependencies(lsvc.GetTaskDependenciesRequest(task_name=c["build"].name),
                                               timeout=self.t)
        expect_eq([(d.task_id, d.task_name, list(d.via_tables)) for d in r.upstream],
                  [(c["load"].id, c["load"].name, [c["dwd"].name])], "upstream")
        expect_eq([(d.task_id, d.task_name, list(d.via_tables)) for d in r.downstream],
                  [(c["publish"].id, c["publish"].name, [c["dws"].name])], "downstream")
        r = self.p.lineage.GetTaskDependencies(lsvc.GetTaskDependenciesRequest(task_id=c["load"].id),
                                               timeout=self.t)
        expect_eq(([d.task_name for d in r.upstream], [d.task_name for d in r.downstream]),
                  ([], [c["build"].name]), "dependencies of the first task, by id")

    def analyze_sql(self):
        r = self.p.lineage.AnalyzeSql(lsvc.AnalyzeSqlRequest(
            sql="insert into dws_sales select o.id, sum(i.amount) from ods_orders o "
                "join ods_items i on i.order_id = o.id group by o.id"), timeout=self.t)
        expect_eq((list(r.inputs), list(r.outputs)), (["ods_items", "ods_orders"], ["dws_sales"]), "join")
        r = self.p.lineage.AnalyzeSql(lsvc.AnalyzeSqlRequest(
            sql="insert overwrite table dws_daily partition (dt='${bizdate}') select * from ${src}",
            dialect=lineage_pb2.SQL_DIALECT_HIVE, params={"src": "ods_daily", "bizdate": "2024-01-01"}),
            timeout=self.t)
        expect_eq((list(r.inputs), list(r.outputs)), (["ods_daily"], ["dws_daily"]), "Hive with params")

    def analyze_sql_parse_error(self):
        err = call_error(self.p.lineage.AnalyzeSql, lsvc.AnalyzeSqlRequest(
            sql="insert into dwd_a select * from ods_a;\nselect * fromm ods_b x y z"), timeout=self.t)
        expect_error(err, grpc.StatusCode.INVALID_ARGUMENT, "SQL_PARSE_ERROR")
        expect_eq(err.metadata.get("line"), "2", f"ErrorInfo.metadata line ({err})")
        expect(err.metadata.get("column", "").isdigit() and int(err.metadata["column"]) > 0,
               f"ErrorInfo.metadata column ({err})")

    def lineage_cycle(self):
        ods = self.create_table(f"ods_x_{RUN}")
        dwd = self.create_table(f"dwd_x_{RUN}")
        self.create_task(name=f"cycle_a_{RUN}", sql=f"insert into {dwd.name} select * from {ods.name}",
                         inputs=[ods.name], outputs=[dwd.name])
        err = call_error(self.create_task, name=f"cycle_b_{RUN}",
                         sql=f"insert into {ods.name} select * from {dwd.name}",
                         inputs=[dwd.name], outputs=[ods.name])
        expect_error(err, grpc.StatusCode.FAILED_PRECONDITION, "LINEAGE_CYCLE")
        cycle = err.metadata.get("cycle", "").split(",")
        expect(len(cycle) >= 3 and cycle[0] == cycle[-1], f"cycle metadata starts and ends alike: {cycle}")
        expect_eq(set(cycle), {ods.name, dwd.name}, "tables in the cycle")
        err = call_error(self.p.tasks.GetTask, ksvc.GetTaskRequest(name=f"cycle_b_{RUN}"), timeout=self.t)
        expect_error(err, grpc.StatusCode.NOT_FOUND, "TASK_NOT_FOUND")

    def lineage_bad_depth(self):
        ods = self.create_table(f"ods_bounds_{RUN}")
        start = lineage_pb2.LineageStart(table=ods.name)
        for fn, req in [
            (self.p.lineage.GetUpstream, lsvc.GetUpstreamRequest(start=start, depth=0)),
            (self.p.lineage.GetDownstream, lsvc.GetDownstreamRequest(start=start)),
            (self.p.lineage.GetDownstream, lsvc.GetDownstreamRequest(start=start, depth=1, all_depths=True)),
        ]:
            err = expect_error(call_error(fn, req, timeout=self.t), grpc.StatusCode.INVALID_ARGUMENT, "INVALID_ARGUMENT")
            expect("depth" in [f for f, _ in err.field_violations], f"BadRequest names depth: {err}")
        err = expect_error(call_error(self.p.lineage.GetUpstream, lsvc.GetUpstreamRequest(
            start=start, depth=1, node_limit=100001), timeout=self.t), grpc.StatusCode.INVALID_ARGUMENT, "INVALID_ARGUMENT")
        expect("node_limit" in [f for f, _ in err.field_violations], f"BadRequest names node_limit: {err}")

    def lineage_unknown_start(self):
        expect_error(call_error(self.p.lineage.GetUpstream, lsvc.GetUpstreamRequest(
            start=lineage_pb2.LineageStart(table=f"ods_nothing_{RUN}"), depth=1), timeout=self.t),
            grpc.StatusCode.NOT_FOUND, "TABLE_NOT_FOUND")
        expect_error(call_error(self.p.lineage.GetImpact, lsvc.GetImpactRequest(
            start=lineage_pb2.LineageStart(task=f"no_such_task_{RUN}")), timeout=self.t),
            grpc.StatusCode.NOT_FOUND, "TASK_NOT_FOUND")

    # ------------------------------------------------------------ workflows (DolphinScheduler)

    def publish_task(self):
        # No datasource: the server's DS_DEFAULT_DATASOURCE (warehouse in scripts/with-server.sh) runs it.
        ods, dwd = f"ods_pub_{RUN}", f"dwd_pub_{RUN}"
        t = self.p.tasks.CreateTask(ksvc.CreateTaskRequest(task=task_pb2.Task(
            name=f"pub_dwd_{RUN}",
            sql=f"insert into {dwd} select * from {ods}",
            task_type=task_pb2.TASK_TYPE_BATCH,
            engine=task_pb2.ENGINE_DOLPHIN,
            schedule="0 3 * * *",
            inputs=[ods],
            outputs=[dwd],
        ), register_missing_tables=True), timeout=self.t).task
        self.task_ids.append(t.id)
        for name in (ods, dwd):  # registered by the request: look them up to delete them at the end
            self.table_ids.append(self.p.tables.GetTable(tsvc.GetTableRequest(name=name), timeout=self.t).table.id)
        w = self.p.tasks.PublishTask(ksvc.PublishTaskRequest(id=t.id, auto_start=True),
                                     timeout=PUBLISH_TIMEOUT).workflow
        pub = w.publication
        expect_eq(workflow_pb2.PublishState.Name(pub.state), "PUBLISH_STATE_PUBLISHED",
                  f"publication.state (last_error {pub.last_error!r})")
        expect_eq((w.name, list(w.task_ids)), (t.name, [t.id]), "workflow named after the task, holding it")
        expect(pub.workflow_code > 0, f"publication.workflow_code {pub.workflow_code}")
        expect(pub.last_instance_id > 0, f"publication.last_instance_id {pub.last_instance_id}")
        i = self.p.workflows.GetWorkflowInstance(
            wsvc.GetWorkflowInstanceRequest(workflow_instance_id=pub.last_instance_id), timeout=self.t).instance
        expect_eq(i.id, pub.last_instance_id, "instance id")
        expect_eq(i.workflow_code, pub.workflow_code, "instance workflow_code")
        expect_eq([(ti.name, ti.task_code, ti.task_type) for ti in i.tasks],
                  [(t.name, pub.task_codes[t.id], "SQL")], "one task instance, of the task")

    def ensure_workflow(self):
        name = f"wf_{RUN}"
        req = wsvc.EnsureWorkflowRequest(name=name, owner="it_py", description="smoke test")
        first = self.p.workflows.EnsureWorkflow(req, timeout=self.t)
        expect_eq(first.created, True, "first call created it")
        expect(first.workflow.id > 0, "id assigned")
        expect_eq(first.workflow.name, name, "name")
        second = self.p.workflows.EnsureWorkflow(req, timeout=self.t)
        expect_eq(second.created, False, "second call created it")
        expect_eq(second.workflow.id, first.workflow.id, "same workflow")

    def workflow_instance_not_found(self):
        err = call_error(self.p.workflows.GetWorkflowInstance,
                         wsvc.GetWorkflowInstanceRequest(workflow_instance_id=987654321), timeout=self.t)
        expect_error(err, grpc.StatusCode.NOT_FOUND, "DS_NOT_FOUND")

    # ------------------------------------------------------------ data sources

    def data_source_lifecycle(self):
        password = f"s3cret-{RUN}"
        d = self.p.data_sources.CreateDataSource(dsvc.CreateDataSourceRequest(data_source=datasource_pb2.DataSource(
            name=f"dsrc_{RUN}", kind=datasource_pb2.DATA_SOURCE_KIND_DORIS,
            host="127.0.0.1", port=1, user="portal", password=password,
        )), timeout=self.t).data_source
        self.data_source_ids.append(d.id)
        expect(d.id > 0, "id assigned")
        expect_eq((d.has_password, d.password), (True, ""), "has_password, password not returned")
        err = call_error(self.p.data_sources.TestDataSource, dsvc.TestDataSourceRequest(id=d.id), timeout=self.t)
        expect_error(err, grpc.StatusCode.UNAVAILABLE, "DATA_SOURCE_UNREACHABLE")
        expect(password not in err.message, f"password in the message: {err.message!r}")
        expect(all(password not in v for v in err.metadata.values()), f"password in the metadata: {err.metadata}")
        self.p.data_sources.DeleteDataSource(dsvc.DeleteDataSourceRequest(id=d.id), timeout=self.t)
        self.data_source_ids.remove(d.id)
        err = call_error(self.p.data_sources.GetDataSource, dsvc.GetDataSourceRequest(id=d.id), timeout=self.t)
        expect_error(err, grpc.StatusCode.NOT_FOUND, "DATA_SOURCE_NOT_FOUND")

    def data_source_invalid(self):
        err = call_error(self.p.data_sources.CreateDataSource, dsvc.CreateDataSourceRequest(
            data_source=datasource_pb2.DataSource(name="Bad Name", kind=datasource_pb2.DATA_SOURCE_KIND_DORIS,
                                                  host="")), timeout=self.t)
        expect_error(err, grpc.StatusCode.INVALID_ARGUMENT, "INVALID_ARGUMENT")
        fields = {f for f, _ in err.field_violations}
        expect({"data_source.name", "data_source.host"} <= fields, f"BadRequest lists name and host: {err}")

    def run(self):
        for name, fn in [
            ("Health/Check is SERVING", self.health_serving),
            ("Health/Check of an unknown service is NOT_FOUND", self.health_unknown_service),
            ("CreateTable infers layers and numbers fields", self.table_create),
            ("GetTable by name and by id", self.table_get),
            ("ListTables filters and pages", self.table_list),
            ("UpdateTable with update_mask and etag", self.table_update),
            ("UpdateTable with a stale etag is ABORTED ETAG_MISMATCH", self.table_update_stale_etag),
            ("CreateTable with a taken name is ALREADY_EXISTS TABLE_NAME_TAKEN", self.table_create_taken),
            ("CreateTable with a bad name is INVALID_ARGUMENT + BadRequest", self.table_invalid_name),
            ("CreateTask", self.task_create),
            ("GetTask by name and by id", self.task_get),
            ("ListTasks filters", self.task_list),
            ("UpdateTask with update_mask; stale etag is ABORTED", self.task_update),
            ("DeleteTable of a table in use is FAILED_PRECONDITION TABLE_IN_USE", self.table_delete_in_use),
            ("CreateTask with unknown tables is NOT_FOUND TABLE_NOT_FOUND", self.task_missing_tables),
            ("CreateTask with bad fields is INVALID_ARGUMENT + every violation", self.task_invalid),
            ("CreateTask with a taken name is ALREADY_EXISTS TASK_NAME_TAKEN", self.task_create_taken),
            ("DeleteTask, then GetTask is NOT_FOUND TASK_NOT_FOUND", self.task_delete),
            ("DeleteTable, then GetTable is NOT_FOUND TABLE_NOT_FOUND", self.table_delete),
            ("Task links and GetLineageGraph: ods_user -> dwd_user is EDGE_SOURCE_BOTH", self.lineage_example),
            ("A SQL-only task is linked from its SQL (EDGE_SOURCE_SQL)", self.lineage_sql_only),
            ("An undeclared input in the SQL is a lineage warning", self.lineage_warning),
            ("GetUpstream/GetDownstream distances, depth and node_limit", self.lineage_up_down),
            ("GetImpact by distance, affected tasks and owners", self.lineage_impact),
            ("GetTaskDependencies through tables", self.lineage_task_dependencies),
            ("AnalyzeSql inputs and outputs", self.analyze_sql),
            ("AnalyzeSql parse error is INVALID_ARGUMENT SQL_PARSE_ERROR + line/column", self.analyze_sql_parse_error),
            ("A task closing a cycle is FAILED_PRECONDITION LINEAGE_CYCLE", self.lineage_cycle),
            ("depth 0 without all_depths is INVALID_ARGUMENT", self.lineage_bad_depth),
            ("An unknown start is NOT_FOUND", self.lineage_unknown_start),
            ("PublishTask with auto_start is PUBLISHED and its instance runs the task", self.publish_task),
            ("EnsureWorkflow creates once, then returns the same workflow", self.ensure_workflow),
            ("GetWorkflowInstance of an unknown id is NOT_FOUND DS_NOT_FOUND", self.workflow_instance_not_found),
            ("CreateDataSource hides the password; TestDataSource is UNAVAILABLE DATA_SOURCE_UNREACHABLE; "
             "DeleteDataSource", self.data_source_lifecycle),
            ("CreateDataSource with a bad name and no host is INVALID_ARGUMENT + BadRequest",
             self.data_source_invalid),
        ]:
            self.check(name, fn)


def main() -> int:
    address = address_from(sys.argv)
    print(f"smoke test of {address} (run suffix {RUN})")
    with Portal(address) as portal:
        try:
            portal.wait_ready(10)
        except grpc.FutureTimeoutError:
            print(f"FAIL connect: no server at {address} within 10 s")
            print("0 passed, 1 failed")
            return 1
        smoke = Smoke(portal)
        try:
            smoke.run()
        finally:
            smoke.cleanup()
    print(f"{smoke.passed} passed, {smoke.failed} failed")
    return 1 if smoke.failed or not smoke.passed else 0


if __name__ == "__main__":
    sys.exit(main())
