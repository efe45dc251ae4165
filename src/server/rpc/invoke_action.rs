//! `InvokeAction`: runs an action, streaming progress. This provider has no actions, so the
//! stream carries one "completed" event whose diagnostics hold the error.

use tonic::Status;

use crate::server::proto::tfplugin6 as pb;
use pb::invoke_action::event::{Completed, Type};
use pb::invoke_action::{Event, Request};

use super::support;

/// The response stream: a single event.
pub(crate) type EventStream = tokio_stream::Once<Result<Event, Status>>;

/// Refuses the invocation.
#[tracing::instrument(level = "debug", name = "InvokeAction", skip_all, fields(type_name = %req.action_type))]
pub(super) fn handle(req: Request) -> EventStream {
    let diagnostics = support::unsupported("Actions", "InvokeAction", &req.action_type);
    tokio_stream::once(Ok(Event {
        r#type: Some(Type::Completed(Completed { diagnostics })),
    }))
}

#[cfg(test)]
mod tests {
    use tokio_stream::StreamExt;

    use super::*;

    #[tokio::test]
    async fn streams_one_completed_event_with_the_error() {
        let mut stream = handle(Request {
            action_type: "zae_a".into(),
            ..Request::default()
        });
        let event = stream.next().await.expect("one event").expect("not a gRPC error");
        let Some(Type::Completed(done)) = event.r#type else {
            panic!("expected a completed event")
        };
        assert_eq!(done.diagnostics[0].summary, "Actions not supported");
        assert!(stream.next().await.is_none());
    }
}
