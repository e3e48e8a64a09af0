//! The one small non-cryptographic hash lab uses for names and marks: FNV-1a, 64 bits. Stable
//! across runs, hosts and versions (names of VMs, interfaces and files depend on it); never for
//! integrity (downloads and exports are checked with SHA-256).

/// FNV-1a of `data`.
pub fn fnv1a(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3))
}

/// FNV-1a of `text` as 16 hex digits.
pub fn fnv_hex(text: &str) -> String {
    format!("{:016x}", fnv1a(text.as_bytes()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_published_test_vectors() {
        // From the FNV reference (draft-eastlake-fnv): "" and "a".
        assert_eq!(super::fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(super::fnv_hex("a"), "af63dc4c8601ec8c");
    }
}
