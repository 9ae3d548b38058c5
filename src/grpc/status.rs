//! The one mapping from the service's error to a gRPC status with `google.rpc` details.

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

use crate::error::{Error, ErrorKind};

/// `google.rpc.ErrorInfo.domain` of every error this service sends.
const ERROR_DOMAIN: &str = "dataportal";

impl From<Error> for Status {
    fn from(e: Error) -> Self {
        let code = match e.kind {
            ErrorKind::InvalidArgument => Code::InvalidArgument,
            ErrorKind::NotFound => Code::NotFound,
            ErrorKind::AlreadyExists => Code::AlreadyExists,
            ErrorKind::FailedPrecondition => Code::FailedPrecondition,
            ErrorKind::Aborted => Code::Aborted,
            ErrorKind::Unavailable => Code::Unavailable,
            ErrorKind::Unauthenticated => Code::Unauthenticated,
            ErrorKind::Internal => Code::Internal,
        };
        let mut details = ErrorDetails::new();
        details.set_error_info(
            e.reason.as_str(),
            ERROR_DOMAIN,
            e.metadata.into_iter().collect::<std::collections::HashMap<_, _>>(),
        );
        for violation in e.violations {
            details.add_bad_request_violation(violation.field, violation.description);
        }
        Status::with_error_details(code, e.message, details)
    }
}
