//! The in-process gRPC call: the input message framed as gRPC sends it, handed to the same
//! `tonic` routes the gRPC server serves, and the answer (messages, then the status in the
//! trailers) turned into JSON: one object for a unary method, newline-delimited JSON for a
//! server-streaming one.

use std::collections::VecDeque;
use std::convert::Infallible;

use axum::body::{Body, Bytes};
use axum::response::Response;
use base64::Engine as _;
use http::{HeaderMap, HeaderValue, StatusCode};
use http_body_util::BodyExt as _;
use prost::bytes::{Buf as _, BytesMut};
use prost_reflect::{DescriptorPool, DynamicMessage, FieldDescriptor, MessageDescriptor, SerializeOptions};
use serde_json::{Value, json};
use tonic::Code;
use tonic::service::Routes;
use tower::Service as _;

use super::error::RestError;
use super::gateway::Route;

/// Length of the prefix of each gRPC message: a compression flag and a big-endian length.
const FRAME_HEADER_LEN: usize = 5;

/// Base64 of binary metadata: gRPC sends it unpadded, but padded values are accepted too.
const BASE64_ANY_PADDING: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    base64::engine::GeneralPurposeConfig::new()
        .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
);

/// Content type of a streamed answer: one JSON object per line.
const NDJSON: &str = "application/x-ndjson";

/// Calls `route`'s method with the encoded input and answers with its output as JSON.
pub(crate) async fn call(
    mut grpc: Routes,
    pool: &'static DescriptorPool,
    route: &Route,
    headers: &HeaderMap,
    input: Vec<u8>,
) -> Result<Response, RestError> {
    let request = grpc_request(route, headers, input)?;
    let Ok(()) = std::future::poll_fn(|cx| {
        tower::Service::<http::Request<tonic::body::Body>>::poll_ready(&mut grpc, cx)
    })
    .await;
    let Ok(response) = grpc.call(request).await;
    let (parts, mut body) = response.into_parts();
    // A call that fails before answering sends its status in the headers ("trailers-only").
    let early_status = grpc_status(&parts.headers);

    if route.method.is_server_streaming() {
        if let Some(status) = early_status.as_ref().filter(|s| s.code() != Code::Ok) {
            return Err(RestError::from_status(pool, status));
        }
        let lines = Lines::new(pool, route.method.output(), body, early_status);
        let mut response = Response::new(Body::from_stream(lines.into_stream()));
        response.headers_mut().insert(http::header::CONTENT_TYPE, HeaderValue::from_static(NDJSON));
        return Ok(response);
    }

    let mut frames = FrameDecoder::default();
    let mut status = early_status;
    while let Some(frame) = body.frame().await {
        match frame {
            Ok(frame) => match frame.into_data() {
                Ok(data) => frames.push(&data),
                Err(frame) => {
                    if let Ok(trailers) = frame.into_trailers() {
                        status = grpc_status(&trailers);
                    }
                }
            },
            Err(error) => {
                status = Some(error);
                break;
            }
        }
    }
    let status = status.unwrap_or_else(|| tonic::Status::internal("the gRPC answer ended without a status"));
    if status.code() != Code::Ok {
        return Err(RestError::from_status(pool, &status));
    }
    let encoded = frames
        .next_message()
        .map_err(RestError::internal)?
        .ok_or_else(|| RestError::internal("the gRPC answer has no message"))?;
    let output = DynamicMessage::decode(route.method.output(), encoded)
        .map_err(|e| RestError::internal(format!("the gRPC answer cannot be decoded: {e}")))?;
    let json = answer_json(&output, route.response_body.as_ref())?;
    Ok(super::json_response(StatusCode::OK, &json))
}

/// The answer: the output message, or only its `response_body` field (with its default when
/// unset, so that it is never missing).
fn answer_json(output: &DynamicMessage, response_body: Option<&FieldDescriptor>) -> Result<Value, RestError> {
    let Some(field) = response_body else { return message_json(output) };
    let key = field.json_name();
    Ok(match message_json(output)?.get(key) {
        Some(value) => value.clone(),
        None => full_message_json(output)?.get(key).cloned().unwrap_or(Value::Null),
    })
}

