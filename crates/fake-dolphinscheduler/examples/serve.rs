//! Runs the fake DolphinScheduler until interrupted, for trying the service by hand and for the
//! scripts that check the README's examples:
//!
//!   cargo run -p fake-dolphinscheduler --example serve -- [--family 3.1|3.2|3.3] [--port N]
//!
//! Prints `DS_URL=...` and `DS_TOKEN=...` lines, then serves. A MySQL datasource named
//! `warehouse` exists from the start.

use fake_dolphinscheduler::{FakeDolphinScheduler, Family};

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let mut family = Family::V3_3;
    let mut port = 12345;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match (arg.as_str(), args.next()) {
            ("--family", Some(value)) => {
                family = match value.as_str() {
                    "3.1" => Family::V3_1,
                    "3.2" => Family::V3_2,
                    "3.3" | "3.3+" => Family::V3_3,
                    other => panic!("unknown family {other}: use 3.1, 3.2 or 3.3"),
                }
            }
            ("--port", Some(value)) => port = value.parse().expect("--port N"),
            _ => panic!("usage: serve [--family 3.1|3.2|3.3] [--port N]"),
        }
    }
    let fake = FakeDolphinScheduler::start_on(family, port).await;
    fake.add_datasource("warehouse", "MYSQL");
    println!("DS_URL={}", fake.base_url());
    println!("DS_TOKEN={}", fake.token());
    let _ = tokio::signal::ctrl_c().await;
}
