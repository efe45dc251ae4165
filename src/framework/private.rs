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
}

#[cfg(test)]
mod tests {
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
