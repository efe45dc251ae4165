//! Cross-checked namespace registry lookups (wire-format §3.2).
//!
//! The registry keeps each namespace twice under `_/SYSTEM#`: the forward record
//! `#NAMESPACE#{name}` (name → id) and the reverse record `#NSID#{id}` (id → name, status).
//! Whoever may write `_/SYSTEM#` can forge either one; zae-limiter 0.17.0's namespace-full
//! policy lets every tenant admin do so. An id read from one record is therefore never
//! used to tag a principal, recover, import or purge until the other record agrees: the
//! lookups here read both and return [`Error::RegistryMismatch`], naming both items,
//! when they disagree.

use super::Table;
use crate::error::{Error, Result, ValidationError, ValidationKind};
use crate::schema::keys::{RESERVED_NAMESPACE, sk_namespace, sk_nsid};
use crate::schema::namespace::{NamespaceRecord, NamespaceStatus};

/// The id of namespaces migrated from tables older than zae-limiter 0.10.
pub const LEGACY_NAMESPACE_ID: &str = "default";
/// Length of a generated namespace id: 8 bytes as unpadded base64url.
const NAMESPACE_ID_LEN: usize = 11;

/// Checks that `id` has the shape of a namespace id: 11 characters of base64url (what
/// zae-limiter generates) or `default` (migrated tables). Refuses `_`, the reserved
/// system namespace whose items (the registry itself, the version record) every
/// namespace shares, and anything else, so that a purge or a tag can never be aimed at
/// an arbitrary key prefix.
pub fn validate_namespace_id(id: &str) -> Result<()> {
    let reason = if id == RESERVED_NAMESPACE {
        Some("is the reserved system namespace")
    } else if id == LEGACY_NAMESPACE_ID {
        None
    } else if id.len() != NAMESPACE_ID_LEN {
        Some("must be 11 characters of base64url (or \"default\")")
    } else if !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
        Some("must contain only A-Z, a-z, 0-9, '-' and '_'")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(ValidationError::new(ValidationKind::Other, "namespace_id", id, reason).into()),
        None => Ok(()),
    }
}

/// One registry item as a diagnostic shows it: its sort key and what it says.
pub(crate) fn describe(sk: &str, record: Option<&NamespaceRecord>) -> String {
    match record {
        Some(r) => format!(
            "SK {sk:?} (namespace_name {:?}, namespace_id {:?}, status {:?})",
            r.name,
            r.id,
            r.status.as_str()
        ),
        None => format!("SK {sk:?} is absent"),
    }
}

/// A [`Error::RegistryMismatch`] about the forward record of `name` and the reverse
/// record of `id`.
pub(crate) fn mismatch(
    name: &str,
    forward: Option<&NamespaceRecord>,
    id: &str,
    reverse: Option<&NamespaceRecord>,
    detail: impl Into<String>,
) -> Error {
    Error::RegistryMismatch {
        forward: describe(&sk_namespace(name), forward),
        reverse: describe(&sk_nsid(id), reverse),
        detail: detail.into(),
    }
}

/// Whether a forward record and the reverse record it points at describe one namespace.
/// `Err` says what disagrees.
fn check_pair(forward: &NamespaceRecord, reverse: Option<&NamespaceRecord>) -> std::result::Result<(), String> {
    let Some(reverse) = reverse else {
        return Err(format!(
            "the forward record of namespace {:?} names id {:?}, which has no reverse record",
            forward.name, forward.id
        ));
    };
    if reverse.id != forward.id {
        return Err(format!(
            "the reverse record of id {:?} stores namespace_id {:?}",
            forward.id, reverse.id
        ));
    }
    if reverse.name != forward.name {
        return Err(format!(
            "namespace {:?} points at id {:?}, whose reverse record names namespace {:?}",
            forward.name, forward.id, reverse.name
        ));
    }
    if reverse.status != forward.status {
        return Err(format!(
            "namespace {:?} is {:?} in its forward record but {:?} in its reverse record \
             (an interrupted delete or recover leaves this; finish it, or repair the records)",
            forward.name,
            forward.status.as_str(),
            reverse.status.as_str()
        ));
    }
    Ok(())
}

impl Table {
    /// The forward record of `name`, once its reverse record agrees on name, id and
    /// status (`None` when the name is not registered).
    pub async fn verified_namespace(&self, name: &str) -> Result<Option<NamespaceRecord>> {
        let Some(forward) = self.get_namespace(name).await? else {
            return Ok(None);
        };
        let reverse = self.get_namespace_by_id(&forward.id).await?;
        check_pair(&forward, reverse.as_ref())
            .map_err(|detail| mismatch(name, Some(&forward), &forward.id, reverse.as_ref(), detail))?;
        Ok(Some(forward))
    }

