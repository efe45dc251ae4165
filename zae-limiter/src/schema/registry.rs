//! The two per-namespace registries (wire-format §3.6) and the update requests that maintain
//! them.
//!
//! * Resource registry `{ns}/SYSTEM#` / `#RESOURCES`: string set `resources` of every
//!   resource with a resource-level config.
//! * Entity-config registry `{ns}/SYSTEM#` / `#ENTITY_CONFIG_RESOURCES`: one number
//!   attribute named after each resource, counting entity configs for it.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

use super::attrs::{self, Item, s};
use super::keys::{SK_ENTITY_CONFIG_RESOURCES, SK_RESOURCES, pk_system};
use super::version_record::UpdateRequest;

/// The `resources` string-set attribute.
pub const RESOURCES: &str = "resources";

/// Key of the resource registry.
pub fn resource_registry_key(ns: &str) -> Item {
    attrs::key(pk_system(ns), SK_RESOURCES)
}

/// Key of the entity-config registry.
pub fn entity_config_registry_key(ns: &str) -> Item {
    attrs::key(pk_system(ns), SK_ENTITY_CONFIG_RESOURCES)
}

fn gsi4_values(ns: &str) -> [(String, AttributeValue); 2] {
    [
        (":gsi4pk".to_string(), s(ns)),
        (":gsi4sk".to_string(), s(pk_system(ns))),
    ]
}

/// `set_resource_defaults`' registry upsert: `ADD resources :resource` plus GSI4 keys.
pub fn add_resource(ns: &str, resource: &str) -> UpdateRequest {
    let mut values: HashMap<String, AttributeValue> = gsi4_values(ns).into_iter().collect();
    values.insert(":resource".into(), AttributeValue::Ss(vec![resource.to_string()]));
    UpdateRequest {
        key: resource_registry_key(ns),
        update_expression: "SET GSI4PK = if_not_exists(GSI4PK, :gsi4pk), GSI4SK = if_not_exists(GSI4SK, :gsi4sk) \
                            ADD resources :resource"
            .into(),
        condition_expression: None,
        names: HashMap::new(),
        values,
    }
}

/// `delete_resource_defaults`' registry update: `DELETE resources :resource`.
pub fn remove_resource(ns: &str, resource: &str) -> UpdateRequest {
    UpdateRequest {
        key: resource_registry_key(ns),
        update_expression: "DELETE resources :resource".into(),
        condition_expression: None,
        names: HashMap::new(),
        values: HashMap::from([(":resource".to_string(), AttributeValue::Ss(vec![resource.to_string()]))]),
    }
}

/// `set_limits`' counter increment (the `Update` half of its transaction).
pub fn increment_entity_config(ns: &str, resource: &str) -> UpdateRequest {
    let mut values: HashMap<String, AttributeValue> = gsi4_values(ns).into_iter().collect();
    values.insert(":one".into(), attrs::n(1));
    UpdateRequest {
        key: entity_config_registry_key(ns),
        update_expression: "SET GSI4PK = if_not_exists(GSI4PK, :gsi4pk), GSI4SK = if_not_exists(GSI4SK, :gsi4sk) \
                            ADD #resource :one"
            .into(),
        condition_expression: None,
        names: HashMap::from([("#resource".to_string(), resource.to_string())]),
        values,
    }
}

/// `delete_limits`' counter decrement (the `Update` half of its transaction).
pub fn decrement_entity_config(ns: &str, resource: &str) -> UpdateRequest {
    UpdateRequest {
        key: entity_config_registry_key(ns),
        update_expression: "ADD #resource :minus_one".into(),
        condition_expression: None,
        names: HashMap::from([("#resource".to_string(), resource.to_string())]),
        values: HashMap::from([(":minus_one".to_string(), attrs::n(-1))]),
    }
}

/// The clean-up after a decrement: `REMOVE #resource` when the count is ≤ 0.
pub fn cleanup_entity_config(ns: &str, resource: &str) -> UpdateRequest {
    UpdateRequest {
        key: entity_config_registry_key(ns),
        update_expression: "REMOVE #resource".into(),
        condition_expression: Some("#resource <= :zero".into()),
        names: HashMap::from([("#resource".to_string(), resource.to_string())]),
        values: HashMap::from([(":zero".to_string(), attrs::n(0))]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn increment_matches_vector_v3() {
        let req = increment_entity_config("ZCtndc_pcZY", "gpt-4");
        assert_eq!(
            req.update_expression,
            "SET GSI4PK = if_not_exists(GSI4PK, :gsi4pk), GSI4SK = if_not_exists(GSI4SK, :gsi4sk) ADD #resource :one"
        );
        assert_eq!(req.names["#resource"], "gpt-4");
        assert_eq!(req.key["SK"], s("#ENTITY_CONFIG_RESOURCES"));
        assert_eq!(req.values[":gsi4sk"], s("ZCtndc_pcZY/SYSTEM#"));
    }

    #[test]
    fn resource_registry_uses_a_string_set() {
        let req = add_resource("ns", "api");
        assert_eq!(req.values[":resource"], AttributeValue::Ss(vec!["api".into()]));
        assert_eq!(req.key["SK"], s("#RESOURCES"));
        assert_eq!(
            remove_resource("ns", "api").update_expression,
            "DELETE resources :resource"
        );
        assert_eq!(
            cleanup_entity_config("ns", "r").condition_expression.as_deref(),
            Some("#resource <= :zero")
        );
    }
}
