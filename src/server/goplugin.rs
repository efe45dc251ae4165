//! go-plugin's side services every plugin process serves: the controller
//! (Shutdown), stdio mirroring and the connection broker.

use std::pin::Pin;

use futures_util::{Stream, StreamExt as _};
use tonic::{Request, Response, Status, Streaming};

use super::proto::plugin::grpc_broker_server::{GrpcBroker, GrpcBrokerServer};
use super::proto::plugin::grpc_controller_server::{GrpcController, GrpcControllerServer};
use super::proto::plugin::grpc_stdio_server::{GrpcStdio, GrpcStdioServer};
use super::proto::plugin::{ConnInfo, Empty, StdioData};
use super::shutdown::ShutdownSignal;

/// A boxed response stream, as the generated streaming traits expect.
type ResponseStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send + 'static>>;

/// A stream that yields nothing and ends once `shutdown` is triggered, so
/// the server's graceful shutdown does not wait on it forever.
fn silent_until<T: Send + 'static>(shutdown: ShutdownSignal) -> ResponseStream<T> {
    Box::pin(futures_util::stream::once(async move { shutdown.triggered().await }).filter_map(|()| async { None }))
}

/// `plugin.GRPCController`: Terraform calls `Shutdown` when it is done with
/// the process.
#[derive(Debug, Clone)]
pub(crate) struct Controller {
    shutdown: ShutdownSignal,
    honour_shutdown: bool,
}

impl Controller {
    /// A controller that stops the server through `shutdown`. With
    /// `honour_shutdown == false` (debug mode, where the process outlives
    /// each Terraform run) the request is only logged.
    pub(crate) fn new(shutdown: ShutdownSignal, honour_shutdown: bool) -> Self {
        Self {
            shutdown,
            honour_shutdown,
        }
    }

    /// The tonic service wrapping this controller.
    pub(crate) fn into_service(self) -> GrpcControllerServer<Self> {
        GrpcControllerServer::new(self)
    }
}

#[tonic::async_trait]
impl GrpcController for Controller {
    async fn shutdown(&self, _request: Request<Empty>) -> Result<Response<Empty>, Status> {
        if self.honour_shutdown {
            tracing::debug!("Terraform requested plugin shutdown");
            // Graceful: the server stops accepting, finishes in-flight calls
            // (this reply included), then `serve` returns.
            self.shutdown.trigger();
        } else {
            tracing::info!("ignoring Terraform's shutdown request in debug mode");
        }
        Ok(Response::new(Empty {}))
    }
}

/// `plugin.GRPCStdio`: this provider never writes plain stdout/stderr for
/// Terraform to mirror (logs go to stderr directly), so the stream stays
/// empty until shutdown.
#[derive(Debug, Clone)]
pub(crate) struct Stdio {
    shutdown: ShutdownSignal,
}

impl Stdio {
    /// A stdio service whose streams end when `shutdown` fires.
    pub(crate) fn new(shutdown: ShutdownSignal) -> Self {
        Self { shutdown }
    }

    /// The tonic service wrapping this implementation.
    pub(crate) fn into_service(self) -> GrpcStdioServer<Self> {
        GrpcStdioServer::new(self)
    }
}

#[tonic::async_trait]
impl GrpcStdio for Stdio {
    type StreamStdioStream = ResponseStream<StdioData>;

    async fn stream_stdio(&self, _request: Request<Empty>) -> Result<Response<Self::StreamStdioStream>, Status> {
        Ok(Response::new(silent_until(self.shutdown.clone())))
    }
}

/// `plugin.GRPCBroker`: Terraform's provider protocol never brokers extra
/// connections, so every stream is refused.
#[derive(Debug, Clone, Default)]
pub(crate) struct Broker;

impl Broker {
    /// The tonic service wrapping this implementation.
    pub(crate) fn into_service(self) -> GrpcBrokerServer<Self> {
        GrpcBrokerServer::new(self)
    }
}

#[tonic::async_trait]
impl GrpcBroker for Broker {
    type StartStreamStream = ResponseStream<ConnInfo>;

    async fn start_stream(
        &self,
        _request: Request<Streaming<ConnInfo>>,
    ) -> Result<Response<Self::StartStreamStream>, Status> {
        Err(Status::unimplemented(
            "the go-plugin connection broker is not used by Terraform plugin protocol 6",
        ))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn shutdown_triggers_the_signal_unless_in_debug_mode() {
        let signal = ShutdownSignal::new();
        Controller::new(signal.clone(), false)
            .shutdown(Request::new(Empty {}))
            .await
            .expect("reply");
        assert!(!signal.is_triggered());

        Controller::new(signal.clone(), true)
            .shutdown(Request::new(Empty {}))
            .await
            .expect("reply");
        assert!(signal.is_triggered());
    }

    #[tokio::test]
    async fn stdio_stream_is_silent_and_ends_at_shutdown() {
        let signal = ShutdownSignal::new();
        let mut stream = Stdio::new(signal.clone())
            .stream_stdio(Request::new(Empty {}))
            .await
            .expect("stream")
            .into_inner();
        let early = tokio::time::timeout(Duration::from_millis(50), stream.next()).await;
        assert!(early.is_err(), "no data before shutdown");
        signal.trigger();
        let end = tokio::time::timeout(Duration::from_secs(1), stream.next())
            .await
            .expect("stream ends after shutdown");
        assert!(end.is_none());
    }
}
