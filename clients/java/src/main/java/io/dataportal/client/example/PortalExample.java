package io.dataportal.client.example;

import io.dataportal.client.PortalClient;
import io.dataportal.client.PortalErrors;
import io.dataportal.v1.CreateTableRequest;
import io.dataportal.v1.CreateTaskRequest;
import io.dataportal.v1.Engine;
import io.dataportal.v1.Field;
import io.dataportal.v1.GetDownstreamRequest;
import io.dataportal.v1.GetDownstreamResponse;
import io.dataportal.v1.GetTableRequest;
import io.dataportal.v1.GetTaskDependenciesRequest;
import io.dataportal.v1.GetTaskDependenciesResponse;
import io.dataportal.v1.GetTaskRequest;
import io.dataportal.v1.GetUpstreamRequest;
import io.dataportal.v1.GetUpstreamResponse;
import io.dataportal.v1.LineageEdge;
import io.dataportal.v1.LineageNode;
import io.dataportal.v1.LineageStart;
import io.dataportal.v1.LineageWarning;
import io.dataportal.v1.ListTablesRequest;
import io.dataportal.v1.ListTablesResponse;
import io.dataportal.v1.Table;
import io.dataportal.v1.Task;
import io.dataportal.v1.TaskDependency;
import io.dataportal.v1.TaskLink;
import io.dataportal.v1.TaskType;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse;

/**
 * Registers tables ods_user and dwd_user, creates the task load_dwd_user that reads the first
 * and writes the second, reads the task back by name, prints its lineage (its links, what is
 * upstream and downstream of it, the tasks it depends on) and lists every table.
 *
 * <pre>
 * mvn -q -s settings-offline.xml compile exec:java -Dexec.args="127.0.0.1 50051"
 * mvn -q -s settings-offline.xml compile exec:java -Dexec.args="127.0.0.1 50051 _demo2"
 * </pre>
 *
 * Arguments: HOST (default 127.0.0.1), PORT (default 50051) and an optional SUFFIX appended to
 * every name. Running it again is fine: what already exists is read instead of created.
 */
public final class PortalExample {
  private PortalExample() {}

  public static void main(String[] args) throws Exception {
    String host = args.length > 0 ? args[0] : "127.0.0.1";
    int port = args.length > 1 ? Integer.parseInt(args[1]) : 50051;
    String suffix = args.length > 2 ? args[2] : "";

    try (PortalClient portal = new PortalClient(host, port)) {
      HealthCheckResponse.ServingStatus health =
          portal.health().check(HealthCheckRequest.getDefaultInstance()).getStatus();
      System.out.println("health: " + health);

      Table ods = ensureTable(portal, Table.newBuilder()
          .setName("ods_user" + suffix)
          .setOwner("data-eng")
          .setDescription("Users, copied as-is from the app database")
          // layer left unspecified: the server infers LAYER_ODS from the ods_ prefix
          .addFields(field("id", "bigint", "user id", false, true))
          .addFields(field("name", "varchar(64)", "display name", true, false))
          .addFields(field("created_at", "timestamp", "sign-up time", false, false))
          .build());
      Table dwd = ensureTable(portal, Table.newBuilder()
          .setName("dwd_user" + suffix)
          .setOwner("data-eng")
          .setDescription("Cleaned users")
          .addFields(field("id", "bigint", "user id", false, true))
          .addFields(field("name", "varchar(64)", "display name", true, false))
          .addFields(field("created_at", "timestamp", "sign-up time", false, false))
          .build());

      String taskName = "load_dwd_user" + suffix;
      Task wanted = Task.newBuilder()
          .setName(taskName)
          .setSql("insert into " + dwd.getName() + " select * from " + ods.getName())
          .setTaskType(TaskType.TASK_TYPE_BATCH)
          .setEngine(Engine.ENGINE_DOLPHIN)
          .setSchedule("0 3 * * *")
          .addInputs(ods.getName())
          .addOutputs(dwd.getName())
          .build();
      try {
        Task created = portal.tasks().createTask(CreateTaskRequest.newBuilder().setTask(wanted).build()).getTask();
        System.out.println("created task " + created.getName() + " (id " + created.getId() + ")");
      } catch (StatusRuntimeException e) {
        if (e.getStatus().getCode() != Status.Code.ALREADY_EXISTS) {
          throw e;
        }
        System.out.println("task " + taskName + " exists already: " + PortalErrors.describe(e));
      }

      Task task = portal.tasks().getTask(GetTaskRequest.newBuilder().setName(taskName).build()).getTask();
      System.out.printf("task %s: id=%d type=%s engine=%s schedule='%s' inputs=%s outputs=%s%n  sql: %s%n",
          task.getName(), task.getId(), task.getTaskType(), task.getEngine(), task.getSchedule(),
          task.getInputsList(), task.getOutputsList(), task.getSql());
      printLineage(portal, task);

      System.out.println("tables:");
      String pageToken = "";
      do {
        ListTablesResponse page = portal.tables().listTables(
            ListTablesRequest.newBuilder().setPageSize(100).setPageToken(pageToken).build());
        for (Table t : page.getTablesList()) {
          System.out.printf("  %5d  %-40s %-10s owner=%s%n", t.getId(), t.getName(), t.getLayer(), t.getOwner());
        }
        pageToken = page.getNextPageToken();
      } while (!pageToken.isEmpty());
    } catch (StatusRuntimeException e) {
      System.err.println("call failed: " + PortalErrors.describe(e));
      System.exit(1);
    }
  }

