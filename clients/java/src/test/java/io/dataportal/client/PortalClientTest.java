package io.dataportal.client;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNotEquals;
import static org.junit.Assert.assertThrows;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import com.google.protobuf.Duration;
import com.google.protobuf.FieldMask;
import com.google.rpc.BadRequest;
import com.google.rpc.ErrorInfo;
import io.dataportal.v1.AnalyzeSqlRequest;
import io.dataportal.v1.Execution;
import io.dataportal.v1.ExecutionState;
import io.dataportal.v1.ExecutionStats;
import io.dataportal.v1.GetExecutionStatsRequest;
import io.dataportal.v1.ListExecutionsRequest;
import io.dataportal.v1.ListExecutionsResponse;
import io.dataportal.v1.ReportTaskRunRequest;
import io.dataportal.v1.AnalyzeSqlResponse;
import io.dataportal.v1.CreateTableRequest;
import io.dataportal.v1.CreateTaskRequest;
import io.dataportal.v1.CreateDataSourceRequest;
import io.dataportal.v1.DataSource;
import io.dataportal.v1.DataSourceKind;
import io.dataportal.v1.DeleteDataSourceRequest;
import io.dataportal.v1.GetDataSourceRequest;
import io.dataportal.v1.TestDataSourceRequest;
import io.dataportal.v1.DeleteTableRequest;
import io.dataportal.v1.DeleteTaskRequest;
import io.dataportal.v1.EdgeSource;
import io.dataportal.v1.Engine;
import io.dataportal.v1.Field;
import io.dataportal.v1.GetDownstreamRequest;
import io.dataportal.v1.GetDownstreamResponse;
import io.dataportal.v1.GetImpactRequest;
import io.dataportal.v1.GetImpactResponse;
import io.dataportal.v1.GetLineageGraphRequest;
import io.dataportal.v1.GetLineageGraphResponse;
import io.dataportal.v1.GetTableRequest;
import io.dataportal.v1.GetTaskDependenciesRequest;
import io.dataportal.v1.GetTaskDependenciesResponse;
import io.dataportal.v1.GetTaskRequest;
import io.dataportal.v1.GetUpstreamRequest;
import io.dataportal.v1.GetUpstreamResponse;
import io.dataportal.v1.ImpactLevel;
import io.dataportal.v1.Layer;
import io.dataportal.v1.LineageEdge;
import io.dataportal.v1.LineageNode;
import io.dataportal.v1.LineageStart;
import io.dataportal.v1.LineageTask;
import io.dataportal.v1.LineageWarning;
import io.dataportal.v1.LineageWarningKind;
import io.dataportal.v1.ListTablesRequest;
import io.dataportal.v1.ListTablesResponse;
import io.dataportal.v1.ListTasksRequest;
import io.dataportal.v1.ListTasksResponse;
import io.dataportal.v1.Priority;
import io.dataportal.v1.ListWorkflowInstancesResponse;
import io.dataportal.v1.ListWorkflowInstancesRequest;
import io.dataportal.v1.Workflow;
import io.dataportal.v1.Publication;
import io.dataportal.v1.PublishState;
import io.dataportal.v1.PublishTaskRequest;
import io.dataportal.v1.WorkflowInstance;
import io.dataportal.v1.GetWorkflowInstanceRequest;
import io.dataportal.v1.SqlDialect;
import io.dataportal.v1.Table;
import io.dataportal.v1.TableStatus;
import io.dataportal.v1.TableView;
import io.dataportal.v1.Task;
import io.dataportal.v1.TaskDependency;
import io.dataportal.v1.TaskLink;
import io.dataportal.v1.TaskType;
import io.dataportal.v1.UpdateTableRequest;
import io.dataportal.v1.UpdateTaskRequest;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.stream.Collectors;
import org.junit.After;
import org.junit.AfterClass;
import org.junit.Assume;
import org.junit.BeforeClass;
import org.junit.Test;
import org.junit.function.ThrowingRunnable;

/**
 * Calls every RPC of TableService, TaskService and LineageService, plus grpc.health.v1.Health/Check,
 * on a running server, and checks the google.rpc error details of the failures. Publishing
 * (TaskService.PublishTask, WorkflowService) needs the server to reach a DolphinScheduler
 * (scripts/with-server.sh runs a fake one).
 *
 * <pre>mvn -B -s settings-offline.xml test -Dportal.host=127.0.0.1 -Dportal.port=50051</pre>
 *
 * Skipped when portal.port is not set. Every name carries a random suffix of this run, so the
 * database need not be empty; what a test creates is deleted afterwards (best effort).
 */
public class PortalClientTest {
  private static final String RUN = randomSuffix();
  private static PortalClient portal;

  /** Created by the current test; deleted by {@link #cleanUp()}, tasks first. */
  private final List<Long> taskIds = new ArrayList<>();
  private final List<Long> tableIds = new ArrayList<>();

  @BeforeClass
  public static void connect() {
    String host = System.getProperty("portal.host", "127.0.0.1");
    String port = System.getProperty("portal.port", "");
    Assume.assumeTrue("portal.port not set: no server to test against (use -Dportal.port=PORT)",
        port != null && !port.isEmpty());
    if (host == null || host.isEmpty()) {
      host = "127.0.0.1";
    }
    portal = new PortalClient(host, Integer.parseInt(port));
    System.out.println("PortalClientTest: server " + host + ":" + port + ", run suffix " + RUN);
    try {
      portal.health().check(HealthCheckRequest.getDefaultInstance());
    } catch (StatusRuntimeException e) {
      if (e.getStatus().getCode() == Status.Code.UNAVAILABLE
          || e.getStatus().getCode() == Status.Code.DEADLINE_EXCEEDED) {
        portal.close();
        portal = null;
        throw new AssertionError("no dataportal server at " + host + ":" + port + ": " + e.getStatus(), e);
      }
      // anything else is for healthCheckIsServing to report
    }
  }

  @AfterClass
  public static void disconnect() {
    if (portal != null) {
      portal.close();
    }
  }

  @After
  public void cleanUp() {
    for (long id : taskIds) {
      try {
        portal.tasks().deleteTask(DeleteTaskRequest.newBuilder().setId(id).build());
      } catch (StatusRuntimeException ignored) {
        // already gone
      }
    }
    for (long id : tableIds) {
      try {
        portal.tables().deleteTable(DeleteTableRequest.newBuilder().setId(id).build());
      } catch (StatusRuntimeException ignored) {
        // already gone
      }
    }
  }

  // ---------------------------------------------------------------- health

  @Test
  public void healthCheckIsServing() {
    HealthCheckResponse resp = portal.health().check(HealthCheckRequest.getDefaultInstance());
    assertEquals(HealthCheckResponse.ServingStatus.SERVING, resp.getStatus());
  }

  @Test
  public void healthCheckOfUnknownServiceIsNotFound() {
    StatusRuntimeException e = assertThrows(StatusRuntimeException.class,
        () -> portal.health().check(HealthCheckRequest.newBuilder().setService("no.such.Service").build()));
    assertEquals(Status.Code.NOT_FOUND, e.getStatus().getCode());
  }

  // ---------------------------------------------------------------- tables

