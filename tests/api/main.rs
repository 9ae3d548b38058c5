//! Integration tests: each starts the real server on an ephemeral port, on SQLite or on a fresh
//! MariaDB database, and calls it through the generated client.

mod cli;
mod datasources;
mod executions;
mod health;
mod helpers;
mod lineage;
mod real_dolphinscheduler;
mod replicas;
mod rest;
mod run_times;
mod runs;
mod tables;
mod tasks;
mod workflows;
