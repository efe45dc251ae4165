//! The Lambda package: a zip holding one file, `bootstrap`, mode 0755, written so that
//! the same binary always gives the same bytes (fixed 1980-01-01 00:00 timestamp, no
//! extra fields, fixed deflate level). A byte-identical zip hashes the same, so an
//! unchanged binary plans no change.
//!
//! The writer is this small module rather than the `zip` crate: one stored entry needs
//! only the local header, the central directory and its end record, and flate2 (already
//! a dependency for the archive) gives raw deflate and CRC-32.

use std::io::Write;

use flate2::Compression;
use flate2::write::DeflateEncoder;

/// The entry name Lambda's `provided.al2023` runtime runs.
pub const ENTRY_NAME: &str = "bootstrap";

/// MS-DOS date of 1980-01-01 (the earliest a zip can hold), time 00:00:00.
const DOS_DATE: u16 = (1 << 5) | 1;
const DOS_TIME: u16 = 0;
/// "Version made by": Unix (3), spec 2.0, so the external attributes carry a mode.
const MADE_BY: u16 = (3 << 8) | 20;
const NEEDED: u16 = 20;
const DEFLATE: u16 = 8;
/// A regular file, rwxr-xr-x, in the upper 16 bits.
const EXTERNAL_ATTRS: u32 = 0o100_755 << 16;

