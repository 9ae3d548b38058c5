"""Small helpers shared by example.py and smoke_test.py.

Puts ./gen (made by generate.sh) on sys.path, opens a channel to a dataportal server and
reads the google.rpc details the server attaches to errors (ErrorInfo, BadRequest) through
grpcio-status's rpc_status.from_call.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from typing import Optional

_HERE = os.path.dirname(os.path.abspath(__file__))
_GEN = os.path.join(_HERE, "gen")
if not os.path.isdir(os.path.join(_GEN, "dataportal")):
    sys.exit(f"{_GEN} is missing: run {os.path.join(_HERE, 'generate.sh')} first")
if _GEN not in sys.path:
    sys.path.insert(0, _GEN)

import grpc  # noqa: E402
from google.rpc import error_details_pb2  # noqa: E402
from grpc_health.v1 import health_pb2, health_pb2_grpc  # noqa: E402
from grpc_status import rpc_status  # noqa: E402

from dataportal.v1 import table_pb2, table_service_pb2, table_service_pb2_grpc  # noqa: E402,F401
from dataportal.v1 import task_pb2, task_service_pb2, task_service_pb2_grpc  # noqa: E402,F401
from dataportal.v1 import lineage_pb2, lineage_service_pb2, lineage_service_pb2_grpc  # noqa: E402,F401
from dataportal.v1 import workflow_pb2, workflow_service_pb2, workflow_service_pb2_grpc  # noqa: E402,F401
from dataportal.v1 import datasource_pb2, datasource_service_pb2, datasource_service_pb2_grpc  # noqa: E402,F401

DOMAIN = "dataportal"
DEFAULT_ADDRESS = "127.0.0.1:50051"


def address_from(argv: list[str]) -> str:
    """ADDRESS from the first argument, else $PORTAL_ADDR, else 127.0.0.1:50051."""
    if len(argv) > 1 and argv[1]:
        return argv[1]
    return os.environ.get("PORTAL_ADDR") or DEFAULT_ADDRESS


class Portal:
    """A plaintext channel and the stubs of the services the server offers."""

    def __init__(self, address: str, timeout: float = 10.0):
        self.address = address
        self.timeout = timeout
        self.channel = grpc.insecure_channel(address)
        self.tables = table_service_pb2_grpc.TableServiceStub(self.channel)
        self.tasks = task_service_pb2_grpc.TaskServiceStub(self.channel)
        self.lineage = lineage_service_pb2_grpc.LineageServiceStub(self.channel)
        self.workflows = workflow_service_pb2_grpc.WorkflowServiceStub(self.channel)
        self.data_sources = datasource_service_pb2_grpc.DataSourceServiceStub(self.channel)
        self.health = health_pb2_grpc.HealthStub(self.channel)

    def wait_ready(self, seconds: float = 10.0) -> None:
        grpc.channel_ready_future(self.channel).result(timeout=seconds)

    def close(self) -> None:
        self.channel.close()

    def __enter__(self) -> "Portal":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


@dataclass
class PortalError:
    """What a failed call carried: the status code and message plus the google.rpc details."""

    code: grpc.StatusCode
    message: str
    reason: str = ""
    domain: str = ""
    metadata: dict = field(default_factory=dict)
    field_violations: list = field(default_factory=list)  # [(field, description)]
    has_rich_status: bool = False

    def __str__(self) -> str:
        s = f"{self.code.name} {self.reason}".rstrip()
        if self.metadata:
            s += f" {self.metadata}"
        s += f": {self.message}"
        if self.field_violations:
            s += " [" + "; ".join(f"{f}: {d}" for f, d in self.field_violations) + "]"
        return s


def portal_error(err: grpc.RpcError) -> PortalError:
    """Decodes grpc-status-details-bin of a failed call (rpc_status.from_call)."""
    out = PortalError(code=err.code(), message=err.details() or "")
    status = rpc_status.from_call(err)
    if status is None:
        return out
    out.has_rich_status = True
    for detail in status.details:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            out.reason, out.domain, out.metadata = info.reason, info.domain, dict(info.metadata)
        elif detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            br = error_details_pb2.BadRequest()
            detail.Unpack(br)
            out.field_violations = [(v.field, v.description) for v in br.field_violations]
    return out


def call_error(fn, *args, **kwargs) -> Optional[PortalError]:
    """Runs a call that should fail; returns its PortalError, or None when it succeeded."""
    try:
        fn(*args, **kwargs)
    except grpc.RpcError as e:
        return portal_error(e)
    return None