  @Test
  public void tableLifecycle() {
    String name = "ods_orders_" + RUN;
    Table created = createTable(Table.newBuilder()
        .setName(name)
        .setOwner("it_java")
        .setDescription("orders from the shop")
        .addFields(field("id", "bigint", true))
        .addFields(field("amount", "decimal(10,2)", false))
        .addFields(field("created_at", "timestamp", false))
        .build());
    assertTrue(created.getId() > 0);
    assertEquals(name, created.getName());
    assertEquals("layer inferred from the ods_ prefix", Layer.LAYER_ODS, created.getLayer());
    assertEquals(TableStatus.TABLE_STATUS_ACTIVE, created.getStatus());
    assertEquals("it_java", created.getOwner());
    assertFalse("etag", created.getEtag().isEmpty());
    assertTrue("create_time", created.hasCreateTime() && created.getCreateTime().getSeconds() > 0);
    assertEquals(3, created.getFieldsCount());
    for (int i = 0; i < 3; i++) {
      assertEquals("positions numbered in order", i + 1, created.getFields(i).getPosition());
    }
    assertEquals(Arrays.asList("id", "amount", "created_at"),
        created.getFieldsList().stream().map(Field::getName).collect(Collectors.toList()));
    assertTrue(created.getFields(0).getPrimaryKey());

    // GetTable by id and by name
    Table byId = portal.tables().getTable(GetTableRequest.newBuilder().setId(created.getId()).build()).getTable();
    assertEquals(created.getName(), byId.getName());
    assertEquals(created.getEtag(), byId.getEtag());
    assertEquals(created.getFieldsList(), byId.getFieldsList());
    Table byName = portal.tables().getTable(GetTableRequest.newBuilder().setName(name).build()).getTable();
    assertEquals(created.getId(), byName.getId());

    // UpdateTable with a mask and the current etag
    Table updated = portal.tables().updateTable(UpdateTableRequest.newBuilder()
        .setTable(Table.newBuilder()
            .setId(created.getId())
            .setEtag(created.getEtag())
            .setDescription("orders, deduplicated")
            .setOwner("team_b")
            .setLayer(Layer.LAYER_ADS)) // not in the mask: must not change
        .setUpdateMask(FieldMask.newBuilder().addPaths("description").addPaths("owner"))
        .build()).getTable();
    assertEquals("orders, deduplicated", updated.getDescription());
    assertEquals("team_b", updated.getOwner());
    assertEquals(Layer.LAYER_ODS, updated.getLayer());
    assertEquals(3, updated.getFieldsCount());
    assertNotEquals("etag changes on update", created.getEtag(), updated.getEtag());

    // a stale etag is refused
    StatusRuntimeException stale = expectError(Status.Code.ABORTED, "ETAG_MISMATCH",
        () -> portal.tables().updateTable(UpdateTableRequest.newBuilder()
            .setTable(Table.newBuilder().setId(created.getId()).setEtag(created.getEtag()).setDescription("lost"))
            .setUpdateMask(FieldMask.newBuilder().addPaths("description"))
            .build()));
    assertTrue(stale.getStatus().getDescription() != null);

    // replace the fields
    Table refielded = portal.tables().updateTable(UpdateTableRequest.newBuilder()
        .setTable(Table.newBuilder()
            .setId(created.getId())
            .setEtag(updated.getEtag())
            .addAllFields(updated.getFieldsList().stream()
                .map(f -> f.toBuilder().setPosition(0).build()).collect(Collectors.toList()))
            .addFields(field("currency", "char(3)", false)))
        .setUpdateMask(FieldMask.newBuilder().addPaths("fields"))
        .build()).getTable();
    assertEquals(4, refielded.getFieldsCount());
    assertEquals("currency", refielded.getFields(3).getName());
    assertEquals(4, refielded.getFields(3).getPosition());
    assertEquals("orders, deduplicated", refielded.getDescription());

    // DeleteTable: stale etag refused, current etag accepted
    expectError(Status.Code.ABORTED, "ETAG_MISMATCH",
        () -> portal.tables().deleteTable(
            DeleteTableRequest.newBuilder().setId(created.getId()).setEtag(updated.getEtag()).build()));
    portal.tables().deleteTable(
        DeleteTableRequest.newBuilder().setId(created.getId()).setEtag(refielded.getEtag()).build());

    expectError(Status.Code.NOT_FOUND, "TABLE_NOT_FOUND",
        () -> portal.tables().getTable(GetTableRequest.newBuilder().setId(created.getId()).build()));
    expectError(Status.Code.NOT_FOUND, "TABLE_NOT_FOUND",
        () -> portal.tables().getTable(GetTableRequest.newBuilder().setName(name).build()));
  }

  @Test
  public void listTablesFiltersAndPages() {
    Table ods = createTable(table("ods_list_" + RUN));
    Table dwd = createTable(table("dwd_list_" + RUN));
    Table dim = createTable(table("dim_list_" + RUN));
    assertEquals(Layer.LAYER_DWD, dwd.getLayer());
    assertEquals(Layer.LAYER_DIM, dim.getLayer());

    ListTablesResponse all = portal.tables().listTables(
        ListTablesRequest.newBuilder().setNameContains("_list_" + RUN).build());
    assertEquals(3, all.getTotalSize());
    assertEquals(Arrays.asList(ods.getId(), dwd.getId(), dim.getId()),
        all.getTablesList().stream().map(Table::getId).collect(Collectors.toList()));
    assertTrue("next_page_token empty on the last page", all.getNextPageToken().isEmpty());
    for (Table t : all.getTablesList()) {
      assertEquals("BASIC view (the list default) leaves out fields", 0, t.getFieldsCount());
    }

    ListTablesResponse full = portal.tables().listTables(ListTablesRequest.newBuilder()
        .setNameContains("_list_" + RUN).setView(TableView.TABLE_VIEW_FULL).build());
    for (Table t : full.getTablesList()) {
      assertEquals("FULL view has the fields", 2, t.getFieldsCount());
    }

    ListTablesResponse onlyDwd = portal.tables().listTables(ListTablesRequest.newBuilder()
        .setNameContains("_list_" + RUN).setLayer(Layer.LAYER_DWD).build());
    assertEquals(1, onlyDwd.getTotalSize());
    assertEquals(dwd.getId(), onlyDwd.getTables(0).getId());

    ListTablesResponse byOwner = portal.tables().listTables(ListTablesRequest.newBuilder()
        .setNameContains("_list_" + RUN).setOwner("it_java").build());
    assertEquals(3, byOwner.getTotalSize());

    ListTablesResponse page1 = portal.tables().listTables(ListTablesRequest.newBuilder()
        .setNameContains("_list_" + RUN).setPageSize(2).build());
    assertEquals(2, page1.getTablesCount());
    assertEquals(3, page1.getTotalSize());
    assertFalse("next_page_token after a full page", page1.getNextPageToken().isEmpty());
    ListTablesResponse page2 = portal.tables().listTables(ListTablesRequest.newBuilder()
        .setNameContains("_list_" + RUN).setPageSize(2).setPageToken(page1.getNextPageToken()).build());
    assertEquals(1, page2.getTablesCount());
    assertEquals(dim.getId(), page2.getTables(0).getId());
    assertTrue(page2.getNextPageToken().isEmpty());
  }

  // ---------------------------------------------------------------- publishing

  @Test
  public void publishTaskWithAutoStartReturnsItsInstance() {
    Table ods = createTable(table("ods_pub_" + RUN));
    Table dwd = createTable(table("dwd_pub_" + RUN));
    Task task = createTask(Task.newBuilder()
        .setName("load_pub_" + RUN)
        .setSql("insert into " + dwd.getName() + " select * from " + ods.getName())
        .setSchedule("5 4 * * *")
        .addInputs(ods.getName())
        .addOutputs(dwd.getName())
        .build());

    Workflow workflow = portal.tasks().publishTask(PublishTaskRequest.newBuilder()
        .setId(task.getId()).setAutoStart(true).build()).getWorkflow();
    Publication publication = workflow.getPublication();
    assertEquals(publication.getLastError(), PublishState.PUBLISH_STATE_PUBLISHED, publication.getState());
    assertEquals("a task without a workflow gets one named after it", task.getName(), workflow.getName());
    assertEquals("0 5 4 * * ? *", workflow.getSchedule().getQuartzCron());
    assertTrue(publication.getWorkflowCode() > 0);
    assertTrue(publication.getTaskCodesMap().get(task.getId()) > 0);
    long instanceId = publication.getLastInstanceId();
    assertTrue("auto_start returns the instance id", instanceId > 0);

    WorkflowInstance instance = portal.workflows().getWorkflowInstance(GetWorkflowInstanceRequest.newBuilder()
        .setWorkflowInstanceId(instanceId).build()).getInstance();
    assertEquals(publication.getWorkflowCode(), instance.getWorkflowCode());
    assertEquals(1, instance.getTasksCount());
    assertEquals(publication.getTaskCodesMap().get(task.getId()).longValue(), instance.getTasks(0).getTaskCode());

    ListWorkflowInstancesResponse runs = portal.workflows().listWorkflowInstances(
        ListWorkflowInstancesRequest.newBuilder().setWorkflowId(workflow.getId()).build());
    assertEquals(instanceId, runs.getInstances(0).getId());
  }

