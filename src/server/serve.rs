//! The gRPC server: route table, accept loops and the plugin-mode start-up
//! sequence (environment check, AutoMTLS, listen, handshake line, serve).

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::time::Duration;

use futures_util::Stream;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::server::TlsStream;
use tokio_stream::wrappers::ReceiverStream;
use tonic::service::Routes;
use tonic::transport::Server;
use tonic::transport::server::Connected;

use super::goplugin::{Broker, Controller, Stdio};
use super::handshake::{self, ListenAddr, PluginEnv};
use super::health::HealthService;
use super::logging::{self, LogFormat};
use super::shutdown::ShutdownSignal;
use super::tls::AutoMtls;
use super::{ProviderService, ServeError, ServeOptions};

/// After shutdown starts, how long open connections get to close before
/// `serve` returns anyway. Terraform kills the process after 2 s.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(1);
/// A client that has not finished the TLS handshake by then is dropped.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Pause after a failed `accept` (e.g. out of file descriptors).
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);
/// Connections waiting to be picked up by the server.
const INCOMING_QUEUE: usize = 16;

/// Plugin mode: the process was launched by Terraform.
pub(crate) async fn serve_plugin(provider: ProviderService, options: ServeOptions) -> Result<(), ServeError> {
    // Before anything else, so a human running the binary gets the plain
    // "this is a plugin" message and nothing more.
    let env = PluginEnv::from_process_env()?;
    if let Err(err) = logging::init_logging(LogFormat::HcLogJson) {
        tracing::debug!(error = %err, "keeping the already installed logger");
    }
    let tls = env
        .client_cert_pem
        .as_deref()
        .map(AutoMtls::from_client_pem)
        .transpose()?;
    ignore_interrupts()?;

    let listener = bind_loopback().await?;
    let addr = ListenAddr::Tcp(listener.local_addr().map_err(|source| ServeError::Listen {
        address: "127.0.0.1:0".to_owned(),
        source,
    })?);
    let line = handshake::handshake_line(&addr, tls.as_ref().map(AutoMtls::server_cert_der));
    tracing::debug!(address = %addr, tls = tls.is_some(), "plugin server listening");
    handshake::announce(&line).map_err(ServeError::Announce)?;

    let shutdown = options.shutdown.clone();
    let routes = routes(provider, &shutdown, true);
    serve_tcp(routes, listener, tls, shutdown).await
}

/// Binds a TCP listener on an ephemeral loopback port. Terraform accepts any
/// port, so `PLUGIN_MIN_PORT` / `PLUGIN_MAX_PORT` are not needed.
pub(crate) async fn bind_loopback() -> Result<TcpListener, ServeError> {
    let address = "127.0.0.1:0";
    TcpListener::bind(address).await.map_err(|source| ServeError::Listen {
        address: address.to_owned(),
        source,
    })
}

/// The route table: the provider plus go-plugin's side services.
///
/// `honour_shutdown` controls whether `GRPCController.Shutdown` stops the
/// server (plugin mode) or is only logged (debug mode).
pub(crate) fn routes(provider: ProviderService, shutdown: &ShutdownSignal, honour_shutdown: bool) -> Routes {
    provider
        .into_routes()
        .add_service(Controller::new(shutdown.clone(), honour_shutdown).into_service())
        .add_service(Stdio::new(shutdown.clone()).into_service())
        .add_service(Broker.into_service())
        .add_service(HealthService::new(shutdown.clone()).into_service())
}

/// Serves `routes` on `listener` until `shutdown` fires, over TLS when `tls`
/// is given.
pub(crate) async fn serve_tcp(
    routes: Routes,
    listener: TcpListener,
    tls: Option<AutoMtls>,
    shutdown: ShutdownSignal,
) -> Result<(), ServeError> {
    match tls {
        Some(tls) => {
            let incoming = spawn_accept_loop(listener, tls_upgrade(tls), shutdown.clone());
            run(routes, incoming, shutdown).await
        }
        None => {
            let incoming = spawn_accept_loop(listener, |stream| async { Some(stream) }, shutdown.clone());
            run(routes, incoming, shutdown).await
        }
    }
}

