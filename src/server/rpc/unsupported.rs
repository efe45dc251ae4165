//! The RPCs of features this provider does not offer: state stores, ephemeral resources,
//! actions, list resources (`terraform query`), moving resource state across types, and
//! provider functions.
//!
//! Each is refused with one error diagnostic, never a gRPC error, built by
//! [`support::unsupported`] from the feature (`"State stores"` gives the summary
//! "State stores not supported") and the RPC name. The plain request/response RPCs are one
//! row each of the `refusals!` table; the few whose shape differs (a streamed answer, a
//! client stream, a move between two types, a function error) are written out below it.

use tonic::Status;

use crate::server::proto::tfplugin6 as pb;

use super::support;

/// Defines one refusing handler per row. Each row names the handler, the protobuf module of
/// its request and response, the request field naming the type (logged, and quoted in the
/// detail), then the feature and the RPC name:
///
/// ```text
/// lock_state(lock_state, type_name) => ("State stores", "LockState");
/// ```
///
/// defines `fn lock_state(pb::lock_state::Request) -> pb::lock_state::Response` answering
/// `support::unsupported("State stores", "LockState", &req.type_name)`.
macro_rules! refusals {
    ($(
        $(#[$doc:meta])*
        $handler:ident($module:ident, $field:ident) => ($feature:literal, $rpc:literal);
    )*) => {$(
        $(#[$doc])*
        #[tracing::instrument(level = "debug", name = $rpc, skip_all, fields(type_name = %req.$field))]
        #[allow(clippy::needless_update, reason = "only some responses have fields besides `diagnostics`")]
        pub(super) fn $handler(req: pb::$module::Request) -> pb::$module::Response {
            pb::$module::Response {
                diagnostics: support::unsupported($feature, $rpc, &req.$field),
                ..Default::default()
            }
        }
    )*};
}

refusals! {
    /// `ValidateStateStoreConfig`: validates a state store configuration.
    validate_state_store_config(validate_state_store, type_name) => ("State stores", "ValidateStateStoreConfig");
    /// `ConfigureStateStore`: configures a state store.
    configure_state_store(configure_state_store, type_name) => ("State stores", "ConfigureStateStore");
    /// `LockState`: locks a stored state.
    lock_state(lock_state, type_name) => ("State stores", "LockState");
    /// `UnlockState`: unlocks a stored state.
    unlock_state(unlock_state, type_name) => ("State stores", "UnlockState");
    /// `GetStates`: lists stored states.
    get_states(get_states, type_name) => ("State stores", "GetStates");
    /// `DeleteState`: deletes a stored state.
    delete_state(delete_state, type_name) => ("State stores", "DeleteState");

    /// `ValidateEphemeralResourceConfig`: validates an ephemeral resource block.
    validate_ephemeral_resource_config(validate_ephemeral_resource_config, type_name)
        => ("Ephemeral resources", "ValidateEphemeralResourceConfig");
    /// `OpenEphemeralResource`: opens an ephemeral resource.
    open_ephemeral_resource(open_ephemeral_resource, type_name) => ("Ephemeral resources", "OpenEphemeralResource");
    /// `RenewEphemeralResource`: renews an ephemeral resource.
    renew_ephemeral_resource(renew_ephemeral_resource, type_name) => ("Ephemeral resources", "RenewEphemeralResource");
    /// `CloseEphemeralResource`: closes an ephemeral resource.
    close_ephemeral_resource(close_ephemeral_resource, type_name) => ("Ephemeral resources", "CloseEphemeralResource");

    /// `ValidateActionConfig`: validates an action block.
    validate_action_config(validate_action_config, type_name) => ("Actions", "ValidateActionConfig");
    /// `PlanAction`: plans an action.
    plan_action(plan_action, action_type) => ("Actions", "PlanAction");

    /// `ValidateListResourceConfig`: validates a list block of `terraform query`.
    validate_list_resource_config(validate_list_resource_config, type_name)
        => ("List resources", "ValidateListResourceConfig");
}

/// The response stream of a refused streaming RPC: a single message carrying the error.
pub(crate) type Single<T> = tokio_stream::Once<Result<T, Status>>;

/// The `ReadStateBytes` stream: a single chunk.
pub(crate) type ReadStateBytesStream = Single<pb::read_state_bytes::Response>;
/// The `InvokeAction` stream: a single event.
pub(crate) type InvokeActionStream = Single<pb::invoke_action::Event>;
/// The `ListResource` stream: a single event.
pub(crate) type ListResourceStream = Single<pb::list_resource::Event>;

/// `ReadStateBytes`: streams a stored state in chunks. The stream carries one chunk whose
/// diagnostics hold the error.
#[tracing::instrument(level = "debug", name = "ReadStateBytes", skip_all, fields(type_name = %req.type_name))]
pub(super) fn read_state_bytes(req: pb::read_state_bytes::Request) -> ReadStateBytesStream {
    tokio_stream::once(Ok(pb::read_state_bytes::Response {
        diagnostics: support::unsupported("State stores", "ReadStateBytes", &req.type_name),
        ..Default::default()
    }))
}

/// `WriteStateBytes`: writes a stored state in chunks. The answer is an error diagnostic;
/// the incoming chunks are not read.
#[tracing::instrument(level = "debug", name = "WriteStateBytes", skip_all)]
pub(super) fn write_state_bytes() -> pb::write_state_bytes::Response {
    pb::write_state_bytes::Response {
        diagnostics: support::unsupported("State stores", "WriteStateBytes", ""),
    }
}

/// `InvokeAction`: runs an action, streaming progress. The stream carries one "completed"
/// event whose diagnostics hold the error.
#[tracing::instrument(level = "debug", name = "InvokeAction", skip_all, fields(type_name = %req.action_type))]
pub(super) fn invoke_action(req: pb::invoke_action::Request) -> InvokeActionStream {
    use pb::invoke_action::event::{Completed, Type};
    let diagnostics = support::unsupported("Actions", "InvokeAction", &req.action_type);
    tokio_stream::once(Ok(pb::invoke_action::Event {
        r#type: Some(Type::Completed(Completed { diagnostics })),
    }))
}

/// `ListResource`: streams the objects of a list block (`terraform query`). The stream
/// carries one event whose diagnostics hold the error.
#[tracing::instrument(level = "debug", name = "ListResource", skip_all, fields(type_name = %req.type_name))]
pub(super) fn list_resource(req: pb::list_resource::Request) -> ListResourceStream {
    tokio_stream::once(Ok(pb::list_resource::Event {
        diagnostic: support::unsupported("List resources", "ListResource", &req.type_name),
        ..Default::default()
    }))
}

/// `MoveResourceState`: `moved` blocks across resource types. Not supported (the server does
/// not advertise `move_resource_state`), so Terraform should never call it.
#[tracing::instrument(
    level = "debug",
    name = "MoveResourceState",
    skip_all,
    fields(type_name = %req.target_type_name)
)]
pub(super) fn move_resource_state(req: pb::move_resource_state::Request) -> pb::move_resource_state::Response {
    let subject = format!("{} to {}", req.source_type_name, req.target_type_name);
    pb::move_resource_state::Response {
        diagnostics: support::unsupported("Moving resource state", "MoveResourceState", &subject),
        ..Default::default()
    }
}