  // ---------------------------------------------------------------- executions

  @Test
  public void aReportedRunIsRecordedOnceWithItsFigures() throws InterruptedException {
    Table ods = createTable(table("ods_run_" + RUN));
    Table dwd = createTable(table("dwd_run_" + RUN));
    Task task = createTask(Task.newBuilder()
        .setName("load_run_" + RUN)
        .setSql("insert into " + dwd.getName() + " select * from " + ods.getName())
        .build());
    ReportTaskRunRequest report = ReportTaskRunRequest.newBuilder()
        .setTaskId(task.getId()).setStatus("SUCCESS")
        .setStartTime("2025-10-17T03:00:00").setEndTime("2025-10-17T03:04:00")
        .setRowsOutput(15890).build();
    portal.callbacks().reportTaskRun(report);
    portal.callbacks().reportTaskRun(report);

    ListExecutionsRequest byTask = ListExecutionsRequest.newBuilder().setTaskId(task.getId()).build();
    ListExecutionsResponse runs = portal.tasks().listExecutions(byTask);
    for (int i = 0; i < 100 && runs.getExecutionsCount() == 0; i++) {
      Thread.sleep(50);  // reports are applied moments after they are stored
      runs = portal.tasks().listExecutions(byTask);
    }
    assertEquals("a report sent twice is one run", 1, runs.getTotalSize());
    Execution run = runs.getExecutions(0);
    assertEquals(ExecutionState.EXECUTION_STATE_SUCCEEDED, run.getState());
    assertEquals(240_000, run.getDurationMs());
    assertEquals(15890, run.getRowsOutput());

    ExecutionStats stats = portal.tasks().getExecutionStats(GetExecutionStatsRequest.newBuilder()
        .setTaskId(task.getId()).build()).getStats();
    assertEquals(1, stats.getRuns());
    assertEquals(1.0, stats.getSuccessRate(), 1e-9);

    expectError(Status.Code.INVALID_ARGUMENT, "INVALID_ARGUMENT",
        () -> portal.callbacks().reportTaskRun(report.toBuilder().setStatus("DONE-ISH").build()));
  }

  // ---------------------------------------------------------------- data sources

  @Test
  public void dataSourcePasswordsAreWriteOnlyAndUnreachableHostsSaySo() {
    DataSource created = portal.dataSources().createDataSource(CreateDataSourceRequest.newBuilder()
        .setDataSource(DataSource.newBuilder()
            .setName("java-" + RUN)
            .setKind(DataSourceKind.DATA_SOURCE_KIND_DORIS)
            .setHost("127.0.0.1")
            .setPort(1)
            .setUser("portal")
            .setPassword("s3cret-" + RUN))
        .build()).getDataSource();
    try {
      assertTrue(created.getHasPassword());
      assertEquals("", created.getPassword());
      DataSource read = portal.dataSources().getDataSource(GetDataSourceRequest.newBuilder()
          .setName(created.getName()).build()).getDataSource();
      assertEquals("", read.getPassword());
      StatusRuntimeException e = expectError(Status.Code.UNAVAILABLE, "DATA_SOURCE_UNREACHABLE",
          () -> portal.dataSources().testDataSource(TestDataSourceRequest.newBuilder()
              .setId(created.getId()).build()));
      assertFalse(e.getStatus().getDescription().contains("s3cret"));
    } finally {
      portal.dataSources().deleteDataSource(DeleteDataSourceRequest.newBuilder().setId(created.getId()).build());
    }
  }

  @Test
  public void unknownWorkflowInstanceIsNotFound() {
    expectError(Status.Code.NOT_FOUND, "DS_NOT_FOUND",
        () -> portal.workflows().getWorkflowInstance(GetWorkflowInstanceRequest.newBuilder()
            .setWorkflowInstanceId(987654321).build()));
  }

  @Test
  public void createTableWithTakenNameIsAlreadyExists() {
    Table t = createTable(table("ods_dup_" + RUN));
    StatusRuntimeException e = expectError(Status.Code.ALREADY_EXISTS, "TABLE_NAME_TAKEN",
        () -> portal.tables().createTable(CreateTableRequest.newBuilder().setTable(table(t.getName())).build()));
    assertTrue(e.getStatus().getDescription(), e.getStatus().getDescription().contains(t.getName()));
  }

  @Test
  public void createTableWithBadNameIsInvalidArgument() {
    StatusRuntimeException e = expectError(Status.Code.INVALID_ARGUMENT, "INVALID_ARGUMENT",
        () -> portal.tables().createTable(CreateTableRequest.newBuilder()
            .setTable(table("Bad Name-" + RUN)).build()));
    assertTrue(violatedFields(e).toString(), violatedFields(e).contains("table.name"));
  }

  @Test
  public void getUnknownTableIsNotFound() {
    expectError(Status.Code.NOT_FOUND, "TABLE_NOT_FOUND",
        () -> portal.tables().getTable(GetTableRequest.newBuilder().setName("ods_nothing_" + RUN).build()));
  }

  // ---------------------------------------------------------------- tasks

  @Test
  public void taskLifecycle() {
    Table ods = createTable(table("ods_user_" + RUN));
    Table dwd = createTable(table("dwd_user_" + RUN));
    String name = "load_dwd_user_" + RUN;

    Task created = createTask(CreateTaskRequest.newBuilder().setTask(Task.newBuilder()
        .setName(name)
        .setSql("insert into " + dwd.getName() + " select * from " + ods.getName())
        .setTaskType(TaskType.TASK_TYPE_BATCH)
        .setEngine(Engine.ENGINE_DOLPHIN)
        .setSchedule("0 3 * * *")
        .addInputs(ods.getName())
        .addOutputs(dwd.getName())
        .setOwner("it_java"))
        .build());
    assertTrue(created.getId() > 0);
    assertEquals(name, created.getName());
    assertEquals(Task.BodyCase.SQL, created.getBodyCase());
    assertEquals(TaskType.TASK_TYPE_BATCH, created.getTaskType());
    assertEquals(Engine.ENGINE_DOLPHIN, created.getEngine());
    assertEquals("0 3 * * *", created.getSchedule());
    assertEquals(Arrays.asList(ods.getName()), created.getInputsList());
    assertEquals(Arrays.asList(dwd.getName()), created.getOutputsList());
    assertTrue("priority MEDIUM when unspecified, was " + created.getPriority(),
        created.getPriority() == Priority.PRIORITY_MEDIUM || created.getPriority() == Priority.PRIORITY_UNSPECIFIED);
    assertFalse("etag", created.getEtag().isEmpty());
    assertTrue("create_time", created.hasCreateTime());

    // GetTask by name and by id
    Task byName = portal.tasks().getTask(GetTaskRequest.newBuilder().setName(name).build()).getTask();
    assertEquals(created.getId(), byName.getId());
    assertEquals(created.getSql(), byName.getSql());
    assertEquals(created.getEtag(), byName.getEtag());
    Task byId = portal.tasks().getTask(GetTaskRequest.newBuilder().setId(created.getId()).build()).getTask();
    assertEquals(name, byId.getName());

    // ListTasks with each filter
    assertEquals(Arrays.asList(created.getId()), taskIds(portal.tasks().listTasks(
        ListTasksRequest.newBuilder().setReadsTable(ods.getName()).build())));
    assertEquals(Arrays.asList(created.getId()), taskIds(portal.tasks().listTasks(
        ListTasksRequest.newBuilder().setWritesTable(dwd.getName()).build())));
    assertEquals(Arrays.asList(), taskIds(portal.tasks().listTasks(
        ListTasksRequest.newBuilder().setReadsTable(dwd.getName()).build())));
    ListTasksResponse byText = portal.tasks().listTasks(ListTasksRequest.newBuilder()
        .setNameContains(RUN).setEngine(Engine.ENGINE_DOLPHIN).setTaskType(TaskType.TASK_TYPE_BATCH)
        .setOwner("it_java").build());
    assertEquals(1, byText.getTotalSize());
    assertEquals(Arrays.asList(created.getId()), taskIds(byText));
    assertEquals(0, portal.tasks().listTasks(ListTasksRequest.newBuilder()
        .setNameContains(RUN).setEngine(Engine.ENGINE_DINKY).build()).getTotalSize());

    // UpdateTask with a mask and the current etag
    Task updated = portal.tasks().updateTask(UpdateTaskRequest.newBuilder()
        .setTask(Task.newBuilder()
            .setId(created.getId())
            .setEtag(created.getEtag())
            .setSchedule("30 4 * * *")
            .setRetries(3)
            .setRetryInterval(Duration.newBuilder().setSeconds(60))
            .setPriority(Priority.PRIORITY_HIGH)
            .setDescription("not in the mask"))
        .setUpdateMask(FieldMask.newBuilder()
            .addPaths("schedule").addPaths("retries").addPaths("retry_interval").addPaths("priority"))
        .build()).getTask();
    assertEquals("30 4 * * *", updated.getSchedule());
    assertEquals(3, updated.getRetries());
    assertEquals(60, updated.getRetryInterval().getSeconds());
    assertEquals(Priority.PRIORITY_HIGH, updated.getPriority());
    assertEquals(created.getDescription(), updated.getDescription());
    assertEquals(created.getSql(), updated.getSql());
    assertNotEquals(created.getEtag(), updated.getEtag());

    expectError(Status.Code.ABORTED, "ETAG_MISMATCH",
        () -> portal.tasks().updateTask(UpdateTaskRequest.newBuilder()
            .setTask(Task.newBuilder().setId(created.getId()).setEtag(created.getEtag()).setRetries(5))
            .setUpdateMask(FieldMask.newBuilder().addPaths("retries"))
            .build()));

    // a table a task uses cannot be deleted
    StatusRuntimeException inUse = expectError(Status.Code.FAILED_PRECONDITION, "TABLE_IN_USE",
        () -> portal.tables().deleteTable(DeleteTableRequest.newBuilder().setId(ods.getId()).build()));
    assertTrue(PortalErrors.describe(inUse), inUse.getStatus().getDescription() != null);

    // DeleteTask: stale etag refused, then deleted; the tables stay and can go now
    expectError(Status.Code.ABORTED, "ETAG_MISMATCH",
        () -> portal.tasks().deleteTask(
            DeleteTaskRequest.newBuilder().setId(created.getId()).setEtag(created.getEtag()).build()));
    portal.tasks().deleteTask(DeleteTaskRequest.newBuilder().setId(created.getId()).setEtag(updated.getEtag()).build());
    expectError(Status.Code.NOT_FOUND, "TASK_NOT_FOUND",
        () -> portal.tasks().getTask(GetTaskRequest.newBuilder().setName(name).build()));
    assertEquals(ods.getId(),
        portal.tables().getTable(GetTableRequest.newBuilder().setId(ods.getId()).build()).getTable().getId());
    portal.tables().deleteTable(DeleteTableRequest.newBuilder().setId(ods.getId()).build());
  }