    /// The reverse record of namespace id `id` (`None` when absent), once the registry
    /// agrees with it: an active namespace's forward record points back at `id`; a
    /// deleted or purging namespace is resolvable by no name; and no other name claims
    /// `id`. Refuses `_` and anything that is not a namespace id.
    pub async fn verified_namespace_id(&self, id: &str) -> Result<Option<NamespaceRecord>> {
        validate_namespace_id(id)?;
        let Some(reverse) = self.get_namespace_by_id(id).await? else {
            return Ok(None);
        };
        let forward = self.get_namespace(&reverse.name).await?;
        let fail = |detail: String| mismatch(&reverse.name, forward.as_ref(), id, Some(&reverse), detail);
        if reverse.id != id {
            return Err(fail(format!(
                "the reverse record of id {id:?} stores namespace_id {:?}",
                reverse.id
            )));
        }
        match (&reverse.status, forward.as_ref()) {
            (NamespaceStatus::Active, Some(forward)) => check_pair(forward, Some(&reverse)).map_err(fail)?,
            (NamespaceStatus::Active, None) => {
                return Err(fail(format!(
                    "id {id:?} is active but namespace {:?} has no forward record (an interrupted delete \
                     leaves this; delete the namespace again to finish it)",
                    reverse.name
                )));
            }
            (_, Some(forward)) if forward.id == id => {
                return Err(fail(format!(
                    "id {id:?} is {:?} but namespace {:?} still resolves to it",
                    reverse.status.as_str(),
                    reverse.name
                )));
            }
            _ => {}
        }
        self.check_sole_claim(&reverse).await?;
        Ok(Some(reverse))
    }

    /// Refuses when a forward record other than `reverse.name`'s points at `reverse.id`.
    pub(crate) async fn check_sole_claim(&self, reverse: &NamespaceRecord) -> Result<()> {
        let other = self
            .list_namespaces()
            .await?
            .into_iter()
            .find(|forward| forward.id == reverse.id && forward.name != reverse.name);
        match other {
            Some(other) => Err(mismatch(
                &other.name,
                Some(&other),
                &reverse.id,
                Some(reverse),
                format!(
                    "id {:?} belongs to namespace {:?} but namespace {:?} also points at it",
                    reverse.id, reverse.name, other.name
                ),
            )),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespace_ids_are_generated_ids_or_the_legacy_default() {
        assert!(validate_namespace_id("ZCtndc_pcZY").is_ok());
        assert!(validate_namespace_id("a-b_c012345").is_ok());
        assert!(validate_namespace_id("default").is_ok());
        for bad in [
            "_",
            "",
            "short",
            "ZCtndc_pcZY1",
            "ZCtndc/pcZY",
            "ZCtndc#pcZY",
            "tenant-alpha",
        ] {
            let err = validate_namespace_id(bad).unwrap_err();
            assert!(matches!(err, Error::Validation(_)), "{bad:?}: {err}");
        }
        let reserved = validate_namespace_id("_").unwrap_err().to_string();
        assert!(reserved.contains("namespace_id"), "{reserved}");
    }

    #[test]
    fn pairs_agree_only_on_name_id_and_status() {
        let forward = NamespaceRecord::new_active("ZCtndc_pcZY", "tenant-a", "t0");
        assert!(check_pair(&forward, Some(&forward.clone())).is_ok());
        assert!(check_pair(&forward, None).unwrap_err().contains("no reverse record"));
        let renamed = NamespaceRecord {
            name: "tenant-b".into(),
            ..forward.clone()
        };
        assert!(check_pair(&forward, Some(&renamed)).unwrap_err().contains("tenant-b"));
        let deleted = NamespaceRecord {
            status: NamespaceStatus::Deleted,
            ..forward.clone()
        };
        assert!(check_pair(&forward, Some(&deleted)).unwrap_err().contains("deleted"));
    }

    #[test]
    fn a_mismatch_names_both_items() {
        let forward = NamespaceRecord::new_active("ZCtndc_pcZY", "tenant-a", "t0");
        let text = mismatch("tenant-a", Some(&forward), "otherid1234", None, "it disagrees").to_string();
        assert!(text.contains("#NAMESPACE#tenant-a"), "{text}");
        assert!(text.contains("#NSID#otherid1234"), "{text}");
        assert!(text.contains("is absent"), "{text}");
        assert!(text.contains("it disagrees"), "{text}");
    }
}
