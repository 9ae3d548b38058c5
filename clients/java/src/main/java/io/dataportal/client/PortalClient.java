package io.dataportal.client;

import io.dataportal.v1.CallbackServiceGrpc;
import io.dataportal.v1.DataSourceServiceGrpc;
import io.dataportal.v1.LineageServiceGrpc;
import io.dataportal.v1.TableServiceGrpc;
import io.dataportal.v1.TaskServiceGrpc;
import io.dataportal.v1.WorkflowServiceGrpc;
import io.grpc.ManagedChannel;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.netty.NettyChannelBuilder;
import java.util.concurrent.TimeUnit;

/**
 * A plaintext channel to a dataportal server and typed blocking stubs for its services.
 * Every stub returned carries a fresh deadline, so keep none across calls for long.
 *
 * <pre>{@code
 * try (PortalClient portal = new PortalClient("127.0.0.1", 50051)) {
 *   Table t = portal.tables().getTable(GetTableRequest.newBuilder().setName("ods_user").build()).getTable();
 * }
 * }</pre>
 */
public final class PortalClient implements AutoCloseable {
  private final ManagedChannel channel;
  private final long deadlineMillis;

  public PortalClient(String host, int port) {
    this(host, port, 10_000);
  }

  public PortalClient(String host, int port, long deadlineMillis) {
    this.channel = NettyChannelBuilder.forAddress(host, port).usePlaintext().build();
    this.deadlineMillis = deadlineMillis;
  }

  public ManagedChannel channel() {
    return channel;
  }

  public TableServiceGrpc.TableServiceBlockingStub tables() {
    return TableServiceGrpc.newBlockingStub(channel).withDeadlineAfter(deadlineMillis, TimeUnit.MILLISECONDS);
  }

  public TaskServiceGrpc.TaskServiceBlockingStub tasks() {
    return TaskServiceGrpc.newBlockingStub(channel).withDeadlineAfter(deadlineMillis, TimeUnit.MILLISECONDS);
  }

  public LineageServiceGrpc.LineageServiceBlockingStub lineage() {
    return LineageServiceGrpc.newBlockingStub(channel).withDeadlineAfter(deadlineMillis, TimeUnit.MILLISECONDS);
  }

  public DataSourceServiceGrpc.DataSourceServiceBlockingStub dataSources() {
    return DataSourceServiceGrpc.newBlockingStub(channel).withDeadlineAfter(deadlineMillis, TimeUnit.MILLISECONDS);
  }

  public WorkflowServiceGrpc.WorkflowServiceBlockingStub workflows() {
    return WorkflowServiceGrpc.newBlockingStub(channel).withDeadlineAfter(deadlineMillis, TimeUnit.MILLISECONDS);
  }

  public CallbackServiceGrpc.CallbackServiceBlockingStub callbacks() {
    return CallbackServiceGrpc.newBlockingStub(channel).withDeadlineAfter(deadlineMillis, TimeUnit.MILLISECONDS);
  }

  public HealthGrpc.HealthBlockingStub health() {
    return HealthGrpc.newBlockingStub(channel).withDeadlineAfter(deadlineMillis, TimeUnit.MILLISECONDS);
  }

  @Override
  public void close() {
    channel.shutdownNow();
    try {
      channel.awaitTermination(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
