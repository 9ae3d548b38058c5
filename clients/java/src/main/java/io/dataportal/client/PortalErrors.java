package io.dataportal.client;

import com.google.protobuf.Any;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Message;
import com.google.rpc.BadRequest;
import com.google.rpc.ErrorInfo;
import io.grpc.Status;
import io.grpc.protobuf.StatusProto;
import java.util.Optional;
import java.util.stream.Collectors;

/**
 * Reads the google.rpc details the dataportal server attaches to every error
 * (trailer grpc-status-details-bin): an {@link ErrorInfo} with domain "dataportal" and a
 * reason such as TABLE_NOT_FOUND, and for INVALID_ARGUMENT a {@link BadRequest} listing
 * every field violation.
 */
public final class PortalErrors {
  /** ErrorInfo.domain of the server's errors. */
  public static final String DOMAIN = "dataportal";

  private PortalErrors() {}

  /** The gRPC status code of a failed call (UNKNOWN for anything that is not a gRPC error). */
  public static Status.Code code(Throwable t) {
    return Status.fromThrowable(t).getCode();
  }

  /** The full google.rpc.Status, when the server sent one. */
  public static Optional<com.google.rpc.Status> richStatus(Throwable t) {
    return Optional.ofNullable(StatusProto.fromThrowable(t));
  }

  public static Optional<ErrorInfo> errorInfo(Throwable t) {
    return detail(t, ErrorInfo.class);
  }

  public static Optional<BadRequest> badRequest(Throwable t) {
    return detail(t, BadRequest.class);
  }

  /** ErrorInfo.reason, or "" when there is no ErrorInfo. */
  public static String reason(Throwable t) {
    return errorInfo(t).map(ErrorInfo::getReason).orElse("");
  }

  /** The first detail of the given type, unpacked. */
  public static <T extends Message> Optional<T> detail(Throwable t, Class<T> type) {
    com.google.rpc.Status status = StatusProto.fromThrowable(t);
    if (status == null) {
      return Optional.empty();
    }
    for (Any any : status.getDetailsList()) {
      if (any.is(type)) {
        try {
          return Optional.of(any.unpack(type));
        } catch (InvalidProtocolBufferException e) {
          throw new IllegalStateException("malformed " + type.getSimpleName() + " in status details", e);
        }
      }
    }
    return Optional.empty();
  }

  /** One line for logs: "NOT_FOUND TABLE_NOT_FOUND {missing_tables=x}: message [field: why; ...]". */
  public static String describe(Throwable t) {
    Status status = Status.fromThrowable(t);
    StringBuilder sb = new StringBuilder(status.getCode().name());
    errorInfo(t).ifPresent(info -> {
      sb.append(' ').append(info.getReason());
      if (info.getMetadataCount() > 0) {
        sb.append(' ').append(info.getMetadataMap());
      }
    });
    sb.append(": ").append(status.getDescription());
    badRequest(t).ifPresent(br -> sb.append(" [")
        .append(br.getFieldViolationsList().stream()
            .map(v -> v.getField() + ": " + v.getDescription())
            .collect(Collectors.joining("; ")))
        .append(']'));
    return sb.toString();
  }
}