  @Test
  public void createTaskWithUnknownTablesIsNotFoundListingThem() {
    String missingIn = "ods_missing_" + RUN;
    String missingOut = "dwd_missing_" + RUN;
    StatusRuntimeException e = expectError(Status.Code.NOT_FOUND, "TABLE_NOT_FOUND",
        () -> portal.tasks().createTask(CreateTaskRequest.newBuilder().setTask(Task.newBuilder()
            .setName("load_missing_" + RUN)
            .setSql("insert into " + missingOut + " select * from " + missingIn)
            .addInputs(missingIn)
            .addOutputs(missingOut))
            .build()));
    ErrorInfo info = PortalErrors.errorInfo(e).get();
    String missing = info.getMetadataOrDefault("missing_tables", "");
    assertEquals(new HashSet<>(Arrays.asList(missingIn, missingOut)),
        new HashSet<>(Arrays.asList(missing.split(","))));
    expectError(Status.Code.NOT_FOUND, "TASK_NOT_FOUND",
        () -> portal.tasks().getTask(GetTaskRequest.newBuilder().setName("load_missing_" + RUN).build()));
  }

  @Test
  public void createTaskCanRegisterMissingTables() {
    String in = "ods_auto_" + RUN;
    String out = "dws_auto_" + RUN;
    Task t = createTask(CreateTaskRequest.newBuilder()
        .setTask(Task.newBuilder()
            .setName("stream-auto-" + RUN)
            .setSql("insert into " + out + " select * from " + in)
            .setTaskType(TaskType.TASK_TYPE_STREAM)
            .addInputs(in)
            .addOutputs(out))
        .setRegisterMissingTables(true)
        .build());
    assertEquals("engine follows the task type", Engine.ENGINE_DINKY, t.getEngine());
    Table inTable = portal.tables().getTable(GetTableRequest.newBuilder().setName(in).build()).getTable();
    Table outTable = portal.tables().getTable(GetTableRequest.newBuilder().setName(out).build()).getTable();
    tableIds.add(inTable.getId());
    tableIds.add(outTable.getId());
    assertEquals(Layer.LAYER_ODS, inTable.getLayer());
    assertEquals(Layer.LAYER_DWS, outTable.getLayer());
  }

  @Test
  public void createTaskWithTakenNameIsAlreadyExists() {
    Table ods = createTable(table("ods_tdup_" + RUN));
    Task task = Task.newBuilder().setName("tdup_" + RUN).setShell("echo hi").addInputs(ods.getName()).build();
    createTask(CreateTaskRequest.newBuilder().setTask(task).build());
    expectError(Status.Code.ALREADY_EXISTS, "TASK_NAME_TAKEN",
        () -> portal.tasks().createTask(CreateTaskRequest.newBuilder().setTask(task).build()));
  }

  @Test
  public void createInvalidTaskListsEveryViolation() {
    StatusRuntimeException e = expectError(Status.Code.INVALID_ARGUMENT, "INVALID_ARGUMENT",
        () -> portal.tasks().createTask(CreateTaskRequest.newBuilder().setTask(Task.newBuilder()
            .setName("bad_task_" + RUN)
            .setSql("select 1")
            .setSchedule("every day at three")
            .setRetries(99))
            .build()));
    Set<String> fields = violatedFields(e);
    assertTrue(fields.toString(), fields.contains("task.schedule"));
    assertTrue(fields.toString(), fields.contains("task.retries"));
  }

  @Test
  public void engineAndTaskTypeMustMatch() {
    StatusRuntimeException e = expectError(Status.Code.INVALID_ARGUMENT, "INVALID_ARGUMENT",
        () -> portal.tasks().createTask(CreateTaskRequest.newBuilder().setTask(Task.newBuilder()
            .setName("mismatch_" + RUN)
            .setSql("select 1")
            .setTaskType(TaskType.TASK_TYPE_BATCH)
            .setEngine(Engine.ENGINE_DINKY))
            .build()));
    assertFalse("a BadRequest field violation", violatedFields(e).isEmpty());
  }

  @Test
  public void getUnknownTaskIsNotFound() {
    expectError(Status.Code.NOT_FOUND, "TASK_NOT_FOUND",
        () -> portal.tasks().getTask(GetTaskRequest.newBuilder().setName("no_such_task_" + RUN).build()));
    expectError(Status.Code.NOT_FOUND, "TASK_NOT_FOUND",
        () -> portal.tasks().deleteTask(DeleteTaskRequest.newBuilder().setId(Long.MAX_VALUE).build()));
  }

  // ---------------------------------------------------------------- lineage

