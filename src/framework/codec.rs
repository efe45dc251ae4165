//! The wire encodings of Terraform values (`DynamicValue`): msgpack (with unknown values as
//! extension 0 or refined extension 12) and JSON (used for stored state).

use std::collections::BTreeMap;

use rmpv::Value as Mp;

use super::types::Type;
use super::value::{Number, Refinements, Value};

/// A value that does not fit its type or is not valid msgpack/JSON.
#[derive(Debug, thiserror::Error)]
#[error("cannot decode value at {path}: {reason}")]
pub struct CodecError {
    path: String,
    reason: String,
}

impl CodecError {
    fn new(path: &str, reason: impl Into<String>) -> CodecError {
        CodecError {
            path: if path.is_empty() {
                "(root)".into()
            } else {
                path.to_string()
            },
            reason: reason.into(),
        }
    }
}

/// msgpack extension code of an unrefined unknown value.
const EXT_UNKNOWN: i8 = 0;
/// msgpack extension code of a refined unknown value.
const EXT_REFINED_UNKNOWN: i8 = 12;

/// Decodes msgpack bytes into a value of type `ty`.
pub fn decode_msgpack(bytes: &[u8], ty: &Type) -> Result<Value, CodecError> {
    if bytes.is_empty() {
        return Ok(Value::Null);
    }
    let mut reader = bytes;
    let raw = rmpv::decode::read_value(&mut reader).map_err(|e| CodecError::new("", e.to_string()))?;
    from_msgpack(&raw, ty, "")
}

/// Encodes a value of type `ty` as msgpack bytes.
pub fn encode_msgpack(value: &Value, ty: &Type) -> Result<Vec<u8>, CodecError> {
    let raw = to_msgpack(value, ty, "")?;
    let mut out = Vec::new();
    rmpv::encode::write_value(&mut out, &raw).map_err(|e| CodecError::new("", e.to_string()))?;
    Ok(out)
}

/// Decodes JSON bytes (stored state) into a value of type `ty`. Attributes missing from an
/// object decode as null; unknown attributes are dropped.
pub fn decode_json(bytes: &[u8], ty: &Type) -> Result<Value, CodecError> {
    if bytes.is_empty() {
        return Ok(Value::Null);
    }
    let json: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| CodecError::new("", e.to_string()))?;
    from_json(&json, ty, "")
}

fn child(path: &str, step: &str) -> String {
    if path.is_empty() {
        step.to_string()
    } else {
        format!("{path}.{step}")
    }
}