/// The HTTP/2-shaped request tonic's routes take: the framed message, the gRPC headers, and
/// the caller's `x-` headers (its `x-request-id` among them) as metadata.
fn grpc_request(
    route: &Route,
    headers: &HeaderMap,
    input: Vec<u8>,
) -> Result<http::Request<tonic::body::Body>, RestError> {
    let length =
        u32::try_from(input.len()).map_err(|_| RestError::internal("the request is too large to frame"))?;
    let mut framed = Vec::with_capacity(FRAME_HEADER_LEN + input.len());
    framed.push(0); // not compressed
    framed.extend_from_slice(&length.to_be_bytes());
    framed.extend_from_slice(&input);
    let path = format!("/{}/{}", route.method.parent_service().full_name(), route.method.name());
    let mut request = http::Request::builder()
        .method(http::Method::POST)
        .uri(path)
        .version(http::Version::HTTP_2)
        .header(http::header::CONTENT_TYPE, "application/grpc")
        .header(http::header::TE, "trailers")
        .body(tonic::body::Body::new(http_body_util::Full::new(Bytes::from(framed))))
        .map_err(|e| RestError::internal(format!("cannot build the gRPC request: {e}")))?;
    for (name, value) in headers {
        // Header names are already lowercase, as gRPC metadata keys must be.
        if name.as_str().starts_with("x-") {
            request.headers_mut().append(name.clone(), value.clone());
        }
    }
    Ok(request)
}

/// The status in gRPC headers or trailers, if they carry one.
fn grpc_status(headers: &HeaderMap) -> Option<tonic::Status> {
    let code = headers.get("grpc-status")?;
    let code =
        code.to_str().ok().and_then(|c| c.trim().parse::<i32>().ok()).map_or(Code::Unknown, Code::from_i32);
    let message = headers
        .get("grpc-message")
        .map(|m| percent_encoding::percent_decode(m.as_bytes()).decode_utf8_lossy().into_owned())
        .unwrap_or_default();
    let details = headers
        .get("grpc-status-details-bin")
        .and_then(|d| BASE64_ANY_PADDING.decode(d.as_bytes()).ok())
        .unwrap_or_default();
    Some(tonic::Status::with_details(code, message, details.into()))
}

/// A message in proto3 JSON: JSON names, 64-bit integers as strings, enums by name, fields
/// left at their defaults omitted.
fn message_json(message: &DynamicMessage) -> Result<Value, RestError> {
    serde_json::to_value(message)
        .map_err(|e| RestError::internal(format!("the answer cannot be written as JSON: {e}")))
}

/// As `message_json`, but with every field, defaults included.
fn full_message_json(message: &DynamicMessage) -> Result<Value, RestError> {
    message
        .serialize_with_options(
            serde_json::value::Serializer,
            &SerializeOptions::new().skip_default_fields(false),
        )
        .map_err(|e| RestError::internal(format!("the answer cannot be written as JSON: {e}")))
}

/// Splits the bytes of a gRPC body into messages, however the bytes were chunked.
#[derive(Debug, Default)]
struct FrameDecoder {
    buffer: BytesMut,
}

impl FrameDecoder {
    fn push(&mut self, data: &[u8]) {
        self.buffer.extend_from_slice(data);
    }

    /// The next whole message, `None` until one has arrived.
    fn next_message(&mut self) -> Result<Option<Bytes>, String> {
        let Some(header) = self.buffer.get(..FRAME_HEADER_LEN) else { return Ok(None) };
        if header[0] != 0 {
            return Err("the gRPC answer is compressed, which this gateway never asks for".to_owned());
        }
        let length = u32::from_be_bytes([header[1], header[2], header[3], header[4]]) as usize;
        if self.buffer.len() < FRAME_HEADER_LEN + length {
            return Ok(None);
        }
        self.buffer.advance(FRAME_HEADER_LEN);
        Ok(Some(self.buffer.split_to(length).freeze()))
    }

    /// Whether a message was cut off.
    fn has_partial(&self) -> bool {
        !self.buffer.is_empty()
    }
}

/// A server-streaming answer as lines: `{"result": …}` per message as it arrives, and, when the
/// stream ends with an error, a last `{"error": …}` line.
struct Lines {
    pool: &'static DescriptorPool,
    output: MessageDescriptor,
    body: tonic::body::Body,
    frames: FrameDecoder,
    status: Option<tonic::Status>,
    ready: VecDeque<Bytes>,
    finished: bool,
}

