//! Private state: provider-only data Terraform stores beside a resource's state and hands
//! back on the next operation. Stored as a JSON object of keys.

use serde_json::{Map, Value as Json};

/// Keyed private data of one resource instance.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Private(Map<String, Json>);

impl Private {
    /// Decodes the bytes Terraform stored (empty or invalid → empty).
    pub fn from_bytes(bytes: &[u8]) -> Private {
        match serde_json::from_slice(bytes) {
            Ok(Json::Object(map)) => Private(map),
            _ => Private::default(),
        }
    }

    /// The bytes to hand to Terraform (empty when nothing is stored).
    pub fn to_bytes(&self) -> Vec<u8> {
        if self.0.is_empty() {
            Vec::new()
        } else {
            Json::Object(self.0.clone()).to_string().into_bytes()
        }
    }

    /// The value stored under `key`.
    pub fn get(&self, key: &str) -> Option<&Json> {
        self.0.get(key)
    }

    /// Stores `value` under `key`.
    pub fn set(&mut self, key: &str, value: Json) {
        self.0.insert(key.to_string(), value);
    }

    /// Removes `key`.
    pub fn remove(&mut self, key: &str) {
        self.0.remove(key);
    }

    /// The list of names stored under `key` (e.g. what a refresh found drifted); empty when
    /// there is none.
    pub fn names(&self, key: &str) -> Vec<String> {
        self.get(key)
            .and_then(|v| serde_json::from_value(v.clone()).ok())
            .unwrap_or_default()
    }

    /// Stores `names` under `key`, or removes the key when the list is empty.
    pub fn set_names(&mut self, key: &str, names: &[String]) {
        if names.is_empty() {
            self.remove(key);
        } else {
            self.set(key, Json::from(names.to_vec()));
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_name_list_round_trips_and_an_empty_one_is_removed() {
        let mut private = super::Private::default();
        private.set_names("drift", &["function".to_string()]);
        assert_eq!(private.names("drift"), ["function"]);
        private.set_names("drift", &[]);
        assert!(private.get("drift").is_none());
        assert!(private.names("drift").is_empty());
    }

    use super::*;

    #[test]
    fn round_trips_and_tolerates_garbage() {
        let mut p = Private::default();
        assert!(p.to_bytes().is_empty());
        p.set("k", Json::from(3));
        assert_eq!(Private::from_bytes(&p.to_bytes()), p);
        assert_eq!(Private::from_bytes(b"not json"), Private::default());
    }
}