fn from_msgpack(raw: &Mp, ty: &Type, path: &str) -> Result<Value, CodecError> {
    match raw {
        Mp::Nil => return Ok(Value::Null),
        Mp::Ext(EXT_UNKNOWN, _) => return Ok(Value::Unknown(None)),
        Mp::Ext(EXT_REFINED_UNKNOWN, payload) => return Ok(Value::Unknown(Some(parse_refinements(payload)))),
        _ => {}
    }
    match ty {
        Type::Bool => raw
            .as_bool()
            .map(Value::Bool)
            .ok_or_else(|| CodecError::new(path, "expected bool")),
        Type::Number => match raw {
            Mp::Integer(i) => match i.as_i64() {
                Some(v) => Ok(Value::Number(Number::Int(v))),
                None => Ok(Value::Number(Number::Decimal(i.to_string()))),
            },
            Mp::F32(f) => Ok(Value::Number(Number::Float(f64::from(*f)))),
            Mp::F64(f) => Ok(Value::Number(Number::Float(*f))),
            Mp::String(s) => {
                let s = s
                    .as_str()
                    .ok_or_else(|| CodecError::new(path, "number string is not UTF-8"))?;
                decimal(s, path)
            }
            _ => Err(CodecError::new(path, "expected number")),
        },
        Type::String => match raw {
            Mp::String(s) => s
                .as_str()
                .map(Value::string)
                .ok_or_else(|| CodecError::new(path, "string is not UTF-8")),
            _ => Err(CodecError::new(path, "expected string")),
        },
        Type::List(el) | Type::Set(el) => {
            let items = raw.as_array().ok_or_else(|| CodecError::new(path, "expected array"))?;
            let values = items
                .iter()
                .enumerate()
                .map(|(i, item)| from_msgpack(item, el, &child(path, &i.to_string())))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(if matches!(ty, Type::List(_)) {
                Value::List(values)
            } else {
                Value::Set(values)
            })
        }
        Type::Map(el) => {
            let entries = raw.as_map().ok_or_else(|| CodecError::new(path, "expected map"))?;
            let mut out = BTreeMap::new();
            for (k, v) in entries {
                let key = k
                    .as_str()
                    .ok_or_else(|| CodecError::new(path, "map key is not a string"))?;
                out.insert(key.to_string(), from_msgpack(v, el, &child(path, key))?);
            }
            Ok(Value::Map(out))
        }
        Type::Object(attrs) => {
            let entries = raw.as_map().ok_or_else(|| CodecError::new(path, "expected object"))?;
            let mut out: BTreeMap<String, Value> = attrs.keys().map(|k| (k.clone(), Value::Null)).collect();
            for (k, v) in entries {
                let key = k
                    .as_str()
                    .ok_or_else(|| CodecError::new(path, "attribute name is not a string"))?;
                if let Some(attr_ty) = attrs.get(key) {
                    out.insert(key.to_string(), from_msgpack(v, attr_ty, &child(path, key))?);
                }
            }
            Ok(Value::Object(out))
        }
        Type::Dynamic => {
            // Dynamic values travel as [type JSON bytes, value].
            let pair = raw
                .as_array()
                .filter(|a| a.len() == 2)
                .ok_or_else(|| CodecError::new(path, "expected dynamic pair"))?;
            let ty_bytes = match &pair[0] {
                Mp::Binary(b) => b.clone(),
                Mp::String(s) => s.as_bytes().to_vec(),
                _ => return Err(CodecError::new(path, "dynamic type must be bytes")),
            };
            let ty_json: serde_json::Value =
                serde_json::from_slice(&ty_bytes).map_err(|e| CodecError::new(path, e.to_string()))?;
            let inner = Type::from_json(&ty_json).ok_or_else(|| CodecError::new(path, "unsupported dynamic type"))?;
            from_msgpack(&pair[1], &inner, path)
        }
    }
}

/// A number sent as decimal text (cty does this for numbers too big for msgpack); the text
/// must be a finite number.
fn decimal(text: &str, path: &str) -> Result<Value, CodecError> {
    match text.trim().parse::<f64>() {
        Ok(f) if f.is_finite() => Ok(Value::Number(Number::Decimal(text.to_string()))),
        _ => Err(CodecError::new(path, format!("expected number, got {text:?}"))),
    }
}

fn parse_refinements(payload: &[u8]) -> Refinements {
    let mut refinements = Refinements {
        raw: payload.to_vec(),
        ..Refinements::default()
    };
    let mut reader = payload;
    if let Ok(Mp::Map(entries)) = rmpv::decode::read_value(&mut reader) {
        for (k, v) in entries {
            match k.as_u64() {
                Some(1) => refinements.nullable = v.as_bool(),
                Some(2) => refinements.string_prefix = v.as_str().map(str::to_string),
                _ => {}
            }
        }
    }
    refinements
}