impl Lines {
    fn new(
        pool: &'static DescriptorPool,
        output: MessageDescriptor,
        body: tonic::body::Body,
        status: Option<tonic::Status>,
    ) -> Self {
        Lines {
            pool,
            output,
            body,
            frames: FrameDecoder::default(),
            status,
            ready: VecDeque::new(),
            finished: false,
        }
    }

    /// The lines as a stream; each is sent as soon as its message is whole.
    fn into_stream(self) -> impl futures_util::Stream<Item = Result<Bytes, Infallible>> + Send {
        futures_util::stream::unfold(self, |mut lines| async move {
            loop {
                if let Some(line) = lines.ready.pop_front() {
                    return Some((Ok(line), lines));
                }
                if lines.finished {
                    return None;
                }
                lines.advance().await;
            }
        })
    }

    /// Reads the next frame of the gRPC body.
    async fn advance(&mut self) {
        match self.body.frame().await {
            Some(Ok(frame)) => match frame.into_data() {
                Ok(data) => {
                    self.frames.push(&data);
                    self.take_messages();
                }
                Err(frame) => {
                    if let Ok(trailers) = frame.into_trailers() {
                        self.status = grpc_status(&trailers);
                    }
                }
            },
            Some(Err(status)) => {
                self.status = Some(status);
                self.finish();
            }
            None => self.finish(),
        }
    }

    fn take_messages(&mut self) {
        loop {
            match self.frames.next_message() {
                Ok(Some(encoded)) => {
                    let line = DynamicMessage::decode(self.output.clone(), encoded)
                        .map_err(|e| {
                            RestError::internal(format!("a streamed message cannot be decoded: {e}"))
                        })
                        .and_then(|message| message_json(&message));
                    match line {
                        Ok(result) => self.push_line(&json!({"result": result})),
                        Err(error) => return self.fail(&error),
                    }
                }
                Ok(None) => return,
                Err(why) => return self.fail(&RestError::internal(why)),
            }
        }
    }

    /// The end of the body: an error line unless the stream ended with OK.
    fn finish(&mut self) {
        if self.finished {
            return;
        }
        match self.status.take() {
            _ if self.frames.has_partial() => {
                self.fail(&RestError::internal("the stream ended inside a message"))
            }
            Some(status) if status.code() == Code::Ok => self.finished = true,
            Some(status) => self.fail(&RestError::from_status(self.pool, &status)),
            None => self.fail(&RestError::internal("the stream ended without a status")),
        }
    }

    fn fail(&mut self, error: &RestError) {
        self.push_line(&json!({"error": error.to_json()}));
        self.finished = true;
    }

    fn push_line(&mut self, value: &Value) {
        let mut line = value.to_string().into_bytes();
        line.push(b'\n');
        self.ready.push_back(Bytes::from(line));
    }
}

#[cfg(test)]
mod tests {
    use futures_util::StreamExt as _;
    use http_body_util::StreamBody;
    use prost::Message as _;

    use super::*;

    fn frame(message: &[u8]) -> Vec<u8> {
        let mut framed = vec![0];
        framed.extend_from_slice(&(message.len() as u32).to_be_bytes());
        framed.extend_from_slice(message);
        framed
    }

    #[test]
    fn messages_are_found_however_the_bytes_are_chunked() {
        let mut bytes = frame(b"first");
        bytes.extend(frame(b""));
        bytes.extend(frame(&[7; 300]));
        for chunk in [1, 2, 5, 6, 64, bytes.len()] {
            let mut decoder = FrameDecoder::default();
            let mut found = Vec::new();
            for piece in bytes.chunks(chunk) {
                decoder.push(piece);
                while let Some(message) = decoder.next_message().unwrap() {
                    found.push(message.to_vec());
                }
            }
            assert_eq!(found, vec![b"first".to_vec(), Vec::new(), vec![7; 300]], "chunks of {chunk}");
            assert!(!decoder.has_partial());
        }
        let mut compressed = FrameDecoder::default();
        compressed.push(&[1, 0, 0, 0, 0]);
        assert!(compressed.next_message().is_err());
    }

