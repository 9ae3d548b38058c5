//! The data portal service: a catalog of warehouse tables and tasks served over gRPC.
//!
//! Layers, outermost first: `grpc` (transport) → `app` (use cases) → `domain` (the model and
//! its rules), with `storage` (MySQL or SQLite) at the edge, depending on `domain`.

#![forbid(unsafe_code)]

pub mod app;
pub mod config;
pub mod domain;
pub mod error;
pub mod grpc;
pub mod metrics;
pub mod proto;
pub mod rest;
pub mod scheduler;
pub mod secret_box;
pub mod startup;
pub mod storage;
pub mod telemetry;
pub mod warehouse;