/// `CallFunction`: this provider defines no functions, so every call is an error. The
/// protocol reports it as a function error rather than a diagnostic.
#[tracing::instrument(level = "debug", name = "CallFunction", skip_all, fields(function = %req.name))]
pub(super) fn call_function(req: pb::call_function::Request) -> pb::call_function::Response {
    pb::call_function::Response {
        result: None,
        error: Some(pb::FunctionError {
            text: format!(
                "This provider defines no functions, so `{}` cannot be called.",
                req.name
            ),
            function_argument: None,
        }),
    }
}

#[cfg(test)]
mod tests {
    use tokio_stream::StreamExt;

    use super::*;

    /// The only message of a single-message stream.
    async fn only<T>(mut stream: Single<T>) -> T {
        let item = stream.next().await.expect("one message").expect("not a gRPC error");
        assert!(stream.next().await.is_none(), "exactly one message");
        item
    }

    fn zae_x() -> String {
        "zae_x".into()
    }

    #[tokio::test]
    async fn every_refusal_is_one_error_diagnostic() {
        let invoked = only(invoke_action(pb::invoke_action::Request {
            action_type: zae_x(),
            ..Default::default()
        }))
        .await;
        let Some(pb::invoke_action::event::Type::Completed(invoked)) = invoked.r#type else {
            panic!("InvokeAction: expected a completed event")
        };
        let listed = only(list_resource(pb::list_resource::Request {
            type_name: zae_x(),
            ..Default::default()
        }))
        .await;
        assert!(listed.resource_object.is_none(), "ListResource lists nothing");
        let moved = move_resource_state(pb::move_resource_state::Request {
            source_type_name: "a_x".into(),
            target_type_name: "fake_widget".into(),
            ..Default::default()
        });
        assert!(moved.target_state.is_none(), "MoveResourceState moves nothing");

