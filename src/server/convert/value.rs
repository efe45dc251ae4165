//! `DynamicValue`, `RawState` and `ResourceIdentityData` ↔ framework values.
//!
//! Terraform sends values as msgpack (with unknowns) and occasionally JSON; stored state
//! arrives as JSON in a `RawState`. The provider always answers in msgpack.

use crate::framework::codec::{self, CodecError};
use crate::framework::diag::Diagnostics;
use crate::framework::types::Type;
use crate::framework::value::Value;
use crate::server::proto::tfplugin6 as pb;

/// A value that could not cross the protocol boundary. Each variant names the request or
/// response field involved, so the diagnostic tells where things went wrong.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ConvertError {
    /// Terraform sent bytes that do not decode with the schema's type.
    #[error("cannot decode `{field}`: {source}")]
    Decode {
        /// The protocol field.
        field: &'static str,
        /// What went wrong.
        source: CodecError,
    },
    /// The provider produced a value that does not fit the schema's type.
    #[error("cannot encode `{field}`: {source}")]
    Encode {
        /// The protocol field.
        field: &'static str,
        /// What went wrong.
        source: CodecError,
    },
    /// Stored state is not valid JSON.
    #[error("cannot parse `{field}` as JSON: {source}")]
    Json {
        /// The protocol field.
        field: &'static str,
        /// What went wrong.
        source: serde_json::Error,
    },
    /// Stored state is in the pre-0.12 flatmap format, which this provider cannot read.
    #[error("`{field}` holds legacy flatmap state")]
    Flatmap {
        /// The protocol field.
        field: &'static str,
    },
}

impl ConvertError {
    /// Adds this error to `diags` as an error diagnostic.
    pub(crate) fn add_to(&self, diags: &mut Diagnostics) {
        match self {
            ConvertError::Decode { field, source } => diags.error(
                format!("Unable to decode {field}"),
                format!(
                    "The provider could not read the `{field}` value sent by Terraform: {source}.\n\n\
                     This is a bug in the provider or in Terraform; please report it."
                ),
            ),
            ConvertError::Encode { field, source } => diags.error(
                format!("Unable to encode {field}"),
                format!(
                    "The provider produced a `{field}` value that does not match its schema: \
                     {source}.\n\nThis is a bug in the provider; please report it."
                ),
            ),
            ConvertError::Json { field, source } => diags.error(
                format!("Unable to read {field}"),
                format!("The stored `{field}` is not valid JSON: {source}."),
            ),
            ConvertError::Flatmap { field } => diags.error(
                "Unsupported legacy state format",
                format!(
                    "The stored `{field}` uses the flatmap format of Terraform 0.11 and earlier, \
                     which this provider cannot read. Refresh the resource with Terraform 0.12 or \
                     newer using an older provider release, or remove it from state and import it \
                     again."
                ),
            ),
        }
    }
}

/// Decodes a `DynamicValue` (msgpack, else JSON) of type `ty`. A missing or empty value is
/// null.
pub(crate) fn decode_dynamic(
    value: Option<&pb::DynamicValue>,
    ty: &Type,
    field: &'static str,
) -> Result<Value, ConvertError> {
    let Some(value) = value else {
        return Ok(Value::Null);
    };
    let decoded = if !value.msgpack.is_empty() {
        codec::decode_msgpack(&value.msgpack, ty)
    } else if !value.json.is_empty() {
        codec::decode_json(&value.json, ty)
    } else {
        return Ok(Value::Null);
    };
    decoded.map_err(|source| ConvertError::Decode { field, source })
}

/// Encodes a value of type `ty` as a msgpack `DynamicValue`.
pub(crate) fn encode_dynamic(value: &Value, ty: &Type, field: &'static str) -> Result<pb::DynamicValue, ConvertError> {
    codec::encode_msgpack(value, ty)
        .map(|msgpack| pb::DynamicValue {
            msgpack,
            json: Vec::new(),
        })
        .map_err(|source| ConvertError::Encode { field, source })
}

/// The JSON bytes of stored state; `None` when nothing is stored. Flatmap state is an error.
fn raw_json<'a>(raw: Option<&'a pb::RawState>, field: &'static str) -> Result<Option<&'a [u8]>, ConvertError> {
    match raw {
        Some(raw) if !raw.json.is_empty() => Ok(Some(&raw.json)),
        Some(raw) if !raw.flatmap.is_empty() => Err(ConvertError::Flatmap { field }),
        _ => Ok(None),
    }
}

/// Decodes stored JSON state with type `ty`: attributes the type lacks are dropped and
/// attributes the JSON lacks are null. Nothing stored decodes as null.
pub(crate) fn decode_raw_json(
    raw: Option<&pb::RawState>,
    ty: &Type,
    field: &'static str,
) -> Result<Value, ConvertError> {
    match raw_json(raw, field)? {
        Some(bytes) => codec::decode_json(bytes, ty).map_err(|source| ConvertError::Decode { field, source }),
        None => Ok(Value::Null),
    }
}

