//! Administration of a zae-limiter table without connecting to a namespace.
//!
//! [`Table`] wraps a DynamoDB client and a table name. Table-level operations (the
//! version record, the namespace registry) are methods on it; namespace-level
//! operations (limits at the three levels, entities) are on the [`NamespaceAdmin`]
//! returned by [`Table::namespace`]. Every item written comes from [`crate::schema`],
//! with the same requests and the same audit events zae-limiter 0.17.0 writes.

mod audit;
mod bucket_sync;
mod create;
mod entity;
pub mod hooks;
mod limit_item;
mod limits;
mod namespace;
mod namespace_claim;
mod namespace_verify;
mod version_record;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::Client;
use tokio::sync::OnceCell;

pub use entity::NewEntity;
pub use limit_item::{LimitReadout, LimitWrite, StoredLimit, stored_limit};
pub use limits::{EntityLimits, ResourceLimits, SystemLimits};
pub use namespace::PurgeReport;
pub use namespace_claim::Registration;
pub use namespace_verify::{LEGACY_NAMESPACE_ID, validate_namespace_id};

/// A zae-limiter table: a DynamoDB client plus the table (= stack) name.
///
/// Cheap to clone; clones share the principal and audit-retention caches.
#[derive(Debug, Clone)]
pub struct Table {
    client: Client,
    name: String,
    sts: Option<aws_sdk_sts::Client>,
    caller_arn: Arc<OnceCell<Option<String>>>,
    audit_retention: Arc<Mutex<HashMap<String, i64>>>,
    #[cfg(any(test, feature = "test-hooks"))]
    pause_hook: Option<hooks::PauseHook>,
}

impl Table {
    /// A handle on `name` using `client`. Audit events written through it get the
    /// explicit principal or `NULL` unless [`Table::with_sts`] is used.
    pub fn new(client: Client, name: impl Into<String>) -> Table {
        Table {
            client,
            name: name.into(),
            sts: None,
            caller_arn: Arc::new(OnceCell::new()),
            audit_retention: Arc::new(Mutex::new(HashMap::new())),
            #[cfg(any(test, feature = "test-hooks"))]
            pause_hook: None,
        }
    }

    /// Runs `hook` at every [`hooks::PausePoint`] this handle (and its clones made
    /// afterwards) reaches, for interleaving tests.
    #[cfg(any(test, feature = "test-hooks"))]
    pub fn with_pause_hook(mut self, hook: hooks::PauseHook) -> Table {
        self.pause_hook = Some(hook);
        self
    }

    /// Waits for the pause hook at `point`, if one is set.
    #[cfg(any(test, feature = "test-hooks"))]
    pub(crate) async fn pause(&self, point: hooks::PausePoint) {
        if let Some(hook) = &self.pause_hook {
            hook.run(point).await;
        }
    }

    /// Without the `test-hooks` feature there is no hook: nothing to wait for.
    #[cfg(not(any(test, feature = "test-hooks")))]
    pub(crate) async fn pause(&self, _point: hooks::PausePoint) {}

    /// A handle built from an SDK configuration: a DynamoDB client and an STS client
    /// used to look up the default audit principal (`GetCallerIdentity` ARN).
    pub fn from_config(config: &aws_types::SdkConfig, name: impl Into<String>) -> Table {
        Table::new(Client::new(config), name).with_sts(aws_sdk_sts::Client::new(config))
    }

    /// Uses `sts` to look up the default audit principal, like zae-limiter does.
    pub fn with_sts(mut self, sts: aws_sdk_sts::Client) -> Table {
        self.sts = Some(sts);
        self
    }

    /// The table name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The DynamoDB client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Namespace-level administration for the namespace with id `namespace_id`
    /// (the opaque id, not the name; see [`Table::register_namespace`]).
    pub fn namespace(&self, namespace_id: &str) -> NamespaceAdmin {
        NamespaceAdmin {
            table: self.clone(),
            ns: namespace_id.to_string(),
        }
    }
}

/// Limits and entities of one namespace (by id).
#[derive(Debug, Clone)]
pub struct NamespaceAdmin {
    table: Table,
    ns: String,
}

impl NamespaceAdmin {
    /// The namespace id.
    pub fn namespace_id(&self) -> &str {
        &self.ns
    }

    /// The table.
    pub fn table(&self) -> &Table {
        &self.table
    }
}