/// Runs the gRPC server on already accepted connections until `shutdown`
/// fires, then waits at most [`SHUTDOWN_GRACE`] for connections to close.
pub(crate) async fn run<I, IO>(routes: Routes, incoming: I, shutdown: ShutdownSignal) -> Result<(), ServeError>
where
    I: Stream<Item = io::Result<IO>>,
    IO: AsyncRead + AsyncWrite + Connected + Unpin + Send + 'static,
{
    let signal = shutdown.clone();
    let server = Server::builder()
        .add_routes(routes)
        .serve_with_incoming_shutdown(incoming, async move { signal.triggered().await });
    let deadline = async {
        shutdown.triggered().await;
        tokio::time::sleep(SHUTDOWN_GRACE).await;
    };
    tokio::select! {
        result = server => {
            tracing::debug!("plugin server stopped");
            result.map_err(ServeError::Transport)
        }
        () = deadline => {
            tracing::warn!(
                grace = ?SHUTDOWN_GRACE,
                "connections still open after shutdown; stopping anyway"
            );
            Ok(())
        }
    }
}

/// A listening socket the accept loop can take connections from.
pub(crate) trait Listener: Send + 'static {
    /// The accepted connection type.
    type Conn: Send + 'static;

    /// Accepts one connection, prepared for serving.
    fn accept_conn(&self) -> impl Future<Output = io::Result<Self::Conn>> + Send;
}

impl Listener for TcpListener {
    type Conn = TcpStream;

    async fn accept_conn(&self) -> io::Result<TcpStream> {
        let (stream, _peer) = self.accept().await?;
        prepare_tcp(&stream);
        Ok(stream)
    }
}

#[cfg(unix)]
impl Listener for tokio::net::UnixListener {
    type Conn = tokio::net::UnixStream;

    async fn accept_conn(&self) -> io::Result<tokio::net::UnixStream> {
        let (stream, _peer) = self.accept().await?;
        Ok(stream)
    }
}

/// Turns off Nagle's algorithm. Without it, Nagle plus the peer's delayed
/// ACK add about 40 ms to every RPC.
fn prepare_tcp(stream: &TcpStream) {
    if let Err(err) = stream.set_nodelay(true) {
        tracing::warn!(error = %err, "could not set TCP_NODELAY; RPCs will be slow");
    }
}

/// A boxed connection upgrade (e.g. a TLS handshake) yielding a ready stream.
type Upgrading<S> = Pin<Box<dyn Future<Output = Option<S>> + Send>>;

/// The per-connection TLS handshake, with a timeout. Failures are logged and
/// the connection dropped.
fn tls_upgrade(tls: AutoMtls) -> impl Fn(TcpStream) -> Upgrading<TlsStream<TcpStream>> + Clone + Send + 'static {
    move |stream| {
        let acceptor = tls.acceptor().clone();
        Box::pin(async move {
            match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                Ok(Ok(tls_stream)) => Some(tls_stream),
                Ok(Err(err)) => {
                    tracing::warn!(error = %err, "TLS handshake with the client failed");
                    None
                }
                Err(_elapsed) => {
                    tracing::warn!(timeout = ?TLS_HANDSHAKE_TIMEOUT, "TLS handshake timed out");
                    None
                }
            }
        })
    }
}

/// Accepts connections in a background task, upgrades each one in its own
/// task (e.g. the TLS handshake) and queues the ready ones for the server.
///
/// The loop ends when `shutdown` fires or the server drops the stream.
pub(crate) fn spawn_accept_loop<L, S, F, Fut>(
    listener: L,
    upgrade: F,
    shutdown: ShutdownSignal,
) -> ReceiverStream<io::Result<S>>
where
    L: Listener,
    S: Send + 'static,
    F: Fn(L::Conn) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = Option<S>> + Send + 'static,
{
    let (sender, receiver) = mpsc::channel(INCOMING_QUEUE);
    tokio::spawn(async move {
        loop {
            let accepted = tokio::select! {
                () = shutdown.triggered() => break,
                () = sender.closed() => break,
                accepted = listener.accept_conn() => accepted,
            };
            match accepted {
                Ok(conn) => {
                    let sender = sender.clone();
                    let upgrade = upgrade.clone();
                    tokio::spawn(async move {
                        if let Some(ready) = upgrade(conn).await {
                            // The server may already be gone; nothing to do then.
                            let _ = sender.send(Ok(ready)).await;
                        }
                    });
                }
                Err(err) => {
                    tracing::warn!(error = %err, "failed to accept a connection");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                }
            }
        }
        tracing::trace!("accept loop stopped");
    });
    ReceiverStream::new(receiver)
}