fn to_msgpack(value: &Value, ty: &Type, path: &str) -> Result<Mp, CodecError> {
    match value {
        Value::Null => return Ok(Mp::Nil),
        Value::Unknown(None) => return Ok(Mp::Ext(EXT_UNKNOWN, vec![0])),
        Value::Unknown(Some(r)) => return Ok(Mp::Ext(EXT_REFINED_UNKNOWN, r.raw.clone())),
        _ => {}
    }
    match (ty, value) {
        (Type::Bool, Value::Bool(b)) => Ok(Mp::Boolean(*b)),
        (Type::Number, Value::Number(n)) => Ok(match n {
            Number::Int(i) => Mp::from(*i),
            Number::Float(f) => Mp::F64(*f),
            Number::Decimal(s) => Mp::from(s.as_str()),
        }),
        (Type::String, Value::String(s)) => Ok(Mp::from(s.as_str())),
        (Type::List(el), Value::List(items)) | (Type::Set(el), Value::Set(items)) => Ok(Mp::Array(
            items
                .iter()
                .enumerate()
                .map(|(i, v)| to_msgpack(v, el, &child(path, &i.to_string())))
                .collect::<Result<_, _>>()?,
        )),
        (Type::Map(el), Value::Map(m)) => Ok(Mp::Map(
            m.iter()
                .map(|(k, v)| Ok((Mp::from(k.as_str()), to_msgpack(v, el, &child(path, k))?)))
                .collect::<Result<_, CodecError>>()?,
        )),
        (Type::Object(attrs), Value::Object(m)) => Ok(Mp::Map(
            attrs
                .iter()
                .map(|(k, t)| {
                    let v = m.get(k).unwrap_or(&Value::Null);
                    Ok((Mp::from(k.as_str()), to_msgpack(v, t, &child(path, k))?))
                })
                .collect::<Result<_, CodecError>>()?,
        )),
        (ty, value) => Err(CodecError::new(
            path,
            format!("value {value:?} does not fit type {}", ty.to_json()),
        )),
    }
}