        // RPC, expected summary, what the detail names, the diagnostics answered.
        let cases: Vec<(&str, &str, &str, Vec<pb::Diagnostic>)> = vec![
            (
                "ValidateStateStoreConfig",
                "State stores not supported",
                "`zae_x`",
                validate_state_store_config(pb::validate_state_store::Request {
                    type_name: zae_x(),
                    ..Default::default()
                })
                .diagnostics,
            ),
            (
                "ConfigureStateStore",
                "State stores not supported",
                "`zae_x`",
                configure_state_store(pb::configure_state_store::Request {
                    type_name: zae_x(),
                    ..Default::default()
                })
                .diagnostics,
            ),
            (
                "ReadStateBytes",
                "State stores not supported",
                "`zae_s`",
                only(read_state_bytes(pb::read_state_bytes::Request {
                    type_name: "zae_s".into(),
                    state_id: "default".into(),
                }))
                .await
                .diagnostics,
            ),
            (
                "WriteStateBytes",
                "State stores not supported",
                "WriteStateBytes, which",
                write_state_bytes().diagnostics,
            ),
            (
                "LockState",
                "State stores not supported",
                "`zae_x`",
                lock_state(pb::lock_state::Request {
                    type_name: zae_x(),
                    ..Default::default()
                })
                .diagnostics,
            ),
            (
                "UnlockState",
                "State stores not supported",
                "`zae_x`",
                unlock_state(pb::unlock_state::Request {
                    type_name: zae_x(),
                    ..Default::default()
                })
                .diagnostics,
            ),
            (
                "GetStates",
                "State stores not supported",
                "`zae_x`",
                get_states(pb::get_states::Request { type_name: zae_x() }).diagnostics,
            ),
            (
                "DeleteState",
                "State stores not supported",
                "`zae_x`",
                delete_state(pb::delete_state::Request {
                    type_name: zae_x(),
                    ..Default::default()
                })
                .diagnostics,
            ),
            (
                "ValidateEphemeralResourceConfig",
                "Ephemeral resources not supported",
                "`zae_x`",
                validate_ephemeral_resource_config(pb::validate_ephemeral_resource_config::Request {
                    type_name: zae_x(),
                    ..Default::default()
                })
                .diagnostics,
            ),
            (
                "OpenEphemeralResource",
                "Ephemeral resources not supported",
                "`zae_x`",
                open_ephemeral_resource(pb::open_ephemeral_resource::Request {
                    type_name: zae_x(),
                    ..Default::default()
                })
                .diagnostics,
            ),
            (
                "RenewEphemeralResource",
                "Ephemeral resources not supported",
                "`zae_x`",
                renew_ephemeral_resource(pb::renew_ephemeral_resource::Request {
                    type_name: zae_x(),
                    ..Default::default()
                })
                .diagnostics,
            ),
            (
                "CloseEphemeralResource",
                "Ephemeral resources not supported",
                "`zae_x`",
                close_ephemeral_resource(pb::close_ephemeral_resource::Request {
                    type_name: zae_x(),
                    ..Default::default()
                })
                .diagnostics,
            ),
            (
                "ValidateActionConfig",
                "Actions not supported",
                "`zae_x`",
                validate_action_config(pb::validate_action_config::Request {
                    type_name: zae_x(),
                    ..Default::default()
                })
                .diagnostics,
            ),
            (
                "PlanAction",
                "Actions not supported",
                "`zae_x`",
                plan_action(pb::plan_action::Request {
                    action_type: zae_x(),
                    ..Default::default()
                })
                .diagnostics,
            ),
            ("InvokeAction", "Actions not supported", "`zae_x`", invoked.diagnostics),
            (
                "ValidateListResourceConfig",
                "List resources not supported",
                "`zae_x`",
                validate_list_resource_config(pb::validate_list_resource_config::Request {
                    type_name: zae_x(),
                    ..Default::default()
                })
                .diagnostics,
            ),
            (
                "ListResource",
                "List resources not supported",
                "`zae_x`",
                listed.diagnostic,
            ),
            (
                "MoveResourceState",
                "Moving resource state not supported",
                "`a_x to fake_widget`",
                moved.diagnostics,
            ),
        ];
        for (rpc, summary, subject, diags) in &cases {
            assert_eq!(diags.len(), 1, "{rpc}: {diags:?}");
            assert_eq!(diags[0].severity, pb::diagnostic::Severity::Error as i32, "{rpc}");
            assert_eq!(diags[0].summary, *summary, "{rpc}");
            let detail = &diags[0].detail;
            assert!(detail.contains(&format!("Terraform called {rpc}")), "{rpc}: {detail}");
            assert!(detail.contains(subject), "{rpc}: {detail}");
        }
    }

    #[test]
    fn call_function_answers_with_a_function_error() {
        let resp = call_function(pb::call_function::Request {
            name: "parse".into(),
            arguments: Vec::new(),
        });
        let error = resp.error.expect("error");
        assert!(error.text.contains("`parse`"));
        assert!(resp.result.is_none());
    }
}
