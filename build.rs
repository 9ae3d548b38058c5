//! Compiles the API protos into Rust with a vendored `protoc`, so a fresh machine needs only cargo.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto");
    println!("cargo:rerun-if-changed=migrations");

    let protoc = protoc_bin_vendored::protoc_bin_path()?;
    let well_known = protoc_bin_vendored::include_path()?;
    // SAFETY: a build script is single-threaded; prost-build reads PROTOC below.
    unsafe { std::env::set_var("PROTOC", protoc) };

    let mut protos = Vec::new();
    for entry in std::fs::read_dir("proto/dataportal/v1")? {
        let path = entry?.path();
        if path.extension().is_some_and(|ext| ext == "proto") {
            protos.push(path);
        }
    }
    protos.sort();
    // Compiled only so that reflection can describe the error details the API sends.
    protos.push(PathBuf::from("proto/google/rpc/error_details.proto"));

    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .file_descriptor_set_path(out_dir.join("dataportal_descriptor.bin"))
        .compile_protos(&protos, &[PathBuf::from("proto"), well_known])?;
    Ok(())
}