fn from_json(json: &serde_json::Value, ty: &Type, path: &str) -> Result<Value, CodecError> {
    use serde_json::Value as J;
    if json.is_null() {
        return Ok(Value::Null);
    }
    match ty {
        Type::Bool => json
            .as_bool()
            .map(Value::Bool)
            .ok_or_else(|| CodecError::new(path, "expected bool")),
        Type::Number => match json {
            J::Number(n) => Ok(Value::Number(match (n.as_i64(), n.as_f64()) {
                (Some(i), _) => Number::Int(i),
                (None, Some(f)) if f.is_finite() && n.to_string().contains(['.', 'e', 'E']) => Number::Float(f),
                _ => Number::Decimal(n.to_string()),
            })),
            J::String(s) => decimal(s, path),
            _ => Err(CodecError::new(path, "expected number")),
        },
        Type::String => json
            .as_str()
            .map(Value::string)
            .ok_or_else(|| CodecError::new(path, "expected string")),
        Type::List(el) | Type::Set(el) => {
            let items = json.as_array().ok_or_else(|| CodecError::new(path, "expected array"))?;
            let values = items
                .iter()
                .enumerate()
                .map(|(i, item)| from_json(item, el, &child(path, &i.to_string())))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(if matches!(ty, Type::List(_)) {
                Value::List(values)
            } else {
                Value::Set(values)
            })
        }
        Type::Map(el) => {
            let entries = json.as_object().ok_or_else(|| CodecError::new(path, "expected map"))?;
            let mut out = BTreeMap::new();
            for (k, v) in entries {
                out.insert(k.clone(), from_json(v, el, &child(path, k))?);
            }
            Ok(Value::Map(out))
        }
        Type::Object(attrs) => {
            let entries = json
                .as_object()
                .ok_or_else(|| CodecError::new(path, "expected object"))?;
            let mut out = BTreeMap::new();
            for (k, t) in attrs {
                let v = entries.get(k).unwrap_or(&J::Null);
                out.insert(k.clone(), from_json(v, t, &child(path, k))?);
            }
            Ok(Value::Object(out))
        }
        Type::Dynamic => Err(CodecError::new(
            path,
            "dynamic values are not supported in stored state",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj_type() -> Type {
        Type::Object(BTreeMap::from([
            ("id".to_string(), Type::String),
            ("n".to_string(), Type::Number),
            ("tags".to_string(), Type::map(Type::String)),
            ("flags".to_string(), Type::set(Type::Bool)),
        ]))
    }

    #[test]
    fn msgpack_round_trip_keeps_nulls_and_unknowns() {
        let mut v = Value::Object(BTreeMap::new());
        v.set("id", Value::unknown());
        v.set("n", Value::int(7));
        v.set("tags", Value::string_map([("a", "b")]));
        v.set("flags", Value::Null);
        let bytes = encode_msgpack(&v, &obj_type()).unwrap();
        let back = decode_msgpack(&bytes, &obj_type()).unwrap();
        assert_eq!(back, v);
    }

    #[test]
    fn unknown_is_extension_zero() {
        let bytes = encode_msgpack(&Value::unknown(), &Type::String).unwrap();
        assert_eq!(bytes, vec![0xd4, 0x00, 0x00]);
    }

    #[test]
    fn refined_unknown_keeps_prefix_and_echoes_payload() {
        // {1: false, 2: "x-"} as Terraform 1.15 sends for "x-${unknown}".
        let payload = vec![0x82, 0x01, 0xc2, 0x02, 0xa2, b'x', b'-'];
        let mut wire = vec![0xc7, payload.len() as u8, 12];
        wire.extend(&payload);
        let v = decode_msgpack(&wire, &Type::String).unwrap();
        let Value::Unknown(Some(r)) = &v else {
            panic!("expected refined unknown, got {v:?}")
        };
        assert_eq!(r.string_prefix.as_deref(), Some("x-"));
        assert_eq!(r.nullable, Some(false));
        assert_eq!(encode_msgpack(&v, &Type::String).unwrap(), wire);
    }

    #[test]
    fn numbers_arrive_as_int_float_or_string() {
        let int = encode_msgpack(&Value::int(3), &Type::Number).unwrap();
        assert_eq!(decode_msgpack(&int, &Type::Number).unwrap().as_i64(), Some(3));
        let mut float = Vec::new();
        rmpv::encode::write_value(&mut float, &Mp::F64(2.5)).unwrap();
        assert_eq!(
            decode_msgpack(&float, &Type::Number).unwrap(),
            Value::Number(Number::Float(2.5))
        );
        let mut big = Vec::new();
        rmpv::encode::write_value(&mut big, &Mp::from("123456789012345678901234567890")).unwrap();
        let v = decode_msgpack(&big, &Type::Number).unwrap();
        assert_eq!(
            v,
            Value::Number(Number::Decimal("123456789012345678901234567890".into()))
        );
    }

    #[test]
    fn number_strings_must_be_numbers() {
        let mut text = Vec::new();
        rmpv::encode::write_value(&mut text, &Mp::from("big")).unwrap();
        assert!(decode_msgpack(&text, &Type::Number).is_err());
        assert!(decode_json(br#""NaN""#, &Type::Number).is_err());
        assert_eq!(
            decode_json(br#""12.5""#, &Type::Number).unwrap(),
            Value::Number(Number::Decimal("12.5".into()))
        );
    }

    #[test]
    fn json_state_fills_missing_attributes_with_null() {
        let v = decode_json(br#"{"id":"a","n":1.5,"extra":true}"#, &obj_type()).unwrap();
        assert_eq!(v.get("id").as_str(), Some("a"));
        assert_eq!(v.get("n"), &Value::Number(Number::Float(1.5)));
        assert!(v.get("tags").is_null());
        assert!(v.as_map().unwrap().get("extra").is_none());
    }

    #[test]
    fn type_mismatch_names_the_path() {
        let mut v = Value::Object(BTreeMap::new());
        v.set("n", Value::string("x"));
        let err = encode_msgpack(&v, &obj_type()).unwrap_err();
        assert!(err.to_string().contains("at n"), "{err}");
    }
}
