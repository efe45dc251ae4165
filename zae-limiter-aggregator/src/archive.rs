//! Audit archival (spec §7.4): the audit events of REMOVE records, as one gzip JSON
//! Lines object per invocation, with 0.17.0's key, headers and line format
//! (`json.dumps(..., separators=(",", ":"))`: ASCII-only, keys in stored order).

use std::future::Future;
use std::io::Write;

use flate2::Compression;
use flate2::write::GzEncoder;
use zae_limiter::schema::keys::AUDIT_PREFIX;

use crate::record::{Attr, AttrMap, StreamRecord};

/// `ContentType` of an archive object.
pub const CONTENT_TYPE: &str = "application/x-ndjson";
/// `ContentEncoding` of an archive object.
pub const CONTENT_ENCODING: &str = "gzip";

/// Where archive objects go (S3 in the Lambda; anything in tests).
pub trait ArchiveSink {
    /// Stores `body` at `key` with the given headers.
    fn put_object(
        &self,
        key: &str,
        body: Vec<u8>,
        content_type: &str,
        content_encoding: &str,
    ) -> impl Future<Output = Result<(), String>> + Send;
}

/// One archived event: its JSON line (without newline) and its timestamp.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchivedEvent {
    /// The JSON line.
    pub line: String,
    /// `timestamp` ("" when absent).
    pub timestamp: String,
}

/// The event of an audit REMOVE record; `Ok(None)` for any other record or an audit
/// item without an `action`; `Err` when the OldImage PK has no namespace.
pub fn extract(record: &StreamRecord) -> Result<Option<ArchivedEvent>, String> {
    if !record.is_remove() {
        return Ok(None);
    }
    let old = record.old_image();
    let pk = old.get_s("PK").unwrap_or("");
    let Some((_, remainder)) = pk.split_once('/') else {
        return Err(format!("Key has no namespace separator '/': {pk}"));
    };
    if !remainder.starts_with(AUDIT_PREFIX) {
        return Ok(None);
    }
    if old.get_s("action").is_none() {
        tracing::warn!(pk, "Audit record missing action field");
        return Ok(None);
    }
    let mut line = String::from("{");
    for key in ["event_id", "entity_id", "action", "timestamp", "principal", "resource"] {
        if let Some(v) = old.get(key) {
            write_str(&mut line, key);
            line.push(':');
            write_attr(&mut line, v);
            line.push(',');
        }
    }
    write_str(&mut line, "details");
    line.push(':');
    match old.get("details") {
        Some(Attr::M(m)) => write_map(&mut line, m),
        _ => line.push_str("{}"),
    }
    line.push('}');
    Ok(Some(ArchivedEvent {
        line,
        timestamp: old.get_s("timestamp").unwrap_or("").to_string(),
    }))
}

fn write_map(out: &mut String, m: &AttrMap) {
    out.push('{');
    for (i, (k, v)) in m.0.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_str(out, k);
        out.push(':');
        write_attr(out, v);
    }
    out.push('}');
}

/// Python's `_deserialize_value` followed by `json.dumps`.
fn write_attr(out: &mut String, v: &Attr) {
    match v {
        Attr::S(s) => write_str(out, s),
        Attr::N(raw) => match raw.parse::<i128>() {
            Ok(i) => out.push_str(&i.to_string()),
            Err(_) => match raw.parse::<f64>() {
                Ok(f) if f.is_finite() => out.push_str(&format!("{f:?}")),
                _ => write_str(out, raw),
            },
        },
        Attr::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Attr::Null(_) => out.push_str("null"),
        Attr::M(m) => write_map(out, m),
        Attr::L(l) => {
            out.push('[');
            for (i, item) in l.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_attr(out, item);
            }
            out.push(']');
        }
        // 0.17.0 passes an unknown type through as its DynamoDB JSON.
        other => {
            let raw = serde_json::to_string(other).unwrap_or_default();
            out.push_str(&ascii_only(&raw));
        }
    }
}

fn ascii_only(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        if c.is_ascii() && c != '\x7f' {
            out.push(c);
        } else {
            for unit in c.encode_utf16(&mut [0; 2]) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        }
    }
    out
}

/// A JSON string as Python's `json.dumps` writes it (`ensure_ascii=True`).
fn write_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\x08' => out.push_str("\\b"),
            '\x0c' => out.push_str("\\f"),
            ' '..='~' => out.push(c),
            _ => {
                for unit in c.encode_utf16(&mut [0; 2]) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
        }
    }
    out.push('"');
}