  /** The task's links and warnings, the tables up- and downstream of it, the tasks around it. */
  private static void printLineage(PortalClient portal, Task task) {
    System.out.println("lineage of " + task.getName() + ":");
    for (TaskLink l : task.getLinkedInputsList()) {
      System.out.printf("  reads  %-40s %s%n", l.getTable(), l.getSource());
    }
    for (TaskLink l : task.getLinkedOutputsList()) {
      System.out.printf("  writes %-40s %s%n", l.getTable(), l.getSource());
    }
    for (LineageWarning w : task.getLineageWarningsList()) {
      System.out.printf("  warning %s %s: %s%n", w.getKind(), w.getTable(), w.getMessage());
    }
    LineageStart start = LineageStart.newBuilder().setTaskId(task.getId()).build();
    GetUpstreamResponse up = portal.lineage().getUpstream(
        GetUpstreamRequest.newBuilder().setStart(start).setAllDepths(true).build());
    for (LineageNode n : up.getNodesList()) {
      System.out.printf("  upstream   (distance %d) %s [%s, owner %s]%n", n.getDistance(), n.getName(), n.getLayer(), n.getOwner());
    }
    GetDownstreamResponse down = portal.lineage().getDownstream(
        GetDownstreamRequest.newBuilder().setStart(start).setAllDepths(true).build());
    for (LineageNode n : down.getNodesList()) {
      System.out.printf("  downstream (distance %d) %s [%s, owner %s]%n", n.getDistance(), n.getName(), n.getLayer(), n.getOwner());
    }
    // the task's own edges: one step upstream of each table it writes
    for (TaskLink out : task.getLinkedOutputsList()) {
      GetUpstreamResponse into = portal.lineage().getUpstream(GetUpstreamRequest.newBuilder()
          .setStart(LineageStart.newBuilder().setTable(out.getTable())).setDepth(1).build());
      for (LineageEdge e : into.getEdgesList()) {
        if (e.getTaskId() == task.getId()) {
          System.out.printf("  edge %s -> %s through %s (%s)%n", e.getSource(), e.getTarget(), e.getTask(), e.getEdgeSource());
        }
      }
    }
    GetTaskDependenciesResponse deps = portal.lineage().getTaskDependencies(
        GetTaskDependenciesRequest.newBuilder().setTaskId(task.getId()).build());
    for (TaskDependency d : deps.getUpstreamList()) {
      System.out.printf("  depends on %s via %s%n", d.getTaskName(), d.getViaTablesList());
    }
    for (TaskDependency d : deps.getDownstreamList()) {
      System.out.printf("  needed by  %s via %s%n", d.getTaskName(), d.getViaTablesList());
    }
  }

  private static Field field(String name, String type, String comment, boolean nullable, boolean pk) {
    return Field.newBuilder().setName(name).setType(type).setComment(comment)
        .setNullable(nullable).setPrimaryKey(pk).build();
  }

  /** Creates the table, or reads it when its name is taken. */
  private static Table ensureTable(PortalClient portal, Table table) {
    try {
      Table created = portal.tables().createTable(CreateTableRequest.newBuilder().setTable(table).build()).getTable();
      System.out.printf("created table %s (id %d, layer %s, %d fields)%n",
          created.getName(), created.getId(), created.getLayer(), created.getFieldsCount());
      return created;
    } catch (StatusRuntimeException e) {
      if (!"TABLE_NAME_TAKEN".equals(PortalErrors.reason(e))) {
        throw e;
      }
      Table existing = portal.tables().getTable(GetTableRequest.newBuilder().setName(table.getName()).build()).getTable();
      System.out.printf("table %s exists already (id %d)%n", existing.getName(), existing.getId());
      return existing;
    }
  }
}
