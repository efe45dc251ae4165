//! The proxy loop: a loopback listener, one thread per client connection, one upstream
//! connection per forwarded request.

use std::collections::HashMap;
use std::io::{self, BufReader};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use super::http::{self, Head, Message};
use super::rules::{Call, Fault, FaultPlan, FaultStats, Selector};

/// How long the proxy waits for the emulator's answer before giving up on a request.
const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(300);

/// State shared by the accept loop, the connection threads and the handle.
#[derive(Debug)]
struct Shared {
    upstream: SocketAddr,
    selector: Mutex<Selector>,
    enabled: AtomicBool,
    stopping: AtomicBool,
    /// Open client connections (clones), shut down when the proxy stops.
    clients: Mutex<HashMap<u64, TcpStream>>,
    next_id: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panicking connection thread must not take the proxy down with it.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A fault-injecting HTTP/1.1 proxy on `127.0.0.1:<free port>` in front of an AWS
/// endpoint (the emulator). Stops, closing every client connection, when dropped.
///
/// ```ignore
/// let emulator = Emulator::start();
/// let plan = FaultPlan::seeded(7).rule(Rule::new(Fault::Throttle).service("dynamodb").probability(0.2));
/// let proxy = FaultProxy::start(emulator.addr(), plan);
/// // point the SDK (or Terraform's provider) at proxy.endpoint()
/// println!("{}", proxy.stats().summary());
/// ```
#[derive(Debug)]
pub struct FaultProxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: Option<JoinHandle<()>>,
}

impl FaultProxy {
    /// Starts a proxy forwarding to `upstream` and injecting faults by `plan`.
    ///
    /// Panics when no loopback port can be bound (a broken test machine).
    pub fn start(upstream: SocketAddr, plan: FaultPlan) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("cannot bind a loopback port for the fault proxy");
        let addr = listener.local_addr().expect("a bound listener has an address");
        let shared = Arc::new(Shared {
            upstream,
            selector: Mutex::new(Selector::new(plan)),
            enabled: AtomicBool::new(true),
            stopping: AtomicBool::new(false),
            clients: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(0),
        });
        let accept_shared = shared.clone();
        let accept = std::thread::Builder::new()
            .name("fault-proxy-accept".into())
            .spawn(move || accept_loop(listener, accept_shared))
            .expect("cannot spawn the fault proxy thread");
        FaultProxy {
            addr,
            shared,
            accept: Some(accept),
        }
    }

    /// The proxy's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`, the endpoint URL to give clients.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Turns injection on or off (requests are still counted; rules keep their place).
    pub fn set_enabled(&self, enabled: bool) {
        self.shared.enabled.store(enabled, Ordering::SeqCst);
    }

    /// A snapshot of what the proxy saw and injected so far.
    pub fn stats(&self) -> FaultStats {
        lock(&self.shared.selector).stats().clone()
    }

    /// Environment variables pointing an AWS SDK (or the provider) at the proxy, with dummy
    /// credentials.
    pub fn aws_env(&self) -> Vec<(&'static str, String)> {
        crate::aws_env_for(&self.endpoint())
    }

    /// An SDK configuration pointing every client at the proxy with dummy credentials and
    /// the SDK's default retry policy.
    pub async fn sdk_config(&self) -> aws_config::SdkConfig {
        crate::sdk_config_for(&self.endpoint()).await
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.shared.stopping.store(true, Ordering::SeqCst);
        // Wake the accept loop.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(accept) = self.accept.take() {
            let _ = accept.join();
        }
        for (_, client) in lock(&self.shared.clients).drain() {
            let _ = client.shutdown(Shutdown::Both);
        }
    }
}

fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    for stream in listener.incoming() {
        if shared.stopping.load(Ordering::SeqCst) {
            return;
        }
        let Ok(stream) = stream else { continue };
        let id = shared.next_id.fetch_add(1, Ordering::SeqCst);
        if let Ok(clone) = stream.try_clone() {
            lock(&shared.clients).insert(id, clone);
        }
        let conn_shared = shared.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("fault-proxy-{id}"))
            .spawn(move || {
                let _ = serve(stream, &conn_shared);
                lock(&conn_shared.clients).remove(&id);
            });
        if spawned.is_err() {
            lock(&shared.clients).remove(&id);
        }
    }
}

/// Serves one client connection until it closes or a fault closes it.
fn serve(client: TcpStream, shared: &Shared) -> io::Result<()> {
    client.set_nodelay(true)?;
    let mut reader = BufReader::new(client.try_clone()?);
    let mut writer = client;
    while let Some(request) = http::read_request(&mut reader)? {
        let call = Call::of(&request);
        let fault = lock(&shared.selector).decide_request(&call, &request.body, shared.enabled.load(Ordering::SeqCst));
        let method = request.head.method().to_string();
        let response = match fault {
            None => forward(shared.upstream, &request),
            Some(Fault::Delay(d)) => {
                std::thread::sleep(d);
                forward(shared.upstream, &request)
            }
            Some(Fault::ResetBeforeForward) => {
                let _ = writer.shutdown(Shutdown::Both);
                return Ok(());
            }
            Some(Fault::ResetAfterForward) => {
                // The emulator applies the request; its answer never reaches the client.
                let _ = forward(shared.upstream, &request);
                let _ = writer.shutdown(Shutdown::Both);
                return Ok(());
            }
            Some(fault @ (Fault::Throttle | Fault::ProvisionedThroughputExceeded | Fault::Status(_))) => {
                Ok(error_response(&call, fault))
            }
        };
        let response = response.unwrap_or_else(|e| bad_gateway(&e));
        let bodyless = http::is_bodyless(&method, response.head.status());
        let close = request.head.wants_close();
        response.write_to(&mut writer, bodyless)?;
        if close {
            let _ = writer.shutdown(Shutdown::Both);
            return Ok(());
        }
    }
    Ok(())
}

