//! Connecting to a namespace of a zae-limiter table (wire-format §1.3).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tracing::{debug, info};

use crate::acquire::ResolvedConfig;
use crate::admin::{NamespaceAdmin, Table};
use crate::error::{Error, Result};
use crate::version::{CLIENT_VERSION, require_compatible};

/// Default config-cache TTL.
pub const DEFAULT_CONFIG_CACHE_TTL: Duration = Duration::from_secs(60);
/// Default bucket TTL multiplier (`ttl = now + slowest recovery × 7`).
pub const DEFAULT_BUCKET_TTL_MULTIPLIER: i64 = 7;

/// What the client learned about an (entity, resource) from bucket images.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct BucketHint {
    pub shard_count: u32,
    pub cascade: bool,
    pub parent_id: Option<String>,
}

/// A connection to one namespace of a zae-limiter table.
///
/// Cheap to clone. Holds the config cache (TTL, default 60 s) and the entity cache
/// (shard counts and cascade parents learned from bucket images).
#[derive(Debug, Clone)]
pub struct Repository {
    pub(crate) inner: Arc<RepoInner>,
}

/// Resolved configs by (entity, resource), with the instant they were read.
pub(crate) type ConfigCache = HashMap<(String, String), (Instant, Arc<ResolvedConfig>)>;

#[derive(Debug)]
pub(crate) struct RepoInner {
    pub table: Table,
    pub ns_id: String,
    pub ns_name: String,
    pub config_ttl: Duration,
    pub ttl_multiplier: i64,
    pub config_cache: Mutex<ConfigCache>,
    pub hints: Mutex<HashMap<(String, String), BucketHint>>,
}

impl Repository {
    /// Connects like zae-limiter's `Repository.connect(namespace, stack=table)`:
    /// resolves the namespace (missing table → [`Error::TableNotFound`], unknown or
    /// deleted namespace → [`Error::NamespaceNotFound`]), reads the version record
    /// (absent → [`Error::VersionRecordMissing`]) and applies the compatibility rule
    /// with [`CLIENT_VERSION`] ([`Error::VersionMismatch`] / [`Error::IncompatibleSchema`]).
    /// Never writes.
    pub async fn connect(table: &str, namespace: &str, config: &aws_types::SdkConfig) -> Result<Repository> {
        Repository::connect_table(Table::from_config(config, table), namespace).await
    }

    /// [`Repository::connect`] with an existing [`Table`] handle.
    pub async fn connect_table(table: Table, namespace: &str) -> Result<Repository> {
        let ns_id = table
            .resolve_namespace(namespace)
            .await?
            .ok_or_else(|| Error::NamespaceNotFound {
                namespace: namespace.to_string(),
            })?;
        let record = table
            .get_version_record(false)
            .await?
            .ok_or_else(|| Error::VersionRecordMissing {
                table: table.name().to_string(),
            })?;
        require_compatible(CLIENT_VERSION, &record.infrastructure_version())?;
        info!(table = table.name(), namespace, namespace_id = %ns_id, client_version = CLIENT_VERSION, "connected");
        Ok(Repository {
            inner: Arc::new(RepoInner {
                table,
                ns_id,
                ns_name: namespace.to_string(),
                config_ttl: DEFAULT_CONFIG_CACHE_TTL,
                ttl_multiplier: DEFAULT_BUCKET_TTL_MULTIPLIER,
                config_cache: Mutex::new(HashMap::new()),
                hints: Mutex::new(HashMap::new()),
            }),
        })
    }

    /// Sets the config-cache TTL (zero disables caching). Call before sharing.
    pub fn with_config_cache_ttl(mut self, ttl: Duration) -> Repository {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.config_ttl = ttl;
        } else {
            debug!("config cache TTL not changed: repository already shared");
        }
        self
    }

    /// The table handle.
    pub fn table(&self) -> &Table {
        &self.inner.table
    }

    /// The namespace name.
    pub fn namespace_name(&self) -> &str {
        &self.inner.ns_name
    }

    /// The opaque namespace id.
    pub fn namespace_id(&self) -> &str {
        &self.inner.ns_id
    }

    /// Administration (limits, entities) of this namespace.
    pub fn admin(&self) -> NamespaceAdmin {
        self.inner.table.namespace(&self.inner.ns_id)
    }

    /// Drops every cached config (call after changing limits from elsewhere).
    pub fn invalidate_config_cache(&self) {
        if let Ok(mut cache) = self.inner.config_cache.lock() {
            cache.clear();
        }
    }
}
