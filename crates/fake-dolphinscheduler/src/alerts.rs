//! The HTTP alert plugin (contract §11): the alert server's side, from an inserted alert to the POST
//! to the receiver. The model decides what content an alert has (`state.rs`); this module queues it,
//! delivers it in order from a task of its own, and records what happened, with the test controls
//! (hold and release, reorder, drop, repeat).

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use serde_json::json;
use tokio::sync::mpsc;

use crate::family::Family;

/// How long one delivery may take before it counts as failed (3.2's default plugin timeout is 120 s;
/// tests want an answer sooner).
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(5);

/// Where the fake's HTTP alert plugin instance posts alerts: the plugin's `url` and `headerParams`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlertReceiver {
    /// The plugin's `url`.
    pub url: String,
    /// The plugin's `headerParams`, sent with every POST. A `Content-Type` here replaces the family's.
    pub headers: Vec<(String, String)>,
    /// How many times each alert is POSTed: 1 normally; more models 3.2's re-POSTs after an IO error
    /// (§11.4).
    pub repeat: u32,
}

impl AlertReceiver {
    /// A receiver at `url`, without extra headers, each alert POSTed once.
    pub fn new(url: impl Into<String>) -> Self {
        AlertReceiver { url: url.into(), headers: Vec::new(), repeat: 1 }
    }
}

/// One POST the plugin made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SentAlert {
    /// Where it went.
    pub url: String,
    /// Its `Content-Type` header.
    pub content_type: String,
    /// Its body: `{"content":"<content>"}`.
    pub body: String,
    /// The receiver's HTTP status; `None` when the request failed (refused, timed out). Neither is
    /// retried: 3.1 and 3.3+ mark the alert failed, and 3.2's retries are what `repeat` models.
    pub status: Option<u16>,
}

/// One alert on its way: the content and where it goes.
struct Delivery {
    receiver: AlertReceiver,
    content: String,
}

/// The alert server's state.
#[derive(Default)]
struct Desk {
    receiver: Option<AlertReceiver>,
    holding: bool,
    dropping: bool,
    /// Contents held back by `hold`, oldest first.
    held: Vec<String>,
    sent: Vec<SentAlert>,
}

/// The alert server of one fake. Shared by the model, which emits alerts, and the handle, which
/// steers and inspects them.
pub(crate) struct Alerts {
    desk: Arc<Mutex<Desk>>,
    outbox: mpsc::UnboundedSender<Delivery>,
}

impl Alerts {
    /// Starts the delivery task; must run inside a Tokio runtime. The task ends when `Alerts` is
    /// dropped (the outbox closes).
    pub fn start(family: Family) -> Self {
        let desk = Arc::new(Mutex::new(Desk::default()));
        let (outbox, deliveries) = mpsc::unbounded_channel();
        tokio::spawn(deliver(family, deliveries, Arc::clone(&desk)));
        Alerts { desk, outbox }
    }

    fn desk(&self) -> MutexGuard<'_, Desk> {
        lock(&self.desk)
    }

    /// An alert the master inserted. Without a receiver nothing is sent (DS: no plugin instance bound
    /// to the group).
    pub fn emit(&self, content: String) {
        let mut desk = self.desk();
        if desk.dropping {
            return;
        }
        if desk.holding {
            desk.held.push(content);
        } else if let Some(receiver) = desk.receiver.clone() {
            self.post(receiver, content);
        }
    }

    fn post(&self, receiver: AlertReceiver, content: String) {
        // Fails only once the delivery task is gone, i.e. the runtime is shutting down.
        let _ = self.outbox.send(Delivery { receiver, content });
    }

    pub fn send_to(&self, receiver: AlertReceiver) {
        self.desk().receiver = Some(receiver);
    }

    pub fn hold(&self) {
        self.desk().holding = true;
    }

    /// Sends the held alerts (oldest first, or newest first with `reverse`) and stops holding.
    pub fn release(&self, reverse: bool) {
        let mut desk = self.desk();
        desk.holding = false;
        let mut held = std::mem::take(&mut desk.held);
        if reverse {
            held.reverse();
        }
        if let Some(receiver) = desk.receiver.clone() {
            for content in held {
                self.post(receiver.clone(), content);
            }
        }
    }

    pub fn drop_alerts(&self, on: bool) {
        self.desk().dropping = on;
    }

    pub fn sent(&self) -> Vec<SentAlert> {
        self.desk().sent.clone()
    }
}

fn lock(desk: &Mutex<Desk>) -> MutexGuard<'_, Desk> {
    desk.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The family's `Content-Type`: 3.1/3.2 post a `StringEntity` (§11.3), 3.3+ the plugin's
/// `contentType` option with its default (§11.5).
fn default_content_type(family: Family) -> &'static str {
    match family {
        Family::V3_1 | Family::V3_2 => "text/plain; charset=UTF-8",
        Family::V3_3 => "application/json; charset=utf-8",
    }
}

/// POSTs each delivery `repeat` times, one at a time and in order, recording every attempt.
async fn deliver(family: Family, mut deliveries: mpsc::UnboundedReceiver<Delivery>, desk: Arc<Mutex<Desk>>) {
    let client = reqwest::Client::builder().timeout(DELIVERY_TIMEOUT).build().unwrap_or_default();
    while let Some(Delivery { receiver, content }) = deliveries.recv().await {
        // The body of both plugin generations with their default configuration: 3.1/3.2's
        // `contentField` "content" over an empty `bodyParams`, 3.3+'s `{"content":"${msg}"}`.
        let body = json!({ "content": content }).to_string();
        let content_type = receiver
            .headers
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case("content-type"))
            .map_or(default_content_type(family), |(_, value)| value.as_str())
            .to_string();
        for _ in 0..receiver.repeat {
            let mut request = client.post(&receiver.url).header("content-type", &content_type);
            for (name, value) in
                receiver.headers.iter().filter(|(n, _)| !n.eq_ignore_ascii_case("content-type"))
            {
                request = request.header(name, value);
            }
            let status = request.body(body.clone()).send().await.ok().map(|r| r.status().as_u16());
            let sent = SentAlert {
                url: receiver.url.clone(),
                content_type: content_type.clone(),
                body: body.clone(),
                status,
            };
            lock(&desk).sent.push(sent);
        }
    }
}
