//! `ReadStateBytes`: streams a stored state in chunks. This provider has no state stores, so
//! the stream carries one chunk whose diagnostics hold the error.

use tonic::Status;

use crate::server::proto::tfplugin6 as pb;
use pb::read_state_bytes::{Request, Response};

use super::support;

/// The response stream: a single chunk.
pub(crate) type ChunkStream = tokio_stream::Once<Result<Response, Status>>;

/// Refuses the read.
#[tracing::instrument(level = "debug", name = "ReadStateBytes", skip_all, fields(type_name = %req.type_name))]
pub(super) fn handle(req: Request) -> ChunkStream {
    let diagnostics = support::unsupported("State stores", "ReadStateBytes", &req.type_name);
    tokio_stream::once(Ok(Response {
        diagnostics,
        ..Response::default()
    }))
}

#[cfg(test)]
mod tests {
    use tokio_stream::StreamExt;

    use super::*;

    #[tokio::test]
    async fn streams_one_chunk_with_the_error() {
        let mut stream = handle(Request {
            type_name: "zae_s".into(),
            state_id: "default".into(),
        });
        let chunk = stream.next().await.expect("one chunk").expect("not a gRPC error");
        assert_eq!(chunk.diagnostics[0].summary, "State stores not supported");
        assert!(stream.next().await.is_none());
    }
}
