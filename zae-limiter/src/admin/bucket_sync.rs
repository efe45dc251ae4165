//! Re-parameterising an entity's existing buckets after its limits change (zae-limiter's
//! `_sync_bucket_params`, issues #294/#327/#468/#487).

use std::collections::{HashMap, HashSet};

use aws_sdk_dynamodb::types::AttributeValue;
use tracing::debug;

use super::NamespaceAdmin;
use crate::acquire::{TtlAction, WriteOutcome, batch_get, levels, param_sync, resolve, take, ttl_seconds, update};
use crate::clock;
use crate::error::{Error, Result};
use crate::limit::Limit;
use crate::schema::attrs::{self, Item, s};
use crate::schema::bucket::BucketLimit;
use crate::schema::keys::{BUCKET_PREFIX, DEFAULT_RESOURCE, SK_STATE, gsi3_pk_entity, parse_bucket_pk};
use crate::schema::table::GSI3;

/// Limits, TTL action and stale limit names to write on one resource's buckets.
type SyncPlan = (Vec<Limit>, TtlAction, Vec<String>);

impl NamespaceAdmin {
    /// Bucket PKs of the entity (for `resource`, or every resource), via GSI3.
    async fn entity_bucket_pks(&self, entity_id: &str, resource: Option<&str>) -> Result<Vec<String>> {
        let prefix = match resource {
            Some(r) => format!("{BUCKET_PREFIX}{r}#"),
            None => BUCKET_PREFIX.to_string(),
        };
        let mut pks = Vec::new();
        let mut start: Option<HashMap<String, AttributeValue>> = None;
        loop {
            let out = self
                .table
                .client
                .query()
                .table_name(&self.table.name)
                .index_name(GSI3.name)
                .key_condition_expression("GSI3PK = :pk AND begins_with(GSI3SK, :sk)")
                .expression_attribute_values(":pk", s(gsi3_pk_entity(&self.ns, entity_id)))
                .expression_attribute_values(":sk", s(&prefix))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| Error::dynamo("Query", &self.table.name, e))?;
            pks.extend(
                out.items()
                    .iter()
                    .filter_map(|i| attrs::get_s(i, "PK").map(str::to_string)),
            );
            match out.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => return Ok(pks),
            }
        }
    }

    /// Brings the entity's existing buckets for `resource` (every resource for
    /// `_default_`, each re-resolved for its own resource) in line with `limits`, in two
    /// discovery passes. A shard that vanished meanwhile is skipped.
    pub(crate) async fn sync_entity_buckets(&self, entity_id: &str, resource: &str, limits: &[Limit]) -> Result<()> {
        if limits.is_empty() {
            return Ok(());
        }
        let unscoped = resource == DEFAULT_RESOURCE;
        let now = clock::now_ms();
        let mut plans: HashMap<String, Option<SyncPlan>> = HashMap::new();
        if !unscoped {
            plans.insert(
                resource.to_string(),
                Some((limits.to_vec(), TtlAction::Remove, Vec::new())),
            );
        }
        let mut synced = HashSet::new();
        let mut written = 0usize;
        for _pass in 0..2 {
            for pk in self
                .entity_bucket_pks(entity_id, (!unscoped).then_some(resource))
                .await?
            {
                if !synced.insert(pk.clone()) {
                    continue;
                }
                let Some(key) = parse_bucket_pk(&pk) else { continue };
                if !plans.contains_key(&key.resource) {
                    let plan = self.resolved_plan(entity_id, &key.resource, limits, now).await?;
                    plans.insert(key.resource.clone(), plan);
                }
                let Some(Some((resolved, ttl, stale))) = plans.get(&key.resource) else {
                    continue;
                };
                let item_key: Item = attrs::key(pk.clone(), SK_STATE);
                let Some(spec) = param_sync(item_key, resolved, Some(*ttl), stale) else {
                    continue;
                };
                match update(&self.table, &spec).await? {
                    WriteOutcome::Done(_) => written += 1,
                    WriteOutcome::ConditionFailed(_) => debug!(pk, "bucket vanished during sync"),
                    WriteOutcome::Contended => {
                        return Err(Error::Unavailable(format!(
                            "bucket parameter sync stopped after {written} bucket(s): write contention on {pk}; \
                             re-run set_limits to finish"
                        )));
                    }
                }
            }
        }
        debug!(entity_id, resource, written, "synced bucket parameters");
        Ok(())
    }

    async fn resolved_plan(
        &self,
        entity_id: &str,
        bucket_resource: &str,
        directive: &[Limit],
        now: i64,
    ) -> Result<Option<SyncPlan>> {
        let keys: Vec<Item> = levels(entity_id, bucket_resource)
            .iter()
            .map(|l| l.key(&self.ns))
            .collect();
        let mut found = batch_get(&self.table, keys.clone()).await?;
        let items = [
            take(&mut found, &keys[0]),
            take(&mut found, &keys[1]),
            take(&mut found, &keys[2]),
            take(&mut found, &keys[3]),
        ];
        let resolved = match resolve(entity_id, bucket_resource, &items) {
            Ok(r) => r,
            Err(Error::NoLimits { .. }) => return Ok(None),
            Err(e) => return Err(e),
        };
        let names: HashSet<&str> = resolved.limits.iter().map(Limit::name).collect();
        let stale: Vec<String> = directive
            .iter()
            .map(Limit::name)
            .filter(|n| !names.contains(n))
            .map(str::to_string)
            .collect();
        let ttl = if resolved.source.is_custom() {
            TtlAction::Remove
        } else {
            let as_bucket: Vec<BucketLimit> = resolved.limits.iter().map(BucketLimit::empty).collect();
            match ttl_seconds(as_bucket.iter(), crate::repository::DEFAULT_BUCKET_TTL_MULTIPLIER) {
                Some(secs) => TtlAction::Set(crate::acquire::expiry_epoch_seconds(now, secs)),
                None => TtlAction::Remove,
            }
        };
        Ok(Some((resolved.limits, ttl, stale)))
    }
}