/// Makes SIGINT harmless, as go-plugin servers do: Ctrl-C reaches the whole
/// process group, and Terraform handles it by calling `StopProvider`.
#[cfg(unix)]
fn ignore_interrupts() -> Result<(), ServeError> {
    use tokio::signal::unix::{SignalKind, signal};

    let mut interrupts = signal(SignalKind::interrupt()).map_err(ServeError::Signal)?;
    tokio::spawn(async move {
        while interrupts.recv().await.is_some() {
            tracing::debug!("ignoring SIGINT; Terraform will send StopProvider");
        }
    });
    Ok(())
}

/// On other platforms Terraform stops the plugin itself.
#[cfg(not(unix))]
fn ignore_interrupts() -> Result<(), ServeError> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use bytes::{Buf as _, BufMut as _, Bytes, BytesMut};
    use prost::Message as _;

    use super::super::proto::health::health_check_response::ServingStatus;
    use super::super::proto::health::{HealthCheckRequest, HealthCheckResponse};
    use super::super::proto::plugin::Empty;
    use super::super::proto::plugin::grpc_broker_server::GrpcBrokerServer;
    use super::super::tls::test_support::{ClientIdentity, connect};
    use super::*;

    /// A provider stand-in registered as `tfplugin6.Provider` that answers
    /// every call with `Unimplemented` (it delegates to the broker service,
    /// which knows none of the provider's paths).
    #[derive(Clone)]
    struct StandInProvider(GrpcBrokerServer<Broker>);

    impl tonic::server::NamedService for StandInProvider {
        const NAME: &'static str = "tfplugin6.Provider";
    }

    impl tonic::codegen::Service<http::Request<tonic::body::Body>> for StandInProvider {
        type Response = http::Response<tonic::body::Body>;
        type Error = std::convert::Infallible;
        type Future = <GrpcBrokerServer<Broker> as tonic::codegen::Service<http::Request<tonic::body::Body>>>::Future;

        fn poll_ready(&mut self, cx: &mut std::task::Context<'_>) -> std::task::Poll<Result<(), Self::Error>> {
            tonic::codegen::Service::<http::Request<tonic::body::Body>>::poll_ready(&mut self.0, cx)
        }

        fn call(&mut self, request: http::Request<tonic::body::Body>) -> Self::Future {
            tonic::codegen::Service::<http::Request<tonic::body::Body>>::call(&mut self.0, request)
        }
    }

    fn test_provider() -> ProviderService {
        ProviderService::from_service(StandInProvider(Broker.into_service()))
    }

    /// Frames a protobuf message as a gRPC message (no compression).
    fn grpc_frame(message: &impl prost::Message) -> Bytes {
        let body = message.encode_to_vec();
        let mut framed = BytesMut::with_capacity(5 + body.len());
        framed.put_u8(0);
        framed.put_u32(u32::try_from(body.len()).expect("small message"));
        framed.put_slice(&body);
        framed.freeze()
    }

    /// A bare HTTP/2 gRPC unary call; returns the grpc-status and the reply.
    async fn unary_call<IO>(io: IO, path: &str, request: &impl prost::Message) -> Result<(String, Bytes), h2::Error>
    where
        IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let (mut client, connection) = h2::client::handshake(io).await?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        let http_request = http::Request::post(format!("http://localhost{path}"))
            .header("content-type", "application/grpc")
            .header("te", "trailers")
            .body(())
            .expect("request");
        let (response, mut send) = client.send_request(http_request, false)?;
        send.send_data(grpc_frame(request), true)?;
        let response = response.await?;
        // Errors may come "trailers-only": grpc-status in the headers.
        let header_status = response.headers().get("grpc-status").cloned();
        let mut body = response.into_body();
        let mut data = BytesMut::new();
        while let Some(chunk) = body.data().await {
            let chunk = chunk?;
            let _ = body.flow_control().release_capacity(chunk.len());
            data.extend_from_slice(&chunk);
        }
        let trailer_status = body.trailers().await?.and_then(|t| t.get("grpc-status").cloned());
        let status = header_status
            .or(trailer_status)
            .map(|v| v.to_str().unwrap_or("?").to_owned())
            .unwrap_or_default();
        let mut data = data.freeze();
        if data.len() >= 5 {
            data.advance(5);
        }
        Ok((status, data))
    }

    async fn start_tls_server(
        identity: &ClientIdentity,
    ) -> (
        SocketAddr,
        Vec<u8>,
        ShutdownSignal,
        tokio::task::JoinHandle<Result<(), ServeError>>,
    ) {
        let tls = AutoMtls::from_client_pem(&identity.pem).expect("AutoMTLS");
        let server_cert = tls.server_cert_der().to_vec();
        let shutdown = ShutdownSignal::new();
        let listener = bind_loopback().await.expect("bind");
        let addr = listener.local_addr().expect("local addr");
        let routes = routes(test_provider(), &shutdown, true);
        let server = tokio::spawn(serve_tcp(routes, listener, Some(tls), shutdown.clone()));
        (addr, server_cert, shutdown, server)
    }

    #[tokio::test]
    async fn automtls_with_p521_client_serves_grpc_and_shuts_down() {
        let identity = ClientIdentity::generate_p521();
        let (addr, server_cert, shutdown, server) = start_tls_server(&identity).await;

        let stream = connect(addr, &server_cert, &identity)
            .await
            .expect("TLS handshake with a P-521 client certificate");
        assert_eq!(stream.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
        let (status, reply) = unary_call(
            stream,
            "/grpc.health.v1.Health/Check",
            &HealthCheckRequest {
                service: "plugin".to_owned(),
            },
        )
        .await
        .expect("health check over AutoMTLS");
        assert_eq!(status, "0");
        let reply = HealthCheckResponse::decode(reply).expect("health reply");
        assert_eq!(reply.status, ServingStatus::Serving as i32);

        let stream = connect(addr, &server_cert, &identity).await.expect("TLS");
        let (status, _) = unary_call(stream, "/plugin.GRPCController/Shutdown", &Empty {})
            .await
            .expect("shutdown call");
        assert_eq!(status, "0");
        assert!(shutdown.is_triggered());
        tokio::time::timeout(Duration::from_secs(3), server)
            .await
            .expect("server stops promptly after Shutdown")
            .expect("server task")
            .expect("clean exit");
    }

    #[tokio::test]
    async fn automtls_rejects_a_client_with_another_certificate() {
        let identity = ClientIdentity::generate_p521();
        let stranger = ClientIdentity::generate_p521();
        let (addr, server_cert, shutdown, server) = start_tls_server(&identity).await;

        // TLS 1.3 lets the client finish first; the rejection arrives as an
        // alert on the first exchange, so a gRPC call must fail.
        let outcome = match connect(addr, &server_cert, &stranger).await {
            Err(_) => None,
            Ok(stream) => {
                Some(unary_call(stream, "/grpc.health.v1.Health/Check", &HealthCheckRequest::default()).await)
            }
        };
        assert!(
            matches!(outcome, None | Some(Err(_))),
            "a foreign client certificate must not get an answer: {outcome:?}"
        );

        shutdown.trigger();
        tokio::time::timeout(Duration::from_secs(3), server)
            .await
            .expect("server stops")
            .expect("server task")
            .expect("clean exit");
    }

    #[tokio::test]
    async fn plaintext_server_answers_and_broker_is_unimplemented() {
        let shutdown = ShutdownSignal::new();
        let listener = bind_loopback().await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let routes = routes(test_provider(), &shutdown, true);
        let server = tokio::spawn(serve_tcp(routes, listener, None, shutdown.clone()));

        let stream = TcpStream::connect(addr).await.expect("connect");
        let (status, _) = unary_call(stream, "/grpc.health.v1.Health/Check", &HealthCheckRequest::default())
            .await
            .expect("plaintext call");
        assert_eq!(status, "0");

        let unimplemented = (tonic::Code::Unimplemented as i32).to_string();
        for path in [
            "/plugin.GRPCBroker/StartStream",
            "/tfplugin6.Provider/GetProviderSchema",
        ] {
            let stream = TcpStream::connect(addr).await.expect("connect");
            let (status, _) = unary_call(stream, path, &Empty {}).await.expect("call completes");
            assert_eq!(status, unimplemented, "{path}");
        }

        shutdown.trigger();
        tokio::time::timeout(Duration::from_secs(3), server)
            .await
            .expect("server stops")
            .expect("server task")
            .expect("clean exit");
    }

    #[tokio::test]
    async fn accepted_tcp_sockets_have_nodelay() {
        let listener = bind_loopback().await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let client = tokio::spawn(TcpStream::connect(addr));
        let accepted = listener.accept_conn().await.expect("accept");
        assert!(accepted.nodelay().expect("nodelay readable"));
        drop(client.await);
    }
}
