//! `ListResource`: streams the objects of a list block (`terraform query`). This provider has
//! no list resources, so the stream carries one event whose diagnostics hold the error.

use tonic::Status;

use crate::server::proto::tfplugin6 as pb;
use pb::list_resource::{Event, Request};

use super::support;

/// The response stream: a single event.
pub(crate) type EventStream = tokio_stream::Once<Result<Event, Status>>;

/// Refuses the listing.
#[tracing::instrument(level = "debug", name = "ListResource", skip_all, fields(type_name = %req.type_name))]
pub(super) fn handle(req: Request) -> EventStream {
    let diagnostic = support::unsupported("List resources", "ListResource", &req.type_name);
    tokio_stream::once(Ok(Event {
        diagnostic,
        ..Event::default()
    }))
}

#[cfg(test)]
mod tests {
    use tokio_stream::StreamExt;

    use super::*;

    #[tokio::test]
    async fn streams_one_event_with_the_error() {
        let mut stream = handle(Request {
            type_name: "zae_x".into(),
            ..Request::default()
        });
        let event = stream.next().await.expect("one event").expect("not a gRPC error");
        assert_eq!(event.diagnostic[0].summary, "List resources not supported");
        assert!(event.resource_object.is_none());
        assert!(stream.next().await.is_none());
    }
}
