//! DynamoDB stream records in the JSON shape Lambda delivers (`Records[].eventName`,
//! `Records[].dynamodb.{Keys,NewImage,OldImage,SequenceNumber}`), decoded with their
//! attribute order kept (the audit archive writes map keys in stored order, as 0.17.0
//! does).

use std::fmt;

use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use base64::Engine;
use serde::de::{Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Serialize, Serializer};
use zae_limiter::schema::attrs::Item;

/// One attribute value in DynamoDB JSON (`{"S": "x"}`, `{"N": "1"}`, ...). Numbers stay
/// strings, as on the wire, so a malformed one fails where 0.17.0's `int()` would.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub enum Attr {
    /// String.
    S(String),
    /// Number (decimal string).
    N(String),
    /// Boolean.
    #[serde(rename = "BOOL")]
    Bool(bool),
    /// Null.
    #[serde(rename = "NULL")]
    Null(bool),
    /// Map, in stored order.
    M(AttrMap),
    /// List.
    L(Vec<Attr>),
    /// String set.
    #[serde(rename = "SS")]
    Ss(Vec<String>),
    /// Number set.
    #[serde(rename = "NS")]
    Ns(Vec<String>),
    /// Binary (base64).
    B(String),
    /// Binary set (base64).
    #[serde(rename = "BS")]
    Bs(Vec<String>),
}

impl Attr {
    /// The SDK's representation (binary values that are not base64 become empty).
    pub fn to_attribute_value(&self) -> AttributeValue {
        let blob = |b64: &str| {
            Blob::new(
                base64::engine::general_purpose::STANDARD
                    .decode(b64)
                    .unwrap_or_default(),
            )
        };
        match self {
            Attr::S(v) => AttributeValue::S(v.clone()),
            Attr::N(v) => AttributeValue::N(v.clone()),
            Attr::Bool(v) => AttributeValue::Bool(*v),
            Attr::Null(v) => AttributeValue::Null(*v),
            Attr::M(m) => AttributeValue::M(m.to_item()),
            Attr::L(l) => AttributeValue::L(l.iter().map(Attr::to_attribute_value).collect()),
            Attr::Ss(v) => AttributeValue::Ss(v.clone()),
            Attr::Ns(v) => AttributeValue::Ns(v.clone()),
            Attr::B(v) => AttributeValue::B(blob(v)),
            Attr::Bs(v) => AttributeValue::Bs(v.iter().map(|b| blob(b)).collect()),
        }
    }

    /// The string of an `S`.
    pub fn as_s(&self) -> Option<&str> {
        match self {
            Attr::S(v) => Some(v),
            _ => None,
        }
    }
}

/// A DynamoDB map (or image) with its keys in the order they were delivered.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AttrMap(pub Vec<(String, Attr)>);

impl AttrMap {
    /// The attribute `name`.
    pub fn get(&self, name: &str) -> Option<&Attr> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v)
    }

    /// Whether `name` is present.
    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// The string value of `name`, when it is an `S`.
    pub fn get_s(&self, name: &str) -> Option<&str> {
        self.get(name).and_then(Attr::as_s)
    }

    /// The SDK item (a later duplicate key wins, as in a JSON object).
    pub fn to_item(&self) -> Item {
        self.0
            .iter()
            .map(|(k, v)| (k.clone(), v.to_attribute_value()))
            .collect()
    }
}

impl<'de> Deserialize<'de> for AttrMap {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct OrderedVisitor;
        impl<'de> Visitor<'de> for OrderedVisitor {
            type Value = AttrMap;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a DynamoDB JSON map")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<AttrMap, A::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, Attr>()? {
                    out.push((k, v));
                }
                Ok(AttrMap(out))
            }
        }
        deserializer.deserialize_map(OrderedVisitor)
    }
}

impl Serialize for AttrMap {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

/// The `dynamodb` part of a stream record.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct StreamData {
    /// Key attributes.
    #[serde(default)]
    pub keys: Option<AttrMap>,
    /// The item after the change (MODIFY / INSERT).
    #[serde(default)]
    pub new_image: Option<AttrMap>,
    /// The item before the change (MODIFY / REMOVE).
    #[serde(default)]
    pub old_image: Option<AttrMap>,
    /// Stream sequence number.
    #[serde(default)]
    pub sequence_number: Option<String>,
}

