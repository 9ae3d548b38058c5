//! Counts and times every RPC for `/metrics`.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

/// Records `dataportal_rpc_requests_total` and `dataportal_rpc_duration_seconds` per method.
#[derive(Debug, Clone, Copy, Default)]
pub struct RpcMetricsLayer;

impl<S> tower::Layer<S> for RpcMetricsLayer {
    type Service = RpcMetrics<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RpcMetrics { inner }
    }
}

/// The service [`RpcMetricsLayer`] wraps around the server.
#[derive(Debug, Clone)]
pub struct RpcMetrics<S> {
    inner: S,
}

impl<S, B, R> tower::Service<http::Request<B>> for RpcMetrics<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<R>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let method = request.uri().path().to_owned();
        let started = Instant::now();
        let answer = self.inner.call(request);
        Box::pin(async move {
            let response = answer.await?;
            // A failed call answers with its status in the headers (a trailers-only response);
            // a successful unary call has finished by the time its headers are sent, and its
            // status (OK) follows in the trailers. Streams are timed to their first answer.
            let code = response
                .headers()
                .get("grpc-status")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<i32>().ok())
                .unwrap_or(0);
            let code = format!("{:?}", tonic::Code::from_i32(code));
            let labels = [("method", method.as_str()), ("transport", "grpc")];
            crate::metrics::count(
                "dataportal_rpc_requests_total",
                &[labels[0], labels[1], ("code", &code)],
                1,
            );
            crate::metrics::observe("dataportal_rpc_duration_seconds", &labels, started.elapsed());
            Ok(response)
        })
    }
}