/// Sends `request` to `upstream` on a fresh connection and reads the answer. A fresh
/// connection per request means a stale keep-alive connection can never make the proxy
/// wonder whether the emulator saw a request.
fn forward(upstream: SocketAddr, request: &Message) -> io::Result<Message> {
    let mut stream = TcpStream::connect_timeout(&upstream, Duration::from_secs(10))?;
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(UPSTREAM_TIMEOUT))?;
    let mut outgoing = request.clone();
    outgoing.head.set_header("Connection", "close");
    outgoing.write_to(&mut stream, false)?;
    let mut reader = BufReader::new(stream);
    let mut response = http::read_response(&mut reader, request.head.method())?;
    // The client's connection stays open whatever the upstream one does.
    response.head.remove_header("connection");
    response.head.remove_header("keep-alive");
    response.closed_by_sender = false;
    Ok(response)
}

fn bad_gateway(e: &io::Error) -> Message {
    plain_response(
        502,
        "Bad Gateway",
        "text/plain",
        format!("fault proxy: emulator unreachable: {e}"),
    )
}

fn plain_response(status: u16, reason: &str, content_type: &str, body: String) -> Message {
    Message {
        head: Head {
            start_line: format!("HTTP/1.1 {status} {reason}"),
            headers: vec![
                ("Content-Type".into(), content_type.into()),
                ("x-amzn-RequestId".into(), "fault-proxy".into()),
            ],
        },
        body: body.into_bytes(),
        closed_by_sender: false,
    }
}

/// The error a real service would send for an injected throttle or status: the JSON
/// protocol's `__type` (plus `x-amzn-ErrorType`) or the query protocol's XML.
fn error_response(call: &Call, fault: Fault) -> Message {
    let (status, reason, json_type, query_code, message) = match fault {
        Fault::ProvisionedThroughputExceeded => (
            400,
            "Bad Request",
            "ProvisionedThroughputExceededException",
            "Throttling",
            "The level of configured provisioned throughput for the table was exceeded.",
        ),
        Fault::Status(500) => (
            500,
            "Internal Server Error",
            "InternalServerError",
            "ServiceFailure",
            "injected",
        ),
        Fault::Status(503) => (
            503,
            "Service Unavailable",
            "ServiceUnavailable",
            "ServiceUnavailable",
            "injected",
        ),
        Fault::Status(code) => (code, "Injected", "InternalFailure", "InternalFailure", "injected"),
        _ => (
            400,
            "Bad Request",
            "ThrottlingException",
            "Throttling",
            "Rate of requests exceeds the allowed throughput.",
        ),
    };
    if call.json {
        let error_type = format!("com.amazonaws.dynamodb.v20120810#{json_type}");
        let mut msg = plain_response(
            status,
            reason,
            "application/x-amz-json-1.0",
            format!(r#"{{"__type":"{error_type}","message":"{message}"}}"#),
        );
        msg.head.headers.push(("x-amzn-ErrorType".into(), error_type));
        msg
    } else {
        let kind = if status >= 500 { "Receiver" } else { "Sender" };
        plain_response(
            status,
            reason,
            "text/xml",
            format!(
                "<ErrorResponse><Error><Type>{kind}</Type><Code>{query_code}</Code><Message>{message}</Message>\
                 </Error><RequestId>fault-proxy</RequestId></ErrorResponse>"
            ),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(json: bool) -> Call {
        Call {
            service: if json { "dynamodb" } else { "iam" }.into(),
            operation: "X".into(),
            json,
        }
    }

    #[test]
    fn error_bodies_follow_the_service_protocol() {
        let dynamo = error_response(&call(true), Fault::Throttle);
        assert_eq!(dynamo.head.status(), 400);
        let body = String::from_utf8(dynamo.body.clone()).unwrap();
        assert!(
            body.contains(r#""__type":"com.amazonaws.dynamodb.v20120810#ThrottlingException""#),
            "{body}"
        );
        let pte = error_response(&call(true), Fault::ProvisionedThroughputExceeded);
        assert!(
            pte.head
                .header("x-amzn-errortype")
                .unwrap()
                .ends_with("#ProvisionedThroughputExceededException")
        );
        let iam = error_response(&call(false), Fault::Throttle);
        let body = String::from_utf8(iam.body.clone()).unwrap();
        assert!(body.contains("<Code>Throttling</Code>"), "{body}");
        let unavailable = error_response(&call(false), Fault::Status(503));
        assert_eq!(unavailable.head.status(), 503);
        assert!(
            String::from_utf8(unavailable.body)
                .unwrap()
                .contains("<Type>Receiver</Type>")
        );
        assert_eq!(error_response(&call(true), Fault::Status(500)).head.status(), 500);
    }
}
