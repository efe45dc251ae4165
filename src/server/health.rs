//! `grpc.health.v1.Health`, which go-plugin clients use to ping the plugin.

use std::pin::Pin;

use futures_util::{Stream, StreamExt as _};
use tonic::{Request, Response, Status};

use super::proto::health::health_check_response::ServingStatus;
use super::proto::health::health_server::{Health, HealthServer};
use super::proto::health::{HealthCheckRequest, HealthCheckResponse};
use super::shutdown::ShutdownSignal;

/// Service names reported as serving: the whole server ("") and go-plugin's
/// conventional "plugin".
const SERVED: [&str; 2] = ["", "plugin"];

/// The health service: always `SERVING` for [`SERVED`] names.
#[derive(Debug, Clone)]
pub(crate) struct HealthService {
    shutdown: ShutdownSignal,
}

impl HealthService {
    /// A health service whose `Watch` streams end when `shutdown` fires.
    pub(crate) fn new(shutdown: ShutdownSignal) -> Self {
        Self { shutdown }
    }

    /// The tonic service wrapping this implementation.
    pub(crate) fn into_service(self) -> HealthServer<Self> {
        HealthServer::new(self)
    }
}

fn status_of(service: &str) -> Option<ServingStatus> {
    SERVED.contains(&service).then_some(ServingStatus::Serving)
}

fn response(status: ServingStatus) -> HealthCheckResponse {
    HealthCheckResponse { status: status.into() }
}

#[tonic::async_trait]
impl Health for HealthService {
    async fn check(&self, request: Request<HealthCheckRequest>) -> Result<Response<HealthCheckResponse>, Status> {
        let service = request.into_inner().service;
        match status_of(&service) {
            Some(status) => Ok(Response::new(response(status))),
            None => Err(Status::not_found(format!("unknown service `{service}`"))),
        }
    }

    type WatchStream = Pin<Box<dyn Stream<Item = Result<HealthCheckResponse, Status>> + Send>>;

    async fn watch(&self, request: Request<HealthCheckRequest>) -> Result<Response<Self::WatchStream>, Status> {
        let service = request.into_inner().service;
        let status = status_of(&service).unwrap_or(ServingStatus::ServiceUnknown);
        let shutdown = self.shutdown.clone();
        // Report the (constant) status once, then stay open until shutdown.
        let first = futures_util::stream::once(async move { Ok(response(status)) });
        let rest =
            futures_util::stream::once(async move { shutdown.triggered().await }).filter_map(|()| async { None });
        Ok(Response::new(Box::pin(first.chain(rest))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn check(service: &str) -> Result<i32, Status> {
        HealthService::new(ShutdownSignal::new())
            .check(Request::new(HealthCheckRequest {
                service: service.to_owned(),
            }))
            .await
            .map(|r| r.into_inner().status)
    }

    #[tokio::test]
    async fn plugin_and_server_are_serving_others_not_found() {
        assert_eq!(check("").await.expect("ok"), ServingStatus::Serving as i32);
        assert_eq!(check("plugin").await.expect("ok"), ServingStatus::Serving as i32);
        let err = check("other").await.expect_err("unknown");
        assert_eq!(err.code(), tonic::Code::NotFound);
    }

    #[tokio::test]
    async fn watch_reports_once_then_ends_at_shutdown() {
        let signal = ShutdownSignal::new();
        let mut stream = HealthService::new(signal.clone())
            .watch(Request::new(HealthCheckRequest {
                service: "plugin".to_owned(),
            }))
            .await
            .expect("stream")
            .into_inner();
        let first = stream.next().await.expect("one item").expect("ok");
        assert_eq!(first.status, ServingStatus::Serving as i32);
        signal.trigger();
        assert!(stream.next().await.is_none());
    }
}