/// Parses stored JSON state as an untyped JSON document (for state upgraders).
pub(crate) fn raw_json_document(
    raw: Option<&pb::RawState>,
    field: &'static str,
) -> Result<serde_json::Value, ConvertError> {
    match raw_json(raw, field)? {
        Some(bytes) => serde_json::from_slice(bytes).map_err(|source| ConvertError::Json { field, source }),
        None => Ok(serde_json::Value::Null),
    }
}

/// Decodes identity data of type `ty`; absent identity is null.
pub(crate) fn decode_identity(
    data: Option<&pb::ResourceIdentityData>,
    ty: &Type,
    field: &'static str,
) -> Result<Value, ConvertError> {
    decode_dynamic(data.and_then(|d| d.identity_data.as_ref()), ty, field)
}

/// Encodes identity data of type `ty`.
pub(crate) fn encode_identity(
    identity: &Value,
    ty: &Type,
    field: &'static str,
) -> Result<pb::ResourceIdentityData, ConvertError> {
    encode_dynamic(identity, ty, field).map(|dv| pb::ResourceIdentityData {
        identity_data: Some(dv),
    })
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, HashMap};

    use super::*;

    fn ty() -> Type {
        Type::Object(BTreeMap::from([
            ("id".to_string(), Type::String),
            ("count".to_string(), Type::Number),
            ("tags".to_string(), Type::map(Type::String)),
        ]))
    }

    fn sample() -> Value {
        let mut v = Value::Object(BTreeMap::new());
        v.set("id", Value::unknown());
        v.set("count", Value::int(3));
        v.set("tags", Value::string_map([("team", "core")]));
        v
    }

    #[test]
    fn msgpack_round_trip() {
        let dv = encode_dynamic(&sample(), &ty(), "new_state").expect("encodes");
        assert!(dv.json.is_empty());
        let back = decode_dynamic(Some(&dv), &ty(), "new_state").expect("decodes");
        assert_eq!(back, sample());
    }

    #[test]
    fn json_is_used_when_msgpack_is_empty() {
        let dv = pb::DynamicValue {
            msgpack: Vec::new(),
            json: br#"{"id":"a","count":1,"other":2}"#.to_vec(),
        };
        let v = decode_dynamic(Some(&dv), &ty(), "config").expect("decodes");
        assert_eq!(v.get("id").as_str(), Some("a"));
        assert!(v.get("tags").is_null());
        assert!(v.as_map().expect("object").get("other").is_none());
    }

    #[test]
    fn missing_or_empty_values_are_null() {
        assert_eq!(decode_dynamic(None, &ty(), "prior_state").expect("null"), Value::Null);
        let empty = pb::DynamicValue::default();
        assert_eq!(
            decode_dynamic(Some(&empty), &ty(), "prior_state").expect("null"),
            Value::Null
        );
        let nil = encode_dynamic(&Value::Null, &ty(), "planned_state").expect("nil");
        assert_eq!(nil.msgpack, vec![0xc0]);
    }

    #[test]
    fn decode_errors_name_the_field() {
        let dv = pb::DynamicValue {
            msgpack: vec![0xa1, b'x'],
            json: Vec::new(),
        };
        let err = decode_dynamic(Some(&dv), &ty(), "proposed_new_state").expect_err("a string is not an object");
        assert!(err.to_string().contains("`proposed_new_state`"), "{err}");
        let mut diags = Diagnostics::new();
        err.add_to(&mut diags);
        let d = diags.iter().next().expect("diagnostic");
        assert_eq!(d.summary, "Unable to decode proposed_new_state");
    }

    #[test]
    fn encode_errors_name_the_field() {
        let mut bad = sample();
        bad.set("count", Value::string("three"));
        let err = encode_dynamic(&bad, &ty(), "new_state").expect_err("mismatch");
        assert!(matches!(err, ConvertError::Encode { field: "new_state", .. }));
    }

    #[test]
    fn raw_state_json_and_flatmap() {
        let raw = pb::RawState {
            json: br#"{"id":"x","gone":true}"#.to_vec(),
            flatmap: HashMap::new(),
        };
        let v = decode_raw_json(Some(&raw), &ty(), "raw_state").expect("decodes");
        assert_eq!(v.get("id").as_str(), Some("x"));
        assert!(v.get("count").is_null());
        let doc = raw_json_document(Some(&raw), "raw_state").expect("json");
        assert_eq!(doc["gone"], serde_json::Value::Bool(true));

        let flat = pb::RawState {
            json: Vec::new(),
            flatmap: HashMap::from([("id".to_string(), "x".to_string())]),
        };
        assert!(matches!(
            decode_raw_json(Some(&flat), &ty(), "raw_state"),
            Err(ConvertError::Flatmap { .. })
        ));
        assert_eq!(decode_raw_json(None, &ty(), "raw_state").expect("null"), Value::Null);
    }

    #[test]
    fn identity_round_trip() {
        let ty = Type::Object(BTreeMap::from([("name".to_string(), Type::String)]));
        let mut id = Value::Object(BTreeMap::new());
        id.set("name", "w".into());
        let data = encode_identity(&id, &ty, "new_identity").expect("encodes");
        assert_eq!(
            decode_identity(Some(&data), &ty, "current_identity").expect("decodes"),
            id
        );
        assert_eq!(
            decode_identity(None, &ty, "current_identity").expect("null"),
            Value::Null
        );
    }
}
