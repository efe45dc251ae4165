//! Time and random identifiers: the token-bucket clock (epoch ms), zae-limiter's UTC
//! timestamp format, ULIDs for audit events, namespace ids and entity incarnations.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use rand::Rng as _;

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Days since 1970-01-01 → (year, month, day), proleptic Gregorian (H. Hinnant's
/// `civil_from_days`).
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Formats epoch seconds as `YYYY-MM-DDTHH:MM:SSZ` (UTC), zae-limiter's
/// `time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())`.
pub fn format_utc(epoch_seconds: i64) -> String {
    let days = epoch_seconds.div_euclid(86_400);
    let secs = epoch_seconds.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// The current UTC time in zae-limiter's timestamp format.
pub fn utc_now_string() -> String {
    format_utc(now_ms().div_euclid(1000))
}

const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// A ULID for `time_ms`: 48-bit timestamp + 80 random bits, 26 Crockford base32
/// characters, lexically time-ordered.
pub fn ulid_at(time_ms: i64) -> String {
    let random: u128 = rand::rng().random::<u128>() & ((1u128 << 80) - 1);
    let value: u128 = ((time_ms as u128 & ((1u128 << 48) - 1)) << 80) | random;
    (0..26)
        .map(|i| CROCKFORD[((value >> (125 - 5 * i)) & 0x1f) as usize] as char)
        .collect()
}

/// A ULID for now.
pub fn ulid() -> String {
    ulid_at(now_ms())
}

/// A namespace id like Python's `secrets.token_urlsafe(8)`: 8 random bytes, base64url
/// without padding (11 characters), regenerated while it starts with `-`.
pub fn new_namespace_id() -> String {
    loop {
        let bytes: [u8; 8] = rand::rng().random();
        let id = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
        if !id.starts_with('-') {
            return id;
        }
    }
}

/// An entity incarnation token: 16 lowercase hex characters (`secrets.token_hex(8)`).
pub fn new_incarnation() -> String {
    let bytes: [u8; 8] = rand::rng().random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_utc_like_strftime() {
        assert_eq!(format_utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_utc(1_795_400_235), "2026-11-23T02:17:15Z");
        assert_eq!(format_utc(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(format_utc(4_102_444_799), "2099-12-31T23:59:59Z");
    }

    #[test]
    fn ulids_are_26_crockford_chars_and_time_ordered() {
        let a = ulid_at(1_795_400_235_000);
        let b = ulid_at(1_795_400_235_001);
        assert_eq!(a.len(), 26);
        assert!(a.bytes().all(|c| CROCKFORD.contains(&c)));
        assert!(a < b);
        // The first 10 characters encode the timestamp: the vector event of docs/wire-format.md §13
        // 01M8332YKC… was written at 2026-11-23T02:17:15Z.
        assert!(ulid_at(1_795_400_235_500).starts_with("01M8332"));
    }

    #[test]
    fn namespace_ids_look_like_token_urlsafe_8() {
        for _ in 0..200 {
            let id = new_namespace_id();
            assert_eq!(id.len(), 11);
            assert!(!id.starts_with('-'));
            assert!(id.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'));
        }
        let inc = new_incarnation();
        assert_eq!(inc.len(), 16);
        assert!(inc.bytes().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
    }
}
