//! Panics inside an RPC become error diagnostics.
//!
//! A panic that escaped a handler would tear down the gRPC connection: Terraform would report
//! a crashed plugin and, during an apply, lose track of what was created. Instead every
//! handler runs inside [`guarded`], which catches the panic and answers with the handler's
//! fallback response (for `ApplyResourceChange` and `ReadResource`: the state Terraform
//! sent) plus a "Provider panicked" error; the plugin keeps serving later RPCs.
//! `ApplyResourceChange` also catches panics around the resource operation itself with
//! [`unwind`], so that a state the resource reported before it panicked is kept.

use std::any::Any;
use std::future::Future;
use std::panic::AssertUnwindSafe;

use futures_util::FutureExt;

use crate::framework::diag::Diagnostics;
use crate::server::convert::diagnostic::diagnostics_to_proto;
use crate::server::proto::tfplugin6 as pb;

/// A response that can carry the "Provider panicked" diagnostic.
pub(crate) trait WithDiagnostics {
    /// Appends `diagnostics` to the response's diagnostics.
    fn add_diagnostics(&mut self, diagnostics: Vec<pb::Diagnostic>);
}

macro_rules! with_diagnostics {
    ($($module:ident),* $(,)?) => {
        $(
            impl WithDiagnostics for pb::$module::Response {
                fn add_diagnostics(&mut self, diagnostics: Vec<pb::Diagnostic>) {
                    self.diagnostics.extend(diagnostics);
                }
            }
        )*
    };
}

with_diagnostics!(
    get_metadata,
    get_provider_schema,
    validate_provider_config,
    validate_resource_config,
    validate_data_resource_config,
    upgrade_resource_state,
    get_resource_identity_schemas,
    upgrade_resource_identity,
    configure_provider,
    read_resource,
    plan_resource_change,
    apply_resource_change,
    import_resource_state,
    read_data_source,
    generate_resource_config,
    get_functions,
);

/// The message of a panic payload (`panic!("...")` gives a `&str` or a `String`).
fn message(payload: &(dyn Any + Send)) -> String {
    if let Some(text) = payload.downcast_ref::<&str>() {
        (*text).to_owned()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "(no message)".to_owned()
    }
}

/// Runs `operation`, returning the panic's message instead of unwinding further.
pub(crate) async fn unwind<F: Future>(operation: F) -> Result<F::Output, String> {
    AssertUnwindSafe(operation)
        .catch_unwind()
        .await
        .map_err(|payload| message(&*payload))
}

/// Adds the error for a panic during `rpc` (about `type_name`, when not empty); `kept` says
/// what Terraform keeps, e.g. "The prior state is kept".
pub(crate) fn panicked(rpc: &str, type_name: &str, panic: &str, kept: &str, diags: &mut Diagnostics) {
    tracing::error!(
        rpc,
        type_name,
        panic,
        "the provider panicked; answering with an error diagnostic"
    );
    let subject = if type_name.is_empty() {
        String::new()
    } else {
        format!(" for {type_name}")
    };
    diags.error(
        "Provider panicked",
        format!(
            "The provider panicked during {rpc}{subject}: {panic}\n\nThis is a bug in the provider; please \
             report it with the Terraform log (TF_LOG=debug). {kept}, and the provider keeps running."
        ),
    );
}

/// Runs a handler; when it panics, answers with `fallback` plus a "Provider panicked" error.
pub(crate) async fn guarded<R, F>(rpc: &str, type_name: &str, fallback: R, kept: &str, handler: F) -> R
where
    R: WithDiagnostics,
    F: Future<Output = R>,
{
    match unwind(handler).await {
        Ok(response) => response,
        Err(panic) => {
            let mut diags = Diagnostics::new();
            panicked(rpc, type_name, &panic, kept, &mut diags);
            let mut response = fallback;
            response.add_diagnostics(diagnostics_to_proto(&diags));
            response
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panicking_handler_answers_with_the_fallback_and_an_error() {
        let fallback = pb::read_resource::Response {
            private: b"kept".to_vec(),
            ..Default::default()
        };
        let resp = guarded("ReadResource", "fake_widget", fallback, "The state is kept", async {
            panic!("index out of bounds");
        })
        .await;
        assert_eq!(resp.private, b"kept");
        assert_eq!(resp.diagnostics.len(), 1);
        assert_eq!(resp.diagnostics[0].summary, "Provider panicked");
        let detail = &resp.diagnostics[0].detail;
        assert!(
            detail.contains("during ReadResource for fake_widget: index out of bounds"),
            "{detail}"
        );
        assert!(detail.contains("please report it"), "{detail}");
        assert!(detail.contains("The state is kept"), "{detail}");
    }

    #[tokio::test]
    async fn unwind_reports_formatted_and_static_messages() {
        let id = 7;
        assert_eq!(
            unwind(async move { panic!("bad id {id}") }).await,
            Err::<(), _>("bad id 7".into())
        );
        assert_eq!(unwind(async { 5 }).await, Ok(5));
        let opaque = unwind(async { std::panic::panic_any(42u8) }).await;
        assert_eq!(opaque, Err::<(), _>("(no message)".into()));
    }
}