/// Gzip of the JSON Lines body (one line per event, trailing newline).
pub fn jsonl_gzip(events: &[ArchivedEvent]) -> std::io::Result<Vec<u8>> {
    let mut body = String::new();
    for e in events {
        body.push_str(&e.line);
        body.push('\n');
    }
    let mut enc = GzEncoder::new(Vec::new(), Compression::default());
    enc.write_all(body.as_bytes())?;
    enc.finish()
}

/// `audit/year=YYYY/month=MM/day=DD/audit-{request_id}-{ts}.jsonl.gz` from the earliest
/// event timestamp (`:` → `-`, `+` removed). A timestamp that is not an ISO date falls
/// back to `today` (`YYYY-MM-DD`) for the partition, as 0.17.0 uses the current date.
pub fn object_key(request_id: &str, earliest: &str, today: (i64, u32, u32)) -> String {
    let date = earliest.get(..10).and_then(|d| {
        let mut it = d.split('-');
        let y = it.next()?.parse::<i64>().ok()?;
        let m = it.next()?.parse::<u32>().ok()?;
        let day = it.next()?.parse::<u32>().ok()?;
        ((1..=12).contains(&m) && (1..=31).contains(&day) && d.len() == 10).then_some((y, m, day))
    });
    let (y, m, d) = date.unwrap_or(today);
    let safe = earliest.replace(':', "-").replace('+', "");
    format!("audit/year={y}/month={m:02}/day={d:02}/audit-{request_id}-{safe}.jsonl.gz")
}

/// Result of archiving a batch.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ArchiveResult {
    /// Events written.
    pub events_archived: u64,
    /// Objects written (0 or 1).
    pub s3_objects_created: u64,
    /// Errors (extraction and write).
    pub errors: Vec<String>,
}

