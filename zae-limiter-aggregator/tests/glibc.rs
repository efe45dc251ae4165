//! The packaged `bootstrap` must run on Amazon Linux 2023 (glibc 2.34): no symbol
//! version it needs may be newer than GLIBC_2.34. The versions are read from the ELF's
//! version-needs section (`.gnu.version_r`, `SHT_GNU_verneed`) by a small reader here.

mod support;

use std::path::Path;
use std::process::Command;

/// Amazon Linux 2023's glibc.
const MAX: (u32, u32) = (2, 34);
const SHT_GNU_VERNEED: u32 = 0x6fff_fffe;

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes(b[at..at + 2].try_into().unwrap())
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}

fn u64_at(b: &[u8], at: usize) -> usize {
    u64::from_le_bytes(b[at..at + 8].try_into().unwrap()) as usize
}

fn c_str(b: &[u8], at: usize) -> String {
    let end = b[at..].iter().position(|&c| c == 0).expect("NUL-terminated") + at;
    String::from_utf8_lossy(&b[at..end]).into_owned()
}

/// Every version name an ELF64 little-endian file needs (`GLIBC_2.17`, `GCC_3.0`, …),
/// from its `SHT_GNU_verneed` section and the string table that section links to.
fn needed_versions(elf: &[u8]) -> Vec<String> {
    assert_eq!(&elf[..4], b"\x7fELF", "an ELF file");
    assert_eq!((elf[4], elf[5]), (2, 1), "ELF64, little-endian");
    let shoff = u64_at(elf, 0x28);
    let shentsize = u16_at(elf, 0x3a) as usize;
    let shnum = u16_at(elf, 0x3c) as usize;
    let section = |i: usize| {
        let h = shoff + i * shentsize;
        // (type, offset, link, info)
        (
            u32_at(elf, h + 4),
            u64_at(elf, h + 0x18),
            u32_at(elf, h + 0x28) as usize,
            u32_at(elf, h + 0x2c),
        )
    };
    let mut names = Vec::new();
    for i in 0..shnum {
        let (kind, offset, link, count) = section(i);
        if kind != SHT_GNU_VERNEED {
            continue;
        }
        let strtab = section(link).1;
        let mut need = offset;
        for _ in 0..count {
            // Elf64_Verneed: vn_version, vn_cnt, vn_file, vn_aux, vn_next.
            let aux_count = u16_at(elf, need + 2);
            let mut aux = need + u32_at(elf, need + 8) as usize;
            for _ in 0..aux_count {
                // Elf64_Vernaux: vna_hash, vna_flags, vna_other, vna_name, vna_next.
                names.push(c_str(elf, strtab + u32_at(elf, aux + 8) as usize));
                aux += u32_at(elf, aux + 12) as usize;
            }
            need += u32_at(elf, need + 12) as usize;
        }
    }
    names
}

/// The `GLIBC_x.y` versions newer than 2.34 that `path` needs.
fn too_new(path: &Path) -> Vec<String> {
    let elf = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let needed = needed_versions(&elf);
    assert!(
        needed.iter().any(|v| v.starts_with("GLIBC_")),
        "{} needs no GLIBC version at all: {needed:?}",
        path.display()
    );
    needed
        .into_iter()
        .filter(|v| {
            let Some(rest) = v.strip_prefix("GLIBC_") else {
                return false;
            };
            let mut parts = rest.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
            (parts.next().unwrap_or(0), parts.next().unwrap_or(0)) > MAX
        })
        .collect()
}

#[test]
fn the_packaged_bootstrap_needs_nothing_newer_than_glibc_2_34() {
    let bootstrap = support::packaged_bootstrap();
    let newer = too_new(&bootstrap);
    assert!(
        newer.is_empty(),
        "{} needs {newer:?} (Amazon Linux 2023 has 2.34)",
        bootstrap.display()
    );
}

/// The check's negative control: a plain host build of a program calling `arc4random`
/// (added in glibc 2.36) needs GLIBC_2.36, and the check says so. Skipped (with a
/// message) on a host whose glibc is older than 2.36, where that program cannot link.
#[test]
fn a_host_build_needing_a_newer_symbol_fails_the_check() {
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("glibc-check");
    std::fs::create_dir_all(&dir).unwrap();
    let source = dir.join("newer.rs");
    std::fs::write(
        &source,
        "unsafe extern \"C\" { fn arc4random() -> u32; }\nfn main() { println!(\"{}\", unsafe { arc4random() }); }\n",
    )
    .unwrap();
    let binary = dir.join("newer");
    let output = Command::new(std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into()))
        .args(["--edition", "2024", "-o"])
        .arg(&binary)
        .arg(&source)
        .output()
        .expect("run rustc");
    if !output.status.success() {
        eprintln!(
            "skipped: the host cannot link arc4random (glibc < 2.36?): {}",
            String::from_utf8_lossy(&output.stderr)
        );
        return;
    }
    assert_eq!(too_new(&binary), ["GLIBC_2.36"]);
}