    #[test]
    fn statuses_are_read_from_trailers() {
        let mut trailers = HeaderMap::new();
        trailers.insert("grpc-status", HeaderValue::from_static("5"));
        trailers.insert("grpc-message", HeaderValue::from_static("table%20%22x%22 not found: 100%25"));
        let status = grpc_status(&trailers).unwrap();
        assert_eq!((status.code(), status.message()), (Code::NotFound, "table \"x\" not found: 100%"));
        assert!(grpc_status(&HeaderMap::new()).is_none());
    }

    /// A gRPC body as a server-streaming method sends it: messages then trailers.
    fn grpc_body(chunks: Vec<Vec<u8>>, trailers: HeaderMap) -> tonic::body::Body {
        let frames = chunks
            .into_iter()
            .map(|chunk| Ok::<_, tonic::Status>(http_body::Frame::data(Bytes::from(chunk))))
            .chain(std::iter::once(Ok(http_body::Frame::trailers(trailers))));
        tonic::body::Body::new(StreamBody::new(futures_util::stream::iter(frames)))
    }

    async fn lines_of(body: tonic::body::Body) -> Vec<Value> {
        let pool = super::super::descriptor_pool();
        let output = pool.get_message_by_name("dataportal.v1.Field").unwrap();
        let stream = Lines::new(pool, output, body, None).into_stream();
        let chunks: Vec<Bytes> = stream.map(|line| line.unwrap()).collect().await;
        let text = String::from_utf8(chunks.concat()).unwrap();
        assert!(text.is_empty() || text.ends_with('\n'));
        text.lines().map(|line| serde_json::from_str(line).unwrap()).collect()
    }

    fn field_message(name: &str) -> Vec<u8> {
        let pool = super::super::descriptor_pool();
        let mut message = DynamicMessage::new(pool.get_message_by_name("dataportal.v1.Field").unwrap());
        message.set_field_by_name("name", prost_reflect::Value::String(name.to_owned()));
        message.set_field_by_name("position", prost_reflect::Value::I32(3));
        message.encode_to_vec()
    }

    #[test]
    fn a_response_body_sends_one_field() {
        let pool = super::super::descriptor_pool();
        let list = pool.get_message_by_name("dataportal.v1.ListTablesResponse").unwrap();
        let mut output = DynamicMessage::new(list.clone());
        output.set_field_by_name("total_size", prost_reflect::Value::I32(7));
        assert_eq!(answer_json(&output, None).unwrap(), json!({"totalSize": 7}));
        let field = |name: &str| list.get_field_by_name(name).unwrap();
        assert_eq!(answer_json(&output, Some(&field("total_size"))).unwrap(), json!(7));
        assert_eq!(answer_json(&output, Some(&field("tables"))).unwrap(), json!([]), "unset: its default");
        assert_eq!(answer_json(&output, Some(&field("next_page_token"))).unwrap(), json!(""));
    }

    #[tokio::test]
    async fn a_stream_becomes_one_result_line_per_message() {
        let mut bytes = frame(&field_message("a"));
        bytes.extend(frame(&field_message("b")));
        // The second message is split across chunks, the first shares a chunk with it.
        let (head, tail) = bytes.split_at(bytes.len() - 3);
        let mut ok = HeaderMap::new();
        ok.insert("grpc-status", HeaderValue::from_static("0"));
        let lines = lines_of(grpc_body(vec![head.to_vec(), tail.to_vec()], ok)).await;
        assert_eq!(
            lines,
            vec![
                json!({"result": {"name": "a", "position": 3}}),
                json!({"result": {"name": "b", "position": 3}})
            ]
        );
    }

    #[tokio::test]
    async fn a_failed_stream_ends_with_an_error_line() {
        let mut trailers = HeaderMap::new();
        trailers.insert("grpc-status", HeaderValue::from_static("14"));
        trailers.insert("grpc-message", HeaderValue::from_static("database%20down"));
        let lines = lines_of(grpc_body(vec![frame(&field_message("a"))], trailers)).await;
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["result"]["name"], "a");
        assert_eq!(lines[1]["error"]["code"], 14);
        assert_eq!(lines[1]["error"]["message"], "database down");

        let cut = frame(&field_message("a"));
        let mut ok = HeaderMap::new();
        ok.insert("grpc-status", HeaderValue::from_static("0"));
        let lines = lines_of(grpc_body(vec![cut[..cut.len() - 1].to_vec()], ok)).await;
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0]["error"]["code"], 13, "a message cut short is an error");
    }
}