/// Archives the audit events of `records` into one object.
pub async fn archive<S: ArchiveSink>(
    sink: &S,
    records: &[&StreamRecord],
    request_id: &str,
    today: (i64, u32, u32),
) -> ArchiveResult {
    let mut result = ArchiveResult::default();
    let mut events = Vec::new();
    for (idx, record) in records.iter().enumerate() {
        match extract(record) {
            Ok(Some(e)) => events.push(e),
            Ok(None) => {}
            Err(e) => result
                .errors
                .push(format!("Error extracting audit event from record {idx}: {e}")),
        }
    }
    if events.is_empty() {
        return result;
    }
    let body = match jsonl_gzip(&events) {
        Ok(b) => b,
        Err(e) => {
            result.errors.push(format!("Error creating JSONL: {e}"));
            return result;
        }
    };
    let earliest = events.iter().map(|e| e.timestamp.as_str()).min().unwrap_or("");
    let key = object_key(request_id, earliest, today);
    result.events_archived = events.len() as u64;
    match sink.put_object(&key, body, CONTENT_TYPE, CONTENT_ENCODING).await {
        Ok(()) => {
            result.s3_objects_created = 1;
            tracing::info!(key, events_count = events.len(), "S3 object created");
        }
        Err(e) => result.errors.push(format!("Error writing to S3: {e}")),
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::sync::Mutex;

    use crate::record::StreamEvent;

    /// `(key, body, content type, content encoding)`.
    type Stored = (String, Vec<u8>, String, String);

    #[derive(Default)]
    struct Memory(Mutex<Vec<Stored>>);

    impl ArchiveSink for Memory {
        async fn put_object(&self, key: &str, body: Vec<u8>, ct: &str, ce: &str) -> Result<(), String> {
            self.0.lock().unwrap().push((key.into(), body, ct.into(), ce.into()));
            Ok(())
        }
    }

    const EVENT: &str = r##"{"Records":[
      {"eventName":"REMOVE","dynamodb":{"OldImage":{
        "PK":{"S":"ns/AUDIT#e"},"SK":{"S":"#AUDIT#01B"},"resource":{"NULL":true},"entity_id":{"S":"e"},
        "event_id":{"S":"01B"},"timestamp":{"S":"2026-11-23T02:14:49Z"},"action":{"S":"limits_set"},
        "principal":{"S":"caf\u00e9 \"x\""},"details":{"M":{"z":{"N":"1"},"a":{"L":[{"N":"2.5"},{"BOOL":false}]}}},
        "ttl":{"N":"1"}}}},
      {"eventName":"REMOVE","dynamodb":{"OldImage":{
        "PK":{"S":"ns/AUDIT#f"},"event_id":{"S":"01A"},"timestamp":{"S":"2026-11-22T23:00:00Z"},
        "action":{"S":"entity_created"}}}},
      {"eventName":"REMOVE","dynamodb":{"OldImage":{"PK":{"S":"ns/AUDIT#g"},"event_id":{"S":"x"}}}},
      {"eventName":"REMOVE","dynamodb":{"OldImage":{"PK":{"S":"ns/BUCKET#e#r#0"},"action":{"S":"x"}}}},
      {"eventName":"MODIFY","dynamodb":{"OldImage":{"PK":{"S":"ns/AUDIT#e"},"action":{"S":"x"}}}}
    ]}"##;

    fn records() -> Vec<StreamRecord> {
        StreamEvent::from_json(EVENT)
            .unwrap()
            .records
            .into_iter()
            .map(|r| match r {
                crate::record::BatchRecord::Record(r) => r,
                crate::record::BatchRecord::Malformed => panic!("well-formed"),
            })
            .collect()
    }

    #[test]
    fn lines_match_python_json_dumps() {
        let e = extract(&records()[0]).unwrap().unwrap();
        assert_eq!(
            e.line,
            r#"{"event_id":"01B","entity_id":"e","action":"limits_set","timestamp":"2026-11-23T02:14:49Z","#
                .to_string()
                + r#""principal":"caf\u00e9 \"x\"","resource":null,"details":{"z":1,"a":[2.5,false]}}"#
        );
        let bare = extract(&records()[1]).unwrap().unwrap();
        assert!(
            bare.line
                .ends_with(r#""action":"entity_created","timestamp":"2026-11-22T23:00:00Z","details":{}}"#)
        );
        assert_eq!(extract(&records()[2]).unwrap(), None, "no action");
        assert_eq!(extract(&records()[3]).unwrap(), None, "not audit");
        assert_eq!(extract(&records()[4]).unwrap(), None, "not a REMOVE");
    }

    #[test]
    fn key_comes_from_the_earliest_event() {
        assert_eq!(
            object_key("req-123", "2026-11-23T02:14:49Z", (1970, 1, 1)),
            "audit/year=2026/month=11/day=23/audit-req-123-2026-11-23T02-14-49Z.jsonl.gz"
        );
        assert_eq!(
            object_key("r", "2026-11-23T02:14:49+00:00", (1970, 1, 1)),
            "audit/year=2026/month=11/day=23/audit-r-2026-11-23T02-14-4900-00.jsonl.gz"
        );
        assert_eq!(
            object_key("r", "", (2027, 2, 3)),
            "audit/year=2027/month=02/day=03/audit-r-.jsonl.gz"
        );
    }

    #[tokio::test]
    async fn one_gzip_object_per_batch() {
        let sink = Memory::default();
        let recs = records();
        let refs: Vec<&StreamRecord> = recs.iter().collect();
        let result = archive(&sink, &refs, "req-1", (1970, 1, 1)).await;
        assert_eq!(
            (result.events_archived, result.s3_objects_created, result.errors.len()),
            (2, 1, 0)
        );
        let (key, body, ct, ce) = sink.0.lock().unwrap()[0].clone();
        assert_eq!(
            key,
            "audit/year=2026/month=11/day=22/audit-req-1-2026-11-22T23-00-00Z.jsonl.gz"
        );
        assert_eq!((ct.as_str(), ce.as_str()), (CONTENT_TYPE, CONTENT_ENCODING));
        let mut text = String::new();
        flate2::read::GzDecoder::new(&body[..])
            .read_to_string(&mut text)
            .unwrap();
        let lines: Vec<&str> = text.split_terminator('\n').collect();
        assert_eq!(lines.len(), 2);
        assert!(text.ends_with('\n'));
        assert!(lines[0].starts_with(r#"{"event_id":"01B""#));
        let bad = StreamRecord {
            event_name: Some("REMOVE".into()),
            dynamodb: crate::record::StreamData {
                old_image: Some(AttrMap(vec![("PK".into(), Attr::S("AUDIT#x".into()))])),
                ..Default::default()
            },
        };
        let r = archive(&sink, &[&bad], "req-2", (1970, 1, 1)).await;
        assert_eq!((r.events_archived, r.errors.len()), (0, 1));
    }
}