  /**
   * The portal design's example: ods_user -> dwd_user through load_dwd_user, declared and in
   * the SQL, so the link is EDGE_SOURCE_BOTH on the task and in GetLineageGraph.
   */
  @Test
  public void lineageOfThePortalExample() {
    String owner = "lineage-example-" + RUN;
    String database = "lindb_" + RUN;
    Table ods = createTable(table("ods_user_lin_" + RUN, owner).toBuilder().setDatabase(database).build());
    Table dwd = createTable(table("dwd_user_lin_" + RUN, owner).toBuilder().setDatabase(database).build());
    Task task = createTask(Task.newBuilder()
        .setName("load_dwd_user_lin_" + RUN)
        .setOwner(owner)
        .setSql("insert into " + dwd.getName() + " select * from " + ods.getName())
        .setSchedule("0 3 * * *")
        .addInputs(ods.getName())
        .addOutputs(dwd.getName())
        .build());
    assertEquals(Arrays.asList(link(ods.getName(), EdgeSource.EDGE_SOURCE_BOTH)), task.getLinkedInputsList());
    assertEquals(Arrays.asList(link(dwd.getName(), EdgeSource.EDGE_SOURCE_BOTH)), task.getLinkedOutputsList());
    assertEquals("no lineage warnings: " + task.getLineageWarningsList(), 0, task.getLineageWarningsCount());

    // GetTask reads the same links back
    Task read = portal.tasks().getTask(GetTaskRequest.newBuilder().setId(task.getId()).build()).getTask();
    assertEquals(task.getLinkedInputsList(), read.getLinkedInputsList());
    assertEquals(task.getLinkedOutputsList(), read.getLinkedOutputsList());

    // the slice of this owner: both tables, the one edge
    GetLineageGraphResponse graph = portal.lineage().getLineageGraph(
        GetLineageGraphRequest.newBuilder().setOwner(owner).build());
    assertFalse(graph.getTruncated());
    assertEquals(set(ods.getName(), dwd.getName()), nodeNames(graph.getNodesList()));
    for (LineageNode n : graph.getNodesList()) {
      Table t = n.getName().equals(ods.getName()) ? ods : dwd;
      assertEquals(t.getId(), n.getTableId());
      assertEquals(t.getLayer(), n.getLayer());
      assertEquals(owner, n.getOwner());
      assertEquals(database, n.getDatabase());
      assertEquals("distance is 0 in a whole graph", 0, n.getDistance());
    }
    assertEquals(graph.getEdgesList().toString(), 1, graph.getEdgesCount());
    LineageEdge edge = graph.getEdges(0);
    assertEquals(ods.getId(), edge.getSourceTableId());
    assertEquals(ods.getName(), edge.getSource());
    assertEquals(dwd.getId(), edge.getTargetTableId());
    assertEquals(dwd.getName(), edge.getTarget());
    assertEquals(task.getId(), edge.getTaskId());
    assertEquals(task.getName(), edge.getTask());
    assertEquals(EdgeSource.EDGE_SOURCE_BOTH, edge.getEdgeSource());

    // the whole graph has the edge too; the database filter finds the same slice
    assertEquals(edge, findEdge(portal.lineage().getLineageGraph(GetLineageGraphRequest.getDefaultInstance())
        .getEdgesList(), ods.getName(), dwd.getName(), task.getName()));
    GetLineageGraphResponse byDatabase = portal.lineage().getLineageGraph(
        GetLineageGraphRequest.newBuilder().setDatabase(database).build());
    assertEquals(set(ods.getName(), dwd.getName()), nodeNames(byDatabase.getNodesList()));
    assertEquals(Arrays.asList(edge), byDatabase.getEdgesList());

    // a layer filter keeps only dwd_user, and no edge (edges run between matching tables)
    GetLineageGraphResponse dwdOnly = portal.lineage().getLineageGraph(
        GetLineageGraphRequest.newBuilder().setOwner(owner).setLayer(Layer.LAYER_DWD).build());
    assertEquals(set(dwd.getName()), nodeNames(dwdOnly.getNodesList()));
    assertEquals(0, dwdOnly.getEdgesCount());

    // deleting the task removes the edge
    portal.tasks().deleteTask(DeleteTaskRequest.newBuilder().setId(task.getId()).build());
    GetLineageGraphResponse after = portal.lineage().getLineageGraph(
        GetLineageGraphRequest.newBuilder().setOwner(owner).build());
    assertEquals(set(ods.getName(), dwd.getName()), nodeNames(after.getNodesList()));
    assertEquals(0, after.getEdgesCount());
  }

  /** A task with SQL and no declared tables is linked from its SQL (EDGE_SOURCE_SQL). */
  @Test
  public void sqlOnlyTaskIsLinkedFromItsSql() {
    String owner = "lineage-sql-" + RUN;
    Table ods = createTable(table("ods_sqlonly_" + RUN, owner));
    Table dim = createTable(table("dim_sqlonly_" + RUN, owner));
    Table dwd = createTable(table("dwd_sqlonly_" + RUN, owner));
    Task task = createTask(Task.newBuilder()
        .setName("sqlonly_" + RUN)
        .setOwner(owner)
        .setSql("insert into " + dwd.getName() + " select o.id, d.payload from " + ods.getName()
            + " o join " + dim.getName() + " d on o.id = d.id")
        .build());
    assertEquals("declared inputs stay empty", 0, task.getInputsCount());
    assertEquals("declared outputs stay empty", 0, task.getOutputsCount());
    assertEquals(set(link(ods.getName(), EdgeSource.EDGE_SOURCE_SQL), link(dim.getName(), EdgeSource.EDGE_SOURCE_SQL)),
        new HashSet<>(task.getLinkedInputsList()));
    assertEquals(Arrays.asList(link(dwd.getName(), EdgeSource.EDGE_SOURCE_SQL)), task.getLinkedOutputsList());
    assertEquals(task.getLineageWarningsList().toString(), 0, task.getLineageWarningsCount());

    List<LineageEdge> edges = portal.lineage().getLineageGraph(
        GetLineageGraphRequest.newBuilder().setOwner(owner).build()).getEdgesList();
    assertEquals(edges.toString(), 2, edges.size());
    assertEquals(EdgeSource.EDGE_SOURCE_SQL, findEdge(edges, ods.getName(), dwd.getName(), task.getName()).getEdgeSource());
    assertEquals(EdgeSource.EDGE_SOURCE_SQL, findEdge(edges, dim.getName(), dwd.getName(), task.getName()).getEdgeSource());

    // ListTasks' table filters follow the links
    assertEquals(Arrays.asList(task.getId()), taskIds(portal.tasks().listTasks(
        ListTasksRequest.newBuilder().setReadsTable(dim.getName()).build())));
    assertEquals(Arrays.asList(task.getId()), taskIds(portal.tasks().listTasks(
        ListTasksRequest.newBuilder().setWritesTable(dwd.getName()).build())));
  }

  /** Declared tables win; where the SQL disagrees, Task.lineage_warnings says so. */
  @Test
  public void sqlDisagreeingWithDeclaredTablesGivesWarnings() {
    String owner = "lineage-warn-" + RUN;
    Table ods = createTable(table("ods_warn_" + RUN, owner));
    Table dim = createTable(table("dim_warn_" + RUN, owner));
    Table dwd = createTable(table("dwd_warn_" + RUN, owner));
    Task task = createTask(Task.newBuilder()
        .setName("warn_" + RUN)
        .setOwner(owner)
        .setSql("insert into " + dwd.getName() + " select o.id, d.payload from " + ods.getName()
            + " o join " + dim.getName() + " d on o.id = d.id")
        .addInputs(ods.getName())
        .addOutputs(dwd.getName())
        .build());
    assertEquals(Arrays.asList(link(ods.getName(), EdgeSource.EDGE_SOURCE_BOTH)), task.getLinkedInputsList());
    assertEquals(Arrays.asList(link(dwd.getName(), EdgeSource.EDGE_SOURCE_BOTH)), task.getLinkedOutputsList());
    assertEquals(task.getLineageWarningsList().toString(), 1, task.getLineageWarningsCount());
    LineageWarning warning = task.getLineageWarnings(0);
    assertEquals(LineageWarningKind.LINEAGE_WARNING_KIND_UNDECLARED_INPUT, warning.getKind());
    assertEquals(dim.getName(), warning.getTable());
    assertFalse("a message for people", warning.getMessage().isEmpty());
    assertEquals(task.getLineageWarningsList(), portal.tasks()
        .getTask(GetTaskRequest.newBuilder().setId(task.getId()).build()).getTask().getLineageWarningsList());
    assertEquals("no edge from the undeclared input", 1, portal.lineage().getLineageGraph(
        GetLineageGraphRequest.newBuilder().setOwner(owner).build()).getEdgesCount());
  }

