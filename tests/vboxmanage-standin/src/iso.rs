//! Just enough ISO 9660 to do what Anaconda does with an OEMDRV disc: read its volume label and
//! the file `ks.cfg` at its root.

const SECTOR: usize = 2048;

fn le32(b: &[u8]) -> usize {
    u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize
}

/// The volume label, when `data` is an ISO 9660 image.
pub fn label(data: &[u8]) -> Option<String> {
    let pvd = data.get(16 * SECTOR..17 * SECTOR)?;
    (pvd[0] == 1 && &pvd[1..6] == b"CD001").then(|| String::from_utf8_lossy(&pvd[40..72]).trim_end().to_string())
}

/// The content of `/ks.cfg` (ISO name `KS.CFG;1`).
pub fn ks_cfg(data: &[u8]) -> Option<Vec<u8>> {
    file(data, "ks.cfg")
}

/// The content of a file at the image's root, by the name Linux shows (`meta-data` for
/// `META-DATA;1`).
pub fn file(data: &[u8], wanted: &str) -> Option<Vec<u8>> {
    let wanted = wanted.to_ascii_uppercase();
    label(data)?;
    let pvd = &data[16 * SECTOR..17 * SECTOR];
    let root = &pvd[156..190];
    let (extent, size) = (le32(&root[2..6]), le32(&root[10..14]));
    let dir = data.get(extent * SECTOR..extent * SECTOR + size)?;
    let mut i = 0;
    while i < dir.len() {
        let len = dir[i] as usize;
        if len == 0 {
            i = (i / SECTOR + 1) * SECTOR;
            continue;
        }
        let rec = dir.get(i..i + len)?;
        let name_len = rec[32] as usize;
        let name = String::from_utf8_lossy(&rec[33..33 + name_len]).to_ascii_uppercase();
        if name == format!("{wanted};1") || name == wanted {
            let (e, s) = (le32(&rec[2..6]), le32(&rec[10..14]));
            return data.get(e * SECTOR..e * SECTOR + s).map(<[u8]>::to_vec);
        }
        i += len;
    }
    None
}
