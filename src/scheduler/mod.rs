//! Clients of the workflow schedulers the service publishes tasks to.

pub mod dolphin;