  @Test
  public void upstreamAndDownstreamCarryDistances() {
    Chain c = chain("ud");

    GetUpstreamResponse up = portal.lineage().getUpstream(GetUpstreamRequest.newBuilder()
        .setStart(LineageStart.newBuilder().setTable(c.ads.getName())).setAllDepths(true).build());
    assertEquals(map(c.dws.getName(), 1, c.dwd.getName(), 2, c.ods.getName(), 3), reached(up.getNodesList(), c.ads.getName()));
    assertFalse(up.getTruncated());
    assertTrue(taskNames(up.getTasksList()).containsAll(set(c.load.getName(), c.build.getName(), c.publish.getName())));
    assertEquals(EdgeSource.EDGE_SOURCE_DECLARED,
        findEdge(up.getEdgesList(), c.ods.getName(), c.dwd.getName(), c.load.getName()).getEdgeSource());
    assertEquals(EdgeSource.EDGE_SOURCE_SQL,
        findEdge(up.getEdgesList(), c.dwd.getName(), c.dws.getName(), c.build.getName()).getEdgeSource());
    assertEquals(EdgeSource.EDGE_SOURCE_BOTH,
        findEdge(up.getEdgesList(), c.dws.getName(), c.ads.getName(), c.publish.getName()).getEdgeSource());

    // depth 1: direct neighbours only; by table_id
    up = portal.lineage().getUpstream(GetUpstreamRequest.newBuilder()
        .setStart(LineageStart.newBuilder().setTable(c.ads.getName())).setDepth(1).build());
    assertEquals(map(c.dws.getName(), 1), reached(up.getNodesList(), c.ads.getName()));
    up = portal.lineage().getUpstream(GetUpstreamRequest.newBuilder()
        .setStart(LineageStart.newBuilder().setTableId(c.ads.getId())).setDepth(2).build());
    assertEquals(map(c.dws.getName(), 1, c.dwd.getName(), 2), reached(up.getNodesList(), c.ads.getName()));

    // from a task: its inputs are at distance 1
    up = portal.lineage().getUpstream(GetUpstreamRequest.newBuilder()
        .setStart(LineageStart.newBuilder().setTaskId(c.publish.getId())).setAllDepths(true).build());
    assertEquals(map(c.dws.getName(), 1, c.dwd.getName(), 2, c.ods.getName(), 3), reached(up.getNodesList(), null));

    GetDownstreamResponse down = portal.lineage().getDownstream(GetDownstreamRequest.newBuilder()
        .setStart(LineageStart.newBuilder().setTable(c.ods.getName())).setAllDepths(true).build());
    assertEquals(map(c.dwd.getName(), 1, c.dws.getName(), 2, c.ads.getName(), 3), reached(down.getNodesList(), c.ods.getName()));
    assertFalse(down.getTruncated());
    assertEquals(3, down.getEdgesCount());
    down = portal.lineage().getDownstream(GetDownstreamRequest.newBuilder()
        .setStart(LineageStart.newBuilder().setTableId(c.ods.getId())).setDepth(2).build());
    assertEquals(map(c.dwd.getName(), 1, c.dws.getName(), 2), reached(down.getNodesList(), c.ods.getName()));
    down = portal.lineage().getDownstream(GetDownstreamRequest.newBuilder()
        .setStart(LineageStart.newBuilder().setTask(c.build.getName())).setAllDepths(true).build());
    assertEquals(map(c.dws.getName(), 1, c.ads.getName(), 2), reached(down.getNodesList(), null));
    assertTrue(taskNames(down.getTasksList()).contains(c.publish.getName()));
    assertFalse("upstream tasks are not downstream", taskNames(down.getTasksList()).contains(c.load.getName()));

    // node_limit cuts the answer, nearest first, and says so
    down = portal.lineage().getDownstream(GetDownstreamRequest.newBuilder()
        .setStart(LineageStart.newBuilder().setTable(c.ods.getName())).setAllDepths(true).setNodeLimit(1).build());
    assertTrue("truncated", down.getTruncated());
    assertEquals(map(c.dwd.getName(), 1), reached(down.getNodesList(), c.ods.getName()));
  }

  @Test
  public void impactGroupsDownstreamByDistance() {
    Chain c = chain("imp");
    GetImpactResponse impact = portal.lineage().getImpact(GetImpactRequest.newBuilder()
        .setStart(LineageStart.newBuilder().setTable(c.ods.getName())).build());
    assertFalse(impact.getTruncated());
    Map<Integer, Set<String>> tablesByDistance = new TreeMap<>();
    int previous = Integer.MIN_VALUE;
    for (ImpactLevel level : impact.getLevelsList()) {
      assertTrue("levels nearest first: " + impact.getLevelsList(), level.getDistance() > previous);
      previous = level.getDistance();
      for (LineageNode n : level.getTablesList()) {
        assertEquals("a table's distance is its level's", level.getDistance(), n.getDistance());
        tablesByDistance.computeIfAbsent(level.getDistance(), d -> new HashSet<>()).add(n.getName());
      }
    }
    Map<Integer, Set<String>> want = new TreeMap<>();
    want.put(1, set(c.dwd.getName()));
    want.put(2, set(c.dws.getName()));
    want.put(3, set(c.ads.getName()));
    assertEquals(want, tablesByDistance);
    assertEquals(set(c.load.getName(), c.build.getName(), c.publish.getName()), taskNames(impact.getAffectedTasksList()));

    List<String> owners = impact.getAffectedOwnersList();
    List<String> sorted = new ArrayList<>(owners);
    sorted.sort(null);
    assertEquals("affected_owners sorted", sorted, owners);
    assertEquals("affected_owners without duplicates", new HashSet<>(owners).size(), owners.size());
    assertTrue(owners.toString(), owners.containsAll(Arrays.asList(
        c.dwd.getOwner(), c.dws.getOwner(), c.ads.getOwner(),
        c.load.getOwner(), c.build.getOwner(), c.publish.getOwner())));

    // from a task in the middle: only what it writes and what follows
    GetImpactResponse fromTask = portal.lineage().getImpact(GetImpactRequest.newBuilder()
        .setStart(LineageStart.newBuilder().setTaskId(c.build.getId())).build());
    Set<String> tables = new HashSet<>();
    fromTask.getLevelsList().forEach(l -> l.getTablesList().forEach(n -> tables.add(n.getName())));
    assertEquals(set(c.dws.getName(), c.ads.getName()), tables);
    Set<String> tasks = taskNames(fromTask.getAffectedTasksList());
    assertTrue(tasks.toString(), tasks.contains(c.publish.getName()));
    assertFalse(tasks.toString(), tasks.contains(c.load.getName()));
  }

  @Test
  public void taskDependenciesGoThroughTables() {
    Chain c = chain("dep");
    GetTaskDependenciesResponse middle = portal.lineage().getTaskDependencies(
        GetTaskDependenciesRequest.newBuilder().setTaskName(c.build.getName()).build());
    assertEquals(Arrays.asList(TaskDependency.newBuilder().setTaskId(c.load.getId()).setTaskName(c.load.getName())
        .addViaTables(c.dwd.getName()).build()), middle.getUpstreamList());
    assertEquals(Arrays.asList(TaskDependency.newBuilder().setTaskId(c.publish.getId()).setTaskName(c.publish.getName())
        .addViaTables(c.dws.getName()).build()), middle.getDownstreamList());

    GetTaskDependenciesResponse first = portal.lineage().getTaskDependencies(
        GetTaskDependenciesRequest.newBuilder().setTaskId(c.load.getId()).build());
    assertEquals(0, first.getUpstreamCount());
    assertEquals(Arrays.asList(c.build.getName()),
        first.getDownstreamList().stream().map(TaskDependency::getTaskName).collect(Collectors.toList()));

    expectError(Status.Code.NOT_FOUND, "TASK_NOT_FOUND",
        () -> portal.lineage().getTaskDependencies(
            GetTaskDependenciesRequest.newBuilder().setTaskName("no_such_task_" + RUN).build()));
    expectError(Status.Code.INVALID_ARGUMENT, "INVALID_ARGUMENT",
        () -> portal.lineage().getTaskDependencies(GetTaskDependenciesRequest.getDefaultInstance()));
  }