/// Why a package could not be written.
#[derive(Debug, thiserror::Error)]
pub enum PackageError {
    /// The binary is too large for a zip without zip64 (4 GiB).
    #[error("the binary is {0} bytes, too large for a zip without zip64")]
    TooLarge(usize),
    /// The entry name is longer than a zip header can hold.
    #[error("the entry name is {0} bytes, more than a zip holds")]
    NameTooLong(usize),
    /// Compression failed.
    #[error("deflate: {0}")]
    Io(#[from] std::io::Error),
}

/// Zips `binary` as `bootstrap` (deflate, level 9), deterministically.
pub fn zip_bootstrap(binary: &[u8]) -> Result<Vec<u8>, PackageError> {
    zip_one(ENTRY_NAME, binary)
}

/// Zips `binary` as the one entry `name` (mode 0755, deflate level 9), deterministically:
/// the writer behind [`zip_bootstrap`], also used to make other one-file packages (e.g. a
/// stand-in for another runtime's package in tests).
pub fn zip_one(name: &str, binary: &[u8]) -> Result<Vec<u8>, PackageError> {
    let name_len = u16::try_from(name.len()).map_err(|_| PackageError::NameTooLong(name.len()))?;
    let size = u32::try_from(binary.len()).map_err(|_| PackageError::TooLarge(binary.len()))?;
    let mut crc = flate2::Crc::new();
    crc.update(binary);
    let mut encoder = DeflateEncoder::new(Vec::new(), Compression::best());
    encoder.write_all(binary)?;
    let data = encoder.finish()?;
    let csize = u32::try_from(data.len()).map_err(|_| PackageError::TooLarge(data.len()))?;
    let name = name.as_bytes();

    let mut out = Vec::with_capacity(data.len() + 128);
    // Local file header.
    put32(&mut out, 0x0403_4b50);
    for v in [NEEDED, 0, DEFLATE, DOS_TIME, DOS_DATE] {
        put16(&mut out, v);
    }
    for v in [crc.sum(), csize, size] {
        put32(&mut out, v);
    }
    put16(&mut out, name_len);
    put16(&mut out, 0);
    out.extend_from_slice(name);
    out.extend_from_slice(&data);
    // Central directory.
    let cd_offset = out.len() as u32;
    put32(&mut out, 0x0201_4b50);
    for v in [MADE_BY, NEEDED, 0, DEFLATE, DOS_TIME, DOS_DATE] {
        put16(&mut out, v);
    }
    for v in [crc.sum(), csize, size] {
        put32(&mut out, v);
    }
    // Name length, extra, comment, disk number, internal attributes.
    for v in [name_len, 0, 0, 0, 0] {
        put16(&mut out, v);
    }
    put32(&mut out, EXTERNAL_ATTRS);
    put32(&mut out, 0);
    out.extend_from_slice(name);
    let cd_size = out.len() as u32 - cd_offset;
    // End of central directory.
    put32(&mut out, 0x0605_4b50);
    for v in [0, 0, 1, 1] {
        put16(&mut out, v);
    }
    put32(&mut out, cd_size);
    put32(&mut out, cd_offset);
    put16(&mut out, 0);
    Ok(out)
}

/// The entry names of a zip (from its central directory), to tell what a user's package
/// holds: a `bootstrap` (a custom runtime) or Python modules. Zip64 and multi-disk
/// archives, which Lambda packages do not need, are reported as unreadable.
pub fn entry_names(zip: &[u8]) -> Result<Vec<String>, ZipReadError> {
    const EOCD_SIZE: usize = 22;
    const MAX_COMMENT: usize = u16::MAX as usize;
    if zip.len() < EOCD_SIZE {
        return Err(ZipReadError("too short to be a zip"));
    }
    let search_from = zip.len().saturating_sub(EOCD_SIZE + MAX_COMMENT);
    let eocd = (search_from..=zip.len() - EOCD_SIZE)
        .rev()
        .find(|&at| read_u32(zip, at) == Some(0x0605_4b50))
        .ok_or(ZipReadError("no end of central directory record"))?;
    let entries = read_u16(zip, eocd + 10).ok_or(ZipReadError("truncated end record"))?;
    let mut at = read_u32(zip, eocd + 16).ok_or(ZipReadError("truncated end record"))? as usize;
    let mut names = Vec::with_capacity(usize::from(entries));
    for _ in 0..entries {
        if read_u32(zip, at) != Some(0x0201_4b50) {
            return Err(ZipReadError("bad central directory entry"));
        }
        let field = |offset: usize| read_u16(zip, at + offset).map(usize::from);
        let (Some(name_len), Some(extra_len), Some(comment_len)) = (field(28), field(30), field(32)) else {
            return Err(ZipReadError("truncated central directory entry"));
        };
        let name = zip
            .get(at + 46..at + 46 + name_len)
            .ok_or(ZipReadError("truncated entry name"))?;
        names.push(String::from_utf8_lossy(name).into_owned());
        at += 46 + name_len + extra_len + comment_len;
    }
    Ok(names)
}

/// A zip whose entries cannot be listed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a readable zip: {0}")]
pub struct ZipReadError(&'static str);

fn read_u16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn read_u32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn put16(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn put32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    fn u16_at(b: &[u8], at: usize) -> u16 {
        u16::from_le_bytes([b[at], b[at + 1]])
    }

    fn u32_at(b: &[u8], at: usize) -> u32 {
        u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
    }

    #[test]
    fn entry_names_lists_what_a_zip_holds() {
        let zip = zip_bootstrap(b"binary").unwrap();
        assert_eq!(entry_names(&zip).unwrap(), vec!["bootstrap".to_string()]);
        let python = zip_one("zae_limiter_aggregator/handler.py", b"def handler(event, context): ...").unwrap();
        assert_eq!(
            entry_names(&python).unwrap(),
            vec!["zae_limiter_aggregator/handler.py".to_string()]
        );
        assert!(entry_names(b"not a zip at all, just some text").is_err());
        assert!(entry_names(&zip[..zip.len() - 30]).is_err());
    }

    #[test]
    fn zipping_twice_gives_identical_bytes() {
        let binary: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        assert_eq!(zip_bootstrap(&binary).unwrap(), zip_bootstrap(&binary).unwrap());
        assert_ne!(zip_bootstrap(&binary).unwrap(), zip_bootstrap(&binary[1..]).unwrap());
    }

    #[test]
    fn the_entry_is_bootstrap_mode_0755_and_inflates_to_the_binary() {
        let binary = b"\x7fELF pretend binary, repeated repeated repeated repeated".to_vec();
        let zip = zip_bootstrap(&binary).unwrap();
        // End record → central directory → local header.
        let eocd = zip.len() - 22;
        assert_eq!(u32_at(&zip, eocd), 0x0605_4b50);
        assert_eq!(u16_at(&zip, eocd + 10), 1, "one entry");
        let cd = u32_at(&zip, eocd + 16) as usize;
        assert_eq!(u32_at(&zip, cd), 0x0201_4b50);
        assert_eq!(u16_at(&zip, cd + 4) >> 8, 3, "made on Unix");
        assert_eq!(u32_at(&zip, cd + 38) >> 16, 0o100_755, "regular file, 0755");
        assert_eq!(&zip[cd + 46..cd + 46 + 9], b"bootstrap");
        assert_eq!(
            (u16_at(&zip, cd + 12), u16_at(&zip, cd + 14)),
            (0, DOS_DATE),
            "1980-01-01 00:00"
        );
        let local = u32_at(&zip, cd + 42) as usize;
        assert_eq!(u32_at(&zip, local), 0x0403_4b50);
        let csize = u32_at(&zip, local + 18) as usize;
        let start = local + 30 + u16_at(&zip, local + 26) as usize;
        let mut inflated = Vec::new();
        flate2::read::DeflateDecoder::new(&zip[start..start + csize])
            .read_to_end(&mut inflated)
            .unwrap();
        assert_eq!(inflated, binary);
        let mut crc = flate2::Crc::new();
        crc.update(&binary);
        assert_eq!(u32_at(&zip, local + 14), crc.sum());
    }
}
