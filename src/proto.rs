//! Types generated from `proto/`. They stop at the transport: `grpc::convert` maps them to the domain.

#[allow(clippy::all, missing_docs)]
pub mod v1 {
    tonic::include_proto!("dataportal.v1");
}

/// The encoded descriptors of the whole API, served by reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("dataportal_descriptor");