  @Test
  public void analyzeSqlFindsInputsAndOutputs() {
    AnalyzeSqlResponse joined = portal.lineage().analyzeSql(AnalyzeSqlRequest.newBuilder()
        .setSql("insert into dws_sales select o.id, sum(i.amount) from ods_orders o"
            + " join ods_items i on i.order_id = o.id group by o.id")
        .build());
    assertEquals(Arrays.asList("ods_items", "ods_orders"), joined.getInputsList());
    assertEquals(Arrays.asList("dws_sales"), joined.getOutputsList());

    // a script: CTEs and temporary tables are neither; a table written before it is read is no input
    AnalyzeSqlResponse script = portal.lineage().analyzeSql(AnalyzeSqlRequest.newBuilder()
        .setSql("with recent as (select * from ods_events) insert into dwd_events select * from recent;\n"
            + "create temporary table tmp_x as select * from dim_user;\n"
            + "insert into dws_events select * from dwd_events join tmp_x on tmp_x.id = dwd_events.user_id")
        .setDialect(SqlDialect.SQL_DIALECT_MYSQL)
        .build());
    assertEquals(Arrays.asList("dim_user", "ods_events"), script.getInputsList());
    assertEquals(Arrays.asList("dwd_events", "dws_events"), script.getOutputsList());

    // Hive, with DolphinScheduler parameters
    AnalyzeSqlResponse hive = portal.lineage().analyzeSql(AnalyzeSqlRequest.newBuilder()
        .setSql("insert overwrite table dws_daily partition (dt='${bizdate}') select * from ${src} where dt='${bizdate}'")
        .setDialect(SqlDialect.SQL_DIALECT_HIVE)
        .putParams("src", "ods_daily")
        .putParams("bizdate", "2024-01-01")
        .build());
    assertEquals(Arrays.asList("ods_daily"), hive.getInputsList());
    assertEquals(Arrays.asList("dws_daily"), hive.getOutputsList());
  }

  @Test
  public void analyzeSqlParseErrorHasLineAndColumn() {
    StatusRuntimeException e = expectError(Status.Code.INVALID_ARGUMENT, "SQL_PARSE_ERROR",
        () -> portal.lineage().analyzeSql(AnalyzeSqlRequest.newBuilder()
            .setSql("insert into dwd_a select * from ods_a;\nselect * fromm ods_b x y z")
            .build()));
    ErrorInfo info = PortalErrors.errorInfo(e).get();
    assertEquals(PortalErrors.describe(e), "2", info.getMetadataOrDefault("line", ""));
    assertTrue(PortalErrors.describe(e), Integer.parseInt(info.getMetadataOrDefault("column", "0")) > 0);
  }

  /** Task A reads ods_x and writes dwd_x; task B reading dwd_x and writing ods_x would close a cycle. */
  @Test
  public void taskClosingACycleIsFailedPreconditionLineageCycle() {
    Table ods = createTable(table("ods_x_" + RUN, "lineage-cycle-" + RUN));
    Table dwd = createTable(table("dwd_x_" + RUN, "lineage-cycle-" + RUN));
    createTask(Task.newBuilder()
        .setName("cycle_a_" + RUN)
        .setSql("insert into " + dwd.getName() + " select * from " + ods.getName())
        .addInputs(ods.getName())
        .addOutputs(dwd.getName())
        .build());
    String nameB = "cycle_b_" + RUN;
    StatusRuntimeException e = assertThrows(StatusRuntimeException.class,
        () -> createTask(Task.newBuilder()
            .setName(nameB)
            .setSql("insert into " + ods.getName() + " select * from " + dwd.getName())
            .addInputs(dwd.getName())
            .addOutputs(ods.getName())
            .build()));
    assertEquals(PortalErrors.describe(e), Status.Code.FAILED_PRECONDITION, e.getStatus().getCode());
    ErrorInfo info = PortalErrors.errorInfo(e)
        .orElseThrow(() -> new AssertionError("no ErrorInfo in " + PortalErrors.describe(e)));
    assertEquals(PortalErrors.DOMAIN, info.getDomain());
    assertEquals("LINEAGE_CYCLE", info.getReason());
    List<String> cycle = Arrays.asList(info.getMetadataOrDefault("cycle", "").split(","));
    assertTrue(cycle.toString(), cycle.size() >= 3);
    assertEquals("the cycle ends where it starts: " + cycle, cycle.get(0), cycle.get(cycle.size() - 1));
    assertEquals(set(ods.getName(), dwd.getName()), new HashSet<>(cycle));

    // nothing was written
    expectError(Status.Code.NOT_FOUND, "TASK_NOT_FOUND",
        () -> portal.tasks().getTask(GetTaskRequest.newBuilder().setName(nameB).build()));
    GetDownstreamResponse down = portal.lineage().getDownstream(GetDownstreamRequest.newBuilder()
        .setStart(LineageStart.newBuilder().setTable(dwd.getName())).setAllDepths(true).build());
    assertEquals(map(), reached(down.getNodesList(), dwd.getName()));

    // the same cycle from SQL alone, and through an update
    expectError(Status.Code.FAILED_PRECONDITION, "LINEAGE_CYCLE",
        () -> createTask(Task.newBuilder()
            .setName("cycle_c_" + RUN)
            .setSql("insert into " + ods.getName() + " select * from " + dwd.getName())
            .build()));
    Task d = createTask(Task.newBuilder()
        .setName("cycle_d_" + RUN)
        .setShell("echo d")
        .addInputs(dwd.getName())
        .build());
    expectError(Status.Code.FAILED_PRECONDITION, "LINEAGE_CYCLE",
        () -> portal.tasks().updateTask(UpdateTaskRequest.newBuilder()
            .setTask(Task.newBuilder().setId(d.getId()).setEtag(d.getEtag()).addOutputs(ods.getName()))
            .setUpdateMask(FieldMask.newBuilder().addPaths("outputs"))
            .build()));
    assertEquals(0, portal.tasks().getTask(GetTaskRequest.newBuilder().setId(d.getId()).build())
        .getTask().getOutputsCount());
  }

  @Test
  public void traversalBoundsAreValidated() {
    Table ods = createTable(table("ods_bounds_" + RUN));
    LineageStart start = LineageStart.newBuilder().setTable(ods.getName()).build();
    StatusRuntimeException e = expectError(Status.Code.INVALID_ARGUMENT, "INVALID_ARGUMENT",
        () -> portal.lineage().getUpstream(GetUpstreamRequest.newBuilder().setStart(start).setDepth(0).build()));
    assertTrue(violatedFields(e).toString(), violatedFields(e).contains("depth"));
    e = expectError(Status.Code.INVALID_ARGUMENT, "INVALID_ARGUMENT",
        () -> portal.lineage().getDownstream(GetDownstreamRequest.newBuilder().setStart(start).build()));
    assertTrue(violatedFields(e).toString(), violatedFields(e).contains("depth"));
    e = expectError(Status.Code.INVALID_ARGUMENT, "INVALID_ARGUMENT",
        () -> portal.lineage().getDownstream(GetDownstreamRequest.newBuilder()
            .setStart(start).setDepth(2).setAllDepths(true).build()));
    assertTrue(violatedFields(e).toString(), violatedFields(e).contains("depth"));
    e = expectError(Status.Code.INVALID_ARGUMENT, "INVALID_ARGUMENT",
        () -> portal.lineage().getUpstream(GetUpstreamRequest.newBuilder().setStart(start).setDepth(1001).build()));
    assertTrue(violatedFields(e).toString(), violatedFields(e).contains("depth"));
    for (int limit : new int[] {-1, 100_001}) {
      e = expectError(Status.Code.INVALID_ARGUMENT, "INVALID_ARGUMENT",
          () -> portal.lineage().getUpstream(GetUpstreamRequest.newBuilder()
              .setStart(start).setDepth(1).setNodeLimit(limit).build()));
      assertTrue(violatedFields(e).toString(), violatedFields(e).contains("node_limit"));
    }
    e = expectError(Status.Code.INVALID_ARGUMENT, "INVALID_ARGUMENT",
        () -> portal.lineage().getUpstream(GetUpstreamRequest.newBuilder().setDepth(1).build()));
    assertTrue(violatedFields(e).toString(), violatedFields(e).contains("start"));
    // the bounds themselves are fine
    portal.lineage().getUpstream(GetUpstreamRequest.newBuilder().setStart(start).setDepth(1000).setNodeLimit(100_000).build());
  }

