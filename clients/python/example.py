#!/usr/bin/env python3
"""Registers tables ods_user and dwd_user, creates the task load_dwd_user that reads the
first and writes the second, reads it back by name, prints its lineage (its links, what is
upstream and downstream of it, the tasks it depends on) and lists every table.

    clients/python/generate.sh                       # once: venv + stubs
    clients/python/.venv/bin/python clients/python/example.py 127.0.0.1:50051 [SUFFIX]

ADDRESS defaults to $PORTAL_ADDR, then 127.0.0.1:50051. SUFFIX (optional) is appended to every
name. Running it again is fine: what already exists is read instead of created.
"""

import sys

import grpc

from dataportal_client import Portal, address_from, health_pb2, portal_error
from dataportal_client import lineage_pb2, lineage_service_pb2
from dataportal_client import table_pb2, table_service_pb2, task_pb2, task_service_pb2


def ensure_table(portal: Portal, table: table_pb2.Table) -> table_pb2.Table:
    try:
        t = portal.tables.CreateTable(
            table_service_pb2.CreateTableRequest(table=table), timeout=portal.timeout).table
        print(f"created table {t.name} (id {t.id}, layer {table_pb2.Layer.Name(t.layer)}, "
              f"{len(t.fields)} fields)")
        return t
    except grpc.RpcError as e:
        if portal_error(e).reason != "TABLE_NAME_TAKEN":
            raise
        t = portal.tables.GetTable(
            table_service_pb2.GetTableRequest(name=table.name), timeout=portal.timeout).table
        print(f"table {t.name} exists already (id {t.id})")
        return t


def print_lineage(portal: Portal, task: task_pb2.Task) -> None:
    """The task's links and warnings, the tables up- and downstream of it, the tasks around it."""
    print(f"lineage of {task.name}:")
    for link in task.linked_inputs:
        print(f"  reads  {link.table:40s} {lineage_pb2.EdgeSource.Name(link.source)}")
    for link in task.linked_outputs:
        print(f"  writes {link.table:40s} {lineage_pb2.EdgeSource.Name(link.source)}")
    for w in task.lineage_warnings:
        print(f"  warning {lineage_pb2.LineageWarningKind.Name(w.kind)} {w.table}: {w.message}")
    start = lineage_pb2.LineageStart(task_id=task.id)
    up = portal.lineage.GetUpstream(
        lineage_service_pb2.GetUpstreamRequest(start=start, all_depths=True), timeout=portal.timeout)
    down = portal.lineage.GetDownstream(
        lineage_service_pb2.GetDownstreamRequest(start=start, all_depths=True), timeout=portal.timeout)
    for label, nodes in (("upstream  ", up.nodes), ("downstream", down.nodes)):
        for n in nodes:
            print(f"  {label} (distance {n.distance}) {n.name} [{table_pb2.Layer.Name(n.layer)}, owner {n.owner}]")
    # the task's own edges: one step upstream of each table it writes
    for link in task.linked_outputs:
        into = portal.lineage.GetUpstream(lineage_service_pb2.GetUpstreamRequest(
            start=lineage_pb2.LineageStart(table=link.table), depth=1), timeout=portal.timeout)
        for e in into.edges:
            if e.task_id == task.id:
                print(f"  edge {e.source} -> {e.target} through {e.task} "
                      f"({lineage_pb2.EdgeSource.Name(e.edge_source)})")
    deps = portal.lineage.GetTaskDependencies(
        lineage_service_pb2.GetTaskDependenciesRequest(task_id=task.id), timeout=portal.timeout)
    for d in deps.upstream:
        print(f"  depends on {d.task_name} via {list(d.via_tables)}")
    for d in deps.downstream:
        print(f"  needed by  {d.task_name} via {list(d.via_tables)}")


def user_fields():
    return [
        table_pb2.Field(name="id", type="bigint", comment="user id", primary_key=True),
        table_pb2.Field(name="name", type="varchar(64)", comment="display name", nullable=True),
        table_pb2.Field(name="created_at", type="timestamp", comment="sign-up time"),
    ]


def main() -> int:
    address = address_from(sys.argv)
    suffix = sys.argv[2] if len(sys.argv) > 2 else ""
    with Portal(address) as portal:
        try:
            health = portal.health.Check(health_pb2.HealthCheckRequest(), timeout=portal.timeout)
            print("health:", health_pb2.HealthCheckResponse.ServingStatus.Name(health.status))

            # layer left unspecified: the server infers it from the ods_/dwd_ prefix
            ods = ensure_table(portal, table_pb2.Table(
                name="ods_user" + suffix, owner="data-eng",
                description="Users, copied as-is from the app database", fields=user_fields()))
            dwd = ensure_table(portal, table_pb2.Table(
                name="dwd_user" + suffix, owner="data-eng",
                description="Cleaned users", fields=user_fields()))

            task_name = "load_dwd_user" + suffix
            try:
                t = portal.tasks.CreateTask(task_service_pb2.CreateTaskRequest(task=task_pb2.Task(
                    name=task_name,
                    sql=f"insert into {dwd.name} select * from {ods.name}",
                    task_type=task_pb2.TASK_TYPE_BATCH,
                    engine=task_pb2.ENGINE_DOLPHIN,
                    schedule="0 3 * * *",
                    inputs=[ods.name],
                    outputs=[dwd.name],
                )), timeout=portal.timeout).task
                print(f"created task {t.name} (id {t.id})")
            except grpc.RpcError as e:
                if e.code() != grpc.StatusCode.ALREADY_EXISTS:
                    raise
                print(f"task {task_name} exists already: {portal_error(e)}")

            task = portal.tasks.GetTask(
                task_service_pb2.GetTaskRequest(name=task_name), timeout=portal.timeout).task
            print(f"task {task.name}: id={task.id} type={task_pb2.TaskType.Name(task.task_type)} "
                  f"engine={task_pb2.Engine.Name(task.engine)} schedule='{task.schedule}' "
                  f"inputs={list(task.inputs)} outputs={list(task.outputs)}\n  sql: {task.sql}")
            print_lineage(portal, task)

            print("tables:")
            token = ""
            while True:
                page = portal.tables.ListTables(
                    table_service_pb2.ListTablesRequest(page_size=100, page_token=token),
                    timeout=portal.timeout)
                for t in page.tables:
                    print(f"  {t.id:5d}  {t.name:40s} {table_pb2.Layer.Name(t.layer):10s} owner={t.owner}")
                token = page.next_page_token
                if not token:
                    break
        except grpc.RpcError as e:
            print("call failed:", portal_error(e), file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