/// One stream record.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
pub struct StreamRecord {
    /// `INSERT` / `MODIFY` / `REMOVE`.
    #[serde(rename = "eventName", default)]
    pub event_name: Option<String>,
    /// The change.
    #[serde(default)]
    pub dynamodb: StreamData,
}

impl StreamRecord {
    /// Whether this is a `MODIFY`.
    pub fn is_modify(&self) -> bool {
        self.event_name.as_deref() == Some("MODIFY")
    }

    /// Whether this is a `REMOVE`.
    pub fn is_remove(&self) -> bool {
        self.event_name.as_deref() == Some("REMOVE")
    }

    /// The NewImage (empty when absent, like 0.17.0's `.get("NewImage", {})`).
    pub fn new_image(&self) -> &AttrMap {
        static EMPTY: AttrMap = AttrMap(Vec::new());
        self.dynamodb.new_image.as_ref().unwrap_or(&EMPTY)
    }

    /// The OldImage (empty when absent).
    pub fn old_image(&self) -> &AttrMap {
        static EMPTY: AttrMap = AttrMap(Vec::new());
        self.dynamodb.old_image.as_ref().unwrap_or(&EMPTY)
    }
}

/// A record of a batch: decoded, or malformed (its shape is not a stream record's).
#[derive(Debug, Clone, PartialEq)]
pub enum BatchRecord {
    /// A well-formed record.
    Record(StreamRecord),
    /// A record whose JSON does not have the stream record shape.
    Malformed,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum MaybeRecord {
    Record(StreamRecord),
    Malformed(IgnoredAny),
}

/// A Lambda DynamoDB Streams event.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StreamEvent {
    /// The records, in delivery order.
    pub records: Vec<BatchRecord>,
}

impl<'de> Deserialize<'de> for StreamEvent {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Raw {
            #[serde(rename = "Records", default)]
            records: Vec<MaybeRecord>,
        }
        let raw = Raw::deserialize(deserializer)?;
        Ok(StreamEvent {
            records: raw
                .records
                .into_iter()
                .map(|r| match r {
                    MaybeRecord::Record(r) => BatchRecord::Record(r),
                    MaybeRecord::Malformed(_) => BatchRecord::Malformed,
                })
                .collect(),
        })
    }
}

impl StreamEvent {
    /// Parses an event from JSON; only a body that is not a JSON object with a
    /// `Records` list (or none) is an error; a malformed record is kept as
    /// [`BatchRecord::Malformed`].
    pub fn from_json(json: &str) -> Result<StreamEvent, serde_json::Error> {
        serde_json::from_str(json)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_the_lambda_shape_in_order_and_keeps_bad_records() {
        let json = r##"{"Records":[
          {"eventID":"1","eventName":"MODIFY","eventSource":"aws:dynamodb",
           "dynamodb":{"ApproximateCreationDateTime":1.7e9,"Keys":{"PK":{"S":"ns/BUCKET#e#r#0"},"SK":{"S":"#STATE"}},
             "NewImage":{"z":{"N":"1"},"a":{"M":{"y":{"BOOL":true},"b":{"NULL":true}}},"l":{"L":[{"S":"x"}]}},
             "OldImage":{"z":{"N":"0"}},"SequenceNumber":"42","StreamViewType":"NEW_AND_OLD_IMAGES"}},
          {"eventName":"MODIFY","dynamodb":{"NewImage":{"tc":{"N":5}}}},
          "not a record"
        ]}"##;
        let event = StreamEvent::from_json(json).unwrap();
        assert_eq!(event.records.len(), 3);
        let BatchRecord::Record(r) = &event.records[0] else {
            panic!("first record is well-formed")
        };
        assert!(r.is_modify());
        assert_eq!(r.dynamodb.sequence_number.as_deref(), Some("42"));
        let names: Vec<&str> = r.new_image().0.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(names, ["z", "a", "l"]);
        let Some(Attr::M(inner)) = r.new_image().get("a") else {
            panic!()
        };
        assert_eq!(inner.0[0].0, "y");
        assert_eq!(r.new_image().to_item()["z"], AttributeValue::N("1".into()));
        assert_eq!(event.records[1], BatchRecord::Malformed);
        assert_eq!(event.records[2], BatchRecord::Malformed);
        assert!(StreamEvent::from_json("[1]").is_err());
        assert_eq!(StreamEvent::from_json("{}").unwrap().records.len(), 0);
    }
}