  @Test
  public void unknownStartIsNotFound() {
    expectError(Status.Code.NOT_FOUND, "TABLE_NOT_FOUND",
        () -> portal.lineage().getUpstream(GetUpstreamRequest.newBuilder()
            .setStart(LineageStart.newBuilder().setTable("ods_nothing_" + RUN)).setDepth(1).build()));
    expectError(Status.Code.NOT_FOUND, "TABLE_NOT_FOUND",
        () -> portal.lineage().getDownstream(GetDownstreamRequest.newBuilder()
            .setStart(LineageStart.newBuilder().setTableId(Long.MAX_VALUE)).setAllDepths(true).build()));
    expectError(Status.Code.NOT_FOUND, "TASK_NOT_FOUND",
        () -> portal.lineage().getDownstream(GetDownstreamRequest.newBuilder()
            .setStart(LineageStart.newBuilder().setTask("no_such_task_" + RUN)).setDepth(1).build()));
    expectError(Status.Code.NOT_FOUND, "TASK_NOT_FOUND",
        () -> portal.lineage().getImpact(GetImpactRequest.newBuilder()
            .setStart(LineageStart.newBuilder().setTaskId(Long.MAX_VALUE)).build()));
  }

  // ---------------------------------------------------------------- helpers

  private static String randomSuffix() {
    // lowercase letters and digits: valid in table and task names
    return Long.toString(Math.floorMod(new SecureRandom().nextLong(), 2_000_000_000L) + 1_000_000_000L, 36);
  }

  private static Field field(String name, String type, boolean primaryKey) {
    return Field.newBuilder().setName(name).setType(type).setNullable(!primaryKey).setPrimaryKey(primaryKey).build();
  }

  private static Table table(String name) {
    return Table.newBuilder()
        .setName(name)
        .setOwner("it_java")
        .addFields(field("id", "bigint", true))
        .addFields(field("payload", "string", false))
        .build();
  }

  private Table createTable(Table table) {
    Table created = portal.tables().createTable(CreateTableRequest.newBuilder().setTable(table).build()).getTable();
    tableIds.add(created.getId());
    return created;
  }

  private Task createTask(CreateTaskRequest request) {
    Task created = portal.tasks().createTask(request).getTask();
    taskIds.add(created.getId());
    return created;
  }

  /**
   * ods_TAG -> dwd_TAG -> dws_TAG -> ads_TAG (names suffixed with the run), through a shell
   * task with declared tables (EDGE_SOURCE_DECLARED), a SQL-only task (EDGE_SOURCE_SQL) and a
   * task whose SQL agrees with what it declares (EDGE_SOURCE_BOTH). Every table and task has
   * an owner of its own.
   */
  private static final class Chain {
    Table ods;
    Table dwd;
    Table dws;
    Table ads;
    Task load;
    Task build;
    Task publish;
  }

  private Chain chain(String tag) {
    Chain c = new Chain();
    String s = tag + "_" + RUN;
    c.ods = createTable(table("ods_" + s, "ods-team-" + s));
    c.dwd = createTable(table("dwd_" + s, "dwd-team-" + s));
    c.dws = createTable(table("dws_" + s, "dws-team-" + s));
    c.ads = createTable(table("ads_" + s, "ads-team-" + s));
    c.load = createTask(Task.newBuilder()
        .setName("load_" + s).setOwner("load-team-" + s)
        .setShell("load.sh")
        .addInputs(c.ods.getName()).addOutputs(c.dwd.getName())
        .build());
    c.build = createTask(Task.newBuilder()
        .setName("build_" + s).setOwner("build-team-" + s)
        .setSql("insert into " + c.dws.getName() + " select id, count(*) from " + c.dwd.getName() + " group by id")
        .build());
    c.publish = createTask(Task.newBuilder()
        .setName("publish_" + s).setOwner("publish-team-" + s)
        .setSql("insert into " + c.ads.getName() + " select * from " + c.dws.getName())
        .addInputs(c.dws.getName()).addOutputs(c.ads.getName())
        .build());
    return c;
  }

  private static Table table(String name, String owner) {
    return table(name).toBuilder().setOwner(owner).build();
  }

  private static TaskLink link(String table, EdgeSource source) {
    return TaskLink.newBuilder().setTable(table).setSource(source).build();
  }

  @SafeVarargs
  private static <T> Set<T> set(T... items) {
    return new HashSet<>(Arrays.asList(items));
  }

  /** name1, distance1, name2, distance2, ... in order. */
  private static Map<String, Integer> map(Object... pairs) {
    Map<String, Integer> m = new LinkedHashMap<>();
    for (int i = 0; i < pairs.length; i += 2) {
      m.put((String) pairs[i], (Integer) pairs[i + 1]);
    }
    return m;
  }

  private static Set<String> nodeNames(List<LineageNode> nodes) {
    return nodes.stream().map(LineageNode::getName).collect(Collectors.toSet());
  }

  private static Set<String> taskNames(List<LineageTask> tasks) {
    return tasks.stream().map(LineageTask::getName).collect(Collectors.toSet());
  }

  /**
   * The tables a traversal reached, name to distance, checking they come nearest first. The
   * start table (when the start is a table) is left out; if the answer lists it, at distance 0.
   */
  private static Map<String, Integer> reached(List<LineageNode> nodes, String startTable) {
    Map<String, Integer> out = new LinkedHashMap<>();
    int previous = 0;
    for (LineageNode n : nodes) {
      assertTrue("nodes nearest first: " + nodes, n.getDistance() >= previous);
      previous = n.getDistance();
      if (n.getName().equals(startTable)) {
        assertEquals("the start, when listed, is at distance 0", 0, n.getDistance());
        continue;
      }
      assertTrue("a table reached is at distance >= 1: " + n, n.getDistance() >= 1);
      assertEquals("each table once: " + nodes, null, out.put(n.getName(), n.getDistance()));
    }
    return out;
  }

  private static LineageEdge findEdge(List<LineageEdge> edges, String source, String target, String task) {
    return edges.stream()
        .filter(e -> e.getSource().equals(source) && e.getTarget().equals(target) && e.getTask().equals(task))
        .findFirst()
        .orElseThrow(() -> new AssertionError(
            "no edge " + source + " -> " + target + " through " + task + " in " + edges));
  }

  private Task createTask(Task task) {
    return createTask(CreateTaskRequest.newBuilder().setTask(task).build());
  }

  private static List<Long> taskIds(ListTasksResponse resp) {
    return resp.getTasksList().stream().map(Task::getId).collect(Collectors.toList());
  }

  private static Set<String> violatedFields(StatusRuntimeException e) {
    BadRequest br = PortalErrors.badRequest(e)
        .orElseThrow(() -> new AssertionError("no google.rpc.BadRequest in " + PortalErrors.describe(e)));
    return br.getFieldViolationsList().stream().map(BadRequest.FieldViolation::getField).collect(Collectors.toSet());
  }

  /**
   * Runs the call, expects it to fail with the code, and checks the google.rpc.ErrorInfo
   * (read through StatusProto.fromThrowable) has domain "dataportal" and the reason.
   */
  private static StatusRuntimeException expectError(Status.Code code, String reason, ThrowingRunnable call) {
    StatusRuntimeException e;
    try {
      call.run();
      fail("expected " + code + " " + reason + ", but the call succeeded");
      return null;
    } catch (StatusRuntimeException caught) {
      e = caught;
    } catch (Throwable other) {
      throw new AssertionError("expected a StatusRuntimeException, got " + other, other);
    }
    String what = PortalErrors.describe(e);
    assertEquals(what, code, e.getStatus().getCode());
    com.google.rpc.Status rich = PortalErrors.richStatus(e)
        .orElseThrow(() -> new AssertionError("no grpc-status-details-bin: " + what));
    assertEquals(what, code.value(), rich.getCode());
    ErrorInfo info = PortalErrors.errorInfo(e)
        .orElseThrow(() -> new AssertionError("no google.rpc.ErrorInfo: " + what));
    assertEquals(what, PortalErrors.DOMAIN, info.getDomain());
    assertEquals(what, reason, info.getReason());
    return e;
  }
}
